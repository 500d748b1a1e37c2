'use strict';
// LanceDB reads what ingest_commit makes of staged folders.
//
//   node check.js INGEST_TOOL OUT
//
// 1. A new dataset made only from staged folders (images + meta.json, a
//    caption.txt, a root-level image, a refused row): LanceDB must see
//    the inferred schema (names, types, all nullable), the `name` column
//    from the folder names, the row count, every image byte for byte
//    (sha256) and every meta.json value.
// 2. An append to a dataset LanceDB made with file version 2.2: LanceDB
//    must read our rows with the right values, from a 2.2 data file.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { execFileSync } = require('child_process');
const A = require(path.join(__dirname, '..', '..', 'interop', 'lib', 'arrowdata'));
const { lancedb } = require(path.join(__dirname, '..', '..', 'interop', 'lib', 'lancedb'));
const manifest = require(path.join(__dirname, '..', '..', 'interop', 'lib', 'manifest'));
const { arrow, I } = A;

const [tool, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node check.js INGEST_TOOL OUT');
  process.exit(2);
}

let failures = 0;
function fail(msg) {
  console.error(`FAIL ${msg}`);
  failures++;
}
function eq(what, got, want) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  if (g !== w) fail(`${what}: LanceDB has ${g}, expected ${w}`);
}

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
// Pseudo-random image bytes behind a real signature (never decoded).
function image(sig, seed, len) {
  const b = Buffer.alloc(len);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < len; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  sig.copy(b, 0);
  return b;
}

function tool_commit(ds, staging, src, nameColumn) {
  const args = ['commit', ds, staging, src];
  if (nameColumn) args.push(nameColumn);
  return JSON.parse(execFileSync(tool, args, { encoding: 'utf8' }));
}

function value(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return sha(v);
  if (typeof v === 'object' && typeof v.toArray === 'function' && !(v.toJSON && v.constructor.name === 'StructRow')) {
    return [...v.toArray()].map(value);
  }
  if (typeof v === 'object') {
    const o = {};
    for (const [k, x] of Object.entries(v.toJSON ? v.toJSON() : v)) o[k] = value(x);
    return o;
  }
  return v;
}

async function rowsByName(tbl) {
  const t = await tbl.query().toArrow();
  const out = {};
  for (let i = 0; i < t.numRows; i++) {
    const r = {};
    for (const f of t.schema.fields) r[f.name] = value(t.getChild(f.name).get(i));
    out[r.name] = r;
  }
  return { table: t, rows: out };
}

async function newDataset(db) {
  const src = path.join(out, 'src1');
  fs.mkdirSync(src, { recursive: true });
  const want = {};
  for (let k = 1; k <= 4; k++) {
    const name = `cat_00${k}`;
    const dir = path.join(src, name);
    fs.mkdirSync(dir);
    const img = image(k % 2 ? JPEG : PNG, k, 1000 + 997 * k);
    fs.writeFileSync(path.join(dir, k % 2 ? 'image.jpg' : 'image.png'), img);
    const meta = { label: `cat ${k}`, score: k / 4, count: k * 1000000007, ok: k % 2 === 0,
      tags: ['a', `t${k}`], box: { x: k, y: -k } };
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
    if (k === 1) fs.writeFileSync(path.join(dir, 'caption.txt'), 'a cat on a mat ✓');
    fs.writeFileSync(path.join(dir, '.DS_Store'), 'junk');
    want[name] = { name, caption: k === 1 ? 'a cat on a mat ✓' : null, image: sha(img), ...meta };
  }
  const bird = image(PNG, 99, 4321);
  fs.writeFileSync(path.join(src, 'bird.png'), bird);
  want.bird = { name: 'bird', caption: null, image: sha(bird), label: null, score: null, count: null,
    ok: null, tags: null, box: { x: null, y: null } }; // 2.0 stores no null structs
  fs.mkdirSync(path.join(src, 'broken'));
  fs.writeFileSync(path.join(src, 'broken', 'meta.json'), '{"label": ');

  const ds = path.join(out, 'db', 'new.lance');
  const res = tool_commit(ds, path.join(out, 'stage1'), src);
  eq('new: tool result', res, { version: 1, rows: 5, refused: 1 });

  const m = manifest.readManifest(ds);
  eq('new: data_format', m.data_format.version, '2.0');

  const tbl = await db.openTable('new');
  try {
    const schema = await tbl.schema();
    const D = arrow.DataType;
    const types = schema.fields.map((f) => {
      const t = f.type;
      let s = D.isUtf8(t) ? 'string' : D.isBinary(t) ? 'binary' : D.isFloat(t) ? `float${t.precision === 2 ? 64 : 32}`
        : D.isInt(t) ? `int${t.bitWidth}` : D.isBool(t) ? 'bool' : D.isList(t) ? 'list'
          : D.isStruct(t) ? 'struct' : String(t);
      if (D.isList(t)) s += `<${D.isUtf8(t.children[0].type) ? 'string' : String(t.children[0].type)}>`;
      if (D.isStruct(t)) s += `<${t.children.map((c) => `${c.name}:${D.isInt(c.type) ? `int${c.type.bitWidth}` : String(c.type)}`).join(',')}>`;
      return `${f.name}:${s}${f.nullable ? '' : '!'}`;
    });
    eq('new: schema', types, ['name:string', 'caption:string', 'image:binary', 'label:string',
      'score:float64', 'count:int64', 'ok:bool', 'tags:list<string>', 'box:struct<x:int64,y:int64>']);
    eq('new: rows', await tbl.countRows(), 5);
    const { rows } = await rowsByName(tbl);
    eq('new: row names', Object.keys(rows).sort(), Object.keys(want).sort());
    for (const [name, w] of Object.entries(want)) eq(`new: row ${name}`, rows[name], w);
    if (!failures) console.log(`ok new dataset: ${types.length} columns, 5 rows, images by sha256`);
  } finally {
    tbl.close();
  }
}

async function appendTo22(db) {
  const fields = [new arrow.Field('name', new arrow.Utf8(), true),
    new arrow.Field('image', new arrow.Binary(), true),
    new arrow.Field('label', new arrow.Utf8(), true),
    new arrow.Field('score', new arrow.Float32(), true),
    new arrow.Field('n', new arrow.Int32(), true)];
  const first = A.batchTable(fields, [I.utf8(['x0', 'x1']), I.binary([image(PNG, 1, 50), image(PNG, 2, 60)]),
    I.utf8(['old', null]), I.float32([1.5, null]), I.int32([1, 2])]);
  const tbl = await db.createTable('app', first, { storageOptions: { new_table_data_storage_version: '2.2' } });
  tbl.close();
  const ds = path.join(out, 'db', 'app.lance');
  eq('app: LanceDB data_format', manifest.readManifest(ds).data_format.version, '2.2');

  const src = path.join(out, 'src2');
  fs.mkdirSync(src, { recursive: true });
  const want = {};
  const metas = { dog_010: { label: 'dog', score: 0.25, n: -7 }, dog_011: { label: 'dog two', n: 2147483647 } };
  let k = 10;
  for (const [name, meta] of Object.entries(metas)) {
    const dir = path.join(src, name);
    fs.mkdirSync(dir);
    const img = image(PNG, k, 3000 + k++);
    fs.writeFileSync(path.join(dir, 'image.png'), img);
    fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta));
    want[name] = { name, image: sha(img), label: meta.label, score: meta.score ?? null, n: meta.n };
  }
  const res = tool_commit(ds, path.join(out, 'stage2'), src, 'name');
  eq('app: tool result', res, { version: 2, rows: 2, refused: 0 });
  const m = manifest.readManifest(ds);
  const last = m.fragments[m.fragments.length - 1].files[0];
  eq('app: our data file version', `${last.major}.${last.minor}`, '2.2');

  const t2 = await db.openTable('app');
  try {
    eq('app: rows', await t2.countRows(), 4);
    const { rows } = await rowsByName(t2);
    for (const [name, w] of Object.entries(want)) eq(`app: row ${name}`, rows[name], w);
    eq('app: LanceDB row x0 kept', rows.x0 && rows.x0.label, 'old');
    // LanceDB appends after us, and still reads everything
    await t2.add(first);
    eq('app: rows after a LanceDB append', await t2.countRows(), 6);
    if (!failures) console.log('ok append to a LanceDB 2.2 dataset: 2 rows with the right values');
  } finally {
    t2.close();
  }
}

async function main() {
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, 'db'), { recursive: true });
  const db = await lancedb.connect(path.join(out, 'db'));
  await newDataset(db);
  await appendTo22(db);
  if (failures) {
    console.error(`${failures} failure(s)`);
    process.exit(1);
  }
  console.log('all ingest interop checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
