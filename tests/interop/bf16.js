#!/usr/bin/env node
'use strict';
// bf16.js: LanceDB's side of the bfloat16 vector test (test_write.py).
//
//   node bf16.js make URI --version 2.0|2.1|2.2
//       LanceDB creates the dataset URI with columns name utf8 and vec
//       fixed_size_list(4) of lance.bfloat16 (fixed_size_binary(2) items
//       under that extension), one row per entry of ROWS below.
//       Prints {"version", "rows"}.
//   node bf16.js dump URI
//       Prints {"rows": {name: [the four item bit patterns]}} as LanceDB
//       reads the latest version (the exact bfloat16 bits, as numbers).
const { arrow, lancedb } = require('./lib/lancedb');
const { splitUri } = require('./lib/oracle');

// bit patterns: 1.0, -0.5, 3.140625, 0; the least subnormal, the
// greatest finite, -1e30 rounded, 0.1 rounded; -0, 1/3 rounded, 65504, 2^-126
const ROWS = {
  a: [0x3f80, 0xbf00, 0x4049, 0x0000],
  b: [0x0001, 0x7f7f, 0xf14a, 0x3dcd],
  c: [0x8000, 0x3eab, 0x477f, 0x0080],
};

function vecType() {
  const meta = new Map([['ARROW:extension:name', 'lance.bfloat16']]);
  return new arrow.FixedSizeList(4, new arrow.Field('item', new arrow.FixedSizeBinary(2), true, meta));
}

function makeTable() {
  const names = Object.keys(ROWS);
  const vt = vecType();
  const schema = new arrow.Schema([
    new arrow.Field('name', new arrow.Utf8(), true),
    new arrow.Field('vec', vt, true),
  ]);
  const bytes = new Uint8Array(names.length * 8);
  names.forEach((n, i) => ROWS[n].forEach((h, k) => {
    bytes[i * 8 + k * 2] = h & 0xff;
    bytes[i * 8 + k * 2 + 1] = h >> 8;
  }));
  const items = arrow.makeData({ type: new arrow.FixedSizeBinary(2), length: names.length * 4,
    nullCount: 0, data: bytes });
  const vecs = arrow.makeData({ type: vt, length: names.length, nullCount: 0, child: items });
  const nameCol = arrow.vectorFromArray(names, new arrow.Utf8());
  const data = arrow.makeData({ type: new arrow.Struct(schema.fields), length: names.length,
    nullCount: 0, children: [nameCol.data[0], vecs] });
  return new arrow.Table(schema, [new arrow.RecordBatch(schema, data)]);
}

async function main() {
  const [cmd, uri, flag, version] = process.argv.slice(2);
  const { db, table } = splitUri(uri);
  const conn = await lancedb.connect(db);
  if (cmd === 'make') {
    if (flag !== '--version' || !['2.0', '2.1', '2.2'].includes(version)) {
      throw new Error('usage: node bf16.js make URI --version 2.0|2.1|2.2');
    }
    const t = await conn.createTable(table, makeTable(),
      { storageOptions: { new_table_data_storage_version: version } });
    console.log(JSON.stringify({ version: await t.version(), rows: await t.countRows() }));
    t.close();
  } else if (cmd === 'dump') {
    const t = await conn.openTable(table);
    const got = await t.query().toArrow();
    const rows = {};
    const names = got.getChild('name');
    const vecs = got.getChild('vec');
    for (let i = 0; i < got.numRows; i++) {
      const v = vecs.get(i);
      rows[names.get(i)] = v === null ? null
        : Array.from({ length: 4 }, (_, k) => { const b = v.get(k); return b[0] | b[1] << 8; });
    }
    console.log(JSON.stringify({ rows }));
    t.close();
  } else {
    throw new Error('usage: node bf16.js make|dump URI ...');
  }
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
