#!/usr/bin/env node
'use strict';
// make_datasets.js OUTDIR
//
// Writes the interop fixtures with LanceDB 0.39 (the reference writer): one
// LanceDB database folder per data storage version, OUTDIR/v_legacy,
// v_2.0, v_2.1, v_2.2, each holding the datasets described in README.md.
// Content is deterministic (seeded PRNG); LanceDB's own file names, UUIDs
// and commit times are not.
//
// Where LanceDB refuses a type or feature for a storage version, the column
// or dataset is dropped for that version and the refusal (LanceDB's error
// text) is printed and recorded in OUTDIR/fixtures.json.
const fs = require('fs');
const path = require('path');
// Probing refused features makes LanceDB panic on purpose (caught); their
// backtraces would only bury the report.
process.env.RUST_BACKTRACE = '0';
const { lancedb } = require('./lib/lancedb');
const A = require('./lib/arrowdata');
const { arrow, I } = A;
const { Rng } = require('./lib/prng');
const media = require('./lib/media');
const manifest = require('./lib/manifest');
const { sniffExt } = require('./lib/sniff');

const VERSIONS = ['legacy', '2.0', '2.1', '2.2'];
const F = (name, type, nullable = true, md) => new arrow.Field(name, type, nullable, md ? new Map(Object.entries(md)) : undefined);
const seedOf = (s) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
const firstLine = (e) => {
  const m = String(e && e.message ? e.message : e).split('\n')[0].slice(0, 400);
  return m === 'Panic in async function' ? `${m} (a Rust panic inside LanceDB; its message is on stderr above)` : m;
};

// values: specials first, then gen(i, rng) with ~10% nulls (nullRate).
function column(name, n, specials, gen, nullRate = 0.1) {
  const rng = new Rng(seedOf(name));
  const out = [];
  for (let i = 0; i < n; i++) {
    if (i < specials.length) out.push(specials[i]);
    else out.push(nullRate && rng.chance(nullRate) ? null : gen(i, rng));
  }
  return out;
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'épsilon', 'ζήτα', 'эта', 'θ', 'יוד', 'كاف', '日本', '中文', '한국어', '🙂', '🚀', 'naïve', 'façade', 'x'];
const words = (rng, k) => Array.from({ length: k }, () => rng.pick(WORDS)).join(' ');
const STRINGS = [
  '', 'plain ascii', 'héllo wörld', '日本語テキスト', '😀👍🏽 emoji + ZWJ 👨‍👩‍👧', '"quoted"', "it's", 'back\\slash',
  'tab\there', 'line1\nline2', 'cr\r\nlf', 'ctrl \u0001\u0002\u001f\u007f', 'nul\u0000inside', '\u2028\u2029 separators',
  '</script>', '{"json": [1, 2]}', 'a'.repeat(1000), 'trailing space ', ' leading space', '\ufeffBOM', null,
];

// ---------------------------------------------------------------------------
// The `types` table: one column spec per Arrow type.  `variants` are tried in
// order against the storage version; the first one LanceDB accepts is used.
function typesColumns(n) {
  const cols = [];
  const add = (name, variants) => cols.push({ name, variants });
  const simple = (name, type, builder, specials, gen) => add(name, [{ field: F(name, type), data: () => builder(column(name, n, specials, gen)) }]);
  const bigRand = (rng, bits, signed) => { const v = rng.next64() >> BigInt(64 - bits); return signed ? BigInt.asIntN(bits, v) : v; };

  simple('i8', new arrow.Int8(), I.int8, [-128, 127, 0, -1, null], (i, r) => r.int(-128, 127));
  simple('i16', new arrow.Int16(), I.int16, [-32768, 32767, 0, -1, null], (i, r) => r.int(-32768, 32767));
  simple('i32', new arrow.Int32(), I.int32, [-2147483648, 2147483647, 0, -1, null], (i, r) => r.int(-2147483648, 2147483647));
  simple('i64', new arrow.Int64(), I.int64, [-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, null, 2n ** 53n + 1n, -(2n ** 53n + 1n)], (i, r) => bigRand(r, 64, true));
  simple('u8', new arrow.Uint8(), I.uint8, [0, 255, 1, null], (i, r) => r.int(0, 255));
  simple('u16', new arrow.Uint16(), I.uint16, [0, 65535, 1, null], (i, r) => r.int(0, 65535));
  simple('u32', new arrow.Uint32(), I.uint32, [0, 4294967295, 1, null], (i, r) => r.u32());
  simple('u64', new arrow.Uint64(), I.uint64, [0n, 2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, null], (i, r) => bigRand(r, 64, false));
  // float16 as raw bit patterns: 0, -0, +inf, -inf, NaN, min/max subnormal, min normal, max, ~0.1, 1, ~1/3
  simple('f16', new arrow.Float16(), I.float16bits,
    [0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x2e66, 0x3c00, 0x3555, 0xc000, null],
    (i, r) => { let h; do { h = r.int(0, 0xffff); } while (((h >> 10) & 0x1f) === 0x1f); return h; });
  simple('f32', new arrow.Float32(), I.float32,
    [0, -0, Infinity, -Infinity, NaN, 0.1, 1.401298464324817e-45, 1.1754943508222875e-38, 3.4028234663852886e38, 16777217, 1 / 3, -2.5, 1e10, null],
    (i, r) => Math.fround((r.float() - 0.5) * 10 ** r.int(-8, 8)));
  simple('f64', new arrow.Float64(), I.float64,
    [0, -0, Infinity, -Infinity, NaN, 0.1, 1e300, 5e-324, 1.7976931348623157e308, 2.2250738585072014e-308, 9007199254740993, 123456789.123, -1e-7, 1 / 3, 100, 1e21, 1e-7, null],
    (i, r) => (r.float() - 0.5) * 10 ** r.int(-20, 20));
  simple('flag', new arrow.Bool(), I.bool, [true, false, null], (i, r) => r.chance(0.5));
  simple('s_utf8', new arrow.Utf8(), I.utf8, STRINGS, (i, r) => words(r, r.int(0, 6)));
  simple('s_large', new arrow.LargeUtf8(), I.largeUtf8, [...STRINGS].reverse(), (i, r) => words(r, r.int(0, 6)));
  const binSpecials = [Buffer.alloc(0), null, media.png(4, 4, 1), media.jpeg(8, 8, 2), media.gif(3, 3, 1), Buffer.from('plain text, not an image'), Buffer.from([0xff, 0xd8])];
  const binGen = (i, r) => { const b = r.bytes(r.int(1, 200)); if (sniffExt(b) !== 'bin') b[0] = 0; return b; };
  simple('bin', new arrow.Binary(), I.binary, binSpecials, binGen);
  simple('lbin', new arrow.LargeBinary(), I.largeBinary, [...binSpecials].reverse(), binGen);
  add('fsb', [{ field: F('fsb', new arrow.FixedSizeBinary(16)), data: () => A.fixedBinary(new arrow.FixedSizeBinary(16), column('fsb', n, [Buffer.alloc(16), Buffer.alloc(16, 0xff), null], (i, r) => r.bytes(16))) }]);
  const day = 86400000;
  const prim = (name, type, Arr, specials, gen) => add(name, [{
    field: F(name, type),
    data: () => { const v = column(name, n, specials, gen); return A.prim(type, Arr.from(v, (x) => (x === null ? (Arr === BigInt64Array ? 0n : 0) : x)), v.map((x) => x !== null)); },
  }]);
  prim('d32', new arrow.DateDay(), Int32Array, [0, -1, 19000, -719162, 2932896, 11016, null], (i, r) => r.int(-25000, 30000));
  prim('d64', new arrow.DateMillisecond(), BigInt64Array,
    [0n, -86400000n, 1704067200000n, -62135596800000n, 253402214400000n, 1704164645123n, null], (i, r) => BigInt(r.int(-25000, 30000) * day));
  prim('t32s', new arrow.TimeSecond(), Int32Array, [0, 86399, 3600, 45296, null], (i, r) => r.int(0, 86399));
  prim('t32ms', new arrow.TimeMillisecond(), Int32Array, [0, 86399999, 45296789, 1, null], (i, r) => r.int(0, 86399999));
  prim('t64us', new arrow.TimeMicrosecond(), BigInt64Array, [0n, 86399999999n, 45296789012n, 1n, null], (i, r) => BigInt(r.int(0, 86399999)) * 1000n + BigInt(r.int(0, 999)));
  prim('t64ns', new arrow.TimeNanosecond(), BigInt64Array, [0n, 86399999999999n, 45296789012345n, 1n, null], (i, r) => BigInt(r.int(0, 86399999)) * 1000000n + BigInt(r.int(0, 999999)));
  // Timestamps: epoch, -1 unit, 2024-01-02T03:04:05.123456789, 0001-01-01, 9999-12-31T23:59:59.999..., random 1900..2100
  const tsSpecials = {
    s: [0n, -1n, 1704164645n, -62135596800n, 253402300799n, null],
    ms: [0n, -1n, 1704164645123n, -62135596800000n, 253402300799999n, null],
    us: [0n, -1n, 1704164645123456n, -62135596800000000n, 253402300799999999n, null],
    ns: [0n, -1n, 1704164645123456789n, -(2n ** 63n), 2n ** 63n - 1n, null],
  };
  const tsGen = (unit) => (i, r) => {
    const secs = BigInt(r.int(-2208988800, 2147483647)) + BigInt(r.int(0, 2147483647)) * 2n;
    const per = { s: 1n, ms: 1000n, us: 1000000n, ns: 1000000000n }[unit];
    return secs * per + BigInt(r.int(0, 999999999)) % per;
  };
  const TS = { s: arrow.TimestampSecond, ms: arrow.TimestampMillisecond, us: arrow.TimestampMicrosecond, ns: arrow.TimestampNanosecond };
  for (const unit of ['s', 'ms', 'us', 'ns']) prim(`ts_${unit}`, new TS[unit](), BigInt64Array, tsSpecials[unit], tsGen(unit));
  for (const unit of ['s', 'ms', 'us', 'ns']) prim(`ts_${unit}_utc`, new TS[unit]('UTC'), BigInt64Array, tsSpecials[unit], tsGen(unit));
  prim('ts_us_ny', new TS.us('America/New_York'), BigInt64Array, tsSpecials.us, tsGen('us'));
  prim('ts_ms_kolkata', new TS.ms('Asia/Kolkata'), BigInt64Array, tsSpecials.ms, tsGen('ms'));
  // A fixed-offset zone: Lance's logical type "timestamp:ms:+05:30" cannot be
  // parsed back (LanceDB 0.39 panics), so this column is always refused.
  prim('ts_ms_off', new TS.ms('+05:30'), BigInt64Array, tsSpecials.ms, tsGen('ms'));
  const DUR = { s: arrow.DurationSecond, ms: arrow.DurationMillisecond, us: arrow.DurationMicrosecond, ns: arrow.DurationNanosecond };
  for (const unit of ['s', 'ms', 'us', 'ns']) {
    prim(`dur_${unit}`, new DUR[unit](), BigInt64Array, [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 86400n, null], (i, r) => BigInt(r.int(-1e9, 1e9)));
  }
  const decimal = (name, precision, scale, bits, specials) => add(name, [{
    field: F(name, new arrow.Decimal(scale, precision, bits)),
    data: () => {
      const type = new arrow.Decimal(scale, precision, bits);
      const words = bits / 32;
      const v = column(name, n, specials, (i, r) => {
        let x = 0n;
        const digits = r.int(1, precision);
        for (let k = 0; k < digits; k++) x = x * 10n + BigInt(r.int(0, 9));
        return r.chance(0.5) ? -x : x;
      });
      const w = new Uint32Array(n * words);
      v.forEach((x, i) => {
        let u = BigInt.asUintN(bits, x ?? 0n);
        for (let k = 0; k < words; k++) { w[i * words + k] = Number(u & 0xffffffffn); u >>= 32n; }
      });
      return A.prim(type, w, v.map((x) => x !== null), n);
    },
  }]);
  const max = (p) => 10n ** BigInt(p) - 1n;
  decimal('dec128', 38, 10, 128, [0n, 1n, -1n, max(38), -max(38), 12345678901234567890n, null]);
  decimal('dec_small', 5, 2, 128, [12345n, -5n, 0n, 99999n, -99999n, 100n, null]);
  decimal('dec_s0', 18, 0, 128, [0n, -1n, max(18), null]);
  decimal('dec256', 76, 20, 256, [0n, 1n, -1n, max(76), -max(76), null]);

  const listOf = (name, itemType, specials, gen, large) => {
    const t = new arrow.List(F('item', itemType));
    add(name, [{ field: F(name, t), data: () => A.list(t, column(name, n, specials, gen), (flat) => ({ [arrow.Type.Int]: I.int32, [arrow.Type.Utf8]: I.utf8 })[itemType.typeId](flat)) }]);
  };
  listOf('list_i32', new arrow.Int32(), [[], null, [null], [1, 2, 3], [-2147483648, 2147483647], [0]],
    (i, r) => Array.from({ length: r.int(0, 6) }, () => (r.chance(0.1) ? null : r.int(-1000, 1000))));
  listOf('list_utf8', new arrow.Utf8(), [[], null, [''], ['a', null, 'b'], ['😀', 'line\nbreak']],
    (i, r) => Array.from({ length: r.int(0, 4) }, () => (r.chance(0.1) ? null : words(r, r.int(1, 2)))));
  const fslT = new arrow.FixedSizeList(4, F('item', new arrow.Float32()));
  const fslGen = (i, r) => Array.from({ length: 4 }, () => Math.fround(r.float() * 2 - 1));
  add('vec', [
    { note: 'null items inside vectors', field: F('vec', fslT), data: () => A.fixedList(fslT, column('vec', n, [[0, 0, 0, 0], [NaN, Infinity, -Infinity, -0], null, [0.1, 0.2, 0.3, 0.4], [1, null, 3, 4]], fslGen), (f) => I.float32(f)) },
    { note: 'no null items', field: F('vec', fslT), data: () => A.fixedList(fslT, column('vec', n, [[0, 0, 0, 0], [NaN, Infinity, -Infinity, -0], null, [0.1, 0.2, 0.3, 0.4]], fslGen), (f) => I.float32(f)) },
  ]);
  const stT = new arrow.Struct([F('a', new arrow.Int32()), F('b', new arrow.Utf8()), F('c', new arrow.Float64())]);
  const stGen = (i, r) => ({ a: r.chance(0.1) ? null : r.int(-100, 100), b: r.chance(0.1) ? null : words(r, 1), c: r.chance(0.1) ? null : r.float() * 100 });
  const stData = (structNulls) => () => {
    const v = column('st', n, [{ a: 1, b: 'one', c: 1.5 }, { a: null, b: null, c: null }, null, { a: -1, b: '', c: NaN }], stGen)
      .map((x) => (x === null && !structNulls ? { a: null, b: null, c: null } : x));
    return A.struct(stT, n, [I.int32(v.map((x) => x && x.a)), I.utf8(v.map((x) => x && x.b)), I.float64(v.map((x) => x && x.c))], v.map((x) => x !== null));
  };
  add('st', [
    { note: 'null structs', field: F('st', stT), data: stData(true) },
    { note: 'no null structs (child nulls only)', field: F('st', stT), data: stData(false) },
  ]);
  const lsItem = new arrow.Struct([F('x', new arrow.Int32()), F('y', new arrow.Utf8())]);
  const lsT = new arrow.List(F('item', lsItem));
  const lsData = (itemNulls) => () => {
    const v = column('list_struct', n, [[], null, [{ x: 1, y: 'a' }], [{ x: null, y: null }, { x: 2, y: 'b' }], [null, { x: 3, y: 'c' }]],
      (i, r) => Array.from({ length: r.int(0, 3) }, () => (r.chance(0.1) ? null : { x: r.int(0, 99), y: words(r, 1) })))
      .map((l) => (l && !itemNulls ? l.map((s) => s || { x: null, y: null }) : l));
    return A.list(lsT, v, (flat) => A.struct(lsItem, flat.length, [I.int32(flat.map((s) => s && s.x)), I.utf8(flat.map((s) => s && s.y))], flat.map((s) => s !== null)));
  };
  add('list_struct', [
    { note: 'null struct items', field: F('list_struct', lsT), data: lsData(true) },
    { note: 'no null struct items', field: F('list_struct', lsT), data: lsData(false) },
  ]);
  const innerT = new arrow.List(F('item', new arrow.Int32()));
  const llT = new arrow.List(F('item', innerT));
  add('list_list', [{
    field: F('list_list', llT),
    data: () => A.list(llT, column('list_list', n, [[], null, [[]], [null], [[1, 2], [3]], [[null]]],
      (i, r) => Array.from({ length: r.int(0, 3) }, () => (r.chance(0.1) ? null : Array.from({ length: r.int(0, 3) }, () => r.int(0, 9))))),
    (flat) => A.list(innerT, flat, (f2) => I.int32(f2))),
  }]);
  const inT = new arrow.Struct([F('p', new arrow.Int64()), F('q', new arrow.Bool())]);
  const tagsT = new arrow.List(F('item', new arrow.Utf8()));
  const snT = new arrow.Struct([F('inner', inT), F('tags', tagsT)]);
  const snData = (innerNulls) => () => {
    const v = column('st_nested', n, [{ inner: { p: 1n, q: true }, tags: ['x'] }, { inner: null, tags: null }, { inner: { p: null, q: null }, tags: [] }],
      (i, r) => ({ inner: r.chance(0.1) ? null : { p: BigInt(r.int(-1e6, 1e6)), q: r.chance(0.5) }, tags: r.chance(0.1) ? null : [words(r, 1)] }), 0)
      .map((s) => (innerNulls || s.inner ? s : { ...s, inner: { p: null, q: null } }));
    const inner = v.map((s) => s.inner);
    return A.struct(snT, n, [
      A.struct(inT, n, [I.int64(inner.map((x) => (x ? x.p : null))), I.bool(inner.map((x) => (x ? x.q : null)))], inner.map((x) => x !== null)),
      A.list(tagsT, v.map((s) => s.tags), (f) => I.utf8(f)),
    ], null);
  };
  add('st_nested', [
    { note: 'null inner structs', field: F('st_nested', snT), data: snData(true) },
    { note: 'no null inner structs', field: F('st_nested', snT), data: snData(false) },
  ]);
  const dictT = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int32());
  add('dict_utf8', [{
    field: F('dict_utf8', dictT),
    data: () => {
      const v = column('dict_utf8', n, [0, 1, null], (i, r) => r.int(0, 4));
      return A.dictionary(dictT, Int32Array.from(v, (x) => x ?? 0), v.map((x) => x !== null), I.utf8(['red', 'green', 'blue', 'cyan', 'magenta']));
    },
  }]);
  // dictionaries of fixed-width values (LanceDB 2.0 writes them with a
  // Dictionary encoding whose items are Flat)
  const dictI64 = new arrow.Dictionary(new arrow.Int64(), new arrow.Int16());
  add('dict_i64', [{
    field: F('dict_i64', dictI64),
    data: () => {
      const v = column('dict_i64', n, [0, 3, null], (i, r) => r.int(0, 3));
      return A.dictionary(dictI64, Int16Array.from(v, (x) => x ?? 0), v.map((x) => x !== null), I.int64([-5, 0, 7, 9007199254740991]));
    },
  }]);
  const dictU32 = new arrow.Dictionary(new arrow.Uint32(), new arrow.Int8());
  add('dict_u32', [{
    field: F('dict_u32', dictU32),
    data: () => {
      const v = column('dict_u32', n, [1, null, 2], (i, r) => r.int(0, 2));
      return A.dictionary(dictU32, Int8Array.from(v, (x) => x ?? 0), v.map((x) => x !== null), I.uint32([0, 7, 4294967295]));
    },
  }]);
  // vectors of booleans (2.1+: mini-block, item validity in each chunk)
  const vbT = new arrow.FixedSizeList(3, F('item', new arrow.Bool()));
  add('vec_bool', [{
    field: F('vec_bool', vbT),
    data: () => A.fixedList(vbT, column('vec_bool', n, [[true, false, true], null, [false, null, true], [null, null, null]],
      (i, r) => [r.chance(0.5), r.chance(0.1) ? null : r.chance(0.5), r.chance(0.5)]), (f) => I.bool(f)),
  }]);
  // dictionaries of booleans (2.0: items Nullable of a Flat bitmap),
  // with nulls in the keys and in the items
  const dictBool = new arrow.Dictionary(new arrow.Bool(), new arrow.Int8());
  add('dict_bool', [{
    field: F('dict_bool', dictBool),
    data: () => {
      const v = column('dict_bool', n, [0, 1, 2, null], (i, r) => r.int(0, 2));
      return A.dictionary(dictBool, Int8Array.from(v, (x) => x ?? 0), v.map((x) => x !== null), I.bool([true, false, null]));
    },
  }]);
  const entT = new arrow.Struct([F('key', new arrow.Utf8(), false), F('value', new arrow.Int32())]);
  const mapT = new arrow.Map_(F('entries', entT, false), false);
  add('map_si', [{
    field: F('map_si', mapT),
    data: () => A.list(mapT, column('map_si', n, [[], null, [['a', 1]], [['x', 2], ['y', null]]],
      (i, r) => Array.from({ length: r.int(0, 3) }, (_, k) => [`k${k}`, r.chance(0.1) ? null : r.int(0, 99)])),
    (flat) => A.struct(entT, flat.length, [I.utf8(flat.map((e) => e[0])), I.int32(flat.map((e) => e[1]))], null)),
  }]);
  add('nul', [{ field: F('nul', new arrow.Null()), data: () => arrow.makeData({ type: new arrow.Null(), length: n, nullCount: n }) }]);
  add('interval', [{ field: F('interval', new arrow.IntervalDayTime()), data: () => A.prim(new arrow.IntervalDayTime(), new Int32Array(2 * n), null, n) }]);
  return cols;
}

// ---------------------------------------------------------------------------
class Ctx {
  constructor(outdir, ver) {
    this.ver = ver;
    this.dir = path.join(outdir, `v_${ver}`);
    this.probeDir = path.join(outdir, '.probe', `v_${ver}`);
    this.report = {};
  }
  async open() {
    this.db = await lancedb.connect(this.dir);
    this.probeDb = await lancedb.connect(this.probeDir);
    this.nprobe = 0;
  }
  opts(extra) { return { storageOptions: { new_table_data_storage_version: this.ver, ...extra } }; }
  rec(name) { return (this.report[name] ||= { storage_version: null, notes: [], refused: [] }); }
  note(name, msg) { this.rec(name).notes.push(msg); console.log(`  [${this.ver}] ${name}: ${msg}`); }
  refuse(name, what, err) {
    this.rec(name).refused.push({ what, error: firstLine(err) });
    console.log(`  [${this.ver}] ${name}: LanceDB refused ${what}: ${firstLine(err)}`);
  }
  // Create a throw-away table with `arrowTable` and read it back; null if
  // LanceDB accepted both, else the error.
  async probe(arrowTable, extraOpts) {
    const name = `p${this.nprobe++}`;
    try {
      const t = await this.probeDb.createTable(name, arrowTable, this.opts(extraOpts));
      await t.query().toArrow();
      t.close();
      return null;
    } catch (e) {
      return e;
    }
  }
  async create(name, arrowTable, extraOpts) {
    const t = await this.db.createTable(name, arrowTable, this.opts(extraOpts));
    this.rec(name);
    return t;
  }
}

const idField = F('id', new arrow.Int64(), false);
const ids = (from, to) => I.int64(Array.from({ length: to - from }, (_, k) => from + k));

async function makeTypes(ctx) {
  const n = 200;
  const fields = [idField];
  const datas = [ids(0, n)];
  for (const col of typesColumns(n)) {
    let chosen = null; let firstErr = null;
    for (const v of col.variants) {
      const err = await ctx.probe(A.batchTable([idField, v.field], [ids(0, n), v.data()]));
      if (!err) { chosen = v; break; }
      if (!firstErr) firstErr = err;
      if (col.variants.length > 1) ctx.refuse('types', `column ${col.name} with ${v.note}`, err);
    }
    if (!chosen) { if (col.variants.length === 1) ctx.refuse('types', `column ${col.name} (${String(col.variants[0].field.type)})`, firstErr); continue; }
    if (chosen !== col.variants[0]) ctx.note('types', `column ${col.name} written with ${chosen.note}`);
    fields.push(chosen.field); datas.push(chosen.data());
  }
  const t = await ctx.create('types', A.batchTable(fields, datas));
  // arrow-js 18 has no LargeList: LanceDB makes those columns with SQL
  // (version 2, one extra data file per column and fragment); and the
  // x_ columns, shapes arrow-js cannot build here: vectors of integers
  // and halves, lists of booleans, fixed binaries, decimals, timestamps
  // and dates, a vector in a struct, dictionaries with uint8 keys and of
  // large strings (not in legacy, where LanceDB cannot add them).
  const large = [['large_list_i32', "arrow_cast(list_i32, 'LargeList(Int32)')"], ['large_list_utf8', "arrow_cast(list_utf8, 'LargeList(Utf8)')"],
    ['x_vec_i8', "arrow_cast(make_array(i8, i8, 1, -1), 'FixedSizeList(4, Int8)')"],
    ['x_vec_u8', "arrow_cast(make_array(u8, 255, 0), 'FixedSizeList(3, UInt8)')"],
    ['x_vec_f64', "arrow_cast(make_array(f64, 1.5), 'FixedSizeList(2, Float64)')"],
    ['x_vec_f16', "arrow_cast(make_array(f16, f16), 'FixedSizeList(2, Float16)')"],
    ['x_list_bool', "make_array(flag, NOT flag, true)"],
    ['x_list_fsb', "make_array(fsb, fsb)"],
    ['x_st_vec', "named_struct('v', arrow_cast(make_array(f32, 2.0), 'FixedSizeList(2, Float32)'), 'k', i32)"],
    ['x_list_dec', "make_array(dec_small, dec_small)"],
    ['x_list_ts', "make_array(ts_us_utc, ts_us_utc)"],
    ['x_list_date', "make_array(d32)"]];
  if (ctx.ver !== 'legacy') large.push(['x_dict_u8', "arrow_cast(s_utf8, 'Dictionary(UInt8, Utf8)')"], ['x_dict_large', "arrow_cast(s_utf8, 'Dictionary(Int32, LargeUtf8)')"]);
  await t.addColumns(large.map(([name, valueSql]) => ({ name, valueSql })));
  ctx.note('types', 'large_list_i32, large_list_utf8 added by addColumns(arrow_cast(..., LargeList)) in version 2');
  t.close();
}

async function makeImages(ctx) {
  const rng = new Rng(seedOf('images'));
  const kinds = [
    ['png 16x12', () => media.png(16, 12, 1)], ['png 1x1', () => media.png(1, 1, 2)], ['png 64x48', () => media.png(64, 48, 3)],
    ['jpeg 24x16', () => media.jpeg(24, 16, 1)], ['jpeg 8x8', () => media.jpeg(8, 8, 5)], ['gif 10x7', () => media.gif(10, 7, 2)],
    ['bmp 5x3', () => media.bmp(5, 3, 1)], ['tiff LE rgb', () => media.tiff(6, 4, 1, false)], ['tiff BE gray', () => media.tiff(6, 4, 2, true)],
    ['webp lossless', media.webpLossless], ['webp lossy', media.webpLossy],
    ['avif header', () => media.isobmff('avif', ['mif1', 'avif', 'miaf'])], ['heic header', () => media.isobmff('heic', ['mif1', 'heic'])],
    ['mif1 header', () => media.isobmff('mif1', ['mif1', 'heic'])], ['mp4 header', () => media.isobmff('isom', ['isom', 'iso2', 'mp41'])],
    ['quicktime header', () => media.isobmff('qt  ', ['qt  '])], ['wav', () => media.wav(200, 1)], ['flac header', media.flac],
    ['pdf', () => media.pdf('lancefs fixture')], ['npy', () => media.npy([3, 4], 1)],
    ['random bytes', () => { const b = rng.bytes(300); b[0] = 0x42; b[1] = 0x00; return b; }],
    ['text', () => Buffer.from('hello world\n')], ['jpeg magic too short', () => Buffer.from([0xff, 0xd8])],
    ['RIFF but AVI', () => Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), Buffer.from('AVI LIST')])],
    ['ftyp truncated', () => Buffer.from('\0\0\0\x0cftyp', 'latin1')], ['BM only', () => Buffer.from('BM')],
    ['empty', () => Buffer.alloc(0)],
  ];
  const n = 50;
  const label = []; const image = []; const thumb = [];
  for (let i = 0; i < n; i++) {
    const [name, make] = kinds[i % kinds.length];
    const isNull = i === 7 || i === 19 || i === 33 || i === 41 || i === 48;
    label.push(isNull ? 'null image' : name);
    image.push(isNull ? null : make());
    thumb.push(i % 10 === 3 ? null : i === 13 ? Buffer.alloc(0) : i % 3 === 0 ? media.gif(4, 4, i) : media.png(4, 3, i));
  }
  const t = await ctx.create('images', A.batchTable(
    [idField, F('label', new arrow.Utf8()), F('image', new arrow.Binary()), F('thumb', new arrow.Binary())],
    [ids(0, n), I.utf8(label), I.binary(image), I.binary(thumb)]));
  t.close();
}

async function makeBigValues(ctx) {
  const rng = new Rng(seedOf('big_values'));
  const sizes = [1 << 20, 2.5 * (1 << 20), null, 6 * (1 << 20), 3 * (1 << 20) + 1, 1500000];
  const payload = sizes.map((s, i) => {
    if (s === null) return null;
    const b = rng.bulk(s);
    if (i === 1) Buffer.from([0xff, 0xd8, 0xff, 0xe0]).copy(b); // sniffs as jpg
    else if (sniffExt(b) !== 'bin') b[0] = 0;
    return b;
  });
  const t = await ctx.create('big_values', A.batchTable(
    [idField, F('note', new arrow.Utf8()), F('payload', new arrow.Binary())],
    [ids(0, sizes.length), I.utf8(sizes.map((s) => (s === null ? 'null' : `${s} bytes`))), I.binary(payload)]));
  t.close();
}

// vectors of more than 65,536 items: a flattened 224 x 224 x 3 image
// of uint8 and a float32 embedding, one row null (2.1+: full-zip)
async function makeBigVectors(ctx) {
  const rng = new Rng(seedOf('big_vectors'));
  const pxT = new arrow.FixedSizeList(224 * 224 * 3, F('item', new arrow.Uint8()));
  const embT = new arrow.FixedSizeList(65537, F('item', new arrow.Float32()));
  const n = 4;
  const px = Array.from({ length: n }, (_, i) => (i === 2 ? null : Array.from(rng.bytes(224 * 224 * 3))));
  const emb = Array.from({ length: n }, (_, i) => (i === 1 ? null : Array.from({ length: 65537 }, () => rng.int(-1000, 1000) / 8)));
  const t = await ctx.create('big_vectors', A.batchTable(
    [idField, F('pixels', pxT), F('emb', embT)],
    [ids(0, n), A.fixedList(pxT, px, (f) => I.uint8(f)), A.fixedList(embT, emb, (f) => I.float32(f))]));
  t.close();
}

function smallRows(name, from, to) {
  const rng = new Rng(seedOf(`${name}:${from}`));
  const text = []; const payload = [];
  for (let i = from; i < to; i++) {
    text.push(rng.chance(0.1) ? null : `row ${i} ${words(rng, 2)}`);
    if (rng.chance(0.1)) payload.push(null);
    else { const b = rng.bytes(rng.int(8, 40)); b[0] = 0; payload.push(b); }
  }
  return A.batchTable([idField, F('name', new arrow.Utf8()), F('payload', new arrow.Binary())], [ids(from, to), I.utf8(text), I.binary(payload)]);
}

async function makeManyRows(ctx) {
  const rng = new Rng(seedOf('many_rows'));
  const n = 20000;
  const text = []; const small = []; const value = [];
  for (let i = 0; i < n; i++) {
    text.push(rng.chance(0.1) ? null : `${i}:${words(rng, rng.int(1, 4))}`);
    if (rng.chance(0.1)) small.push(null); else { const b = rng.bytes(rng.int(90, 110)); b[0] = 1; small.push(b); }
    value.push(rng.chance(0.1) ? null : (rng.float() - 0.5) * 1e6);
  }
  const t = await ctx.create('many_rows', A.batchTable(
    [idField, F('text', new arrow.Utf8()), F('small', new arrow.Binary()), F('value', new arrow.Float64())],
    [ids(0, n), I.utf8(text), I.binary(small), I.float64(value)]));
  t.close();
}

async function makeFrags(ctx) {
  const t = await ctx.create('frags', smallRows('frags', 0, 3000)); // fragment 0
  await t.add(smallRows('frags', 3000, 4000)); // 1
  await t.add(smallRows('frags', 4000, 11000)); // 2: 7000 rows
  await t.add(smallRows('frags', 11000, 11500)); // 3
  await t.add(smallRows('frags', 11500, 11700)); // 4
  await t.delete('id = 2999'); // last row of fragment 0
  await t.delete('id >= 3000 AND id < 3100 AND id % 3 = 0'); // .arrow deletion file
  await t.delete('id >= 11000 AND id < 11500'); // all of fragment 3: dropped from the manifest
  await t.delete('id >= 4000 AND id < 11000 AND id % 7 <> 0'); // 6000 rows: roaring .bin deletion file
  await t.delete('id = 0');
  await t.add(smallRows('frags', 11700, 12000)); // 5
  await t.delete('id = 11999'); // last row of the last fragment
  ctx.note('frags', 'fragment 3 (ids 11000..11499) fully deleted and dropped from the manifest; later fragments\' positions shift down by 500');
  t.close();
}

async function makeCompacted(ctx) {
  const t = await ctx.create('compacted', smallRows('compacted', 0, 1000));
  await t.add(smallRows('compacted', 1000, 2000));
  await t.add(smallRows('compacted', 2000, 3000));
  await t.delete('id % 10 = 3');
  await t.delete('id >= 1500 AND id < 1600');
  const stats = await t.optimize();
  ctx.note('compacted', `optimize(): ${JSON.stringify(stats.compaction)}`);
  t.close();
}

async function makeStable(ctx) {
  const t = await ctx.create('stable', smallRows('stable', 0, 500), { new_table_enable_stable_row_ids: 'true' });
  await t.add(smallRows('stable', 500, 1000));
  await t.add(smallRows('stable', 1000, 1500));
  await t.delete('id % 5 = 0');
  await t.update({ where: 'id = 7 OR id = 501 OR id = 1002', values: { name: 'updated' } });
  await t.delete('id >= 600 AND id < 650');
  const stats = await t.optimize();
  ctx.note('stable', `optimize(): ${JSON.stringify(stats.compaction)}`);
  await t.add(smallRows('stable', 1500, 1600));
  t.close();
}

async function makeVersions(ctx) {
  const t = await ctx.create('versions', smallRows('versions', 0, 100)); // v1
  await t.add(smallRows('versions', 100, 150)); // v2
  await t.delete('id < 10'); // v3
  await t.add(smallRows('versions', 150, 175)); // v4
  await t.update({ where: 'id = 50', values: { name: 'changed in v5' } }); // v5
  const tags = await t.tags();
  await tags.create('first', 1);
  await tags.create('after-delete', 3);
  await tags.create('release-1.0', 5);
  t.close();
}

async function makeV1Names(ctx) {
  const t = await ctx.create('v1names', smallRows('v1names', 0, 10), { new_table_enable_v2_manifest_paths: 'false' });
  await t.add(smallRows('v1names', 10, 15));
  await t.delete('id = 3');
  t.close();
}

async function makeEvolved(ctx) {
  const t = await ctx.create('evolved', smallRows('evolved', 0, 100));
  await t.addColumns([{ name: 'twice', valueSql: 'id * 2' }]);
  await t.dropColumns(['name']);
  await t.alterColumns([{ path: 'twice', rename: 'doubled' }]);
  await t.add(A.batchTable([idField, F('payload', new arrow.Binary()), F('doubled', new arrow.Int64())],
    [ids(100, 110), I.binary(Array.from({ length: 10 }, (_, k) => (k % 4 ? media.png(2, 2, k) : null))), I.int64(Array.from({ length: 10 }, (_, k) => 2 * (100 + k)))]));
  ctx.note('evolved', 'addColumns(twice = id * 2), dropColumns(name), rename twice -> doubled, then an append');
  t.close();
}

async function makeBlobV1(ctx) {
  const rng = new Rng(seedOf('blob_v1'));
  const blobField = F('blob', new arrow.LargeBinary(), true, { 'lance-encoding:blob': 'true' });
  const vals = [Buffer.from([1, 2, 3]), Buffer.alloc(0), null, rng.bytes(100 * 1024), media.png(8, 8, 1), rng.bulk(1500000), media.jpeg(16, 16, 3), null, Buffer.from('text blob'), rng.bytes(70000)];
  const table = A.batchTable([idField, F('label', new arrow.Utf8()), blobField],
    [ids(0, vals.length), I.utf8(vals.map((v) => (v === null ? 'null' : `${v.length} bytes`))), I.largeBinary(vals)]);
  if (ctx.ver === 'legacy') console.log('  [legacy] blob_v1: probing; LanceDB may print a Rust panic below');
  const err = await ctx.probe(table);
  if (err) { ctx.refuse('blob_v1', 'a large_binary column with lance-encoding:blob=true', err); return false; }
  const t = await ctx.create('blob_v1', table);
  await t.add(A.batchTable([idField, F('label', new arrow.Utf8()), blobField], [ids(100, 103), I.utf8(['a', 'b', 'c']), I.largeBinary([media.gif(5, 5, 1), null, rng.bytes(5000)])]));
  t.close();
  return true;
}

function blobTable(field, vals, from) {
  const st = field.type;
  const data = A.struct(st, vals.length, [I.largeBinary(vals), I.utf8(vals.map(() => null))], vals.map((v) => v !== null));
  return A.batchTable([idField, F('label', new arrow.Utf8()), field], [ids(from, from + vals.length), I.utf8(vals.map((v) => (v === null ? 'null' : `${v.length} bytes`))), data]);
}

async function makeBlobV2(ctx) {
  const rng = new Rng(seedOf('blob_v2'));
  // Small thresholds keep the fixture small: inline <= 1024 < packed <= 65536 < dedicated.
  const field = lancedb.blob('blob', { inlineSizeThreshold: 1024, dedicatedSizeThreshold: 65536, packFileSizeThreshold: 200000 });
  const sizes = [0, 10, 1024, 1025, 5000, 65536, 65537, 200000, null, 30000, 30000, 30000, 30000, 30000, 30000, 30000, null, 1];
  const vals = sizes.map((s, i) => (s === null ? null : i === 9 ? media.png(40, 40, 1) : i === 4 ? media.jpeg(64, 64, 2) : rng.bytes(s)));
  const t = await ctx.create('blob_v2', blobTable(field, vals, 0));
  await t.add(blobTable(field, [rng.bytes(500), rng.bytes(20000), null, rng.bytes(70000)], 100));
  await t.delete('id = 5');
  const man = manifest.readManifest(path.join(ctx.dir, 'blob_v2.lance'));
  if (man.data_format.version !== ctx.ver) ctx.note('blob_v2', `requested storage ${ctx.ver}, LanceDB wrote ${man.data_format.version}`);
  t.close();
}

async function makeBlobV2Default(ctx) {
  const rng = new Rng(seedOf('blob_v2_default'));
  const field = lancedb.blob('blob');
  const sizes = [1000, 60 * 1024, 65536, 65537, 100 * 1024, 4 * 1024 * 1024 + 1, null, 0];
  const vals = sizes.map((s) => (s === null ? null : s > 1e6 ? rng.bulk(s) : rng.bytes(s)));
  const t = await ctx.create('blob_v2_default', blobTable(field, vals, 0));
  t.close();
}

async function makeEmpty(ctx) {
  const schema = new arrow.Schema([idField, F('name', new arrow.Utf8()), F('image', new arrow.Binary()),
    F('vec', new arrow.FixedSizeList(4, F('item', new arrow.Float32())))]);
  const t = await ctx.db.createEmptyTable('empty', schema, ctx.opts());
  ctx.rec('empty');
  t.close();
}

const DATASETS = [
  ['types', makeTypes], ['images', makeImages], ['big_values', makeBigValues], ['big_vectors', makeBigVectors], ['many_rows', makeManyRows],
  ['frags', makeFrags], ['compacted', makeCompacted], ['stable', makeStable], ['versions', makeVersions],
  ['v1names', makeV1Names], ['evolved', makeEvolved], ['blob_v1', makeBlobV1], ['blob_v2', makeBlobV2],
  ['blob_v2_default', makeBlobV2Default, ['2.2']], ['empty', makeEmpty],
];

async function main() {
  const outdir = process.argv[2];
  if (!outdir || process.argv.length > 3) {
    console.error('usage: node make_datasets.js OUTDIR');
    process.exit(1);
  }
  if (fs.existsSync(outdir) && fs.readdirSync(outdir).length) {
    console.error(`make_datasets.js: ${outdir} is not empty; remove it first`);
    process.exit(1);
  }
  const t0 = process.hrtime.bigint();
  const report = { generator: 'tests/interop/make_datasets.js', lancedb: JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('@lancedb/lancedb')), '..', 'package.json'), 'utf8')).version, versions: {} };
  for (const ver of VERSIONS) {
    const ctx = new Ctx(outdir, ver);
    await ctx.open();
    console.log(`v_${ver}: (LanceDB prints Rust panics to stderr while features are probed; they are caught and reported)`);
    for (const [name, make, only] of DATASETS) {
      if (only && !only.includes(ver)) continue;
      const t1 = process.hrtime.bigint();
      try {
        await make(ctx);
      } catch (e) {
        console.error(`make_datasets.js: v_${ver}/${name}: ${e.stack || e}`);
        process.exit(2);
      }
      const dsDir = path.join(ctx.dir, `${name}.lance`);
      if (fs.existsSync(dsDir)) {
        const man = manifest.readManifest(dsDir);
        Object.assign(ctx.rec(name), { path: path.relative(outdir, dsDir), storage_version: man.data_format.version, latest_version: man.version, fragments: man.fragments.length });
      }
      console.log(`  [${ver}] ${name} ${fs.existsSync(dsDir) ? 'done' : 'skipped'} (${Number(process.hrtime.bigint() - t1) / 1e6 | 0} ms)`);
    }
    report.versions[ver] = { dir: `v_${ver}`, datasets: ctx.report };
  }
  fs.rmSync(path.join(outdir, '.probe'), { recursive: true, force: true });
  fs.writeFileSync(path.join(outdir, 'fixtures.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(`make_datasets.js: wrote ${outdir} in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s`);
}

main().catch((e) => { console.error(`make_datasets.js: ${e.stack || e}`); process.exit(2); });
