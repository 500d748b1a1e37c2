#!/usr/bin/env node
'use strict';
// check_lancedb.js DATASET_DIR [EXPECTED_JSONL]
// Reads a Lance dataset with LanceDB and prints every row as one JSON
// object per line (int64 as numbers, binary as "bin:LEN:FNV1A32",
// decimals as "dec:UNSCALED").  With EXPECTED_JSONL (written by mkds),
// compares value by value, also runs a filtered scan, and exits 1 on any
// difference.  Modules come from tests/interop/node_modules (npm ci
// --prefix tests/interop) or from $LANCEDB_NODE_MODULES.
const fs = require('fs');
const path = require('path');

function load(name) {
  const dirs = [path.join(__dirname, '..', '..', 'interop', 'node_modules')];
  if (process.env.LANCEDB_NODE_MODULES) dirs.push(process.env.LANCEDB_NODE_MODULES);
  for (const d of dirs) {
    const p = path.join(d, name);
    if (fs.existsSync(p)) return require(p);
  }
  throw new Error(`cannot find ${name} in ${dirs.join(', ')}`);
}

const lancedb = load('@lancedb/lancedb');
const arrow = load('apache-arrow');

function fnv1a(bytes) {
  let h = 2166136261;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function norm(type, v) {
  if (v === null || v === undefined) return null;
  const D = arrow.DataType;
  if (D.isDictionary(type)) return norm(type.dictionary, v);
  if (D.isInt(type)) return typeof v === 'bigint' ? Number(v) : v;
  if (D.isFloat(type) || D.isBool(type) || D.isUtf8(type) || D.isLargeUtf8(type)) return v;
  if (D.isTimestamp(type)) {
    // arrow-js hands out milliseconds as a float: back to the stored unit
    const per = [1e-3, 1, 1e3, 1e6][type.unit];
    return Math.round(Number(v) * per);
  }
  if (D.isBinary(type) || D.isLargeBinary(type) || D.isFixedSizeBinary(type)) return `bin:${v.length}:${fnv1a(v)}`;
  if (D.isDecimal(type)) {
    let x = 0n;
    for (let i = v.length - 1; i >= 0; i--) x = (x << 32n) | BigInt(v[i] >>> 0);
    if (x >= 1n << 127n) x -= 1n << 128n;
    return `dec:${x}`;
  }
  if (D.isList(type) || D.isFixedSizeList(type)) {
    const item = type.children[0].type;
    const out = [];
    for (let i = 0; i < v.length; i++) out.push(norm(item, v.get(i)));
    return out;
  }
  if (D.isStruct(type)) {
    const out = {};
    for (const c of type.children) out[c.name] = norm(c.type, v[c.name]);
    return out;
  }
  throw new Error(`no rule for ${type}`);
}

function rowsOf(tab) {
  const fields = tab.schema.fields;
  const cols = fields.map((f) => tab.getChild(f.name));
  const rows = [];
  for (let i = 0; i < tab.numRows; i++) {
    const r = {};
    fields.forEach((f, k) => { r[f.name] = norm(f.type, cols[k].get(i)); });
    rows.push(r);
  }
  return rows;
}

function same(a, b) {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same(a[k], b[k]));
}

async function main() {
  const [dir, expected] = process.argv.slice(2);
  if (!dir) { console.error('usage: check_lancedb.js DATASET_DIR [EXPECTED_JSONL]'); process.exit(2); }
  const abs = path.resolve(dir);
  const db = await lancedb.connect(path.dirname(abs));
  const tbl = await db.openTable(path.basename(abs).replace(/\.lance$/, ''));
  const rows = rowsOf(await tbl.query().toArrow());
  if (!expected) {
    for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
    return;
  }
  const want = fs.readFileSync(expected, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  let bad = 0;
  if (rows.length !== want.length) {
    console.error(`rows: LanceDB ${rows.length}, expected ${want.length}`);
    bad++;
  }
  for (let i = 0; i < Math.min(rows.length, want.length) && bad < 10; i++) {
    for (const k of Object.keys(want[i])) {
      if (!same(rows[i][k], want[i][k])) {
        console.error(`row ${i} ${k}: LanceDB ${JSON.stringify(rows[i][k]).slice(0, 200)}, expected ${JSON.stringify(want[i][k]).slice(0, 200)}`);
        bad++;
      }
    }
  }
  // random access (takeOffsets) goes through the range-read paths:
  // page and chunk edges, and rows scattered over the file
  const offs = [0, 1, 2, 3, 4, 1023, 1024, 4095, 4096, 8191, 8192, 8193,
    want.length - 1, 12345 % want.length, 777 % want.length]
    .filter((o) => o < want.length);
  const taken = rowsOf(await tbl.takeOffsets(offs).toArrow());
  if (taken.length !== offs.length) { console.error(`takeOffsets: ${taken.length} rows, expected ${offs.length}`); bad++; }
  // take may return rows in any order: match them by id
  const byId = new Map(want.map((r) => [r.id, r]));
  for (const r of taken) {
    if (!same(r, byId.get(r.id))) { console.error(`takeOffsets: row id ${r.id} differs`); bad++; }
  }
  // a filtered scan and a count go through other reader paths
  const nulls = want.filter((r) => r.i32 === null).length;
  const got = (await tbl.query().where('i32 IS NULL').select(['id']).toArrow()).numRows;
  if (got !== nulls) { console.error(`i32 IS NULL: LanceDB ${got}, expected ${nulls}`); bad++; }
  const n = await tbl.countRows();
  if (n !== want.length) { console.error(`countRows ${n}, expected ${want.length}`); bad++; }
  if (bad) process.exit(1);
  console.log(`${path.basename(abs)}: ${rows.length} rows match`);
}

main().catch((e) => { console.error(`check_lancedb.js: ${e.stack || e.message}`); process.exit(2); });
