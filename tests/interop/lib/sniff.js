'use strict';
// File-extension sniffing, written independently of lancefs from the magic
// numbers.  The rules (README.md, "Extension sniffing") in order:
const FTYP_AVIF = new Set(['avif', 'avis']);
const FTYP_HEIC = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1']);

function sniffExt(b) {
  const at = (off, s) => b.length >= off + s.length && Buffer.from(b.subarray(off, off + s.length)).toString('latin1') === s;
  const bytes = (off, arr) => b.length >= off + arr.length && arr.every((v, i) => b[off + i] === v);
  if (bytes(0, [0xff, 0xd8, 0xff])) return 'jpg';
  if (bytes(0, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (at(0, 'GIF87a') || at(0, 'GIF89a')) return 'gif';
  if (at(0, 'RIFF') && at(8, 'WEBP')) return 'webp';
  if (at(0, 'RIFF') && at(8, 'WAVE')) return 'wav';
  if (at(0, 'BM')) return 'bmp';
  if (bytes(0, [0x49, 0x49, 0x2a, 0x00]) || bytes(0, [0x4d, 0x4d, 0x00, 0x2a])) return 'tif';
  if (at(4, 'ftyp') && b.length >= 12) {
    const brand = Buffer.from(b.subarray(8, 12)).toString('latin1');
    if (FTYP_AVIF.has(brand)) return 'avif';
    if (FTYP_HEIC.has(brand)) return 'heic';
    return 'mp4';
  }
  if (at(0, 'fLaC')) return 'flac';
  if (at(0, '%PDF-')) return 'pdf';
  if (bytes(0, [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59])) return 'npy';
  return 'bin';
}

module.exports = { sniffExt };
