#!/usr/bin/env node
'use strict';
// selftest.js [--data OUTDIR] [--fake]
//
// Tests of the oracle and of check.js, no lancefs needed:
//  1. hand-written meta.json rendering cases, comparison cases (what
//     check.js must accept and reject), JSON parser, sniffing, `ls -l`
//     parsing, float16 rounding over all 65536 bit patterns, dates against
//     JavaScript's Date;
//  2. dump/oracle end to end on small datasets made here with LanceDB, with
//     hand-computed row numbers (deletes, a dropped fragment, stable row ids,
//     update, compaction, versions, tags) and values cross-checked with
//     LanceDB's SQL casts;
//  3. with --data OUTDIR (make_datasets.js output): invariants of every
//     fixture oracle, manifest totals against LanceDB's listVersions();
//  4. with --data and --fake: check.js against tools/fake_lancefs.js must
//     pass, and each of the fake's deliberate bugs must be reported.
const assert = require('assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const R = require('./lib/render');
const { parse, stringify, JNum } = require('./lib/json');
const { sniffExt } = require('./lib/sniff');
const { parseLsLong } = require('./check');

let passed = 0; let failed = 0;
async function test(name, fn) {
  try { await fn(); passed++; console.log(`ok   ${name}`); } catch (e) {
    failed++; console.log(`FAIL ${name}\n     ${String(e.stack || e).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

const T = {
  i64: { t: 'int', bits: 64, signed: true }, u64: { t: 'int', bits: 64, signed: false },
  f16: { t: 'float', bits: 16 }, f32: { t: 'float', bits: 32 }, f64: { t: 'float', bits: 64 },
  d32: { t: 'date32' }, d64: { t: 'date64' }, utf8: { t: 'utf8' },
  time: (unit, bits) => ({ t: 'time', unit, bits }), ts: (unit, tz = null) => ({ t: 'timestamp', unit, tz }),
  dec: (scale) => ({ t: 'decimal', bits: 128, precision: 38, scale }),
};
const fld = (name, type) => ({ name, type, nullable: true });
const rendered = (ty, raw) => stringify(R.expectedValue(ty, raw));

// ---------------------------------------------------------------------------
async function unitTests() {
  await test('render: hand-written meta.json values', () => {
    const cases = [
      [T.i64, -(2n ** 63n), '-9223372036854775808'], [T.u64, 2n ** 64n - 1n, '18446744073709551615'],
      [T.f64, 0.1, '0.1'], [T.f64, 5e-324, '5e-324'], [T.f64, 1e300, '1e+300'], [T.f64, '-0', '-0'],
      [T.f64, 'NaN', 'null'], [T.f64, 'Infinity', 'null'], [T.f64, '-Infinity', 'null'], [T.f64, 100, '100'],
      [T.f32, Math.fround(0.1), '0.1'], [T.f32, 3.4028234663852886e38, '3.4028235e+38'], [T.f32, 1.401298464324817e-45, '1e-45'],
      [T.f32, 16777216, '16777216'], [T.f32, Math.fround(1 / 3), '0.33333334'],
      [T.f16, R.f16FromBits(0x2e66), '0.1'], [T.f16, 65504, '65500'], [T.f16, R.f16FromBits(0x3555), '0.3333'], [T.f16, R.f16FromBits(0x0001), '6e-8'],
      [T.d32, 0n, '"1970-01-01"'], [T.d32, -1n, '"1969-12-31"'], [T.d32, 11016n, '"2000-02-29"'], [T.d32, -719162n, '"0001-01-01"'], [T.d32, 2932896n, '"9999-12-31"'],
      [T.d64, 1704164645123n, '"2024-01-02T03:04:05.123"'], [T.d64, -1n, '"1969-12-31T23:59:59.999"'], [T.d64, 1704153600000n, '"2024-01-02"'],
      [T.time('s', 32), 45296n, '"12:34:56"'], [T.time('ms', 32), 45296789n, '"12:34:56.789"'], [T.time('us', 64), 1n, '"00:00:00.000001"'],
      [T.time('ns', 64), 86399999999999n, '"23:59:59.999999999"'],
      [T.ts('s'), 1704164645n, '"2024-01-02T03:04:05"'], [T.ts('ms', 'UTC'), 1704164645123n, '"2024-01-02T03:04:05.123Z"'],
      [T.ts('us', 'America/New_York'), 0n, '"1970-01-01T00:00:00.000000Z"'], [T.ts('ns'), -1n, '"1969-12-31T23:59:59.999999999"'],
      [T.ts('ns', 'UTC'), -(2n ** 63n), '"1677-09-21T00:12:43.145224192Z"'], [T.ts('ns'), 2n ** 63n - 1n, '"2262-04-11T23:47:16.854775807"'],
      [T.ts('s'), -62135596800n, '"0001-01-01T00:00:00"'], [T.ts('ms'), 253402300799999n, '"9999-12-31T23:59:59.999"'],
      [{ t: 'duration', unit: 'ns' }, -5n, '-5'],
      [T.dec(2), 12345n, '"123.45"'], [T.dec(2), -5n, '"-0.05"'], [T.dec(2), 0n, '"0.00"'], [T.dec(0), 42n, '"42"'], [T.dec(-2), 42n, '"4200"'],
      [T.dec(10), -(10n ** 38n - 1n), '"-9999999999999999999999999999.9999999999"'],
      [{ t: 'fixed_size_binary', width: 2 }, '00ff', '"00ff"'], [{ t: 'bool' }, false, 'false'], [{ t: 'null' }, null, 'null'],
      [T.utf8, 'a"\\\n\u0001é😀', JSON.stringify('a"\\\n\u0001é😀')],
      [{ t: 'list', item: fld('item', T.f32) }, ['NaN', 1.5, null], '[null,1.5,null]'],
      [{ t: 'fixed_size_list', size: 2, item: fld('item', T.f64) }, [0.1, '-0'], '[0.1,-0]'],
      [{ t: 'struct', fields: [fld('b', T.utf8), fld('a', T.i64)] }, new Map([['a', 1n], ['b', 'x']]), '{"b":"x","a":1}'],
      [{ t: 'map', entries: fld('entries', { t: 'struct', fields: [fld('key', T.utf8), fld('value', T.i64)] }) },
        [new Map([['key', 'k'], ['value', null]])], '[{"key":"k","value":null}]'],
      [{ t: 'dictionary', value: T.utf8, index: T.i64 }, 'red', '"red"'],
    ];
    for (const [ty, raw, want] of cases) assert.strictEqual(rendered(ty, raw), want, `${JSON.stringify(ty)} ${String(raw)}`);
  });

  await test('render: dates and ms timestamps agree with JavaScript Date over 20000 random instants', () => {
    let x = 12345;
    for (let k = 0; k < 20000; k++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const ms = BigInt(Math.floor((x / 2 ** 32) * (253402300799999 + 62135596800000)) - 62135596800000);
      const iso = new Date(Number(ms)).toISOString();
      assert.strictEqual(R.formatTimestamp(ms, 'ms', 'UTC'), iso);
      assert.strictEqual(R.formatDate64(ms), ms % 86400000n ? iso.slice(0, 23) : iso.slice(0, 10));
      assert.strictEqual(R.formatDate64(ms - ((ms % 86400000n) + 86400000n) % 86400000n), iso.slice(0, 10));
    }
  });

  await test('render: float16 rounding and shortest forms over all 65536 bit patterns', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = R.f16FromBits(h);
      if (!Number.isFinite(x)) continue;
      assert.ok(Object.is(R.f16round(x), x), `f16round not idempotent for 0x${h.toString(16)}`);
      const s = R.shortestFloat(x, 16);
      assert.ok(Object.is(R.f16round(Number(s)), x), `shortest ${s} does not round-trip for 0x${h.toString(16)}`);
    }
    // ties to even: 2049 lies halfway between 2048 and 2050
    assert.strictEqual(R.f16round(2049), 2048); assert.strictEqual(R.f16round(2051), 2052);
    assert.strictEqual(R.f16round(65519), 65504); assert.strictEqual(R.f16round(65520), Infinity);
  });

  await test('render: float32 shortest forms round-trip (10000 random values)', () => {
    const b = new DataView(new ArrayBuffer(4)); let x = 99;
    for (let k = 0; k < 10000; k++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      b.setUint32(0, x); const f = b.getFloat32(0);
      if (!Number.isFinite(f)) continue;
      const s = R.shortestFloat(f, 32);
      assert.ok(Object.is(Math.fround(Number(s)), f), `${s} for ${f}`);
      assert.ok(R.sigDigits(s) <= 9);
    }
  });

  await test('compare: accepts correct and equivalent JSON, rejects wrong values with precise messages', () => {
    const cmp = (ty, raw, text) => { const e = []; R.compareValue(ty, raw, parse(text), '$', e); return e; };
    assert.deepStrictEqual(cmp(T.f64, 0.1, '0.1'), []);
    assert.deepStrictEqual(cmp(T.f64, 0.1, '1e-1'), []);
    assert.deepStrictEqual(cmp(T.f64, 0.1, '0.100'), []);
    assert.deepStrictEqual(cmp(T.f64, 100, '100.0'), []);
    assert.deepStrictEqual(cmp(T.f64, 1e300, '1E300'), []);
    assert.deepStrictEqual(cmp(T.f32, Math.fround(0.1), '0.1'), []);
    assert.deepStrictEqual(cmp(T.f64, '-0', '-0.0'), []);
    assert.deepStrictEqual(cmp(T.f64, 'NaN', 'null'), []);
    assert.match(cmp(T.f32, Math.fround(0.1), '0.10000000149011612')[0], /not the shortest/);
    assert.match(cmp(T.f64, 0.1, '0.10000000000000001')[0], /not the shortest/);
    assert.match(cmp(T.f64, 0.1, '0.2')[0], /expected 0\.1 \(float64\), got 0\.2/);
    assert.match(cmp(T.f64, '-0', '0')[0], /expected -0/);
    assert.match(cmp(T.f64, 'NaN', '"NaN"')[0], /expected null/);
    assert.match(cmp(T.f64, 'Infinity', '1e999')[0], /expected null/);
    assert.deepStrictEqual(cmp(T.i64, 2n ** 63n - 1n, '9223372036854775807'), []);
    assert.match(cmp(T.i64, 2n ** 63n - 1n, '9223372036854775808')[0], /expected integer 9223372036854775807/);
    assert.match(cmp(T.i64, 5n, '5.0')[0], /expected integer/);
    assert.match(cmp(T.i64, 5n, '"5"')[0], /expected integer/);
    assert.match(cmp(T.ts('ms', 'UTC'), 0n, '"1970-01-01T00:00:00.000"')[0], /expected "1970-01-01T00:00:00.000Z"/);
    assert.match(cmp(T.dec(2), 5n, '0.05')[0], /expected "0.05"/);
    const st = { t: 'struct', fields: [fld('a', T.i64), fld('b', T.utf8)] };
    assert.deepStrictEqual(cmp(st, { a: 1n, b: 'x' }, '{"a":1,"b":"x"}'), []);
    assert.match(cmp(st, { a: 1n, b: 'x' }, '{"b":"x","a":1}')[0], /in this order/);
    assert.match(cmp(st, { a: 1n, b: 'x' }, '{"a":2,"b":"x"}')[0], /^\$\.a: expected integer 1, got 2/);
    const li = { t: 'list', item: fld('item', T.i64) };
    assert.match(cmp(li, [1n, 2n], '[1]')[0], /expected 2 elements/);
    assert.match(cmp(li, [1n, 2n], '[1,3]')[0], /^\$\[1\]: /);
    assert.match(cmp(li, null, '[]')[0], /expected null/);
    assert.match(cmp(li, [], 'null')[0], /expected array/);
  });

  await test('json: strict parser keeps integers, number text, key order; rejects bad JSON', () => {
    const v = parse('{"b": 18446744073709551615, "a": [1.50, -0, "\\u00e9\\n"], "1": {}}');
    assert.deepStrictEqual([...v.keys()], ['b', 'a', '1']);
    assert.strictEqual(v.get('b').bigint(), 2n ** 64n - 1n);
    assert.strictEqual(v.get('a')[0].text, '1.50');
    assert.strictEqual(v.get('a')[2], 'é\n');
    for (const bad of ['{"a":1,}', '{"a":1,"a":2}', '[NaN]', '01', '{"a":1} x', '"\t"', "{'a':1}", '[1,]', '', '{"a"}']) {
      assert.throws(() => parse(bad), undefined, bad);
    }
    assert.strictEqual(stringify(parse('[1e5,-0,{"x":null}]')), '[1e5,-0,{"x":null}]');
  });

  await test('sniff: magic numbers, edge cases', () => {
    const m = require('./lib/media');
    const cases = [
      [m.png(2, 2, 0), 'png'], [m.jpeg(8, 8, 0), 'jpg'], [m.gif(2, 2, 0), 'gif'], [m.bmp(2, 2, 0), 'bmp'],
      [m.tiff(2, 2, 0, false), 'tif'], [m.tiff(2, 2, 0, true), 'tif'], [m.webpLossless(), 'webp'], [m.webpLossy(), 'webp'],
      [m.isobmff('avif', []), 'avif'], [m.isobmff('avis', []), 'avif'], [m.isobmff('heic', []), 'heic'], [m.isobmff('mif1', []), 'heic'],
      [m.isobmff('isom', []), 'mp4'], [m.isobmff('qt  ', []), 'mp4'], [m.wav(4, 0), 'wav'], [m.flac(), 'flac'], [m.pdf('x'), 'pdf'],
      [m.npy([2], 0), 'npy'], [Buffer.alloc(0), 'bin'], [Buffer.from([0xff, 0xd8]), 'bin'], [Buffer.from('BM'), 'bmp'],
      [Buffer.from('RIFF\0\0\0\0AVI '), 'bin'], [Buffer.from('\0\0\0\x0cftyp', 'latin1'), 'bin'], [Buffer.from('GIF90a'), 'bin'],
      [Buffer.from('%PDF'), 'bin'], [Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]), 'npy'],
    ];
    for (const [b, ext] of cases) assert.strictEqual(sniffExt(b), ext, b.subarray(0, 12).toString('hex'));
  });

  await test('check: `ls -l` line forms', () => {
    const { entries, bad } = parseLsLong(Buffer.from([
      'total 12', '-r--r--r-- 1 user group 113 Jan  1 00:00 image.png', '-r--r--r--. 1 0 0 5 2024-01-01 00:00 meta.json',
      'thumb.gif 45', '7 x.bin', 'dr-xr-xr-x 2 u g 0 Jan 1 2024 00000001', 'garbage line here', '',
    ].join('\n')));
    assert.deepStrictEqual(entries.map((e) => [e.name, e.size]), [['image.png', 113], ['meta.json', 5], ['thumb.gif', 45], ['x.bin', 7], ['00000001', 0]]);
    assert.deepStrictEqual(bad, ['garbage line here']);
  });
}

// ---------------------------------------------------------------------------
async function oracleTests() {
  const { lancedb } = require('./lib/lancedb');
  const A = require('./lib/arrowdata');
  const { arrow, I } = A;
  const { buildOracle } = require('./lib/oracle');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lancefs-selftest-'));
  const db = await lancedb.connect(tmp);
  const F = (n, t, nullable = true) => new arrow.Field(n, t, nullable);
  const idF = F('id', new arrow.Int64(), false);
  const rows = (from, to) => A.batchTable([idF, F('name', new arrow.Utf8()), F('img', new arrow.Binary())],
    [I.int64(Array.from({ length: to - from }, (_, k) => from + k)), I.utf8(Array.from({ length: to - from }, (_, k) => `n${from + k}`)),
      I.binary(Array.from({ length: to - from }, (_, k) => ((from + k) % 3 ? Buffer.from([from + k]) : null)))]);
  const numbers = (o) => o.rows.map((r) => r.row);
  const idsOf = (o) => o.rows.map((r) => Number(r.values.id));

  try {
    for (const ver of ['legacy', '2.0', '2.1', '2.2']) {
      await test(`oracle [${ver}]: physical positions with deletes and a dropped fragment`, async () => {
        const t = await db.createTable(`pos_${ver.replace('.', '')}`, rows(0, 5), { storageOptions: { new_table_data_storage_version: ver } });
        await t.add(rows(5, 10)); await t.add(rows(10, 13));
        await t.delete('id = 4'); // last row of fragment 0
        await t.delete('id >= 5 AND id < 10'); // all of fragment 1: dropped
        await t.delete('id = 11');
        const o = await buildOracle(path.join(tmp, `pos_${ver.replace('.', '')}.lance`));
        assert.deepStrictEqual(o.fragments.map((f) => [f.id, f.physical_rows, f.base]), [[0, 5, 0], [2, 3, 5]]);
        assert.deepStrictEqual(numbers(o), [0, 1, 2, 3, 5, 7]);
        assert.deepStrictEqual(idsOf(o), [0, 1, 2, 3, 10, 12]);
        assert.deepStrictEqual(o.rows.map((r) => r.name), ['00000000', '00000001', '00000002', '00000003', '00000005', '00000007']);
        const r1 = o.rows[1].values; // id 1: img = [1]; ids divisible by 3: null
        assert.strictEqual(r1.img.size, 1); assert.strictEqual(r1.img.head, '01');
        assert.strictEqual(o.rows[3].values.img, null);
        const o1 = await buildOracle(path.join(tmp, `pos_${ver.replace('.', '')}.lance`), { version: 1 });
        assert.deepStrictEqual(numbers(o1), [0, 1, 2, 3, 4]);
        // compaction renumbers
        await t.optimize();
        const oc = await buildOracle(path.join(tmp, `pos_${ver.replace('.', '')}.lance`));
        assert.deepStrictEqual(numbers(oc), [0, 1, 2, 3, 4, 5]);
        assert.deepStrictEqual(idsOf(oc), [0, 1, 2, 3, 10, 12]);
        t.close();
      });
    }

    await test('oracle: stable row ids survive delete, update and compaction; tags and versions', async () => {
      const t = await db.createTable('stable', rows(0, 5), { storageOptions: { new_table_enable_stable_row_ids: 'true' } });
      await t.add(rows(5, 10));
      await t.delete('id = 4 OR id = 6');
      await t.update({ where: 'id = 2', values: { name: 'changed' } });
      await t.optimize();
      await (await t.tags()).create('before-add', await t.version());
      await t.add(rows(10, 12));
      const uri = path.join(tmp, 'stable.lance');
      const o = await buildOracle(uri);
      assert.strictEqual(o.stable_row_ids, true);
      assert.deepStrictEqual(numbers(o), [0, 1, 2, 3, 5, 7, 8, 9, 10, 11]);
      assert.deepStrictEqual(idsOf(o), numbers(o));
      assert.strictEqual(o.rows[2].values.name, 'changed');
      assert.deepStrictEqual(Object.keys(o.tags), ['before-add']);
      const ot = await buildOracle(uri, { tag: 'before-add' });
      assert.deepStrictEqual(numbers(ot), [0, 1, 2, 3, 5, 7, 8, 9]);
      assert.strictEqual(ot.version, o.tags['before-add']);
      assert.deepStrictEqual(o.versions.map((v) => v.version), Array.from({ length: o.version }, (_, k) => k + 1));
      t.close();
    });

    await test('oracle: raw values of every scalar type, cross-checked with LanceDB SQL casts', async () => {
      const dec = new arrow.Decimal(3, 40, 256);
      const w = new Uint32Array(3 * 8); w[8] = 12345; for (let k = 16; k < 24; k++) w[k] = 0xffffffff;
      const table = A.batchTable([idF, F('i64', new arrow.Int64()), F('u64', new arrow.Uint64()), F('f16', new arrow.Float16()),
        F('f32', new arrow.Float32()), F('ts', new arrow.TimestampNanosecond('UTC')), F('d', dec), F('t', new arrow.TimeMicrosecond()),
        F('dt', new arrow.DateDay()), F('s', new arrow.Utf8())], [
        I.int64([0, 1, 2]), I.int64([-(2n ** 63n), null, 2n ** 63n - 1n]), I.uint64([2n ** 64n - 1n, 0n, null]),
        I.float16bits([0x3c00, 0x7e00, 0x8000]), I.float32([0.1, NaN, -0]),
        A.prim(new arrow.TimestampNanosecond('UTC'), BigInt64Array.from([1704164645123456789n, -1n, 0n]), [true, true, false]),
        A.prim(dec, w, null, 3), A.prim(new arrow.TimeMicrosecond(), BigInt64Array.from([45296789012n, 0n, 1n]), null),
        A.prim(new arrow.DateDay(), Int32Array.from([11016, -1, 0]), null), I.utf8(['é"\n', '', null])]);
      const t = await db.createTable('vals', table);
      const o = await buildOracle(path.join(tmp, 'vals.lance'));
      const v = o.rows.map((r) => r.values);
      assert.deepStrictEqual(v.map((x) => x.i64), [-(2n ** 63n), null, 2n ** 63n - 1n]);
      assert.deepStrictEqual(v.map((x) => x.u64), [2n ** 64n - 1n, 0n, null]);
      assert.deepStrictEqual(v.map((x) => x.f16), [1, 'NaN', '-0']);
      assert.deepStrictEqual(v.map((x) => x.f32), [Math.fround(0.1), 'NaN', '-0']);
      assert.deepStrictEqual(v.map((x) => x.ts), [1704164645123456789n, -1n, null]);
      assert.deepStrictEqual(v.map((x) => x.d), [0n, 12345n, -1n]);
      assert.deepStrictEqual(v.map((x) => x.s), ['é"\n', '', null]);
      // LanceDB's own SQL formatting of the same values
      const sql = await t.query().select({ d: 'CAST(d AS string)', ts: 'CAST(ts AS bigint)', dt: 'CAST(dt AS string)', i: 'CAST(i64 AS string)', u: 'CAST(u64 AS string)' }).toArray();
      sql.forEach((r, k) => {
        assert.strictEqual(r.d, R.formatDecimal(v[k].d, 3));
        assert.strictEqual(r.dt, R.formatDate32(v[k].dt));
        assert.strictEqual(r.ts === null ? null : BigInt(r.ts), v[k].ts);
        assert.strictEqual(r.i, v[k].i64 === null ? null : String(v[k].i64));
        assert.strictEqual(r.u, v[k].u64 === null ? null : String(v[k].u64));
      });
      assert.strictEqual(R.formatTime(v[0].t, 'us'), '12:34:56.789012');
      t.close();
    });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
async function fixtureTests(data) {
  const { buildOracle } = require('./lib/oracle');
  const { listManifests, readManifestFile } = require('./lib/manifest');
  const { lancedb } = require('./lib/lancedb');
  const report = JSON.parse(fs.readFileSync(path.join(data, 'fixtures.json'), 'utf8'));
  for (const [ver, v] of Object.entries(report.versions)) {
    for (const [name, d] of Object.entries(v.datasets)) {
      if (!d.path) continue;
      await test(`fixture ${v.dir}/${name}: oracle invariants, manifests vs LanceDB listVersions()`, async () => {
        const uri = path.resolve(data, d.path);
        const o = await buildOracle(uri);
        const conn = await lancedb.connect(path.dirname(uri));
        const t = await conn.openTable(name);
        const lv = await t.listVersions();
        const mans = listManifests(uri);
        assert.deepStrictEqual(mans.map((m) => m.version), lv.map((x) => x.version));
        for (const m of mans) {
          const man = readManifestFile(m.file);
          const meta = lv.find((x) => x.version === m.version).metadata;
          assert.strictEqual(man.version, m.version);
          if (meta.total_fragments !== undefined) assert.strictEqual(man.fragments.length, Number(meta.total_fragments), `v${m.version} fragments`);
          if (meta.total_data_file_rows !== undefined) assert.strictEqual(man.fragments.reduce((a, f) => a + f.physical_rows, 0), Number(meta.total_data_file_rows), `v${m.version} physical rows`);
          if (meta.total_deletion_file_rows !== undefined) {
            assert.strictEqual(man.fragments.reduce((a, f) => a + (f.deletion_file ? f.deletion_file.num_deleted_rows : 0), 0), Number(meta.total_deletion_file_rows), `v${m.version} deleted rows`);
          }
        }
        assert.strictEqual(o.rows.length, await t.countRows());
        t.close();
        for (let k = 1; k < o.rows.length; k++) assert.ok(o.rows[k].row > o.rows[k - 1].row);
        for (const r of o.rows) assert.strictEqual(r.name, String(r.row).padStart(8, '0'));
        if (!o.stable_row_ids) {
          for (const f of o.fragments) {
            const mine = o.rows.filter((r) => Number(r.rowaddr >> 32n) === f.id);
            for (const r of mine) assert.ok(r.row >= f.base && r.row < f.base + f.physical_rows, `row ${r.row} outside fragment ${f.id}`);
            if (!f.deletion_file) assert.strictEqual(mine.length, f.physical_rows, `fragment ${f.id} without deletions`);
          }
        }
        if (name === 'frags') {
          assert.ok(o.fragments.some((f) => f.deletion_file && f.deletion_file.endsWith('.bin')), 'a roaring .bin deletion file');
          assert.ok(o.fragments.some((f) => f.deletion_file && f.deletion_file.endsWith('.arrow')), 'an .arrow deletion file');
          assert.ok(!o.rows.some((r) => Number(r.values.id) >= 11000 && Number(r.values.id) < 11500));
        }
        if (name === 'images') {
          const want = {
            'png 16x12': 'png', 'png 1x1': 'png', 'png 64x48': 'png', 'jpeg 24x16': 'jpg', 'jpeg 8x8': 'jpg', 'gif 10x7': 'gif',
            'bmp 5x3': 'bmp', 'tiff LE rgb': 'tif', 'tiff BE gray': 'tif', 'webp lossless': 'webp', 'webp lossy': 'webp',
            'avif header': 'avif', 'heic header': 'heic', 'mif1 header': 'heic', 'mp4 header': 'mp4', 'quicktime header': 'mp4',
            wav: 'wav', 'flac header': 'flac', pdf: 'pdf', npy: 'npy', 'random bytes': 'bin', text: 'bin',
            'jpeg magic too short': 'bin', 'RIFF but AVI': 'bin', 'ftyp truncated': 'bin', 'BM only': 'bmp', empty: 'bin',
          };
          for (const r of o.rows) {
            const img = r.values.image;
            if (!img) { // legacy (0.1) files read empty binary values back as null
              assert.ok(r.values.label === 'null image' || (o.storage_version === '0.1' && r.values.label === 'empty'), r.values.label);
              continue;
            }
            const ext = want[r.values.label];
            assert.ok(ext, `label ${r.values.label}`);
            assert.strictEqual(sniffExt(Buffer.from(img.head, 'hex')), ext, `${r.values.label}`);
          }
        }
      });
    }
  }
}

async function fakeTests(data) {
  const fake = path.join(__dirname, 'tools', 'fake_lancefs.js');
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'lancefs-fake-cache-'));
  const check = (only, bug, extra = []) => spawnSync(process.execPath, [path.join(__dirname, 'check.js'), '--lancefs', fake, '--data', data,
    ...only.flatMap((o) => ['--only', o]), '--max-rows', '6', ...extra],
  { env: { ...process.env, FAKE_LANCEFS_CACHE: cache, FAKE_LANCEFS_BUG: bug || '' }, encoding: 'utf8' });
  try {
    await test('check.js passes against the fake lancefs', () => {
      const r = check(['v_2.2/types', 'v_2.0/types', 'v_legacy/images', 'v_2.1/frags', 'v_2.2/versions', 'v_2.2/stable', 'v_2.1/blob_v1', 'v_2.2/blob_v2', 'v_2.2/empty'], '');
      assert.strictEqual(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /\n9 passed, 0 failed\n$/);
    });
    const bugs = [
      ['float-long', 'v_2.2/types', /is not the shortest round-trip form/],
      ['nan-string', 'v_2.2/types', /expected null \(NaN\), got "NaN"/],
      ['int-as-double', 'v_2.2/types', /i64: expected integer -9223372036854775808, got -9223372036854776000/],
      ['ts-no-z', 'v_2.2/types', /ts_s_utc: expected "1970-01-01T00:00:00Z", got "1970-01-01T00:00:00"/],
      ['ext-bin', 'v_2.2/images', /row 00000000: missing files \["image\.png","thumb\.gif"\]/],
      ['size-off', 'v_2.2/images', /image\.png: ls -l size \d+, expected \d+/],
      ['truncate', 'v_2.2/images', /image\.png: content differs/],
      ['hidden', 'v_2.2/images', /root listing: lists hidden entries \["@versions",".lancefs"\]/],
      ['no-newline', 'v_2.2/images', /meta\.json: no trailing newline/],
      ['key-order', 'v_2.2/images', /meta\.json: keys differ: wrong order/],
      ['deleted-row', 'v_2.2/frags', /root listing: 1 unexpected entries/],
      ['version-off', 'v_2.2/versions', /@versions\/1: \d+ unexpected entries/],
    ];
    for (const [bug, only, re] of bugs) {
      await test(`check.js reports the fake's bug ${bug}`, () => {
        const r = check([only], bug);
        assert.strictEqual(r.status, 1, r.stdout + r.stderr);
        assert.match(r.stdout, re, r.stdout.slice(0, 2000));
        assert.match(r.stdout, /\n0 passed, 1 failed\n$/);
      });
    }
    await test('check.js fails cleanly when lancefs is missing or broken', () => {
      const r = spawnSync(process.execPath, [path.join(__dirname, 'check.js'), '--lancefs', '/nonexistent/lancefs', '--data', data, '--only', 'v_2.2/images'], { encoding: 'utf8' });
      assert.strictEqual(r.status, 1);
      assert.match(r.stdout, /is not executable: ENOENT/);
      assert.match(r.stdout, /\n0 passed, 1 failed\n$/);
      const r2 = spawnSync(process.execPath, [path.join(__dirname, 'check.js'), '--lancefs', '/bin/false', '--data', data, '--only', 'v_2.2/images'], { encoding: 'utf8' });
      assert.strictEqual(r2.status, 1);
      assert.match(r2.stdout, /root listing: `lancefs ls \S+images\.lance` failed: exit 1 \(no message on stderr\)/);
    });
  } finally {
    fs.rmSync(cache, { recursive: true, force: true });
  }
}

async function main() {
  const args = process.argv.slice(2);
  const di = args.indexOf('--data');
  const data = di >= 0 ? args[di + 1] : null;
  await unitTests();
  await oracleTests();
  if (data) await fixtureTests(data);
  if (data && args.includes('--fake')) await fakeTests(data);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(e.stack || e); process.exit(1); });
