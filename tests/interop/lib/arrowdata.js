'use strict';
// Low-level Arrow builders: every column is made from explicit buffers with
// arrow.makeData, so the exact Arrow type and the exact values (64-bit
// extremes, NaN payloads, -0.0, float16 bits, decimal words) are under our
// control instead of arrow-js's builders' inference.
const { arrow } = require('./lancedb');

function validityBitmap(valid) {
  // valid: array of booleans (true = present) or null (all valid)
  if (!valid) return { bitmap: undefined, nullCount: 0 };
  const bm = new Uint8Array(Math.ceil(valid.length / 8) || 1);
  let nulls = 0;
  valid.forEach((v, i) => { if (v) bm[i >> 3] |= 1 << (i & 7); else nulls++; });
  return nulls ? { bitmap: bm, nullCount: nulls } : { bitmap: undefined, nullCount: 0 };
}

// Fixed-width primitive: `data` is a TypedArray with one slot per row
// (or `width` slots per row for decimals), `valid` optional bool[].
function prim(type, data, valid, length) {
  const n = length != null ? length : (valid ? valid.length : data.length);
  const { bitmap, nullCount } = validityBitmap(valid);
  return arrow.makeData({ type, length: n, nullCount, nullBitmap: bitmap, data });
}

// Variable width binary/utf8 (large or not). values: array of
// Uint8Array | string | null.
function varwidth(type, values) {
  const large = type instanceof arrow.LargeBinary || type instanceof arrow.LargeUtf8;
  const enc = new TextEncoder();
  const parts = values.map((v) => (v == null ? null : typeof v === 'string' ? enc.encode(v) : v));
  const total = parts.reduce((a, p) => a + (p ? p.length : 0), 0);
  const data = new Uint8Array(total);
  const offsets = large ? new BigInt64Array(parts.length + 1) : new Int32Array(parts.length + 1);
  let pos = 0;
  parts.forEach((p, i) => {
    if (p) { data.set(p, pos); pos += p.length; }
    offsets[i + 1] = large ? BigInt(pos) : pos;
  });
  const { bitmap, nullCount } = validityBitmap(parts.map((p) => p !== null));
  return arrow.makeData({ type, length: parts.length, nullCount, nullBitmap: bitmap, valueOffsets: offsets, data });
}

function fixedBinary(type, values) {
  const w = type.byteWidth;
  const data = new Uint8Array(values.length * w);
  values.forEach((v, i) => { if (v) data.set(v, i * w); });
  const { bitmap, nullCount } = validityBitmap(values.map((v) => v !== null));
  return arrow.makeData({ type, length: values.length, nullCount, nullBitmap: bitmap, data });
}

// list<T>: `lists` is an array of (array | null); childBuilder(flatItems)
// makes the child Data from the concatenated items.
function list(type, lists, childBuilder) {
  const offsets = new Int32Array(lists.length + 1);
  const flat = [];
  lists.forEach((l, i) => { if (l) flat.push(...l); offsets[i + 1] = flat.length; });
  const child = childBuilder(flat);
  const { bitmap, nullCount } = validityBitmap(lists.map((l) => l !== null));
  return arrow.makeData({ type, length: lists.length, nullCount, nullBitmap: bitmap, valueOffsets: offsets, child });
}

function fixedList(type, lists, childBuilder) {
  const n = type.listSize;
  const flat = [];
  lists.forEach((l) => { for (let k = 0; k < n; k++) flat.push(l ? l[k] : 0); });
  const child = childBuilder(flat);
  const { bitmap, nullCount } = validityBitmap(lists.map((l) => l !== null));
  return arrow.makeData({ type, length: lists.length, nullCount, nullBitmap: bitmap, child });
}

// struct: children already built (one Data per field), valid optional.
function struct(type, length, children, valid) {
  const { bitmap, nullCount } = validityBitmap(valid);
  return arrow.makeData({ type, length, nullCount, nullBitmap: bitmap, children });
}

// Dictionary<indexType, dictType>: indices Int32Array/Int8Array..., valid, dictionary Vector.
function dictionary(type, indices, valid, dictData) {
  const { bitmap, nullCount } = validityBitmap(valid);
  return arrow.makeData({ type, length: indices.length, nullCount, nullBitmap: bitmap, data: indices,
    dictionary: new arrow.Vector([dictData]) });
}

function batchTable(fields, datas, metadata) {
  const schema = new arrow.Schema(fields, metadata);
  const length = datas.length ? datas[0].length : 0;
  const sd = arrow.makeData({ type: new arrow.Struct(fields), length, nullCount: 0, children: datas });
  return new arrow.Table(schema, [new arrow.RecordBatch(schema, sd)]);
}

// Builders for plain JS value arrays (null = null).
const I = {
  int8: (v) => prim(new arrow.Int8(), Int8Array.from(v, (x) => x ?? 0), v.map((x) => x !== null)),
  int16: (v) => prim(new arrow.Int16(), Int16Array.from(v, (x) => x ?? 0), v.map((x) => x !== null)),
  int32: (v) => prim(new arrow.Int32(), Int32Array.from(v, (x) => x ?? 0), v.map((x) => x !== null)),
  int64: (v) => prim(new arrow.Int64(), BigInt64Array.from(v, (x) => BigInt(x ?? 0)), v.map((x) => x !== null)),
  uint8: (v) => prim(new arrow.Uint8(), Uint8Array.from(v, (x) => x ?? 0), v.map((x) => x !== null)),
  uint16: (v) => prim(new arrow.Uint16(), Uint16Array.from(v, (x) => x ?? 0), v.map((x) => x !== null)),
  uint32: (v) => prim(new arrow.Uint32(), Uint32Array.from(v, (x) => x ?? 0), v.map((x) => x !== null)),
  uint64: (v) => prim(new arrow.Uint64(), BigUint64Array.from(v, (x) => BigInt(x ?? 0)), v.map((x) => x !== null)),
  float32: (v) => prim(new arrow.Float32(), Float32Array.from(v, (x) => x ?? 0), v.map((x) => x !== null)),
  float64: (v) => prim(new arrow.Float64(), Float64Array.from(v, (x) => x ?? 0), v.map((x) => x !== null)),
  // float16 values given as raw u16 bit patterns
  float16bits: (v) => prim(new arrow.Float16(), Uint16Array.from(v, (x) => x ?? 0), v.map((x) => x !== null)),
  bool: (v) => {
    const bits = new Uint8Array(Math.ceil(v.length / 8) || 1);
    v.forEach((x, i) => { if (x) bits[i >> 3] |= 1 << (i & 7); });
    return prim(new arrow.Bool(), bits, v.map((x) => x !== null), v.length);
  },
  utf8: (v) => varwidth(new arrow.Utf8(), v),
  largeUtf8: (v) => varwidth(new arrow.LargeUtf8(), v),
  binary: (v) => varwidth(new arrow.Binary(), v),
  largeBinary: (v) => varwidth(new arrow.LargeBinary(), v),
};

module.exports = { arrow, validityBitmap, prim, varwidth, fixedBinary, list, fixedList, struct, dictionary, batchTable, I };
