#!/usr/bin/env node
'use strict';
// wtool.js: LanceDB's side of the write tests (tests/integration/test_write.py).
//
//   node wtool.js make URI --version 2.0|2.1|2.2 --rows N [--prefix P] [--start K] [--required COL]
//       LanceDB creates the dataset URI (DB_DIR/TABLE.lance) with columns
//       name utf8, image binary (a real baseline JPEG), caption utf8
//       (every fifth row null), label int64 and score float64.  --required
//       makes that column non-nullable.  Prints {"version", "rows"}.
//   node wtool.js append URI --rows N [--prefix P] [--start K]
//       LanceDB appends rows made the same way.  Prints {"version", "rows"}.
//   node wtool.js delete URI --where SQL
//       LanceDB deletes the rows matching the SQL filter.  Prints
//       {"version", "rows"}.
//   node wtool.js versions URI
//       Opens every version with checkout() and counts its rows; also the
//       file versions (major.minor) of the latest version's data files.
//       Prints {"latest", "versions": [{"version", "rows"}], "file_versions"}.
//   node wtool.js row URI K [--prefix P]
//       Prints the row `make` would write for index K (name, image sha256,
//       caption, label, score), so the test knows LanceDB's values.
//
// Rows are deterministic: row K is named P_KKK (P defaults to "row").
const path = require('path');
const crypto = require('crypto');
const { lancedb } = require('./lib/lancedb');
const A = require('./lib/arrowdata');
const manifest = require('./lib/manifest');
const media = require('./lib/media');
const { splitUri } = require('./lib/oracle');

const { arrow, I } = A;
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

function usage(msg) {
  if (msg) console.error(`wtool.js: ${msg}`);
  console.error('usage: node wtool.js make URI --version V --rows N [--prefix P] [--start K] [--required COL]\n' +
    '       node wtool.js append URI --rows N [--prefix P] [--start K]\n' +
    '       node wtool.js delete URI --where SQL\n' +
    '       node wtool.js versions URI\n' +
    '       node wtool.js row URI K [--prefix P]');
  process.exit(1);
}

function parseArgs(argv) {
  const o = { pos: [], prefix: 'row', start: 0, rows: null, version: null, required: [], where: null };
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
    else if (a === '--required') o.required.push(next());
    else if (a === '--where') o.where = next();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else o.pos.push(a);
  }
  return o;
}

// The values of row k.
function rowValues(prefix, k) {
  const image = media.jpeg(16 + 8 * (k % 7), 8 + 8 * (k % 5), k * 13 + prefix.length);
  return {
    name: `${prefix}_${String(k).padStart(3, '0')}`,
    image,
    caption: k % 5 === 4 ? null : `${prefix} caption ${k} ✓`,
    label: k * 10,
    score: k + 0.25,
  };
}

function makeTable(prefix, start, n, required) {
  const rows = [];
  for (let k = start; k < start + n; k++) rows.push(rowValues(prefix, k));
  const nullable = (c) => !required.includes(c);
  const fields = [
    new arrow.Field('name', new arrow.Utf8(), nullable('name')),
    new arrow.Field('image', new arrow.Binary(), nullable('image')),
    new arrow.Field('caption', new arrow.Utf8(), nullable('caption')),
    new arrow.Field('label', new arrow.Int64(), nullable('label')),
    new arrow.Field('score', new arrow.Float64(), nullable('score')),
  ];
  for (const c of required) {
    if (!fields.some((f) => f.name === c)) usage(`--required ${c}: no such column`);
  }
  // a non-nullable column gets no validity bitmap at all
  const caption = rows.map((r) => r.caption);
  if (!nullable('caption')) caption.forEach((v, i) => { if (v === null) caption[i] = ''; });
  return A.batchTable(fields, [
    I.utf8(rows.map((r) => r.name)),
    I.binary(rows.map((r) => r.image)),
    I.utf8(caption),
    I.int64(rows.map((r) => r.label)),
    I.float64(rows.map((r) => r.score)),
  ]);
}

async function open(uri) {
  const { db, table } = splitUri(uri);
  return { conn: await lancedb.connect(db), table };
}

async function cmdMake(o) {
  const [uri] = o.pos;
  if (!['2.0', '2.1', '2.2'].includes(o.version)) usage('--version takes 2.0, 2.1 or 2.2');
  if (!(o.rows > 0)) usage('--rows takes a positive number');
  const { conn, table } = await open(uri);
  const t = await conn.createTable(table, makeTable(o.prefix, o.start, o.rows, o.required),
    { storageOptions: { new_table_data_storage_version: o.version } });
  try {
    return { version: await t.version(), rows: await t.countRows() };
  } finally {
    t.close();
  }
}

async function cmdAppend(o) {
  const [uri] = o.pos;
  if (!(o.rows > 0)) usage('--rows takes a positive number');
  const { conn, table } = await open(uri);
  const t = await conn.openTable(table);
  try {
    // keep the dataset's own nullability (a non-nullable column stays so)
    const schema = await t.schema();
    const required = schema.fields.filter((f) => !f.nullable).map((f) => f.name);
    await t.add(makeTable(o.prefix, o.start, o.rows, required));
    return { version: await t.version(), rows: await t.countRows() };
  } finally {
    t.close();
  }
}

async function cmdDelete(o) {
  const [uri] = o.pos;
  if (!o.where) usage('delete needs --where');
  const { conn, table } = await open(uri);
  const t = await conn.openTable(table);
  try {
    await t.delete(o.where);
    return { version: await t.version(), rows: await t.countRows() };
  } finally {
    t.close();
  }
}

async function cmdVersions(o) {
  const [uri] = o.pos;
  const { conn, table } = await open(uri);
  const t = await conn.openTable(table);
  try {
    const latest = await t.version();
    const out = [];
    for (const v of await t.listVersions()) {
      await t.checkout(v.version);
      if ((await t.version()) !== v.version) throw new Error(`checkout(${v.version}) did not take`);
      out.push({ version: v.version, rows: await t.countRows() });
    }
    await t.checkoutLatest();
    const man = manifest.readManifest(splitUri(uri).dir, latest);
    const fileVersions = new Set();
    for (const f of man.fragments) for (const d of f.files) fileVersions.add(`${d.major}.${d.minor}`);
    return { latest, versions: out, file_versions: [...fileVersions].sort(), data_format: man.data_format.version };
  } finally {
    t.close();
  }
}

function cmdRow(o) {
  const [, k] = o.pos;
  if (!/^\d+$/.test(k || '')) usage('row takes an index');
  const r = rowValues(o.prefix, Number(k));
  return { ...r, image: sha256(r.image), image_size: r.image.length };
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const o = parseArgs(rest);
  if (!o.pos.length) usage('no dataset given');
  let res;
  if (cmd === 'make') res = await cmdMake(o);
  else if (cmd === 'append') res = await cmdAppend(o);
  else if (cmd === 'delete') res = await cmdDelete(o);
  else if (cmd === 'versions') res = await cmdVersions(o);
  else if (cmd === 'row') res = cmdRow(o);
  else usage(cmd ? `unknown command ${cmd}` : 'no command');
  process.stdout.write(JSON.stringify(res) + '\n');
}

if (require.main === module) {
  main().catch((e) => { console.error(`wtool.js: ${e.message}`); process.exit(2); });
}
module.exports = { rowValues };
