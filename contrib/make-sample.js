// Makes a small sample dataset with LanceDB: 200 rows, each a real PNG
// image (a colour gradient), a label, a score and a timestamp.
// Usage: node contrib/make-sample.js DBDIR   (creates DBDIR/photos.lance)
'use strict';
const path = require('path');
const zlib = require('zlib');
const mod = (m) => require(path.join(__dirname, '..', 'tests', 'interop',
                                     'node_modules', m));
const lancedb = mod('@lancedb/lancedb');
const arrow = mod('apache-arrow');

function crc32(buf) {
  let c, crc = 0xffffffff;
  for (let n = 0; n < buf.length; n++) {
    c = (crc ^ buf[n]) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4), crc = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

function png(w, h, seed) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0;
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      raw[o] = (x * 255 / w + seed * 37) & 255;
      raw[o + 1] = (y * 255 / h + seed * 11) & 255;
      raw[o + 2] = (seed * 53) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2;
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0))]);
}

(async () => {
  const dir = process.argv[2];
  if (!dir) { console.error('usage: make-sample.js DBDIR'); process.exit(1); }
  const labels = ['cat', 'dog', 'bird', 'fish', 'horse'];
  const rows = [];
  for (let i = 0; i < 200; i++)
    rows.push({ id: BigInt(i), label: labels[i % 5], score: i / 7,
                taken: new Date(Date.UTC(2024, 0, 1) + i * 3600e3),
                image: png(64 + (i % 4) * 16, 48 + (i % 3) * 16, i) });
  const schema = new arrow.Schema([
    new arrow.Field('id', new arrow.Int64(), false),
    new arrow.Field('label', new arrow.Utf8(), true),
    new arrow.Field('score', new arrow.Float64(), true),
    new arrow.Field('taken', new arrow.TimestampMicrosecond('UTC'), true),
    new arrow.Field('image', new arrow.Binary(), true),
  ]);
  const db = await lancedb.connect(dir);
  await db.createTable('photos', rows, { schema, mode: 'overwrite' });
})().catch((e) => { console.error(e); process.exit(1); });
