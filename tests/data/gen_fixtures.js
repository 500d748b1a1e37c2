// gen_fixtures.js - writes the v1 / 2.0 fixture tables with LanceDB and the
// expected values (what LanceDB reads back) as C headers.
//
//   NODE_PATH=<dir with node_modules> \
//     node /path/to/tests/data/gen_fixtures.js /tmp/v20 /path/to/tests/data
//
// 2.0 tables are written with small pages (LANCE_FILE_WRITER_MAX_PAGE_BYTES,
// set per table below) so that columns span several pages. List offsets
// pages ignore that limit (they split at the 8 MiB column cache), so list
// *items* span pages but each list column has one offsets page.
//
// Each table's single data file is copied to <out>/<v20|v1>/<table>.lance
// with <table>_fields.h (ids, DataFile fields/column_indices) and
// <table>_expect.h (one canonical string per cell, see canon() below; the
// C test formats decoded arrays the same way). Canonical cells: null;
// integers in decimal; floats as 0x<bits>; bools true/false; bytes and
// strings as x<hex> up to 48 bytes, else L<len>:<fnv1a64>; lists and
// fixed-size lists [a,b]; structs {a,b}.
'use strict';
const lancedb = require('@lancedb/lancedb');
const arrow = require('apache-arrow');
const fs = require('fs');
const path = require('path');

const work = process.argv[2];
const outdir = process.argv[3];

let seed = 12345;
function rnd() {
	seed = (seed + 0x6d2b79f5) | 0;
	let t = seed;
	t = Math.imul(t ^ (t >>> 15), t | 1);
	t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
	return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function ri(lo, hi) { return lo + Math.floor(rnd() * (hi - lo + 1)); }
function bytes(n) {
	const b = new Uint8Array(n);
	for (let i = 0; i < n; i++) b[i] = ri(0, 255);
	return b;
}

function bitmap(vals) {
	const bm = new Uint8Array(Math.ceil(vals.length / 8) || 1);
	let nulls = 0;
	vals.forEach((v, i) => {
		if (v === null) nulls++;
		else bm[i >> 3] |= 1 << (i & 7);
	});
	return [bm, nulls];
}
// Fixed-width column from raw values (numbers, bigints or byte arrays).
function fixed(type, Arr, vals, per = 1) {
	const [bm, nulls] = bitmap(vals);
	const data = new Arr(vals.length * per);
	vals.forEach((v, i) => {
		if (v === null) return;
		if (per > 1) data.set(v, i * per);
		else data[i] = v;
	});
	return arrow.makeData({ type, length: vals.length, nullCount: nulls,
		nullBitmap: nulls ? bm : null, data });
}
function vec(type, vals) {
	return arrow.vectorFromArray(vals, type).data[0];
}
const F = (name, type, nullable, data, meta) =>
	({ field: new arrow.Field(name, type, nullable, meta), data });

function scalCols(n, v1) {
	const nul = (i, k) => (i % k === 3 ? null : undefined);
	const pick = (i, k, v) => (nul(i, k) === null ? null : v);
	const I = (lo, hi) => Array.from({ length: n }, () => ri(lo, hi));
	const col = [];
	const i8 = I(-128, 127).map((v, i) => pick(i, 7, v));
	col.push(F('i8', new arrow.Int8(), true, fixed(new arrow.Int8(), Int8Array, i8)));
	col.push(F('u8', new arrow.Uint8(), false, fixed(new arrow.Uint8(), Uint8Array, I(0, 255))));
	col.push(F('i16', new arrow.Int16(), true, fixed(new arrow.Int16(), Int16Array, I(-32768, 32767).map((v, i) => pick(i, 11, v)))));
	col.push(F('u16', new arrow.Uint16(), false, fixed(new arrow.Uint16(), Uint16Array, I(0, 65535))));
	col.push(F('i32', new arrow.Int32(), true, fixed(new arrow.Int32(), Int32Array, I(-2147483648, 2147483647).map((v, i) => pick(i, 5, v)))));
	col.push(F('u32', new arrow.Uint32(), false, fixed(new arrow.Uint32(), Uint32Array, I(0, 4294967295))));
	const i64 = Array.from({ length: n }, (_, i) => BigInt(i) * -1234567890123n + BigInt(ri(0, 1000)));
	col.push(F('i64', new arrow.Int64(), false, fixed(new arrow.Int64(), BigInt64Array, i64)));
	const u64 = Array.from({ length: n }, () => (BigInt(ri(0, 4294967295)) << 32n) | BigInt(ri(0, 4294967295)));
	col.push(F('u64', new arrow.Uint64(), true, fixed(new arrow.Uint64(), BigUint64Array, u64.map((v, i) => pick(i, 13, v)))));
	col.push(F('f32', new arrow.Float32(), false, fixed(new arrow.Float32(), Float32Array, Array.from({ length: n }, () => rnd() * 200 - 100))));
	col.push(F('f64', new arrow.Float64(), true, fixed(new arrow.Float64(), Float64Array, Array.from({ length: n }, (_, i) => pick(i, 6, rnd() * 1e9 - 5e8)))));
	col.push(F('b', new arrow.Bool(), true, vec(new arrow.Bool(), Array.from({ length: n }, (_, i) => pick(i, 4, rnd() < 0.5)))));
	col.push(F('bn', new arrow.Bool(), false, vec(new arrow.Bool(), Array.from({ length: n }, () => rnd() < 0.3))));
	const ts = Array.from({ length: n }, (_, i) => 1700000000000000n + BigInt(i) * 1000003n);
	col.push(F('ts', new arrow.TimestampMicrosecond(), true, fixed(new arrow.TimestampMicrosecond(), BigInt64Array, ts.map((v, i) => pick(i, 9, v)))));
	col.push(F('d32', new arrow.DateDay(), false, fixed(new arrow.DateDay(), Int32Array, Array.from({ length: n }, (_, i) => 19000 + i))));
	return col;
}

const WORDS = ['', 'a', 'héllo', '日本語', 'emoji 🎉', 'tab\tq"x', 'z'.repeat(40)];
function nestCols(n, v1) {
	const col = [];
	const s = Array.from({ length: n }, (_, i) => (i % 10 === 7 ? null : WORDS[i % WORDS.length] + (i % 3 ? String(i) : '')));
	col.push(F('s', new arrow.Utf8(), true, vec(new arrow.Utf8(), s)));
	const ls = Array.from({ length: n }, (_, i) => (i % 8 === 2 ? null : 'L' + 'x'.repeat(i % 23) + WORDS[i % 7]));
	col.push(F('ls', new arrow.LargeUtf8(), true, vec(new arrow.LargeUtf8(), ls)));
	const bin = Array.from({ length: n }, (_, i) => (i % 9 === 4 ? null : bytes(i % 17)));
	col.push(F('bin', new arrow.Binary(), true, vec(new arrow.Binary(), bin)));
	const CITIES = Array.from({ length: 30 }, (_, k) => 'city-' + k);
	const dict = Array.from({ length: n }, (_, i) => (i % 17 === 5 ? null : CITIES[ri(0, 29)]));
	col.push(F('dict', new arrow.Utf8(), true, vec(new arrow.Utf8(), dict)));
	const f32t = new arrow.Float32();
	const fslT = new arrow.FixedSizeList(4, new arrow.Field('item', f32t, true));
	const fsl = Array.from({ length: n }, () => [rnd(), rnd(), rnd(), rnd()].map((x) => x * 10 - 5));
	col.push(F('fsl', fslT, false, vec(fslT, fsl)));
	const fsln = fsl.map((v, i) => (i % 6 === 1 ? null : v.map((x) => -x)));
	col.push(F('fsln', fslT, true, vec(fslT, fsln)));
	const liT = new arrow.List(new arrow.Field('item', new arrow.Int32(), true));
	const li = Array.from({ length: n }, (_, i) => (i % 11 === 3 ? null : i % 7 === 2 ? [] : Array.from({ length: ri(1, 8) }, () => ri(-1000, 1000))));
	col.push(F('li', liT, true, vec(liT, li)));
	const stT = new arrow.Struct([new arrow.Field('a', new arrow.Int32(), true),
		new arrow.Field('b', new arrow.Utf8(), true),
		new arrow.Field('c', new arrow.Float64(), true)]);
	const st = Array.from({ length: n }, (_, i) => ({ a: i % 5 === 0 ? null : i * 3, b: i % 4 === 1 ? null : 'st' + i, c: i * 0.5 }));
	col.push(F('st', stT, true, vec(stT, st)));
	const fsbT = new arrow.FixedSizeBinary(5);
	col.push(F('fsb', fsbT, true, fixed(fsbT, Uint8Array, Array.from({ length: n }, (_, i) => (i % 10 === 0 ? null : bytes(5))), 5)));
	const decT = new arrow.Decimal(3, 20, 128);
	const dec = Array.from({ length: n }, (_, i) => {
		if (i % 12 === 5) return null;
		const w = new Uint32Array(4);
		const v = BigInt(i * 1000 + ri(0, 999)) * (i % 2 ? -1n : 1n) * 1000000000n;
		const u = BigInt.asUintN(128, v);
		for (let k = 0; k < 4; k++) w[k] = Number((u >> BigInt(32 * k)) & 0xffffffffn);
		return w;
	});
	col.push(F('dec', decT, true, fixed(decT, Uint32Array, dec, 4)));
	return col;
}

function imgCols(n, withBlob) {
	const col = [];
	const img = Array.from({ length: n }, (_, i) => (i === 3 ? null : i === 5 ? new Uint8Array(0) : bytes(ri(1000, 5000))));
	col.push(F('img', new arrow.Binary(), true, vec(new arrow.Binary(), img)));
	if (withBlob) {
		const blob = Array.from({ length: n }, (_, i) => (i === 2 ? null : i === 6 ? new Uint8Array(0) : bytes(ri(500, 2500))));
		col.push(F('blob', new arrow.LargeBinary(), true, vec(new arrow.LargeBinary(), blob),
			new Map([['lance-encoding:blob', 'true']])));
		return [col, blob];
	}
	return [col, null];
}

function multiCols(n) {
	const col = [];
	col.push(F('id', new arrow.Int32(), false, fixed(new arrow.Int32(), Int32Array, Array.from({ length: n }, (_, i) => i * 7 - 3))));
	col.push(F('flag', new arrow.Bool(), false, vec(new arrow.Bool(), Array.from({ length: n }, (_, i) => i % 3 === 0))));
	col.push(F('s', new arrow.Utf8(), true, vec(new arrow.Utf8(), Array.from({ length: n }, (_, i) => (i % 13 === 4 ? null : i % 9 === 0 ? '' : 'r' + (i % 97))))));
	const liT = new arrow.List(new arrow.Field('item', new arrow.Int16(), true));
	col.push(F('li', liT, true, vec(liT, Array.from({ length: n }, (_, i) => (i % 15 === 2 ? [] : Array.from({ length: i % 3 }, (_, k) => i + k))))));
	return col;
}

// ---- canonical cells
function hex(b) { return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'); }
function fnv(b) {
	let h = 0xcbf29ce484222325n;
	for (const x of b) { h ^= BigInt(x); h = (h * 0x100000001b3n) & 0xffffffffffffffffn; }
	return h.toString(16).padStart(16, '0');
}
function canonBytes(b) { return b.length <= 48 ? 'x' + hex(b) : 'L' + b.length + ':' + fnv(b); }
function canon(vector, i) {
	if (!vector.isValid(i)) return 'null';
	const t = vector.type;
	const v = vector.get(i);
	switch (t.typeId) {
	case arrow.Type.Int: return String(v);
	case arrow.Type.Float: {
		const dv = new DataView(new ArrayBuffer(8));
		if (t.precision === arrow.Precision.SINGLE) { dv.setFloat32(0, v, true); return '0x' + dv.getUint32(0, true).toString(16).padStart(8, '0'); }
		dv.setFloat64(0, v, true); return '0x' + dv.getBigUint64(0, true).toString(16).padStart(16, '0');
	}
	case arrow.Type.Bool: return v ? 'true' : 'false';
	case arrow.Type.Utf8: case arrow.Type.LargeUtf8: return canonBytes(Buffer.from(v, 'utf8'));
	case arrow.Type.Binary: case arrow.Type.LargeBinary: case arrow.Type.FixedSizeBinary: return canonBytes(v);
	case arrow.Type.Timestamp: case arrow.Type.Date: {
		// raw storage value
		let k = i, d;
		for (d of vector.data) { if (k < d.length) break; k -= d.length; }
		const vals = d.values;
		if (vals instanceof BigInt64Array) return String(vals[d.offset + k]);
		if (vals instanceof Int32Array && t.typeId === arrow.Type.Date && t.unit === arrow.DateUnit.DAY) return String(vals[d.offset + k]);
		const lo = BigInt(vals[2 * (d.offset + k)] >>> 0), hi = BigInt(vals[2 * (d.offset + k) + 1]);
		return String((hi << 32n) | lo);
	}
	case arrow.Type.Decimal: return 'x' + hex(v instanceof Uint32Array ? v : new Uint32Array(v.buffer, v.byteOffset, 4));
	case arrow.Type.List: case arrow.Type.FixedSizeList: {
		const out = [];
		for (let k = 0; k < v.length; k++) out.push(canon(v, k));
		return '[' + out.join(',') + ']';
	}
	case arrow.Type.Struct: {
		const out = t.children.map((c, k) => canon(vector.getChildAt(k), i));
		return '{' + out.join(',') + '}';
	}
	}
	throw new Error('no canon for ' + t);
}

function cstr(s) { return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'; }

async function make(kind, name, cols, rows, extra, pageBytes) {
	process.env.LANCE_FILE_WRITER_MAX_PAGE_BYTES = String(pageBytes || 2048);
	const dir = path.join(work, kind);
	const db = await lancedb.connect(dir);
	const schema = new arrow.Schema(cols.map((c) => c.field));
	const batch = new arrow.RecordBatch(schema, arrow.makeData({
		type: new arrow.Struct(schema.fields), length: rows, nullCount: 0,
		children: cols.map((c) => c.data) }));
	const tbl = new arrow.Table([batch]);
	const t = await db.createTable(name, tbl, { mode: 'overwrite',
		storageOptions: { new_table_data_storage_version: kind === 'v1' ? 'legacy' : '2.0' } });
	const back = await (await db.openTable(name)).query().toArrow();
	if (back.numRows !== rows) throw new Error('rows');
	const datadir = path.join(dir, name + '.lance', 'data');
	const files = fs.readdirSync(datadir);
	if (files.length !== 1) throw new Error('expected one data file: ' + files);
	fs.copyFileSync(path.join(datadir, files[0]), path.join(outdir, kind, name + '.lance'));
	let h = `/* ${name}: generated by tests/data/gen_fixtures.js from what LanceDB\n * 0.39 read back; do not edit. */\n`;
	h += `#define ${name.toUpperCase()}_ROWS ${rows}\n`;
	for (const c of cols) {
		const v = back.getChild(c.field.name);
		const cells = [];
		for (let i = 0; i < rows; i++) cells.push(canon(v, i));
		h += `static const char *const ${name}_${c.field.name}[] = {\n` +
			cells.map((x) => '\t' + cstr(x) + ',').join('\n') + '\n};\n';
	}
	if (extra) h += extra(back);
	fs.writeFileSync(path.join(outdir, kind, name + '_expect.h'), h);
	console.log(kind, name, files[0], fs.statSync(path.join(datadir, files[0])).size);
}

(async () => {
	fs.rmSync(work, { recursive: true, force: true });
	await make('v20', 'scal20', scalCols(300), 300, null, 512);
	await make('v20', 'nest20', nestCols(300), 300);
	const [ic, blob] = imgCols(12, true);
	await make('v20', 'img20', ic, 12, () => {
		// LanceDB returns blob v1 descriptors; the bytes are what we wrote.
		return 'static const char *const img20_blob_bytes[] = {\n' +
			blob.map((b) => '\t' + cstr(b === null ? 'null' : canonBytes(b)) + ',').join('\n') + '\n};\n';
	});
	await make('v1', 'wide1', scalCols(60).concat(nestCols(60)), 60);
	await make('v1', 'multi1', multiCols(2100), 2100);
	const [ic1] = imgCols(6, false);
	await make('v1', 'img1', ic1, 6);
})().catch((e) => { console.error(e); process.exit(1); });
