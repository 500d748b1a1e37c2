'use strict';
// Raw value extraction from arrow-js Data, straight from the buffers, so the
// oracle does not inherit arrow-js conveniences that lose information
// (timestamps as float milliseconds, Decimal256 printed wrong, 64-bit
// integers as Number, NaN payloads).  Values come out in the "raw" form
// described in lib/render.js; binary values come out as Buffers.
const { arrow } = require('./arrowdata');
const { f16FromBits } = require('./render');

const T = arrow.Type;

function bytesOf(ta) { return ta ? Buffer.from(ta.buffer, ta.byteOffset, ta.byteLength) : Buffer.alloc(0); }

function floatRaw(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (Object.is(x, -0)) return '-0';
  return x;
}

function isValid(d, i) {
  if (d.type.typeId === T.Null) return false;
  const bm = d.nullBitmap;
  if (!bm || bm.length === 0) return true;
  return (bm[i >> 3] >> (i & 7)) & 1;
}

function offsetsAt(d, i) {
  const o = d.valueOffsets;
  return [Number(o[i]), Number(o[i + 1])];
}

// Read value i of Data d.  `binaryAs`: 'buffer' (top-level file columns)
// or 'hex' (binary nested in meta columns).
function readValue(d, i, binaryAs = 'hex') {
  if (d.offset !== 0) throw new Error(`arrowread: sliced Data (offset ${d.offset}) not supported`);
  if (!isValid(d, i)) return null;
  const ty = d.type;
  const dv = () => { const b = bytesOf(d.values); return new DataView(b.buffer, b.byteOffset, b.byteLength); };
  switch (ty.typeId) {
    case T.Int: {
      const w = ty.bitWidth / 8; const v = dv();
      const get = { 1: ['getInt8', 'getUint8'], 2: ['getInt16', 'getUint16'], 4: ['getInt32', 'getUint32'], 8: ['getBigInt64', 'getBigUint64'] }[w][ty.isSigned ? 0 : 1];
      return BigInt(v[get](i * w, true));
    }
    case T.Float: {
      const v = dv();
      if (ty.precision === arrow.Precision.HALF) return floatRaw(f16FromBits(v.getUint16(i * 2, true)));
      if (ty.precision === arrow.Precision.SINGLE) return floatRaw(v.getFloat32(i * 4, true));
      return floatRaw(v.getFloat64(i * 8, true));
    }
    case T.Bool: return ((d.values[i >> 3] >> (i & 7)) & 1) === 1;
    case T.Utf8: case T.LargeUtf8: {
      const [a, b] = offsetsAt(d, i);
      return bytesOf(d.values).subarray(a, b).toString('utf8');
    }
    case T.Binary: case T.LargeBinary: {
      const [a, b] = offsetsAt(d, i);
      const buf = Buffer.from(bytesOf(d.values).subarray(a, b));
      return binaryAs === 'buffer' ? buf : buf.toString('hex');
    }
    case T.FixedSizeBinary: {
      const w = ty.byteWidth;
      const buf = Buffer.from(bytesOf(d.values).subarray(i * w, (i + 1) * w));
      return binaryAs === 'buffer' ? buf : buf.toString('hex');
    }
    case T.Decimal: {
      const w = ty.bitWidth / 8; const b = bytesOf(d.values).subarray(i * w, (i + 1) * w);
      let v = 0n;
      for (let k = w - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[k]);
      return BigInt.asIntN(ty.bitWidth, v);
    }
    case T.Date: return ty.unit === arrow.DateUnit.DAY ? BigInt(dv().getInt32(i * 4, true)) : dv().getBigInt64(i * 8, true);
    case T.Time: return ty.bitWidth === 32 ? BigInt(dv().getInt32(i * 4, true)) : dv().getBigInt64(i * 8, true);
    case T.Timestamp: case T.Duration: return dv().getBigInt64(i * 8, true);
    case T.List: case T.Map: {
      const [a, b] = offsetsAt(d, i);
      const out = [];
      for (let k = a; k < b; k++) out.push(readValue(d.children[0], k, binaryAs));
      return out;
    }
    case T.FixedSizeList: {
      const n = ty.listSize; const out = [];
      for (let k = i * n; k < (i + 1) * n; k++) out.push(readValue(d.children[0], k, binaryAs));
      return out;
    }
    case T.Struct: {
      const m = new Map();
      ty.children.forEach((f, k) => m.set(f.name, readValue(d.children[k], i, binaryAs)));
      return m;
    }
    case T.Dictionary: {
      let idx = Number(d.values[i]);
      for (const chunk of d.dictionary.data) {
        if (idx < chunk.length) return readValue(chunk, idx, binaryAs);
        idx -= chunk.length;
      }
      throw new Error('arrowread: dictionary index out of range');
    }
    default:
      throw new Error(`arrowread: unsupported Arrow type ${String(ty)}`);
  }
}

module.exports = { readValue, isValid };
