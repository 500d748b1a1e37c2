'use strict';
// Deterministic PRNG (splitmix64 state, 32-bit outputs) so fixtures are the
// same on every machine and every run.
class Rng {
  constructor(seed) { this.s = BigInt.asUintN(64, BigInt(seed)); }
  next64() {
    this.s = BigInt.asUintN(64, this.s + 0x9e3779b97f4a7c15n);
    let z = this.s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
  u32() { return Number(this.next64() >> 32n); }
  float() { return this.u32() / 4294967296; } // [0, 1)
  int(lo, hi) { return lo + Math.floor(this.float() * (hi - lo + 1)); } // inclusive
  chance(p) { return this.float() < p; }
  pick(arr) { return arr[this.int(0, arr.length - 1)]; }
  bytes(n) {
    const out = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) out.writeUInt32LE(this.u32(), i);
    for (; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
  // Fast bulk bytes for multi-megabyte values: seeds a xorshift32 stream.
  bulk(n) {
    const out = Buffer.allocUnsafe(n + 3);
    let x = this.u32() | 1;
    for (let i = 0; i < n; i += 4) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      out.writeInt32LE(x | 0, i);
    }
    return out.subarray(0, n);
  }
}
module.exports = { Rng };
