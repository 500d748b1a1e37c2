// sweep.js - differential sweep: many small and odd LanceDB tables in every
// storage version, every cell LanceDB returns compared with what lancefs
// shows (meta.json per man/lancefs.1, and the bytes of binary files).
//   NODE_PATH=/path/to/node_modules node sweep.js LANCEFS [workdir [filter]]
// LANCEFS is the built CLI (build/fs/lancefs). `filter` is a substring of
// "version/table". Prints one line per mismatch and a summary; exits 1 on
// any mismatch. With SAVE=dir in the environment (and a fresh workdir),
// each table of at most 100 rows that matched completely is kept as a
// regression fixture: dir/<version>_<table>.lance (manifest and data
// only) and dir/<version>_<table>.expect, lancefs's verified output:
// "ROW name", the meta.json text, and "FILE name size fnv1a64" per file.
'use strict';
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const lancedb = require('@lancedb/lancedb');
const A = require('apache-arrow');

const LANCEFS = process.argv[2];
const WORK = process.argv[3] || '/tmp/v21sweep';
const FILTER = process.argv[4] || '';
if (!LANCEFS) {
	console.error('usage: node sweep.js LANCEFS [workdir [filter]]');
	process.exit(2);
}
const VERSIONS = ['legacy', '2.0', '2.1', '2.2'];
const SIZES = [1, 2, 3, 5, 100, 4097];

// ---------------------------------------------------------------- data
function F(name, type, nullable = true) { return new A.Field(name, type, nullable); }
function bitmap(vals) {
	const b = new Uint8Array(Math.ceil(vals.length / 8) + 1);
	let nulls = 0;
	vals.forEach((v, i) => {
		if (v === null) nulls++;
		else b[i >> 3] |= 1 << (i & 7);
	});
	return { b, nulls };
}
// A primitive column from raw storage values (null = null).
function prim(type, vals, Arr) {
	const { b, nulls } = bitmap(vals);
	const width = type.typeId === A.Type.Decimal ? type.bitWidth / 32 : 1;
	const data = new Arr(vals.length * width);
	vals.forEach((v, i) => {
		if (v === null) return;
		if (width > 1) {	// decimal: v is a BigInt
			let x = BigInt.asUintN(type.bitWidth, v);
			for (let k = 0; k < width; k++) {
				data[i * width + k] = Number(x & 0xffffffffn);
				x >>= 32n;
			}
		} else data[i] = v;
	});
	return A.makeVector(A.makeData({ type, length: vals.length,
		nullCount: nulls, nullBitmap: nulls ? b : null, data }));
}
function vec(type, vals) { return A.vectorFromArray(vals, type); }
// Booleans by hand: arrow-js trims the value bitmap of all-null columns.
function boolv(vals) {
	const { b, nulls } = bitmap(vals);
	const data = new Uint8Array(Math.ceil(vals.length / 8) + 1);
	vals.forEach((v, i) => { if (v) data[i >> 3] |= 1 << (i & 7); });
	return A.makeVector(A.makeData({ type: new A.Bool(), length: vals.length,
		nullCount: nulls, nullBitmap: nulls ? b : null, data }));
}
function f16bits(x) {	// number -> IEEE half bits (round to nearest even)
	const f = new Float32Array([x]), u = new Uint32Array(f.buffer)[0];
	const s = (u >>> 16) & 0x8000, e = (u >>> 23) & 0xff, m = u & 0x7fffff;
	if (e === 0xff) return s | 0x7c00 | (m ? 0x200 : 0);
	let ne = e - 127 + 15;
	if (ne >= 0x1f) return s | 0x7c00;
	if (ne <= 0) {
		if (ne < -10) return s;
		const mm = (m | 0x800000) >>> (1 - ne + 13);
		return s | mm;
	}
	let h = s | (ne << 10) | (m >>> 13);
	const rest = m & 0x1fff;
	if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
	return h;
}
function f16val(h) {
	const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
	if (e === 0) return s * m * Math.pow(2, -24);
	if (e === 0x1f) return m ? NaN : s * Infinity;
	return s * (1 + m / 1024) * Math.pow(2, e - 15);
}

let seed = 99;
function rnd() {
	seed ^= seed << 13; seed >>>= 0;
	seed ^= seed >>> 17;
	seed ^= seed << 5; seed >>>= 0;
	return seed / 4294967296;
}
function ri(lo, hi) { return lo + Math.floor(rnd() * (hi - lo + 1)); }
function pick(n, f) { const r = []; for (let i = 0; i < n; i++) r.push(f(i)); return r; }

// Table "prims": scalar types and value patterns.
function primsTable(n) {
	seed = 99 + n;
	const cols = [];
	const add = (name, v) => cols.push([name, v]);
	const I64 = [0n, -1n, 1n, 9223372036854775807n, -9223372036854775808n, 42n];
	add('i8', prim(new A.Int8(), pick(n, i => i % 7 === 3 ? null : [0, -128, 127, 5][i % 4]), Int8Array));
	add('u8', prim(new A.Uint8(), pick(n, i => [0, 255, 1][i % 3]), Uint8Array));
	add('i16', prim(new A.Int16(), pick(n, i => i % 5 === 1 ? null : ri(-32768, 32767)), Int16Array));
	add('u16', prim(new A.Uint16(), pick(n, i => ri(0, 65535)), Uint16Array));
	add('i32', prim(new A.Int32(), pick(n, i => i % 11 === 4 ? null : ri(-2147483648, 2147483647)), Int32Array));
	add('u32', prim(new A.Uint32(), pick(n, i => [0, 4294967295, ri(0, 1000)][i % 3]), Uint32Array));
	add('i64', prim(new A.Int64(), pick(n, i => i % 6 === 5 ? null : I64[i % I64.length] + BigInt(i)), BigInt64Array));
	add('u64', prim(new A.Uint64(), pick(n, i => i % 2 ? 18446744073709551615n - BigInt(i) : BigInt(i)), BigUint64Array));
	add('seq', prim(new A.Int64(), pick(n, i => BigInt(i)), BigInt64Array));
	const FL = [0, -0, 1.5, -2, NaN, Infinity, -Infinity, 1e-30, 3.4e38, 0.1];
	add('f16', prim(new A.Float16(), pick(n, i => i % 9 === 8 ? null : f16bits(i < FL.length ? FL[i] : ri(-1000, 1000) / 8)), Uint16Array));
	add('f32', prim(new A.Float32(), pick(n, i => i % 9 === 7 ? null : (i < FL.length ? FL[i] : rnd() * 1000 - 500)), Float32Array));
	add('f64', prim(new A.Float64(), pick(n, i => i % 4 === 2 ? null : (i < FL.length ? FL[i] : rnd() * 1e9)), Float64Array));
	add('b', boolv(pick(n, i => i % 2 === 0)));
	add('bn', boolv(pick(n, i => i % 3 === 1 ? null : i % 5 < 2)));
	add('bt', boolv(pick(n, () => true)));
	// (an all-null bool column cannot be made: arrow-js drops its values)
	add('bfn', boolv(pick(n, i => i % 4 === 1 ? null : false)));
	add('s', vec(new A.Utf8(), pick(n, i => i % 6 === 1 ? null : i % 6 === 2 ? '' : 'v' + ri(0, 1e6) + ' é ✓')));
	add('ls', vec(new A.LargeUtf8(), pick(n, i => i % 5 === 0 ? null : 'L'.repeat(i % 13))));
	add('bin', vec(new A.Binary(), pick(n, i => i % 4 === 1 ? null : i % 4 === 2 ? new Uint8Array(0) : Uint8Array.from(pick(1 + i % 17, k => (k * 31 + i) & 255)))));
	add('lbin', vec(new A.LargeBinary(), pick(n, i => i % 3 === 2 ? null : Uint8Array.from([i & 255, 0, 255]))));
	add('an', prim(new A.Int32(), pick(n, () => null), Int32Array));
	add('asn', vec(new A.Utf8(), pick(n, () => null)));
	add('abn', vec(new A.Binary(), pick(n, () => null)));
	add('c1', prim(new A.Int64(), pick(n, i => i % 3 === 1 ? null : 77n), BigInt64Array));
	add('c2', vec(new A.Utf8(), pick(n, () => 'same')));
	add('c3', vec(new A.Utf8(), pick(n, i => i % 2 ? null : 'same')));
	add('ce', vec(new A.Utf8(), pick(n, () => '')));
	add('ceb', vec(new A.Binary(), pick(n, () => new Uint8Array(0))));
	add('cf', prim(new A.Float64(), pick(n, i => i % 5 === 0 ? null : 0.25), Float64Array));
	add('d32', prim(new A.DateDay(), pick(n, i => i % 7 === 6 ? null : [0, -1, 19000, -719162, 2932896][i % 5]), Int32Array));
	add('d64', prim(new A.DateMillisecond(), pick(n, i => BigInt([0, 86400000, -86400000 * 3, 1700000000000 - (1700000000000 % 86400000)][i % 4])), BigInt64Array));
	add('t32s', prim(new A.TimeSecond(), pick(n, i => i % 3 === 0 ? null : (i * 3607) % 86400), Int32Array));
	add('t32ms', prim(new A.TimeMillisecond(), pick(n, i => (i * 3607001) % 86400000), Int32Array));
	add('t64us', prim(new A.TimeMicrosecond(), pick(n, i => BigInt((i * 3607000001) % 86400000000)), BigInt64Array));
	add('t64ns', prim(new A.TimeNanosecond(), pick(n, i => i % 4 === 3 ? null : BigInt(i) * 3607000000001n % 86400000000000n), BigInt64Array));
	add('tss', prim(new A.TimestampSecond(), pick(n, i => BigInt(i * 86399 - 100000)), BigInt64Array));
	add('tsms', prim(new A.TimestampMillisecond('UTC'), pick(n, i => i % 5 === 4 ? null : BigInt(1700000000123 + i * 1001)), BigInt64Array));
	add('tsus', prim(new A.TimestampMicrosecond(), pick(n, i => BigInt(1700000000123456 + i * 1000001) * (i % 2 ? -1n : 1n)), BigInt64Array));
	add('tsns', prim(new A.TimestampNanosecond('America/New_York'), pick(n, i => 1700000000123456789n + BigInt(i)), BigInt64Array));
	add('dur', prim(new A.DurationMillisecond(), pick(n, i => i % 3 === 1 ? null : BigInt(i * 1000 - 500)), BigInt64Array));
	add('dec', prim(new A.Decimal(2, 10, 128), pick(n, i => i % 4 === 3 ? null : BigInt(ri(-99999999, 99999999))), Uint32Array));
	add('decc', prim(new A.Decimal(3, 20, 128), pick(n, () => 12345n), Uint32Array));
	add('fsb', fsbVec(n));
	add('dict', vec(new A.Dictionary(new A.Utf8(), new A.Int32()), pick(n, i => i % 5 === 4 ? null : ['red', 'green', 'blue'][i % 3])));
	return colsTable(cols);
}
function fsbVec(n) {
	const vals = pick(n, i => i % 3 === 1 ? null : Uint8Array.from([i & 255, 1, 2, 255]));
	const { b, nulls } = bitmap(vals);
	const data = new Uint8Array(n * 4);
	vals.forEach((v, i) => { if (v) data.set(v, i * 4); });
	return A.makeVector(A.makeData({ type: new A.FixedSizeBinary(4), length: n,
		nullCount: nulls, nullBitmap: nulls ? b : null, data }));
}

// Table "nested": lists, structs, fixed-size lists, maps.
function nestedTable(n) {
	seed = 7 + n;
	const cols = [];
	const add = (name, v) => cols.push([name, v]);
	const I32 = new A.Int32(), S = new A.Utf8();
	add('li', vec(new A.List(F('item', I32)), pick(n, i => i % 5 === 1 ? null : i % 5 === 2 ? [] : pick(i % 4 + 1, k => k === 2 ? null : ri(-9, 9)))));
	add('lempty', vec(new A.List(F('item', I32)), pick(n, () => [])));
	add('lnull', vec(new A.List(F('item', I32)), pick(n, () => null)));
	add('lnn', vec(new A.List(F('item', I32)), pick(n, () => [null, null])));
	add('lc', vec(new A.List(F('item', I32)), pick(n, i => i % 3 === 0 ? [4] : [4, 4])));
	// (arrow-js 18 has no LargeList to write with)
	add('ll', vec(new A.List(F('item', new A.Int64())), pick(n, i => i % 4 === 0 ? null : pick(i % 3, k => BigInt(k - i)))));
	add('lstr', vec(new A.List(F('item', S)), pick(n, i => i % 6 === 0 ? null : pick(i % 3, k => k === 1 ? '' : 'w' + k + i))));
	add('lst', vec(new A.List(F('item', new A.Struct([F('a', I32), F('b', S)]))),
		pick(n, i => i % 5 === 3 ? null : pick(i % 3, k => k === 1 && i % 2 ? null : { a: k === 0 ? null : i, b: 'b' + k })) ));
	add('stl', vec(new A.Struct([F('x', new A.List(F('item', I32))), F('y', S)]),
		pick(n, i => i % 7 === 2 ? null : { x: i % 3 === 0 ? null : pick(i % 3, k => k), y: i % 2 ? null : 'y' + i })));
	add('st', vec(new A.Struct([F('p', I32), F('q', new A.Float64()), F('r', new A.Struct([F('z', new A.Bool())]))]),
		pick(n, i => i % 4 === 1 ? null : { p: i % 3 ? i : null, q: i / 4, r: i % 5 === 3 ? null : { z: i % 2 === 0 } })));
	add('fsl', fslv(3, prim(new A.Float32(), pick(3 * n, k => k % 3 === 1 && (k / 3 | 0) % 3 === 0 ? null : k % 3 === 1 ? 0.5 : (k % 3 ? -(k / 3 | 0) : k / 3 | 0)), Float32Array),
		pick(n, i => i % 4 !== 2)));
	add('fsli', vec(new A.FixedSizeList(2, F('item', I32)), pick(n, i => [i, -i])));
	add('ls2', vec(new A.List(F('item', new A.List(F('item', I32)))), pick(n, i => i % 6 === 5 ? null : pick(i % 3, k => k === 1 ? null : pick(k, j => j)))));
	add('lfsl', vec(new A.List(F('item', new A.FixedSizeList(2, F('item', I32)))), pick(n, i => i % 3 === 0 ? null : pick(i % 2 + 1, k => [k, i]))));
	return colsTable(cols);
}
// Fixed-size list from a child vector of n * dim items and row validity.
function fslv(dim, child, valid) {
	const { b, nulls } = bitmap(valid.map(v => v ? 1 : null));
	return A.makeVector(A.makeData({ type: new A.FixedSizeList(dim, F('item', child.type)),
		length: valid.length, nullCount: nulls, nullBitmap: nulls ? b : null,
		child: child.data[0] }));
}
// Table "maps": map<utf8, int32> (2.2 only; older writers refuse it).
function mapsTable(n) {
	const S = new A.Utf8(), I32 = new A.Int32();
	return colsTable([['id', prim(new A.Int32(), pick(n, i => i), Int32Array)],
		['m', vec(new A.Map_(F('entries', new A.Struct([F('key', S, false), F('value', I32)]), false)),
			pick(n, i => i % 4 === 3 ? null : new Map(pick(i % 3, k => ['k' + k, k === 1 ? null : i]))))]]);
}
function colsTable(cols) {
	const o = {};
	for (const [name, v] of cols) o[name] = v;
	return new A.Table(o);
}

// ---------------------------------------------------------------- expected
// Expected cells as trees: {int: BigInt}, {float: x, bits}, string, bool,
// null, arrays, {obj: [[key, value]...]}.
function isValid(d, i) {
	if (d.typeId === A.Type.Null) return false;
	if (!d.nullBitmap || d.nullBitmap.length === 0 || d.nullCount === 0) return true;
	const j = d.offset + i;
	return (d.nullBitmap[j >> 3] >> (j & 7)) & 1;
}
function i64(vals, k) {
	if (vals instanceof BigInt64Array || vals instanceof BigUint64Array) return BigInt(vals[k]);
	return BigInt(vals[k]);
}
function hex(b) { return Buffer.from(b).toString('hex'); }
function pad(x, n) { return String(x).padStart(n, '0'); }
function civil(days) {	// days since 1970-01-01 -> [y, m, d] (Hinnant)
	let z = days + 719468n;
	const era = (z >= 0n ? z : z - 146096n) / 146097n;
	const doe = z - era * 146097n;
	const yoe = (doe - doe / 1460n + doe / 36524n - doe / 146096n) / 365n;
	let y = yoe + era * 400n;
	const doy = doe - (365n * yoe + yoe / 4n - yoe / 100n);
	const mp = (5n * doy + 2n) / 153n;
	const d = doy - (153n * mp + 2n) / 5n + 1n;
	const m = mp < 10n ? mp + 3n : mp - 9n;
	if (m <= 2n) y += 1n;
	return [y, m, d];
}
function ymd(days) {
	const [y, m, d] = civil(days);
	const ys = y < 0n || y > 9999n ? (y < 0n ? '-' : '+') + pad(y < 0n ? -y : y, 4) : pad(y, 4);
	return ys + '-' + pad(m, 2) + '-' + pad(d, 2);
}
function fdiv(a, b) { const q = a / b; return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q; }
const UNIT = [1n, 1000n, 1000000n, 1000000000n];	// per second, by TimeUnit
const DIGITS = [0, 3, 6, 9];
function hms(ticks, unit) {	// ticks within a day (or any) -> "HH:MM:SS.fff"
	const per = UNIT[unit];
	const s = fdiv(ticks, per), frac = ticks - s * per;
	const h = fdiv(s, 3600n), mi = fdiv(s - h * 3600n, 60n), se = s - h * 3600n - mi * 60n;
	let r = pad(h, 2) + ':' + pad(mi, 2) + ':' + pad(se, 2);
	if (DIGITS[unit]) r += '.' + pad(frac, DIGITS[unit]);
	return r;
}
function decStr(v, scale) {
	const neg = v < 0n;
	let s = (neg ? -v : v).toString();
	if (scale > 0) {
		s = s.padStart(scale + 1, '0');
		s = s.slice(0, s.length - scale) + '.' + s.slice(s.length - scale);
	}
	return (neg ? '-' : '') + s;
}
function cell(d, i, top) {
	if (!isValid(d, i)) return null;
	const t = d.type, j = d.offset + i;
	switch (t.typeId) {
	case A.Type.Int:
		return { int: i64(d.values, j) };
	case A.Type.Float:
		if (t.precision === A.Precision.HALF) return { float: f16val(d.values[j]), bits: 16 };
		return { float: d.values[j], bits: t.precision === A.Precision.SINGLE ? 32 : 64 };
	case A.Type.Bool:
		return !!((d.values[j >> 3] >> (j & 7)) & 1);
	case A.Type.Utf8:
	case A.Type.LargeUtf8: {
		const a = Number(d.valueOffsets[j]), b = Number(d.valueOffsets[j + 1]);
		return new TextDecoder().decode(d.values.subarray(a, b));
	}
	case A.Type.Binary:
	case A.Type.LargeBinary: {
		const a = Number(d.valueOffsets[j]), b = Number(d.valueOffsets[j + 1]);
		const bytes = d.values.subarray(a, b);
		return top ? { file: Buffer.from(bytes) } : hex(bytes);
	}
	case A.Type.FixedSizeBinary:
		return hex(d.values.subarray(j * t.byteWidth, (j + 1) * t.byteWidth));
	case A.Type.Date:
		if (t.unit === A.DateUnit.DAY) return ymd(BigInt(d.values[j]));
		return ymd(fdiv(i64(d.values, j), 86400000n));
	case A.Type.Time:
		return hms(i64(d.values, j), t.unit);
	case A.Type.Timestamp: {
		const v = i64(d.values, j), per = UNIT[t.unit];
		const s = fdiv(v, per), day = fdiv(s, 86400n);
		return ymd(day) + 'T' + hms(v - day * 86400n * per, t.unit) + (t.timezone ? 'Z' : '');
	}
	case A.Type.Duration:
		return { int: i64(d.values, j) };
	case A.Type.Decimal: {
		const w = t.bitWidth / 32;
		let x = 0n;
		for (let k = w - 1; k >= 0; k--) x = (x << 32n) | BigInt(d.values[j * w + k]);
		return decStr(BigInt.asIntN(t.bitWidth, x), t.scale);
	}
	case A.Type.Dictionary: {
		const dv = d.dictionary;
		return vcell(dv, Number(d.values[j]), false);
	}
	case A.Type.List:
	case A.Type.LargeList: {
		const a = Number(d.valueOffsets[j]), b = Number(d.valueOffsets[j + 1]), r = [];
		for (let k = a; k < b; k++) r.push(cell(d.children[0], k, false));
		return r;
	}
	case A.Type.FixedSizeList: {
		const r = [];
		for (let k = 0; k < t.listSize; k++) r.push(cell(d.children[0], j * t.listSize + k, false));
		return r;
	}
	case A.Type.Struct:
		return { obj: t.children.map((c, k) => [c.name, cell(d.children[k], j, false)]) };
	case A.Type.Map: {
		const a = Number(d.valueOffsets[j]), b = Number(d.valueOffsets[j + 1]), r = [];
		const e = d.children[0];
		for (let k = a; k < b; k++)
			r.push({ obj: [['key', cell(e.children[0], e.offset + k - e.offset, false)],
				['value', cell(e.children[1], k, false)]] });
		return r;
	}
	case A.Type.Null:
		return null;
	}
	throw new Error('type ' + t);
}
function vcell(v, i, top) {	// Vector (possibly chunked) -> cell
	for (const d of v.data) {
		if (i < d.length) return cell(d, i, top);
		i -= d.length;
	}
	throw new Error('row out of range');
}

// ---------------------------------------------------------------- actual
// JSON parser keeping number tokens as text.
function parseJson(s) {
	let p = 0;
	function ws() { while (/\s/.test(s[p])) p++; }
	function val() {
		ws();
		const c = s[p];
		if (c === '{') {
			p++; const o = []; ws();
			if (s[p] === '}') { p++; return { obj: o }; }
			for (;;) {
				ws(); const k = str(); ws();
				if (s[p++] !== ':') throw new Error('json: colon at ' + p);
				o.push([k, val()]); ws();
				if (s[p] === ',') { p++; continue; }
				if (s[p++] === '}') return { obj: o };
				throw new Error('json: object at ' + p);
			}
		}
		if (c === '[') {
			p++; const a = []; ws();
			if (s[p] === ']') { p++; return a; }
			for (;;) {
				a.push(val()); ws();
				if (s[p] === ',') { p++; continue; }
				if (s[p++] === ']') return a;
				throw new Error('json: array at ' + p);
			}
		}
		if (c === '"') return str();
		if (s.startsWith('true', p)) { p += 4; return true; }
		if (s.startsWith('false', p)) { p += 5; return false; }
		if (s.startsWith('null', p)) { p += 4; return null; }
		const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?/.exec(s.slice(p));
		if (!m) throw new Error('json: token at ' + p + ': ' + s.slice(p, p + 20));
		p += m[0].length;
		return { num: m[0] };
	}
	function str() {
		const m = /^"((?:[^"\\]|\\.)*)"/.exec(s.slice(p));
		if (!m) throw new Error('json: string at ' + p);
		p += m[0].length;
		return JSON.parse(m[0]);
	}
	const v = val(); ws();
	if (p !== s.length) throw new Error('json: trailing ' + s.slice(p, p + 20));
	return v;
}
function roundTo(x, bits) {
	if (bits === 32) return Math.fround(x);
	if (bits === 16) return f16val(f16bits(x));
	return x;
}
function show(v) {
	return JSON.stringify(v, (k, x) => typeof x === 'bigint' ? x.toString() : x).slice(0, 300);
}
// '' when equal, else a description.
function cmp(exp, got, where) {
	if (exp === null) return got === null ? '' : `${where}: expected null, got ${show(got)}`;
	if (typeof exp === 'string' || typeof exp === 'boolean')
		return exp === got ? '' : `${where}: expected ${show(exp)}, got ${show(got)}`;
	if (Array.isArray(exp)) {
		if (!Array.isArray(got) || got.length !== exp.length)
			return `${where}: expected ${show(exp)}, got ${show(got)}`;
		for (let k = 0; k < exp.length; k++) {
			const r = cmp(exp[k], got[k], where + '[' + k + ']');
			if (r) return r;
		}
		return '';
	}
	if (exp.int !== undefined) {
		if (!got || got.num === undefined || !/^-?\d+$/.test(got.num) || BigInt(got.num) !== exp.int)
			return `${where}: expected ${exp.int}, got ${show(got)}`;
		return '';
	}
	if (exp.float !== undefined) {
		const x = exp.float;
		if (!Number.isFinite(x)) return got === null ? '' : `${where}: expected null (${x}), got ${show(got)}`;
		if (!got || got.num === undefined) return `${where}: expected ${x}, got ${show(got)}`;
		const y = roundTo(Number(got.num), exp.bits);
		if (!Object.is(y, x) && !(x === 0 && y === 0))
			return `${where}: expected ${x} (f${exp.bits}), got ${got.num}`;
		if (Number.isInteger(x) && !/[.eE]/.test(got.num))
			return `${where}: integral float ${got.num} without .0`;
		return '';
	}
	if (exp.obj !== undefined) {
		if (!got || !got.obj) return `${where}: expected object, got ${show(got)}`;
		const ek = exp.obj.map(e => e[0]).join(','), gk = got.obj.map(e => e[0]).join(',');
		if (ek !== gk) return `${where}: keys ${gk}, expected ${ek}`;
		for (let k = 0; k < exp.obj.length; k++) {
			const r = cmp(exp.obj[k][1], got.obj[k][1], where + '.' + exp.obj[k][0]);
			if (r) return r;
		}
		return '';
	}
	throw new Error('cmp ' + show(exp));
}
function run(args, binary) {
	try {
		return { out: execFileSync(LANCEFS, args, { encoding: binary ? 'buffer' : 'utf8',
			stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 }) };
	} catch (e) {
		return { err: (e.stderr || '').toString().trim() || String(e) };
	}
}
function rowsToCheck(n) {
	if (n <= 300) return pick(n, i => i);
	const s = new Set();
	for (let i = 0; i < 40; i++) { s.add(i); s.add(n - 1 - i); }
	for (let p = 64; p < n; p *= 2) for (const d of [-1, 0, 1]) s.add(p + d);
	for (let k = 1; k * 1000 < n; k++) s.add(k * 1000);
	for (let i = 0; i < 60; i++) s.add(ri(0, n - 1));
	return [...s].filter(x => x >= 0 && x < n).sort((a, b) => a - b);
}

// ---------------------------------------------------------------- main
const problems = new Map();	// "version/table/column: message" -> count
function report(key, msg) {
	const k = key + ': ' + msg.replace(/row \d+/g, 'row N')
		.replace(/data\/\w+\.lance/g, 'data/X.lance')
		.replace(/expected .*, got .*/, 'value');
	if (!problems.has(k)) {
		problems.set(k, 0);
		console.log('MISMATCH ' + key + ': ' + msg);
	}
	problems.set(k, problems.get(k) + 1);
}

async function checkTable(db, ver, name, table) {
	const key = ver + '/' + name;
	const before = problems.size;
	let tbl;
	try {
		tbl = await db.createTable(name, table, { mode: 'overwrite',
			storageOptions: { new_table_data_storage_version: ver } });
	} catch (e) {
		console.log('SKIP ' + key + ': LanceDB refused: ' + e.message.split('\n')[0].slice(0, 200));
		return 0;
	}
	const ds = path.join(WORK, ver.replace('.', ''), name + '.lance');
	const got = await tbl.query().withRowId().toArrow();
	const rid = got.getChild('_rowid');
	const fields = got.schema.fields.filter(f => f.name !== '_rowid');
	let checked = 0;
	for (const r of rowsToCheck(got.numRows)) {
		const off = Number(vcellRaw(rid, r) & 0xffffffffn);
		const row = pad(off, 8);
		const meta = run(['cat', ds, row + '/meta.json']);
		let parsed = null;
		if (meta.err) { report(key, `row ${off}: meta.json: ${meta.err}`); continue; }
		try { parsed = parseJson(meta.out); } catch (e) { report(key, `row ${off}: ${e.message}`); continue; }
		const ls = run(['ls', '-l', ds, row]);
		const files = new Map();
		if (ls.err) report(key, `row ${off}: ls: ${ls.err}`);
		else for (const line of ls.out.trim().split('\n')) {
			const m = /^\S+\s+(\d+)\s+\S+\s+(.*)$/.exec(line);
			if (m) files.set(m[2], Number(m[1]));
		}
		const metaKeys = [];
		for (const f of fields) {
			const exp = vcell(got.getChild(f.name), r, true);
			const isFileCol = f.type.typeId === A.Type.Binary || f.type.typeId === A.Type.LargeBinary;
			if (isFileCol) {
				const fname = [...files.keys()].find(x => x.startsWith(f.name + '.'));
				if (exp === null) {
					if (fname) report(key + '/' + f.name, `row ${off}: null value has file ${fname}`);
					continue;
				}
				if (!fname) { report(key + '/' + f.name, `row ${off}: no file for ${exp.file.length} bytes`); continue; }
				if (files.get(fname) !== exp.file.length)
					report(key + '/' + f.name, `row ${off}: size ${files.get(fname)}, expected ${exp.file.length}`);
				const c = run(['cat', ds, row + '/' + fname], true);
				if (c.err) report(key + '/' + f.name, `row ${off}: cat: ${c.err}`);
				else if (Buffer.compare(c.out, exp.file))
					report(key + '/' + f.name, `row ${off}: bytes differ`);
				continue;
			}
			metaKeys.push(f.name);
			const g = parsed.obj.find(e => e[0] === f.name);
			if (!g) { report(key + '/' + f.name, `row ${off}: missing from meta.json`); continue; }
			const d = cmp(exp, g[1], `row ${off}`);
			if (d) report(key + '/' + f.name, d);
		}
		const order = parsed.obj.map(e => e[0]).join(',');
		if (order !== metaKeys.join(','))
			report(key, `row ${off}: meta.json keys ${order}, expected ${metaKeys.join(',')}`);
		checked++;
	}
	if (process.env.SAVE && got.numRows <= 100 && problems.size === before)
		save(ds, ver, name, got.numRows);
	return checked;
}
function fnv(buf) {
	let h = 0xcbf29ce484222325n;
	for (const c of buf) {
		h ^= BigInt(c);
		h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
	}
	return h.toString(16).padStart(16, '0');
}
function save(ds, ver, name, n) {
	const tag = ver.replace('.', '') + '_' + name;
	const dst = path.join(process.env.SAVE, tag + '.lance');
	fs.rmSync(dst, { recursive: true, force: true });
	fs.cpSync(path.join(ds, 'data'), path.join(dst, 'data'), { recursive: true });
	fs.mkdirSync(path.join(dst, '_versions'), { recursive: true });
	for (const m of fs.readdirSync(path.join(ds, '_versions')))
		if (m.endsWith('.manifest'))
			fs.copyFileSync(path.join(ds, '_versions', m), path.join(dst, '_versions', m));
	let out = '';
	for (let r = 0; r < n; r++) {
		const row = pad(r, 8);
		out += 'ROW ' + row + '\n' + run(['cat', ds, row + '/meta.json']).out;
		const ls = run(['ls', ds, row]).out.trim().split('\n').sort();
		for (const f of ls) {
			if (f === 'meta.json' || !f) continue;
			const b = run(['cat', ds, row + '/' + f], true).out;
			out += 'FILE ' + f + ' ' + b.length + ' ' + fnv(b) + '\n';
		}
	}
	fs.writeFileSync(path.join(process.env.SAVE, tag + '.expect'), out);
	console.log('SAVED ' + tag);
}
function vcellRaw(v, i) {
	for (const d of v.data) {
		if (i < d.length) return BigInt(d.values[d.offset + i]);
		i -= d.length;
	}
	throw new Error('rowid');
}

async function main() {
	let tables = 0, rows = 0;
	for (const ver of VERSIONS) {
		const db = await lancedb.connect(path.join(WORK, ver.replace('.', '')));
		for (const n of SIZES) {
			for (const [base, make] of [['prims', primsTable], ['nested', nestedTable],
				['maps', mapsTable]]) {
				const name = base + '_' + n;
				if (FILTER && !(ver + '/' + name).includes(FILTER)) continue;
				rows += await checkTable(db, ver, name, make(n));
				tables++;
			}
		}
	}
	let total = 0;
	for (const c of problems.values()) total += c;
	console.log(`${tables} tables, ${rows} rows checked, ${problems.size} distinct mismatches (${total} cells)`);
	process.exit(problems.size ? 1 : 0);
}
main().catch(e => { console.error(e); process.exit(2); });
