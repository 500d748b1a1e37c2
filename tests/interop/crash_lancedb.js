#!/usr/bin/env node
'use strict';
// LanceDB's side of tests/integration/test_crash.py: the read oracle for
// datasets lancefs wrote under kill -9 and concurrency, and a writer that
// commits next to the mounts.
//
//   node crash_lancedb.js rows URI [--versions]
//       prints JSON {latest, columns, versions: [{version, rows, names}],
//       rows: [{name, label, sha256, size}]} for the latest version; with
//       --versions every version is checked out and scanned (names and
//       labels), so a version that does not open fails here.  A dataset
//       that does not exist prints {"missing": true}.
//   node crash_lancedb.js make URI N PREFIX
//       creates URI (name utf8, image binary, label int64) with N rows
//       named PREFIX_000...; image bytes as imageBytes(label) below.
//   node crash_lancedb.js append URI COUNT PREFIX FIRST_LABEL [GAP_MS]
//       COUNT separate one-row appends, PREFIX_000..., labels from
//       FIRST_LABEL, GAP_MS apart; prints one line per committed version.
//
// imageBytes(label) is the same function as image_bytes() in test_crash.py
// for the rows LanceDB writes: 3000 + label % 5000 bytes, FF D8 FF first.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { lancedb, arrow } = require('./lib/lancedb');
const A = require('./lib/arrowdata');

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

function splitUri(uri) {
  const p = path.resolve(uri.replace(/^file:\/\//, '').replace(/\/+$/, ''));
  if (!p.endsWith('.lance')) throw new Error(`${uri}: not a .lance URI`);
  return { db: path.dirname(p), table: path.basename(p, '.lance'), dir: p };
}

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

function batch(names, labels) {
  const fields = [new arrow.Field('name', new arrow.Utf8(), true),
    new arrow.Field('image', new arrow.Binary(), true),
    new arrow.Field('label', new arrow.Int64(), true)];
  return A.batchTable(fields, [A.I.utf8(names), A.I.binary(labels.map(imageBytes)),
    A.I.int64(labels)]);
}

const pad = (i) => String(i).padStart(3, '0');

async function open(uri) {
  const { db, table } = splitUri(uri);
  return (await lancedb.connect(db)).openTable(table);
}

function cell(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  return v;
}

async function rows(uri, allVersions) {
  const { dir } = splitUri(uri);
  if (!fs.existsSync(path.join(dir, '_versions'))) {
    process.stdout.write('{"missing": true}\n');
    return;
  }
  const tbl = await open(uri);
  try {
    const latest = await tbl.version();
    const versions = [];
    if (allVersions) {
      for (const v of await tbl.listVersions()) {
        await tbl.checkout(v.version);
        const t = await tbl.query().select(['name', 'label']).toArrow();
        const names = [];
        for (let i = 0; i < t.numRows; i++) names.push(cell(t.getChild('name').get(i)));
        if ((await tbl.countRows()) !== t.numRows) throw new Error(`version ${v.version}: countRows disagrees with the scan`);
        versions.push({ version: v.version, rows: t.numRows, names });
      }
      await tbl.checkoutLatest();
    }
    const t = await tbl.query().toArrow();
    const out = [];
    const cols = t.schema.fields.map((f) => f.name);
    for (let i = 0; i < t.numRows; i++) {
      const r = {};
      for (const c of cols) {
        const v = cell(t.getChild(c).get(i));
        if (v instanceof Uint8Array) {
          r[c] = { sha256: sha256(v), size: v.length };
        } else r[c] = v;
      }
      // flat form the test reads: name, label, image sha256 and size
      out.push({ name: r.name, label: r.label ?? null,
        sha256: r.image ? r.image.sha256 : null, size: r.image ? r.image.size : null });
    }
    process.stdout.write(JSON.stringify({ latest, columns: cols, versions, rows: out }) + '\n');
  } finally {
    tbl.close();
  }
}

async function make(uri, n, prefix) {
  const { db, table } = splitUri(uri);
  const conn = await lancedb.connect(db);
  const names = [];
  const labels = [];
  for (let i = 0; i < n; i++) { names.push(`${prefix}_${pad(i)}`); labels.push(900000 + i); }
  const t = await conn.createTable(table, batch(names, labels));
  t.close();
}

async function append(uri, count, prefix, first, gap) {
  const tbl = await open(uri);
  try {
    for (let i = 0; i < count; i++) {
      if (i && gap) await new Promise((r) => setTimeout(r, gap));
      await tbl.add(batch([`${prefix}_${pad(i)}`], [first + i]));
      console.log(`appended ${prefix}_${pad(i)} version ${await tbl.version()}`);
    }
  } finally {
    tbl.close();
  }
}

async function main() {
  const [cmd, uri, ...rest] = process.argv.slice(2);
  if (cmd === 'rows' && uri) return rows(uri, rest.includes('--versions'));
  if (cmd === 'make' && rest.length === 2) return make(uri, Number(rest[0]), rest[1]);
  if (cmd === 'append' && (rest.length === 3 || rest.length === 4)) {
    return append(uri, Number(rest[0]), rest[1], Number(rest[2]), Number(rest[3] || 0));
  }
  console.error('usage: crash_lancedb.js rows URI [--versions] | make URI N PREFIX | '
    + 'append URI COUNT PREFIX FIRST_LABEL [GAP_MS]');
  process.exit(2);
}

main().catch((e) => {
  console.error(`crash_lancedb.js: ${e.stack || e}`);
  process.exit(1);
});
