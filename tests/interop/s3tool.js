#!/usr/bin/env node
'use strict';
// s3tool.js: LanceDB 0.39 on S3, the oracle of tests/integration/test_s3.py
// and the writer of tests/bench/s3.sh.
//
// The server comes from the environment: S3_ENDPOINT (http://HOST:PORT),
// S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION (default us-east-1); passed to
// LanceDB as storageOptions (aws_endpoint, allow_http, keys, region), never
// through AWS_* variables.  URIs are s3://BUCKET/PREFIX/TABLE.lance.
//
//   node s3tool.js make URI --version legacy|2.0|2.1|2.2 --rows N [--prefix P] [--start K] [--big]
//       Creates the dataset with the rows of wtool.js (name utf8, image
//       binary: a real JPEG, caption utf8 with every fifth null, label
//       int64, score float64).  With --big every third row's image is a
//       JPEG-framed random body of 100-400 KB instead (reads that span
//       several ranges).  Prints {"version", "rows"}.
//   node s3tool.js append URI --rows N [--prefix P] [--start K] [--big]
//   node s3tool.js delete URI --where SQL
//       Print {"version", "rows"}.
//   node s3tool.js dump URI [--version N] [--versions]
//       LanceDB's reading of one version (default the latest):
//       {"latest", "version", "columns", "rows": [{name, rowaddr, fragment,
//       offset, image: {sha256, size} | null, caption, label, score, ...}]},
//       every column's value (binary columns as {sha256, size}); with
//       --versions also "versions": [{version, rows, names}] (each version
//       checked out and scanned).  A dataset that does not exist prints
//       {"missing": true}.
//   node s3tool.js race URI --prefix P --count N [--label L] [--gap MS] [--at EPOCH_MS]
//       Waits until EPOCH_MS, then makes N one-row appends (rows
//       P_000..., labels from L, image bytes as imageBytes(label), null
//       caption and score), GAP_MS
//       apart; prints one JSON line per commit {"name", "version"}.
//   node s3tool.js tables DB_URI
//       The table names of a database prefix, as LanceDB lists them.
//   node s3tool.js bench URI --version V --rows N [--size BYTES]
//       The benchmark dataset: id int64, label utf8, image binary (a
//       JPEG-framed random body of about BYTES, default 100000), written in
//       batches of 500 rows (one fragment each).  Prints {"version", "rows"}.
const crypto = require('crypto');
const { lancedb, arrow } = require('./lib/lancedb');
const A = require('./lib/arrowdata');
const { rowValues } = require('./wtool');

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

function usage(msg) {
  if (msg) console.error(`s3tool.js: ${msg}`);
  console.error('usage: node s3tool.js make|append|delete|dump|race|tables|bench URI [options]; see the head of s3tool.js');
  process.exit(1);
}

function storageOptions() {
  const e = process.env;
  for (const k of ['S3_ENDPOINT', 'S3_ACCESS_KEY', 'S3_SECRET_KEY']) {
    if (!e[k]) usage(`${k} is not set`);
  }
  return {
    aws_endpoint: e.S3_ENDPOINT,
    allow_http: 'true',
    aws_access_key_id: e.S3_ACCESS_KEY,
    aws_secret_access_key: e.S3_SECRET_KEY,
    aws_region: e.S3_REGION || 'us-east-1',
  };
}

function splitUri(uri) {
  const m = /^s3:\/\/([^/]+)((?:\/[^/]+)*)\/([^/]+)\.lance\/?$/.exec(uri);
  if (!m) throw new Error(`${uri}: expected s3://BUCKET/[PREFIX/]TABLE.lance`);
  return { db: `s3://${m[1]}${m[2]}`, table: m[3] };
}

function parseArgs(argv) {
  const o = { pos: [], prefix: 'row', start: 0, rows: null, version: null, where: null,
    versions: false, big: false, count: 0, label: 0, gap: 0, at: 0, size: 100000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--version') o.version = next();
    else if (a === '--rows') o.rows = Number(next());
    else if (a === '--prefix') o.prefix = next();
    else if (a === '--start') o.start = Number(next());
    else if (a === '--where') o.where = next();
    else if (a === '--versions') o.versions = true;
    else if (a === '--big') o.big = true;
    else if (a === '--count') o.count = Number(next());
    else if (a === '--label') o.label = Number(next());
    else if (a === '--gap') o.gap = Number(next());
    else if (a === '--at') o.at = Number(next());
    else if (a === '--size') o.size = Number(next());
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else o.pos.push(a);
  }
  return o;
}

const FIELDS = () => [
  new arrow.Field('name', new arrow.Utf8(), true),
  new arrow.Field('image', new arrow.Binary(), true),
  new arrow.Field('caption', new arrow.Utf8(), true),
  new arrow.Field('label', new arrow.Int64(), true),
  new arrow.Field('score', new arrow.Float64(), true),
];

function rowsTable(prefix, start, n, big) {
  const rows = [];
  for (let k = start; k < start + n; k++) {
    const r = rowValues(prefix, k);
    if (big && k % 3 === 0) r.image = benchImage(k + 1000 * prefix.length, 100000 + (k % 4) * 100000);
    rows.push(r);
  }
  return A.batchTable(FIELDS(), [
    A.I.utf8(rows.map((r) => r.name)),
    A.I.binary(rows.map((r) => r.image)),
    A.I.utf8(rows.map((r) => r.caption)),
    A.I.int64(rows.map((r) => r.label)),
    A.I.float64(rows.map((r) => r.score)),
  ]);
}

// The image bytes of a race row: FF D8 FF, then a generator seeded by the
// label (the same function as image_bytes() in test_s3.py).
function imageBytes(label) {
  const n = 3000 + (label % 5000);
  const b = Buffer.alloc(n);
  let x = (label * 2654435761 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  b[0] = 0xff; b[1] = 0xd8; b[2] = 0xff;
  return b;
}

async function connect(uri) {
  const { db, table } = splitUri(uri);
  return { conn: await lancedb.connect(db, { storageOptions: storageOptions() }), table };
}

async function openTable(uri) {
  const { conn, table } = await connect(uri);
  return conn.openTable(table);
}

async function summary(t) {
  try {
    return { version: await t.version(), rows: await t.countRows() };
  } finally {
    t.close();
  }
}

async function cmdMake(o) {
  if (!['legacy', '2.0', '2.1', '2.2'].includes(o.version)) usage('--version takes legacy, 2.0, 2.1 or 2.2');
  if (!(o.rows > 0)) usage('--rows takes a positive number');
  const { conn, table } = await connect(o.pos[0]);
  const t = await conn.createTable(table, rowsTable(o.prefix, o.start, o.rows, o.big),
    { storageOptions: { new_table_data_storage_version: o.version } });
  return summary(t);
}

async function cmdAppend(o) {
  if (!(o.rows > 0)) usage('--rows takes a positive number');
  const t = await openTable(o.pos[0]);
  await t.add(rowsTable(o.prefix, o.start, o.rows, o.big));
  return summary(t);
}

async function cmdDelete(o) {
  if (!o.where) usage('delete needs --where');
  const t = await openTable(o.pos[0]);
  await t.delete(o.where);
  return summary(t);
}

function cell(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array) return { sha256: sha256(v), size: v.length };
  return v;
}

async function scan(t) {
  const tbl = await t.query().withRowId().select({ ...Object.fromEntries(
    (await t.schema()).fields.map((f) => [f.name, '`' + f.name.replace(/`/g, '``') + '`'])),
  _rowaddr: '_rowaddr' }).toArrow();
  const cols = tbl.schema.fields.map((f) => f.name).filter((c) => c !== '_rowid' && c !== '_rowaddr');
  const rows = [];
  for (let i = 0; i < tbl.numRows; i++) {
    const r = {};
    for (const c of cols) r[c] = cell(tbl.getChild(c).get(i));
    const addr = tbl.getChild('_rowaddr').get(i);
    r.rowaddr = addr.toString();
    r.fragment = Number(addr >> 32n);
    r.offset = Number(addr & 0xffffffffn);
    rows.push(r);
  }
  if (rows.length !== await t.countRows()) throw new Error('the scan and countRows() disagree');
  rows.sort((a, b) => (BigInt(a.rowaddr) < BigInt(b.rowaddr) ? -1 : 1));
  return { columns: cols, rows };
}

async function cmdDump(o) {
  const { conn, table } = await connect(o.pos[0]);
  if (!(await conn.tableNames()).includes(table)) return { missing: true };
  const t = await conn.openTable(table);
  try {
    const latest = await t.version();
    const out = { latest };
    if (o.versions) {
      out.versions = [];
      for (const v of await t.listVersions()) {
        await t.checkout(v.version);
        if ((await t.version()) !== v.version) throw new Error(`checkout(${v.version}) did not take`);
        const s = await scan(t);
        out.versions.push({ version: v.version, rows: s.rows.length, names: s.rows.map((r) => r.name ?? null) });
      }
      await t.checkoutLatest();
    }
    const want = o.version == null ? latest : Number(o.version);
    if (want !== latest) await t.checkout(want);
    out.version = await t.version();
    if (out.version !== want) throw new Error(`checkout(${want}) did not take`);
    Object.assign(out, await scan(t));
    return out;
  } finally {
    t.close();
  }
}

async function cmdRace(o) {
  if (!(o.count > 0)) usage('race needs --count');
  const t = await openTable(o.pos[0]);
  try {
    const wait = o.at - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (let i = 0; i < o.count; i++) {
      if (i && o.gap) await new Promise((r) => setTimeout(r, o.gap));
      const name = `${o.prefix}_${String(i).padStart(3, '0')}`;
      const label = o.label + i;
      await t.add(A.batchTable(FIELDS(), [A.I.utf8([name]), A.I.binary([imageBytes(label)]),
        A.I.utf8([null]), A.I.int64([label]), A.I.float64([null])]));
      process.stdout.write(JSON.stringify({ name, version: await t.version() }) + '\n');
    }
  } finally {
    t.close();
  }
  return null;
}

async function cmdTables(o) {
  const conn = await lancedb.connect(o.pos[0], { storageOptions: storageOptions() });
  return { tables: (await conn.tableNames()).sort() };
}

// The benchmark's rows: JPEG-framed random bodies (photos do not compress).
function benchImage(i, size) {
  const n = size - (size >> 3) + (i * 7919) % (size >> 2);
  const b = crypto.createHash('sha256').update(`bench ${i}`).digest();
  const out = Buffer.alloc(n);
  let x = b.readUInt32LE(0);
  for (let k = 0; k + 4 <= n; k += 4) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out.writeUInt32LE(x, k);
  }
  out[0] = 0xff; out[1] = 0xd8; out[2] = 0xff; out[3] = 0xe0;
  out[n - 2] = 0xff; out[n - 1] = 0xd9;
  return out;
}

async function cmdBench(o) {
  if (!(o.rows > 0)) usage('--rows takes a positive number');
  const { conn, table } = await connect(o.pos[0]);
  const fields = [new arrow.Field('id', new arrow.Int64(), false),
    new arrow.Field('label', new arrow.Utf8(), true),
    new arrow.Field('image', new arrow.Binary(), true)];
  let t = null;
  for (let s = 0; s < o.rows; s += 500) {
    const ids = [];
    for (let i = s; i < Math.min(o.rows, s + 500); i++) ids.push(i);
    const batch = A.batchTable(fields, [A.I.int64(ids), A.I.utf8(ids.map((i) => `class_${i % 10}`)),
      A.I.binary(ids.map((i) => benchImage(i, o.size)))]);
    if (!t) {
      t = await conn.createTable(table, batch, { mode: 'overwrite',
        storageOptions: { new_table_data_storage_version: o.version || '2.0' } });
    } else await t.add(batch);
  }
  return summary(t);
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const o = parseArgs(rest);
  if (!o.pos.length) usage('no URI given');
  const fns = { make: cmdMake, append: cmdAppend, delete: cmdDelete, dump: cmdDump,
    race: cmdRace, tables: cmdTables, bench: cmdBench };
  if (!fns[cmd]) usage(cmd ? `unknown command ${cmd}` : 'no command');
  const res = await fns[cmd](o);
  if (res !== null) process.stdout.write(JSON.stringify(res) + '\n');
}

main().catch((e) => { console.error(`s3tool.js: ${e.stack || e.message}`); process.exit(2); });
