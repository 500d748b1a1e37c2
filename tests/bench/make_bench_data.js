// Makes the benchmark datasets with LanceDB (the reference writer):
//   images_<v>/images.lance   N rows: id, label, a ~100 KB image each
//   million/t.lance           1,000,000 small rows (id, name, score)
// Usage: node make_bench_data.js OUTDIR [N_IMAGES]
'use strict';
const path = require('path');
const mod = (m) => require(path.join(__dirname, '..', 'interop',
                                     'node_modules', m));
const lancedb = mod('@lancedb/lancedb');
const arrow = mod('apache-arrow');

function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s; };
}

// JPEG-framed random bytes: real training images do not compress either.
function fakeJpeg(r, size) {
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32LE(r(), i);
  b[0] = 0xff; b[1] = 0xd8; b[2] = 0xff; b[3] = 0xe0;
  b[size - 2] = 0xff; b[size - 1] = 0xd9;
  return b;
}

async function images(out, version, n) {
  const r = rng(42);
  const db = await lancedb.connect(path.join(out, 'images_' + version));
  const schema = new arrow.Schema([
    new arrow.Field('id', new arrow.Int64(), false),
    new arrow.Field('label', new arrow.Utf8(), true),
    new arrow.Field('image', new arrow.Binary(), true),
  ]);
  let table = null;
  for (let start = 0; start < n; start += 500) {
    const rows = [];
    for (let i = start; i < Math.min(n, start + 500); i++)
      rows.push({ id: BigInt(i), label: 'class_' + (i % 10),
                  image: fakeJpeg(r, 60000 + (r() % 80000)) });
    if (!table)
      table = await db.createTable('images', rows, { schema, mode: 'overwrite',
        storageOptions: { new_table_data_storage_version: version } });
    else
      await table.add(rows);
  }
}

async function million(out) {
  const db = await lancedb.connect(path.join(out, 'million'));
  const n = 1000000, step = 200000;
  let table = null;
  for (let start = 0; start < n; start += step) {
    const ids = new BigInt64Array(step), scores = new Float64Array(step);
    const names = [];
    for (let i = 0; i < step; i++) {
      ids[i] = BigInt(start + i);
      scores[i] = (start + i) / 7;
      names.push('item_' + (start + i));
    }
    const t = arrow.tableFromArrays({ id: ids, name: names, score: scores });
    if (!table)
      table = await db.createTable('t', t, { mode: 'overwrite' });
    else
      await table.add(t);
  }
}

// 100,000 rows with a tiny image each, for listing benchmarks.
async function hundredk(out) {
  const db = await lancedb.connect(path.join(out, 'hundredk'));
  const r = rng(7);
  const rows = [];
  for (let i = 0; i < 100000; i++)
    rows.push({ id: BigInt(i), label: 'l' + (i % 100), image: fakeJpeg(r, 64) });
  const schema = new arrow.Schema([
    new arrow.Field('id', new arrow.Int64(), false),
    new arrow.Field('label', new arrow.Utf8(), true),
    new arrow.Field('image', new arrow.Binary(), true),
  ]);
  await db.createTable('t', rows, { schema, mode: 'overwrite' });
}

(async () => {
  const out = process.argv[2];
  const n = Number(process.argv[3] || 2000);
  if (!out) { console.error('usage: make_bench_data.js OUTDIR [N]'); process.exit(1); }
  for (const v of ['2.0', '2.2']) await images(out, v, n);
  await million(out);
  await hundredk(out);
})().catch((e) => { console.error(e); process.exit(1); });
