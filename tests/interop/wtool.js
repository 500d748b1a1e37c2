#!/usr/bin/env node
'use strict';
// wtool.js: LanceDB's side of the write tests (tests/integration/test_write.py).
//
//   node wtool.js make URI --version legacy|2.0|2.1|2.2 --rows N [--prefix P] [--start K] [--required COL] [--json] [--overwrite] [--stable]
//       LanceDB creates the dataset URI (DB_DIR/TABLE.lance) with columns
//       name utf8, image binary (a real baseline JPEG), caption utf8
//       (every fifth row null), label int64 and score float64.  --required
//       makes that column non-nullable.  --json adds a nullable JSON column
//       doc (a utf8 field with ARROW:extension:name=arrow.json, which
//       LanceDB stores as lance.json, JSONB): row K holds JSON_DOCS[K % 15]
//       (objects, arrays, unicode, escapes, big and negative integers,
//       floats, booleans, top-level scalars, JSON null and a null value).
//       --overwrite replaces a dataset already there (a new version).
//       --blob v1 makes image a blob v1 column (large_binary with
//       lance-encoding:blob=true; 2.0, 2.1), --blob v2 a blob v2 column
//       (LanceDB's blob(); 2.2).
//       --stable turns on stable row ids (new_table_enable_stable_row_ids).
//       Prints {"version", "rows"}.
//   node wtool.js append URI --rows N [--prefix P] [--start K]
//       LanceDB appends rows made the same way (with doc if the dataset has
//       it).  Prints {"version", "rows"}.
//   node wtool.js json URI
//       LanceDB's reading of the JSON column doc: {"field": {logical_type,
//       extension_name, metadata} from the manifest, "rows": [{name, doc:
//       the JSON text its query gives or null, jsonb: the stored bytes as
//       hex or null}]}.
//   node wtool.js jsonb URI --texts JSON_ARRAY
//       LanceDB creates a scratch dataset URI whose doc column holds the
//       given JSON texts and prints the JSONB it stored for each, as hex:
//       what lance's own encoder makes of them.
//   node wtool.js addcol URI --name COL --sql EXPR
//       LanceDB adds column COL, its values computed by the SQL
//       expression (add_columns: a Merge rewriting every fragment).
//       Prints {"version", "rows"}.
//   node wtool.js delete URI --where SQL
//       LanceDB deletes the rows matching the SQL filter.  Prints
//       {"version", "rows"}.
//   node wtool.js rename URI --name COL --to NEW
//       LanceDB renames column COL to NEW.  Prints {"version", "rows"}.
//   node wtool.js dropcol URI --name COL
//       LanceDB drops column COL.  Prints {"version", "rows"}.
//   node wtool.js compact URI
//       LanceDB compacts the table's fragments (optimize).  Prints
//       {"version", "rows"}.
//   node wtool.js restore URI --version N
//       LanceDB restores version N as the newest.  Prints
//       {"version", "rows"}.
//   node wtool.js versions URI
//       Opens every version with checkout() and counts its rows; also the
//       file versions (major.minor) of the latest version's data files.
//       Prints {"latest", "versions": [{"version", "rows"}], "file_versions"}.
//   node wtool.js nestedblob URI --version 2.0|2.1|2.2
//       LanceDB creates the dataset URI with columns name utf8 and s, a
//       struct of data (a blob: v1 in 2.0 and 2.1, v2 in 2.2) and n
//       int32; rows nb_0 .. nb_4 hold 3 bytes, 100 KB, a null blob, an
//       empty one and a null struct (in 2.0 a struct of nulls).  Prints {"version", "rows"}.
//   node wtool.js structreq URI --version 2.0|2.1|2.2
//       LanceDB creates the dataset URI with columns name utf8 and info,
//       a nullable struct<id int64 NOT NULL, tag utf8>: row sr_0 holds
//       {id 1, tag "a"}, and but in 2.0 row sr_1 a null struct (its id
//       null under it).  Prints {"version", "rows"}.
//   node wtool.js blobs URI
//       LanceDB's reading of such a dataset: [{name, n, data: sha256 of
//       the blob's bytes or null}], the bytes of v1 blobs read from the
//       data file at the position LanceDB gives (its Node API has no
//       fetchBlobs for them), of v2 ones by fetchBlobs("s.data").
//   node wtool.js dictlist URI --version 2.0|2.1|2.2
//       LanceDB creates the dataset URI with columns name utf8 and tags,
//       a list<dictionary<int8, utf8>>; rows dl_0 .. dl_2 hold [red,
//       green], [blue] and null. Prints {"version", "rows"}.
//   node wtool.js rowids URI
//       LanceDB's row ids and row versions: {NAME: {rowid, created,
//       updated}} (_rowid, _row_created_at_version,
//       _row_last_updated_at_version).
//   node wtool.js index URI --name COL
//       LanceDB builds a scalar (BTree) index on column COL.  Prints
//       {"version", "rows"}.
//   node wtool.js where URI --where SQL
//       The names of the rows LanceDB's query with that filter returns
//       (through an index where one covers the column), sorted.
//   node wtool.js row URI K [--prefix P]
//       Prints the row `make` would write for index K (name, image sha256,
//       caption, label, score), so the test knows LanceDB's values.
//
// Rows are deterministic: row K is named P_KKK (P defaults to "row").
const path = require('path');
const crypto = require('crypto');
const { lancedb } = require('./lib/lancedb');
const A = require('./lib/arrowdata');
const manifest = require('./lib/manifest');
const media = require('./lib/media');
const { splitUri } = require('./lib/oracle');

const { arrow, I } = A;
const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

function usage(msg) {
  if (msg) console.error(`wtool.js: ${msg}`);
  console.error('usage: node wtool.js make URI --version V --rows N [--prefix P] [--start K] [--required COL] [--json] [--overwrite] [--stable]\n' +
    '       node wtool.js append URI --rows N [--prefix P] [--start K]\n' +
    '       node wtool.js json URI\n' +
    '       node wtool.js jsonb URI --texts JSON_ARRAY\n' +
    '       node wtool.js addcol URI --name COL --sql EXPR\n' +
    '       node wtool.js delete URI --where SQL\n' +
    '       node wtool.js rename URI --name COL --to NEW\n' +
    '       node wtool.js dropcol URI --name COL\n' +
    '       node wtool.js compact URI\n' +
    '       node wtool.js restore URI --version N\n' +
    '       node wtool.js versions URI\n' +
    '       node wtool.js rowids URI\n' +
    '       node wtool.js index URI --name COL\n' +
    '       node wtool.js where URI --where SQL\n' +
    '       node wtool.js row URI K [--prefix P]');
  process.exit(1);
}

function parseArgs(argv) {
  const o = { pos: [], prefix: 'row', start: 0, rows: null, version: null, required: [], where: null, json: false, texts: null, overwrite: false, name: null, sql: null, blob: null, stable: false, to: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--version') o.version = next();
    else if (a === '--rows') o.rows = Number(next());
    else if (a === '--prefix') o.prefix = next();
    else if (a === '--start') o.start = Number(next());
    else if (a === '--required') o.required.push(next());
    else if (a === '--where') o.where = next();
    else if (a === '--json') o.json = true;
    else if (a === '--overwrite') o.overwrite = true;
    else if (a === '--stable') o.stable = true;
    else if (a === '--blob') o.blob = next();
    else if (a === '--name') o.name = next();
    else if (a === '--sql') o.sql = next();
    else if (a === '--to') o.to = next();
    else if (a === '--texts') o.texts = next();
    else if (a.startsWith('--')) usage(`unknown option ${a}`);
    else o.pos.push(a);
  }
  return o;
}

// JSON column values (JSON text as LanceDB is given it; null = a null
// value).  Rows may edit docs 0-12 through meta.json; 13 holds an integer
// past int64, which jansson (and so a meta.json write) cannot read.
const JSON_DOCS = [
  '{"name": "caf\u00e9 \u2713", "tags": ["a", "b"], "n": {"big": 9007199254740993, "neg": -5, "f": 0.1, "e": 1e300}}',
  '[1, -5, 9007199254740993, -9223372036854775808, 0.1, 1e300, -0.0, 2.5, 1.0, 5e-324, 123456.789, 1e-7]',
  '{"deep": {"a": [[[]], {}], "b": {"c": {"d": [null, true, false]}}}}',
  '"a top-level string: \\"quoted\\", \\\\ back, \\n newline, \\t tab, \\u0001 ctl, \\/ slash"',
  '42',
  '-5',
  '1e300',
  '0.1',
  'true',
  'false',
  null,
  'null',
  '{"z": 1, "a": 2, "\u00e9": 3, "Z": 4, "": 5, "aa": [], "b": {}}',
  '[18446744073709551615, 9223372036854775807, -9223372036854775808, 0]',
  '"\ud834\udd1e \ud83d\ude00 \u65e5\u672c"',
];

const jsonField = (name) => new arrow.Field(name, new arrow.Utf8(), true,
  new Map([['ARROW:extension:name', 'arrow.json']]));

// The values of row k.
function rowValues(prefix, k) {
  const image = media.jpeg(16 + 8 * (k % 7), 8 + 8 * (k % 5), k * 13 + prefix.length);
  return {
    name: `${prefix}_${String(k).padStart(3, '0')}`,
    image,
    caption: k % 5 === 4 ? null : `${prefix} caption ${k} ✓`,
    label: k * 10,
    score: k + 0.25,
    doc: JSON_DOCS[k % JSON_DOCS.length],
  };
}

function makeTable(prefix, start, n, required, json, blob) {
  const rows = [];
  for (let k = start; k < start + n; k++) rows.push(rowValues(prefix, k));
  const nullable = (c) => !required.includes(c);
  const fields = [
    new arrow.Field('name', new arrow.Utf8(), nullable('name')),
    blob === 'v2' ? lancedb.blob('image')
      : blob === 'v1' ? new arrow.Field('image', new arrow.LargeBinary(), nullable('image'),
        new Map([['lance-encoding:blob', 'true']]))
      : new arrow.Field('image', new arrow.Binary(), nullable('image')),
    new arrow.Field('caption', new arrow.Utf8(), nullable('caption')),
    new arrow.Field('label', new arrow.Int64(), nullable('label')),
    new arrow.Field('score', new arrow.Float64(), nullable('score')),
  ];
  for (const c of required) {
    if (!fields.some((f) => f.name === c)) usage(`--required ${c}: no such column`);
  }
  // a non-nullable column gets no validity bitmap at all
  const caption = rows.map((r) => r.caption);
  if (!nullable('caption')) caption.forEach((v, i) => { if (v === null) caption[i] = ''; });
  const datas = [
    I.utf8(rows.map((r) => r.name)),
    blob === 'v2' ? A.struct(fields[1].type, rows.length, [I.largeBinary(rows.map((r) => r.image)), I.utf8(rows.map(() => null))], rows.map(() => true))
      : blob === 'v1' ? I.largeBinary(rows.map((r) => r.image))
      : I.binary(rows.map((r) => r.image)),
    I.utf8(caption),
    I.int64(rows.map((r) => r.label)),
    I.float64(rows.map((r) => r.score)),
  ];
  if (json) {
    fields.push(jsonField('doc'));
    datas.push(I.utf8(rows.map((r) => r.doc)));
  }
  return A.batchTable(fields, datas);
}

async function open(uri) {
  const { db, table } = splitUri(uri);
  return { conn: await lancedb.connect(db), table };
}

// fn(t) on the table at URI, opened with LanceDB and closed after.
async function withTable(uri, fn) {
  const { conn, table } = await open(uri);
  const t = await conn.openTable(table);
  try {
    return await fn(t);
  } finally {
    t.close();
  }
}

// What the commands that write print: {"version", "rows"}.
async function stateOf(t) {
  return { version: await t.version(), rows: await t.countRows() };
}

// LanceDB creates table `table` at URI in file version `version`
// (`more`: further storage options; `mode`: 'overwrite' replaces one
// there): {"version", "rows"}
async function createIn(uri, table, version, more = {}, mode = 'create') {
  const { conn, table: name } = await open(uri);
  const t = await conn.createTable(name, table,
    { mode, storageOptions: { new_table_data_storage_version: version, ...more } });
  try {
    return await stateOf(t);
  } finally {
    t.close();
  }
}

async function cmdMake(o) {
  const [uri] = o.pos;
  if (!['legacy', '2.0', '2.1', '2.2'].includes(o.version)) usage('--version takes legacy, 2.0, 2.1 or 2.2');
  if (!(o.rows > 0)) usage('--rows takes a positive number');
  if (o.blob && !['v1', 'v2'].includes(o.blob)) usage('--blob takes v1 or v2');
  return createIn(uri, makeTable(o.prefix, o.start, o.rows, o.required, o.json, o.blob), o.version,
    o.stable ? { new_table_enable_stable_row_ids: 'true' } : {}, o.overwrite ? 'overwrite' : 'create');
}

async function cmdAppend(o) {
  const [uri] = o.pos;
  if (!(o.rows > 0)) usage('--rows takes a positive number');
  return withTable(uri, async (t) => {
    // keep the dataset's own nullability (a non-nullable column stays so)
    const schema = await t.schema();
    const required = schema.fields.filter((f) => !f.nullable).map((f) => f.name);
    const json = schema.fields.some((f) => f.name === 'doc');
    await t.add(makeTable(o.prefix, o.start, o.rows, required, json));
    return await stateOf(t);
  });
}

// A command that changes the table with `change(t)` and prints the
// state after: {"version", "rows"}.
function changeTable(o, change) {
  return withTable(o.pos[0], async (t) => {
    await change(t);
    return await stateOf(t);
  });
}

function cmdAddcol(o) {
  if (!o.name || !o.sql) usage('addcol needs --name and --sql');
  return changeTable(o, (t) => t.addColumns([{ name: o.name, valueSql: o.sql }]));
}

function cmdRename(o) {
  if (!o.name || !o.to) usage('rename needs --name and --to');
  return changeTable(o, (t) => t.alterColumns([{ path: o.name, rename: o.to }]));
}

function cmdDropcol(o) {
  if (!o.name) usage('dropcol needs --name');
  return changeTable(o, (t) => t.dropColumns([o.name]));
}

function cmdCompact(o) {
  return changeTable(o, (t) => t.optimize());
}

function cmdDelete(o) {
  if (!o.where) usage('delete needs --where');
  return changeTable(o, (t) => t.delete(o.where));
}

function cmdRestore(o) {
  if (!o.version) usage('restore needs --version');
  return changeTable(o, async (t) => {
    await t.checkout(Number(o.version));
    await t.restore();
  });
}

async function cmdVersions(o) {
  const [uri] = o.pos;
  return withTable(uri, async (t) => {
    const latest = await t.version();
    const out = [];
    for (const v of await t.listVersions()) {
      await t.checkout(v.version);
      if ((await t.version()) !== v.version) throw new Error(`checkout(${v.version}) did not take`);
      out.push({ version: v.version, rows: await t.countRows() });
    }
    await t.checkoutLatest();
    const man = manifest.readManifest(splitUri(uri).dir, latest);
    const fileVersions = new Set();
    for (const f of man.fragments) for (const d of f.files) fileVersions.add(`${d.major}.${d.minor}`);
    return { latest, versions: out, file_versions: [...fileVersions].sort(), data_format: man.data_format.version };
  });
}

async function cmdJson(o) {
  const [uri] = o.pos;
  return withTable(uri, async (t) => {
    const man = manifest.readManifest(splitUri(uri).dir, await t.version());
    const f = man.fields.find((x) => x.name === 'doc');
    if (!f) throw new Error(`${uri} has no column doc`);
    const meta = {};
    for (const [k, v] of Object.entries(f.metadata)) meta[k] = Buffer.from(v).toString();
    // the query turns lance.json back into JSON text; encode() sees the
    // stored bytes before that
    const rows = await t.query().select({ name: 'name', doc: 'doc', jsonb: "encode(doc, 'hex')" }).toArray();
    return {
      field: { logical_type: f.logical_type, extension_name: f.extension_name, metadata: meta },
      rows: rows.map((r) => ({ name: r.name, doc: r.doc ?? null, jsonb: r.jsonb ?? null })),
    };
  });
}

async function cmdJsonb(o) {
  const [uri] = o.pos;
  let texts;
  try {
    texts = JSON.parse(o.texts);
  } catch (e) {
    usage('--texts takes a JSON array of JSON texts');
  }
  if (!Array.isArray(texts) || !texts.every((x) => typeof x === 'string')) usage('--texts takes a JSON array of strings');
  const { conn, table } = await open(uri);
  const t = await conn.createTable(table, A.batchTable([jsonField('doc')], [I.utf8(texts)]));
  try {
    const rows = await t.query().select({ jsonb: "encode(doc, 'hex')" }).toArray();
    return rows.map((r) => r.jsonb);
  } finally {
    t.close();
  }
}

async function cmdNestedBlob(o) {
  const [uri] = o.pos;
  if (!['2.0', '2.1', '2.2'].includes(o.version)) usage('--version takes 2.0, 2.1 or 2.2');
  const v2 = o.version === '2.2';
  const data = v2 ? lancedb.blob('data')
    : new arrow.Field('data', new arrow.LargeBinary(), true, new Map([['lance-encoding:blob', 'true']]));
  const st = new arrow.Struct([data, new arrow.Field('n', new arrow.Int32(), true)]);
  const vals = [Buffer.from([1, 2, 3]), crypto.randomBytes(100 * 1024), null, Buffer.alloc(0), null];
  // 2.0 stores no null structs: there the last row's fields are null
  const valid = [true, true, true, true, o.version === '2.0'];
  const bytes = I.largeBinary(vals);
  const dataD = v2 ? A.struct(data.type, vals.length, [bytes, I.utf8(vals.map(() => null))], vals.map((x) => x !== null)) : bytes;
  const table = A.batchTable([new arrow.Field('name', new arrow.Utf8(), true), new arrow.Field('s', st, true)],
    [I.utf8(vals.map((_, k) => `nb_${k}`)), A.struct(st, vals.length, [dataD, I.int32([1, 2, 3, 4, null])], valid)]);
  return createIn(uri, table, o.version);
}

// name and info: a nullable struct<id int64 NOT NULL, tag utf8>; rows
// sr_0 {id 1, tag "a"} and, but in 2.0 (which keeps no null structs),
// sr_1 a null struct (its id null under it, as Arrow allows)
async function cmdStructReq(o) {
  const [uri] = o.pos;
  if (!['2.0', '2.1', '2.2'].includes(o.version)) usage('--version takes 2.0, 2.1 or 2.2');
  const st = new arrow.Struct([new arrow.Field('id', new arrow.Int64(), false),
    new arrow.Field('tag', new arrow.Utf8(), true)]);
  const n = o.version === '2.0' ? 1 : 2;
  const idData = arrow.makeData({ type: new arrow.Int64(), length: n, nullCount: n - 1,
    data: BigInt64Array.from([1n, 0n].slice(0, n)),
    nullBitmap: n > 1 ? Uint8Array.from([1]) : undefined });
  const table = A.batchTable([new arrow.Field('name', new arrow.Utf8(), true), new arrow.Field('info', st, true)],
    [I.utf8(['sr_0', 'sr_1'].slice(0, n)), A.struct(st, n, [idData, I.utf8(['a', null].slice(0, n))], [true, false].slice(0, n))]);
  return createIn(uri, table, o.version);
}

// name and tags: list<dictionary<int8, utf8>>, three rows
async function cmdDictList(o) {
  const [uri] = o.pos;
  if (!['2.0', '2.1', '2.2'].includes(o.version)) usage('--version takes 2.0, 2.1 or 2.2');
  const dictT = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int8());
  const item = new arrow.Field('item', dictT, true);
  const tags = [['red', 'green'], ['blue'], null];
  const words = ['red', 'green', 'blue'];
  const col = A.list(new arrow.List(item), tags, (flat) => A.dictionary(dictT,
    Int8Array.from(flat, (x) => words.indexOf(x)), flat.map(() => true), I.utf8(words)));
  const table = A.batchTable([new arrow.Field('name', new arrow.Utf8(), true), new arrow.Field('tags', new arrow.List(item), true)],
    [I.utf8(tags.map((_, k) => `dl_${k}`)), col]);
  return createIn(uri, table, o.version);
}

async function cmdBlobs(o) {
  const [uri] = o.pos;
  return withTable(uri, async (t) => {
    const dir = splitUri(uri).dir;
    const man = manifest.readManifest(dir, await t.version());
    const field = man.fields.find((f) => f.name === 'data' && f.parent_id !== -1);
    const tb = await t.query().select({ name: 'name', s: 's', _rowaddr: '_rowaddr' }).withRowId().toArrow();
    const out = [];
    for (let i = 0; i < tb.numRows; i++) {
      const s = tb.getChild('s').get(i);
      const d = s ? s.data : null;
      const addr = tb.getChild('_rowaddr').get(i);
      out.push({ name: tb.getChild('name').get(i), n: s ? s.n : null, d, frag: Number(addr >> 32n), rowid: tb.getChild('_rowid').get(i) });
    }
    if (field.metadata['lance-encoding:blob'] !== undefined && !field.extension_name && !('ARROW:extension:name' in field.metadata)) {
      for (const r of out) {
        // a null is no descriptor (2.1) or (1, 0) (2.0)
        if (!r.d || (r.d.position === 1n && r.d.size === 0n)) { r.data = null; continue; }
        const frag = man.fragments.find((f) => f.id === r.frag);
        const df = frag.files.find((x) => x.fields.includes(field.id));
        const buf = Buffer.alloc(Number(r.d.size));
        const fd = require('fs').openSync(path.join(dir, 'data', df.path), 'r');
        try {
          if (require('fs').readSync(fd, buf, 0, buf.length, Number(r.d.position)) !== buf.length) throw new Error(`short read in ${df.path}`);
        } finally { require('fs').closeSync(fd); }
        r.data = sha256(buf);
      }
    } else {
      const got = await t.fetchBlobs('s.data', out.map((r) => r.rowid));
      out.forEach((r, k) => { r.data = got[k] == null ? null : sha256(Buffer.from(got[k])); });
    }
    return out.map((r) => ({ name: r.name, n: r.n, data: r.data }));
  });
}

function cmdRow(o) {
  const [, k] = o.pos;
  if (!/^\d+$/.test(k || '')) usage('row takes an index');
  const r = rowValues(o.prefix, Number(k));
  return { ...r, image: sha256(r.image), image_size: r.image.length };
}

async function cmdIndex(o) {
  const [uri] = o.pos;
  if (!o.name) usage('index needs --name');
  return withTable(uri, async (t) => {
    await t.createIndex(o.name);
    return await stateOf(t);
  });
}

async function cmdWhere(o) {
  const [uri] = o.pos;
  if (!o.where) usage('where needs --where');
  return withTable(uri, async (t) => {
    const tb = await t.query().where(o.where).select(['name']).toArrow();
    const names = [];
    for (let i = 0; i < tb.numRows; i++) names.push(tb.getChild('name').get(i));
    return names.sort();
  });
}

async function cmdRowids(o) {
  const [uri] = o.pos;
  return withTable(uri, async (t) => {
    const tb = await t.query().select(['name', '_row_created_at_version', '_row_last_updated_at_version'])
      .withRowId().toArrow();
    const out = {};
    for (let i = 0; i < tb.numRows; i++) {
      out[tb.getChild('name').get(i)] = { rowid: Number(tb.getChild('_rowid').get(i)),
        created: Number(tb.getChild('_row_created_at_version').get(i)),
        updated: Number(tb.getChild('_row_last_updated_at_version').get(i)) };
    }
    return out;
  });
}

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const o = parseArgs(rest);
  if (!o.pos.length) usage('no dataset given');
  let res;
  if (cmd === 'make') res = await cmdMake(o);
  else if (cmd === 'append') res = await cmdAppend(o);
  else if (cmd === 'addcol') res = await cmdAddcol(o);
  else if (cmd === 'delete') res = await cmdDelete(o);
  else if (cmd === 'restore') res = await cmdRestore(o);
  else if (cmd === 'rename') res = await cmdRename(o);
  else if (cmd === 'dropcol') res = await cmdDropcol(o);
  else if (cmd === 'compact') res = await cmdCompact(o);
  else if (cmd === 'versions') res = await cmdVersions(o);
  else if (cmd === 'rowids') res = await cmdRowids(o);
  else if (cmd === 'index') res = await cmdIndex(o);
  else if (cmd === 'where') res = await cmdWhere(o);
  else if (cmd === 'json') res = await cmdJson(o);
  else if (cmd === 'jsonb') res = await cmdJsonb(o);
  else if (cmd === 'row') res = cmdRow(o);
  else if (cmd === 'nestedblob') res = await cmdNestedBlob(o);
  else if (cmd === 'blobs') res = await cmdBlobs(o);
  else if (cmd === 'dictlist') res = await cmdDictList(o);
  else if (cmd === 'structreq') res = await cmdStructReq(o);
  else usage(cmd ? `unknown command ${cmd}` : 'no command');
  process.stdout.write(JSON.stringify(res) + '\n');
}

if (require.main === module) {
  main().catch((e) => { console.error(`wtool.js: ${e.message}`); process.exit(2); });
}
module.exports = { rowValues };
