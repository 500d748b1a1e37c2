'use strict';
// Small media files built in JS, so the fixtures need no binary assets.
// PNG, GIF, BMP, TIFF, WAV, PDF and NPY are complete, decodable files.
// JPEG is a baseline DC-only encoder (flat 8x8 blocks); libjpeg 6.2
// decoded its output without warnings when this was written.
// WebP uses the well-known 1x1 lossless/lossy files; AVIF, HEIC, MP4 and
// FLAC are container headers only (enough for magic-byte sniffing).
const zlib = require('zlib');

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// A deterministic RGB picture: gradient plus a seed-dependent tint.
function pixels(w, h, seed) {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = (x * 255 / Math.max(1, w - 1) + seed * 37) & 0xff;
      px[i + 1] = (y * 255 / Math.max(1, h - 1) + seed * 71) & 0xff;
      px[i + 2] = ((x ^ y) * 16 + seed * 13) & 0xff;
    }
  }
  return px;
}

function png(w, h, seed) {
  const px = pixels(w, h, seed);
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    raw[y * (w * 3 + 1)] = 0; // filter: none
    px.copy(raw, y * (w * 3 + 1) + 1, y * w * 3, (y + 1) * w * 3);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; ihdr[9] = 2; // 8-bit RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0)),
  ]);
}

// GIF89a with a 4-colour palette; LZW stream that emits a clear code every
// two literals so the code size stays at 3 bits ("uncompressed GIF").
function gif(w, h, seed) {
  const palette = Buffer.from([0, 0, 0, 255, 255, 255, (seed * 50) & 0xff, 80, 160, 200, (seed * 90) & 0xff, 40]);
  const codes = [];
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (n % 2 === 0) codes.push(4); // clear
      codes.push((x + y + seed) & 3);
      n++;
    }
  }
  codes.push(5); // end of information
  const bytes = [];
  let acc = 0; let bits = 0;
  for (const c of codes) {
    acc |= c << bits; bits += 3;
    while (bits >= 8) { bytes.push(acc & 0xff); acc >>= 8; bits -= 8; }
  }
  if (bits) bytes.push(acc & 0xff);
  const blocks = [];
  for (let i = 0; i < bytes.length; i += 255) {
    const part = bytes.slice(i, i + 255);
    blocks.push(Buffer.from([part.length, ...part]));
  }
  const head = Buffer.alloc(13);
  head.write('GIF89a', 0, 'latin1');
  head.writeUInt16LE(w, 6); head.writeUInt16LE(h, 8);
  head[10] = 0x81; // global colour table, 2^(1+1) = 4 entries
  const desc = Buffer.alloc(10);
  desc[0] = 0x2c; desc.writeUInt16LE(w, 5); desc.writeUInt16LE(h, 7);
  return Buffer.concat([head, palette, desc, Buffer.from([2]), ...blocks, Buffer.from([0, 0x3b])]);
}

function bmp(w, h, seed) {
  const px = pixels(w, h, seed);
  const stride = (w * 3 + 3) & ~3;
  const size = 54 + stride * h;
  const b = Buffer.alloc(size);
  b.write('BM', 0, 'latin1'); b.writeUInt32LE(size, 2); b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14); b.writeInt32LE(w, 18); b.writeInt32LE(h, 22);
  b.writeUInt16LE(1, 26); b.writeUInt16LE(24, 28); b.writeUInt32LE(stride * h, 34);
  b.writeInt32LE(2835, 38); b.writeInt32LE(2835, 42);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = ((h - 1 - y) * w + x) * 3; const d = 54 + y * stride + x * 3;
      b[d] = px[s + 2]; b[d + 1] = px[s + 1]; b[d + 2] = px[s]; // BGR
    }
  }
  return b;
}

// Baseline TIFF, uncompressed, one strip; little ("II") or big ("MM") endian.
function tiff(w, h, seed, bigEndian) {
  const rgb = !bigEndian; // the MM variant is 8-bit grayscale
  const spp = rgb ? 3 : 1;
  const px = pixels(w, h, seed);
  const data = rgb ? px : Buffer.from(Array.from({ length: w * h }, (_, i) => px[i * 3]));
  const entries = [
    [256, 3, 1, w], [257, 3, 1, h], [258, 3, spp, 8], [259, 3, 1, 1], [262, 3, 1, rgb ? 2 : 1],
    [273, 4, 1, 0], [277, 3, 1, spp], [278, 3, 1, h], [279, 4, 1, data.length],
  ];
  const ifdOff = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  const bpsOff = ifdOff + ifdSize; // BitsPerSample array (rgb only)
  const dataOff = bpsOff + (rgb ? 6 : 0);
  const b = Buffer.alloc(dataOff + data.length);
  const u16 = (v, o) => (bigEndian ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const u32 = (v, o) => (bigEndian ? b.writeUInt32BE(v, o) : b.writeUInt32LE(v, o));
  b.write(bigEndian ? 'MM' : 'II', 0, 'latin1'); u16(42, 2); u32(ifdOff, 4);
  u16(entries.length, ifdOff);
  entries.forEach(([tag, type, count, value], k) => {
    const o = ifdOff + 2 + k * 12;
    u16(tag, o); u16(type, o + 2); u32(count, o + 4);
    if (tag === 258 && rgb) value = bpsOff;
    if (tag === 273) value = dataOff;
    if (type === 3 && count === 1) u16(value, o + 8); else u32(value, o + 8);
  });
  u32(0, ifdOff + 2 + entries.length * 12);
  if (rgb) { u16(8, bpsOff); u16(8, bpsOff + 2); u16(8, bpsOff + 4); }
  data.copy(b, dataOff);
  return b;
}

// Baseline grayscale JPEG made of flat 8x8 blocks (DC coefficients only).
function jpeg(w, h, seed) {
  const bw = Math.ceil(w / 8); const bh = Math.ceil(h / 8);
  const seg = (marker, body) => {
    const l = Buffer.alloc(4); l[0] = 0xff; l[1] = marker; l.writeUInt16BE(body.length + 2, 2);
    return Buffer.concat([l, body]);
  };
  const app0 = seg(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]));
  const dqt = seg(0xdb, Buffer.concat([Buffer.from([0]), Buffer.alloc(64, 1)]));
  const sof = seg(0xc0, Buffer.from([8, h >> 8, h & 0xff, w >> 8, w & 0xff, 1, 1, 0x11, 0]));
  // DC table: the standard luminance table of Annex K.3; AC table: EOB only.
  const dcBits = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
  const dcVals = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const acBits = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const dht = seg(0xc4, Buffer.from([0x00, ...dcBits, ...dcVals, 0x10, ...acBits, 0x00]));
  const sos = seg(0xda, Buffer.from([1, 1, 0x00, 0, 63, 0]));
  // Canonical Huffman codes for the DC table.
  const dcCode = []; let code = 0; let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < dcBits[len - 1]; i++) dcCode[dcVals[k++]] = { code, len }, code++;
    code <<= 1;
  }
  const out = []; let acc = 0; let nbits = 0;
  const put = (v, len) => {
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | ((v >> i) & 1); nbits++;
      if (nbits === 8) { out.push(acc); if (acc === 0xff) out.push(0); acc = 0; nbits = 0; }
    }
  };
  let pred = 0;
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const gray = (bx * 40 + by * 25 + seed * 31) % 256;
      const dc = 8 * (gray - 128);
      const diff = dc - pred; pred = dc;
      const mag = Math.abs(diff);
      const cat = mag === 0 ? 0 : Math.floor(Math.log2(mag)) + 1;
      put(dcCode[cat].code, dcCode[cat].len);
      if (cat) put(diff < 0 ? diff + (1 << cat) - 1 : diff, cat);
      put(0, 1); // EOB
    }
  }
  if (nbits) { put((1 << (8 - nbits)) - 1, 8 - nbits); }
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, dqt, sof, dht, sos, Buffer.from(out), Buffer.from([0xff, 0xd9])]);
}

const WEBP_LOSSLESS_1X1 = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');
const WEBP_LOSSY_1X1 = Buffer.from('UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA', 'base64');

function box(type, body) {
  const h = Buffer.alloc(8); h.writeUInt32BE(8 + body.length); h.write(type, 4, 'latin1');
  return Buffer.concat([h, body]);
}
// ISO BMFF header: ftyp (major brand, minor version, compatible brands) + a free box.
function isobmff(major, compat, extra) {
  const ftyp = box('ftyp', Buffer.concat([Buffer.from(major, 'latin1'), Buffer.alloc(4), ...compat.map((c) => Buffer.from(c, 'latin1'))]));
  return Buffer.concat([ftyp, box('free', Buffer.from(extra || 'lancefs-fixture', 'latin1'))]);
}

function wav(samples, seed) {
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8000 * Math.sin(i * (0.05 + seed * 0.01))), i * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1'); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1'); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24); h.writeUInt32LE(16000, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1'); h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

// fLaC + one STREAMINFO block (last-metadata-block flag set), no frames.
function flac() {
  const si = Buffer.alloc(34);
  si.writeUInt16BE(4096, 0); si.writeUInt16BE(4096, 2);
  // 20 bits sample rate (8000), 3 bits channels-1 (0), 5 bits bps-1 (15), 36 bits total samples (0)
  const v = (8000n << 44n) | (0n << 41n) | (15n << 36n);
  si.writeBigUInt64BE(v, 10);
  return Buffer.concat([Buffer.from('fLaC', 'latin1'), Buffer.from([0x80, 0, 0, 34]), si]);
}

function pdf(text) {
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    null,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const stream = `BT /F1 12 Tf 10 50 Td (${text}) Tj ET`;
  objs[3] = `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`;
  let s = '%PDF-1.4\n';
  const offs = [];
  objs.forEach((o, i) => { offs.push(s.length); s += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = s.length;
  s += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const o of offs) s += `${String(o).padStart(10, '0')} 00000 n \n`;
  s += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(s, 'latin1');
}

// NPY v1.0, little-endian float32 array of the given shape.
function npy(shape, seed) {
  const n = shape.reduce((a, b) => a * b, 1);
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const h = Buffer.alloc(10);
  h[0] = 0x93; h.write('NUMPY', 1, 'latin1'); h[6] = 1; h[7] = 0; h.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) data.writeFloatLE(i * 0.5 + seed, i * 4);
  return Buffer.concat([h, Buffer.from(header, 'latin1'), data]);
}

module.exports = { crc32, png, gif, bmp, tiff, jpeg, webpLossless: () => Buffer.from(WEBP_LOSSLESS_1X1), webpLossy: () => Buffer.from(WEBP_LOSSY_1X1), isobmff, wav, flac, pdf, npy };
