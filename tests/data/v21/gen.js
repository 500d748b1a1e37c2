// gen.js - writes the 2.1/2.2 fixtures in this directory with LanceDB 0.39
// (lance 12) and records what LanceDB reads back. Run once, by hand:
//   NODE_PATH=/path/to/node_modules node gen.js [workdir [table...]]
// (naming tables regenerates only those fixtures).
// For each table T and version V it leaves V_T/data/<file>.lance (plus blob
// sidecars) and V_T.json: the manifest schema, the DataFile entry and the
// values of every top-level column as LanceDB returned them.
'use strict';
const fs = require('fs');
const path = require('path');
const lancedb = require('@lancedb/lancedb');
const arrow = require('apache-arrow');
const { Field, Schema } = arrow;

const OUT = __dirname;
const WORK = process.argv[2] || '/tmp/v21';
const ONLY = process.argv.slice(3);

// ---------------------------------------------------------------- helpers
let seed = 12345;
function rnd() {	// xorshift32, deterministic
	seed ^= seed << 13; seed >>>= 0;
	seed ^= seed >>> 17;
	seed ^= seed << 5; seed >>>= 0;
	return seed / 4294967296;
}
function ri(lo, hi) { return lo + Math.floor(rnd() * (hi - lo + 1)); }
function bytes(n, compressible) {
	const b = Buffer.alloc(n);
	for (let i = 0; i < n; i++)
		b[i] = compressible ? (i % 251) ^ ((i >> 10) & 7) : ri(0, 255);
	return b;
}
const WORDS = ('alpha beta gamma delta epsilon zeta eta theta iota kappa ' +
	'lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega')
	.split(' ');
function text(n) {
	let s = '';
	while (s.length < n)
		s += WORDS[ri(0, WORDS.length - 1)] + ' ';
	return s.slice(0, n);
}
function fnv(buf) {	// FNV-1a 64, as hex
	let h = 0xcbf29ce484222325n;
	for (const c of buf) {
		h ^= BigInt(c);
		h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
	}
	return h.toString(16).padStart(16, '0');
}
function nul(p, v) { return rnd() < p ? null : v; }
function field(name, type, nullable, meta) {
	return new Field(name, type, nullable, meta ? new Map(Object.entries(meta)) : undefined);
}

// Protobuf wire reader, just enough for manifests and file descriptors.
function pbFields(buf) {
	const out = [];
	let p = 0;
	function varint() {
		let x = 0n, s = 0n;
		for (;;) {
			const b = buf[p++];
			x |= BigInt(b & 0x7f) << s;
			s += 7n;
			if (!(b & 0x80)) return x;
		}
	}
	while (p < buf.length) {
		const key = Number(varint()), num = key >> 3, wt = key & 7;
		if (wt === 0) out.push([num, varint()]);
		else if (wt === 2) {
			const n = Number(varint());
			out.push([num, buf.subarray(p, p + n)]);
			p += n;
		} else if (wt === 1) { out.push([num, buf.subarray(p, p + 8)]); p += 8; }
		else if (wt === 5) { out.push([num, buf.subarray(p, p + 4)]); p += 4; }
		else throw new Error('wire type ' + wt);
	}
	return out;
}
function packed(v) {	// packed or single varint -> numbers
	if (typeof v === 'bigint') return [Number(BigInt.asIntN(32, v))];
	const r = [];
	let p = 0;
	while (p < v.length) {
		let x = 0n, s = 0n;
		for (;;) {
			const b = v[p++];
			x |= BigInt(b & 0x7f) << s;
			s += 7n;
			if (!(b & 0x80)) break;
		}
		r.push(Number(BigInt.asIntN(32, x)));
	}
	return r;
}
function parseField(b) {
	const f = { name: '', id: 0, parent_id: 0, logical_type: '', nullable: false, metadata: {} };
	for (const [n, v] of pbFields(b)) {
		if (n === 2) f.name = v.toString();
		else if (n === 3) f.id = Number(BigInt.asIntN(32, v));
		else if (n === 4) f.parent_id = Number(BigInt.asIntN(32, v));
		else if (n === 5) f.logical_type = v.toString();
		else if (n === 6) f.nullable = v !== 0n;
		else if (n === 10) {
			let k = '', val = '';
			for (const [m, w] of pbFields(v)) {
				if (m === 1) k = w.toString();
				else val = w.toString();
			}
			f.metadata[k] = val;
		}
	}
	return f;
}
function readManifest(dir) {
	const vdir = path.join(dir, '_versions');
	const names = fs.readdirSync(vdir).filter(n => n.endsWith('.manifest'));
	// 1.manifest or inverted u64 names: take the newest by mtime
	names.sort((a, b) => fs.statSync(path.join(vdir, b)).mtimeMs -
		fs.statSync(path.join(vdir, a)).mtimeMs);
	const buf = fs.readFileSync(path.join(vdir, names[0]));
	const P = Number(buf.readBigInt64LE(buf.length - 16));
	const len = buf.readUInt32LE(P);
	const m = buf.subarray(P + 4, P + 4 + len);
	const res = { fields: [], files: [] };
	for (const [n, v] of pbFields(m)) {
		if (n === 1) res.fields.push(parseField(v));
		if (n === 2) {
			for (const [k, w] of pbFields(v)) {
				if (k !== 2) continue;
				const df = { path: '', fields: [], column_indices: [], major: 0, minor: 0, size: 0 };
				for (const [j, x] of pbFields(w)) {
					if (j === 1) df.path = x.toString();
					else if (j === 2) df.fields.push(...packed(x));
					else if (j === 3) df.column_indices.push(...packed(x));
					else if (j === 4) df.major = Number(x);
					else if (j === 5) df.minor = Number(x);
					else if (j === 6) df.size = Number(x);
				}
				res.files.push(df);
			}
		}
	}
	return res;
}

// Arrow value -> JSON, keeping raw storage for integers and times.
function toJson(v, type) {
	if (v === null || v === undefined) return null;
	const tid = type.typeId;
	if (arrow.DataType.isInt(type) || arrow.DataType.isTimestamp(type) ||
	    arrow.DataType.isDate(type) || arrow.DataType.isTime(type)) {
		if (v instanceof Date) v = v.getTime();
		if (arrow.DataType.isTimestamp(type) && typeof v === 'number')
			v = BigInt(v) * 1000n;	/* js gives ms; storage is us */
		return String(v);
	}
	if (arrow.DataType.isFloat(type)) return v;
	if (arrow.DataType.isBool(type)) return !!v;
	if (arrow.DataType.isUtf8(type) || arrow.DataType.isLargeUtf8(type)) {
		const b = Buffer.from(v, 'utf8');
		return b.length > 100 ? { n: b.length, h: fnv(b) } : v;
	}
	if (arrow.DataType.isBinary(type) || arrow.DataType.isLargeBinary(type) ||
	    arrow.DataType.isFixedSizeBinary(type))
		return { n: v.length, h: fnv(v) };
	if (arrow.DataType.isList(type) || arrow.DataType.isFixedSizeList(type) ||
	    tid === arrow.Type.LargeList) {
		const r = [];
		for (let i = 0; i < v.length; i++) r.push(toJson(v.get(i), type.children[0].type));
		return r;
	}
	if (arrow.DataType.isStruct(type)) {
		const r = {};
		for (const c of type.children) r[c.name] = toJson(v[c.name], c.type);
		return r;
	}
	throw new Error('type ' + type);
}

// The canonical stream test_v21.c hashes too (FNV-1a 64 over the bytes):
// null "n"; integer: decimal + ","; float: "f" + 16 hex digits of the
// float64 bits; bool "t"/"F"; string/binary: "s" + length + ":" + bytes
// (binary values are stood in for by their fnv, "h" + 16 hex digits);
// list "[" ... "]"; struct "{" ... "}".
function canon(j, out) {
	if (j === null) out.push(Buffer.from('n'));
	else if (typeof j === 'string')
		throw new Error('untagged string');
	else if (typeof j === 'number') {
		const b = Buffer.alloc(8);
		b.writeDoubleLE(j);
		out.push(Buffer.from('f' + b.readBigUInt64LE().toString(16).padStart(16, '0')));
	} else if (typeof j === 'boolean') out.push(Buffer.from(j ? 't' : 'F'));
	else if (Array.isArray(j)) {
		out.push(Buffer.from('['));
		for (const x of j) canon(x, out);
		out.push(Buffer.from(']'));
	} else if (j.n !== undefined && j.h !== undefined)
		out.push(Buffer.from('h' + j.h));
	else if (j.int !== undefined)
		out.push(Buffer.from(j.int + ','));
	else if (j.str !== undefined) {
		const b = Buffer.from(j.str, 'utf8');
		out.push(Buffer.from('s' + b.length + ':'), b);
	} else {
		out.push(Buffer.from('{'));
		for (const k of Object.keys(j)) canon(j[k], out);
		out.push(Buffer.from('}'));
	}
}
// Tag ints and strings apart before hashing (both are JSON strings).
function tagged(v, type) {
	if (v === null) return null;
	if (arrow.DataType.isInt(type) || arrow.DataType.isTimestamp(type) ||
	    arrow.DataType.isDate(type) || arrow.DataType.isTime(type))
		return { int: v };
	if (arrow.DataType.isUtf8(type) || arrow.DataType.isLargeUtf8(type))
		return typeof v === 'string' ? { str: v } : v;
	if (arrow.DataType.isList(type) || arrow.DataType.isFixedSizeList(type) ||
	    type.typeId === arrow.Type.LargeList)
		return v.map(x => tagged(x, type.children[0].type));
	if (arrow.DataType.isStruct(type)) {
		const r = {};
		for (const c of type.children) r[c.name] = tagged(v[c.name], c.type);
		return r;
	}
	return v;
}
function colHash(vals, type) {
	const out = [];
	for (const v of vals) canon(type ? tagged(v, type) : v, out);
	return fnv(Buffer.concat(out));
}
// Rows whose values the JSON spells out, most wanted first: both ends,
// chunk boundaries of every power of two, and a few pseudo-random ones.
// Each column keeps them while its sample stays under ~6 KB.
function sampleRows(n) {
	const s = new Set([0, n - 1]);
	for (let p = 1; p <= n; p *= 2)
		for (const d of [-1, 0, 1])
			for (const m of [p, 3 * p])
				if (m + d >= 0 && m + d < n) s.add(m + d);
	for (let i = 0; i < 40; i++) s.add(ri(0, n - 1));
	return [...s].filter(x => x < n);
}

// ---------------------------------------------------------------- tables
function tables(ver) {
	const T = [];
	const A = arrow;
	{
		const n = 10000, rows = [];
		for (let i = 0; i < n; i++)
			rows.push({ id: BigInt(i), i32: nul(0.1, ri(0, 999)),
				u8: ri(0, 100), i8: ri(-3, 3) });
		T.push({ name: 'ints', rows, schema: new Schema([
			field('id', new A.Int64(), false),
			field('i32', new A.Int32(), true),
			field('u8', new A.Uint8(), false),
			field('i8', new A.Int8(), false)]) });
	}
	{
		const n = 10000, rows = [];
		for (let i = 0; i < n; i++)
			rows.push({ i16: ri(0, 500), u16: ri(0, 255),
				u32: nul(0.02, ri(0, 1000)) });
		T.push({ name: 'ints2', rows, schema: new Schema([
			field('i16', new A.Int16(), false),
			field('u16', new A.Uint16(), false),
			field('u32', new A.Uint32(), true)]) });
	}
	{
		const n = 6000, rows = [];
		for (let i = 0; i < n; i++)
			rows.push({ f32: Math.fround(rnd() * 100), b: rnd() < 0.5,
				bn: nul(0.1, rnd() < 0.3), u64: BigInt(ri(0, 15)) });
		T.push({ name: 'floats', rows, schema: new Schema([
			field('f32', new A.Float32(), false),
			field('b', new A.Bool(), false),
			field('bn', new A.Bool(), true),
			field('u64', new A.Uint64(), false)]) });
	}
	{
		const n = 500, rows = [];
		for (let i = 0; i < n; i++) {
			const v = [];
			for (let k = 0; k < 8; k++) v.push(Math.fround(rnd()));
			rows.push({ ts: 1700000000000 + i * 7,
				f64: nul(0.1, rnd() * 1e6),
				vec: v,
				v2: nul(0.1, [Math.fround(rnd()), Math.fround(rnd())]),
				c7: 7, nothing: null });
		}
		T.push({ name: 'mixed', rows, schema: new Schema([
			field('ts', new A.TimestampMicrosecond(), false),
			field('f64', new A.Float64(), true),
			field('vec', new A.FixedSizeList(8, field('item', new A.Float32(), true)), false),
			field('v2', new A.FixedSizeList(2, field('item', new A.Float32(), true)), true),
			field('c7', new A.Int32(), false),
			field('nothing', new A.Utf8(), true)]) });
	}
	{
		const n = 600, rows = [], cats = ['red', 'green', 'blue', 'cyan', 'magenta'];
		for (let i = 0; i < n; i++)
			rows.push({ s: nul(0.05, 'user_' + ri(0, 1e6) + '_' + WORDS[ri(0, 23)] + '_' + WORDS[ri(0, 23)]),
				cat: nul(0.05, cats[ri(0, 4)]),
				ls: text(ri(0, 12)) });
		T.push({ name: 'strings', rows, schema: new Schema([
			field('s', new A.Utf8(), true),
			field('cat', new A.Utf8(), true),
			field('ls', new A.LargeUtf8(), false)]) });
	}
	{
		const n = 60, rows = [];
		for (let i = 0; i < n; i++)
			rows.push({ t: nul(0.05, text(ri(200, 2000))) });
		T.push({ name: 'longstr', rows, schema: new Schema([
			field('t', new A.Utf8(), true)]) });
	}
	{
		const n = 900, rows = [];
		for (let i = 0; i < n; i++) {
			let li = null;
			if (rnd() > 0.05) {
				li = [];
				const k = ri(0, 8);
				for (let j = 0; j < k; j++) li.push(ri(0, 1000));
			}
			let ls = null;
			if (rnd() > 0.05) {
				ls = [];
				const k = ri(0, 3);
				for (let j = 0; j < k; j++)
					ls.push(nul(0.1, { x: nul(0.1, ri(0, 50)), y: WORDS[ri(0, 23)] }));
			}
			let ll = null;
			if (rnd() > 0.1) {
				ll = [];
				const k = ri(0, 3);
				for (let j = 0; j < k; j++) {
					const inner = rnd() < 0.1 ? null : [];
					if (inner) for (let q = ri(0, 3); q > 0; q--) inner.push(ri(0, 9));
					ll.push(inner);
				}
			}
			rows.push({ li, st: nul(0.05, { a: nul(0.05, ri(0, 100)),
				b: WORDS[ri(0, 23)], c: rnd() }), ls, ll });
		}
		T.push({ name: 'nested', rows, schema: new Schema([
			field('li', new A.List(field('item', new A.Int32(), true)), true),
			field('st', new A.Struct([field('a', new A.Int32(), true),
				field('b', new A.Utf8(), true),
				field('c', new A.Float64(), true)]), true),
			field('ls', new A.List(field('item', new A.Struct([
				field('x', new A.Int32(), true),
				field('y', new A.Utf8(), true)]), true)), true),
			field('ll', new A.List(field('item', new A.List(
				field('item', new A.Int32(), true)), true)), true)]) });
	}
	{
		const n = 60, rows = [];
		for (let i = 0; i < n; i++) {
			const v = [], w = [];
			for (let k = 0; k < 64; k++) {
				v.push(Math.fround(rnd()));
				w.push(Math.fround(rnd()));
			}
			rows.push({ vec: v, vecn: nul(0.1, w),
				fz: nul(0.1, ri(-100000, 100000)), alln: null,
				ln: nul(0.3, [ri(0, 9)]) });
		}
		T.push({ name: 'wide', rows, schema: new Schema([
			field('vec', new A.FixedSizeList(64, field('item', new A.Float32(), true)), false),
			field('vecn', new A.FixedSizeList(64, field('item', new A.Float32(), true)), true),
			field('fz', new A.Int32(), true,
				{ 'lance-encoding:structural-encoding': 'fullzip' }),
			field('alln', new A.List(field('item', new A.Int32(), true)), true),
			field('ln', new A.List(field('item', new A.Int32(), true)), true)]) });
	}
	{
		const n = 1500, rows = [];
		for (let i = 0; i < n; i++)
			rows.push({ s: nul(0.05, WORDS[ri(0, 23)] + ' ' +
				WORDS[ri(0, 23)] + ' ' + WORDS[ri(0, 23)] + ' ' +
				WORDS[ri(0, 23)] + ' ' + ri(0, 99)) });
		T.push({ name: 'fsst', rows, schema: new Schema([
			field('s', new A.Utf8(), true)]) });
	}
	{
		const n = 2000, rows = [];
		for (let i = 0; i < n; i++)
			rows.push({ f: ri(0, 300) / 7, i: ri(0, 1 << 20),
				p: { a: ri(0, 1e6), b: Math.fround(rnd()) } });
		T.push({ name: 'opts', rows, schema: new Schema([
			field('f', new A.Float64(), false,
				{ 'lance-encoding:compression': 'zstd',
				  'lance-encoding:bss': 'on' }),
			field('i', new A.Int32(), false,
				{ 'lance-encoding:compression': 'lz4' }),
			field('p', new A.Struct([field('a', new A.Int32(), false),
				field('b', new A.Float32(), false)]), false,
				{ 'lance-encoding:packed': 'true' })]) });
	}
	{
		const sizes = [2000, 1000, null, 33000, 70000, 0, 3000];
		const rows = sizes.map((s, i) => ({ id: i,
			img: s === null ? null : bytes(s, s === 70000) }));
		T.push({ name: 'images', rows, schema: new Schema([
			field('id', new A.Int32(), false),
			field('img', new A.Binary(), true)]) });
	}
	{
		// Constant pages: one distinct non-null value per column, with
		// and without nulls (2.2 ConstantLayout: inline fixed values,
		// variable ones in a value buffer, levels after it).
		const n = 300, rows = [];
		for (let i = 0; i < n; i++) {
			const nl = i % 3 === 1;
			rows.push({ s: nl ? null : 'a', b: nl ? null : Buffer.from('xyz'),
				ls: i % 7 === 2 ? null : 'same large',
				lb: nl ? null : Buffer.from('LB'),
				e: nl ? null : '', eb: Buffer.alloc(0),
				i32: nl ? null : 7, f64: i % 5 ? 2.5 : null,
				bo: nl ? null : true, bf: false,
				an: null, as: null,
				li: i % 4 === 3 ? null : [1, 2],
				lc: i % 4 === 3 ? null : i % 4 === 2 ? [] : [5, 5],
				ln: i % 4 === 1 ? [] : [null],
				st: { x: nl ? null : 9, y: 'yy' } });
		}
		T.push({ name: 'const', rows, schema: new Schema([
			field('s', new A.Utf8(), true),
			field('b', new A.Binary(), true),
			field('ls', new A.LargeUtf8(), true),
			field('lb', new A.LargeBinary(), true),
			field('e', new A.Utf8(), true),
			field('eb', new A.Binary(), false),
			field('i32', new A.Int32(), true),
			field('f64', new A.Float64(), true),
			field('bo', new A.Bool(), true),
			field('bf', new A.Bool(), false),
			field('an', new A.Int64(), true),
			field('as', new A.Utf8(), true),
			field('li', new A.List(field('item', new A.Int32(), true)), true),
			field('lc', new A.List(field('item', new A.Int32(), true)), true),
			field('ln', new A.List(field('item', new A.Utf8(), true)), false),
			field('st', new A.Struct([field('x', new A.Int32(), true),
				field('y', new A.Utf8(), true)]), true)]) });
	}
	if (ver === '2.1') {
		const sizes = [3000, null, 0, 7000, 100];
		const rows = sizes.map((s, i) => ({ id: i,
			bl: s === null ? null : bytes(s, false) }));
		T.push({ name: 'blobv1', rows, legacyBlobs: ['bl'], schema: new Schema([
			field('id', new A.Int32(), false),
			field('bl', new A.LargeBinary(), true,
				{ 'lance-encoding:blob': 'true' })]) });
	}
	if (ver === '2.2') {
		const sizes = [500, 5000, null, 3000, 20000, 0, 800];
		const rows = sizes.map((s, i) => ({ id: i,
			b: s === null ? null : bytes(s, false) }));
		T.push({ name: 'blobv2', rows, blobs: ['b'], schema: new Schema([
			field('id', new A.Int32(), false),
			lancedb.blob('b', { inlineSizeThreshold: 1000,
				dedicatedSizeThreshold: 10000 })]) });
	}
	return T;
}

async function main() {
	for (const ver of ['2.1', '2.2']) {
		seed = 12345;
		const db = await lancedb.connect(path.join(WORK, ver));
		for (const t of tables(ver)) {
			if (ONLY.length && !ONLY.includes(t.name))
				continue;
			const tbl = await db.createTable(t.name, t.rows, { mode: 'overwrite',
				schema: t.schema,
				storageOptions: { new_table_data_storage_version: ver } });
			const dir = path.join(WORK, ver, t.name + '.lance');
			const man = readManifest(dir);
			if (man.files.length !== 1) throw new Error(t.name + ': ' + man.files.length + ' files');
			const df = man.files[0];
			const tag = ver.replace('.', '') + '_' + t.name;
			const dst = path.join(OUT, tag);
			fs.rmSync(dst, { recursive: true, force: true });
			fs.cpSync(path.join(dir, 'data'), path.join(dst, 'data'), { recursive: true });
			const tab = await tbl.query().withRowId().toArrow();
			const cols = {};
			const rowsel = sampleRows(tab.numRows);
			for (const f of t.schema.fields) {
				const vec = tab.getChild(f.name);
				const vals = [];
				let type = vec.type;
				if (t.blobs && t.blobs.includes(f.name)) {
					const ids = [];
					const rid = tab.getChild('_rowid');
					for (let i = 0; i < tab.numRows; i++) ids.push(rid.get(i));
					const bl = await tbl.fetchBlobs(f.name, ids);
					for (const b of bl) vals.push(b === null ? null : { n: b.length, h: fnv(b) });
					type = null;
				} else if (t.legacyBlobs && t.legacyBlobs.includes(f.name)) {
					// LanceDB returns {position, size} descriptors
					// and has no byte API for legacy blobs: take the
					// bytes we wrote, after checking the sizes.
					for (let i = 0; i < tab.numRows; i++) {
						const d = vec.get(i), src = t.rows[i][f.name];
						if ((d === null) !== (src === null) ||
						    (d && Number(d.size) !== src.length))
							throw new Error('blob v1 row ' + i);
						vals.push(src === null ? null : { n: src.length, h: fnv(src) });
					}
					type = null;
				} else {
					for (let i = 0; i < tab.numRows; i++)
						vals.push(toJson(vec.get(i), vec.type));
				}
				const sample = {};
				let size = 0;
				for (const r of rowsel) {
					size += JSON.stringify(vals[r]).length;
					if (size > 6000 && Object.keys(sample).length >= 3)
						break;
					sample[r] = vals[r];
				}
				cols[f.name] = { hash: colHash(vals, type), sample };
			}
			const out = { version: ver, rows: tab.numRows, schema: man.fields,
				data_file: { path: 'data/' + df.path, fields: df.fields,
					column_indices: df.column_indices,
					major: df.major, minor: df.minor, size: df.size },
				columns: cols };
			fs.writeFileSync(dst + '.json', JSON.stringify(out));
			console.log(tag, df.major + '.' + df.minor, df.size, 'bytes');
		}
	}
}
main().catch(e => { console.error(e); process.exit(1); });
