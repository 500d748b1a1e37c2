'use strict';
// The test oracle: LanceDB 0.39's view of one dataset (one version), with
// every live row's VIEW.md row number and every column value.
//
// Sources of truth, and what is independent of what:
// - schema: the manifest's Field list (lib/manifest.js, lib/schema.js);
//   LanceDB's own table.schema() cannot be used because arrow-js 18 throws
//   on LargeList.
// - values: a LanceDB query (withRowId, plus _rowaddr), decoded from the
//   Arrow buffers by lib/arrowread.js.  Columns arrow-js cannot decode
//   (large_list) are read through arrow_cast to the List form.
// - row numbers: stable-row-id datasets use _rowid; others use _rowaddr
//   (fragment id = addr >> 32, offset = addr & 0xffffffff) plus the sum of
//   physical_rows of the fragments before that fragment in the manifest.
// - blob v2 bytes: table.fetchBlobs().
// - blob v1 bytes: LanceDB 0.39's Node API refuses fetchBlobs on legacy blob
//   columns and its queries return only {position, size}; the bytes are read
//   from the fragment's data file at that position (table-format.md §6.1).
//   In 2.0 a null blob v1 value is the descriptor {position: 1, size: 0}.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { lancedb } = require('./lancedb');
const manifest = require('./manifest');
const { buildSchema, typeString, needsCast, castTypeText } = require('./schema');
const { readValue } = require('./arrowread');

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

function splitUri(uri) {
  let p = uri.replace(/^file:\/\//, '');
  p = p.replace(/\/+$/, '');
  if (!p.endsWith('.lance')) throw new Error(`${uri}: a dataset URI must end in .lance`);
  return { dir: path.resolve(p), db: path.dirname(path.resolve(p)), table: path.basename(p, '.lance') };
}

const quoteIdent = (n) => '`' + n.replace(/`/g, '``') + '`';

async function openTable(uri) {
  const { dir, db, table } = splitUri(uri);
  const conn = await lancedb.connect(db);
  return { dir, tbl: await conn.openTable(table) };
}

// opts: {version, tag, keepBytes}
async function buildOracle(uri, opts = {}) {
  const { dir, tbl } = await openTable(uri);
  try {
    return await oracleFor(dir, tbl, uri, opts);
  } finally {
    tbl.close();
  }
}

async function oracleFor(dir, tbl, uri, opts) {
  // Binary values: sha256, size and the first 16 bytes (enough to sniff the
  // extension); with opts.keepBytes also the bytes themselves.
  const fileEntry = (buf) => ({
    sha256: sha256(buf), size: buf.length, head: buf.subarray(0, 16).toString('hex'),
    ...(opts.keepBytes ? { bytes: buf } : {}),
  });
  const tagsApi = await tbl.tags();
  const tagList = await tagsApi.list();
  const tags = {};
  for (const name of Object.keys(tagList).sort()) tags[name] = tagList[name].version;
  const versions = (await tbl.listVersions()).map((v) => ({ version: v.version, timestamp: v.timestamp.toISOString() }));
  const latest = await tbl.version();

  let version = latest;
  if (opts.tag != null) {
    if (!(opts.tag in tags)) throw new Error(`${uri}: no tag ${opts.tag}`);
    version = tags[opts.tag];
  } else if (opts.version != null) version = Number(opts.version);
  if (version !== latest) await tbl.checkout(version);
  if ((await tbl.version()) !== version) throw new Error(`${uri}: checkout(${version}) did not take`);

  const man = manifest.readManifest(dir, version);
  const schema = buildSchema(man.fields);
  const stable = (man.reader_feature_flags & 2) !== 0;
  const bases = manifest.fragmentBases(man);
  const fragById = new Map(man.fragments.map((f) => [f.id, f]));

  // Query: every non-blob-v2 column (cast where arrow-js needs it), _rowaddr, _rowid.
  const sel = {};
  for (const f of schema) {
    if (f.blob === 'v2') continue;
    sel[f.name] = needsCast(f.type) ? `arrow_cast(${quoteIdent(f.name)}, '${castTypeText(f.type)}')` : quoteIdent(f.name);
  }
  sel._rowaddr = '_rowaddr';
  const table = await tbl.query().select(sel).withRowId().toArrow();
  const expected = await tbl.countRows();
  if (table.numRows !== expected) throw new Error(`${uri}: query returned ${table.numRows} rows, countRows() says ${expected}`);

  const rows = [];
  const blobV1 = [];
  for (const batch of table.batches) {
    const col = (name) => batch.data.children[batch.schema.fields.findIndex((x) => x.name === name)];
    const addrD = col('_rowaddr'); const idD = col('_rowid');
    for (let i = 0; i < batch.numRows; i++) {
      const addr = readValue(addrD, i); const rowid = readValue(idD, i);
      const fragId = Number(addr >> 32n); const offset = Number(addr & 0xffffffffn);
      if (!fragById.has(fragId)) throw new Error(`${uri}: row address ${addr} names fragment ${fragId}, not in manifest v${version}`);
      if (!stable && rowid !== addr) throw new Error(`${uri}: _rowid ${rowid} != _rowaddr ${addr} without stable row ids`);
      const row = stable ? Number(rowid) : bases.get(fragId) + offset;
      const values = {};
      for (const f of schema) {
        if (f.blob === 'v2') continue;
        const d = col(f.name);
        if (f.blob === 'v1') {
          const desc = readValue(d, i);
          values[f.name] = null;
          if (desc && !(desc.get('position') === 1n && desc.get('size') === 0n)) {
            blobV1.push({ values, name: f.name, fieldId: f.id, fragId, position: desc.get('position'), size: desc.get('size') });
          }
        } else if (f.kind === 'file') {
          const b = readValue(d, i, 'buffer');
          values[f.name] = b === null ? null : fileEntry(b);
        } else {
          values[f.name] = readValue(d, i, 'hex');
        }
      }
      rows.push({ row, rowid, rowaddr: addr, fragment: fragId, offset, values });
    }
  }

  // blob v1: bytes from the data file holding the field.
  for (const b of blobV1) {
    const frag = fragById.get(b.fragId);
    const df = frag.files.find((x) => x.fields.includes(b.fieldId));
    if (!df) throw new Error(`${uri}: fragment ${b.fragId} has no data file for field ${b.name}`);
    const fd = fs.openSync(path.join(dir, 'data', df.path), 'r');
    try {
      const buf = Buffer.alloc(Number(b.size));
      const n = fs.readSync(fd, buf, 0, buf.length, Number(b.position));
      if (n !== buf.length) throw new Error(`${uri}: short read of blob v1 ${b.name} in ${df.path}`);
      b.values[b.name] = fileEntry(buf);
    } finally { fs.closeSync(fd); }
  }

  // blob v2: fetchBlobs by _rowid, in chunks.
  for (const f of schema.filter((x) => x.blob === 'v2')) {
    const CHUNK = 64;
    for (let k = 0; k < rows.length; k += CHUNK) {
      const part = rows.slice(k, k + CHUNK);
      const got = await tbl.fetchBlobs(f.name, part.map((r) => r.rowid));
      if (got.length !== part.length) throw new Error(`${uri}: fetchBlobs returned ${got.length} values for ${part.length} ids`);
      part.forEach((r, j) => { r.values[f.name] = got[j] === null ? null : fileEntry(got[j]); });
    }
  }

  rows.sort((a, b) => a.row - b.row);
  for (let k = 1; k < rows.length; k++) {
    if (rows[k].row === rows[k - 1].row) throw new Error(`${uri}: two rows numbered ${rows[k].row}`);
  }

  return {
    uri,
    version,
    latest_version: latest,
    storage_version: man.data_format.version,
    manifest_naming: man.scheme,
    stable_row_ids: stable,
    feature_flags: { reader: man.reader_feature_flags, writer: man.writer_feature_flags },
    schema: schema.map((f) => ({
      name: f.name, arrow_type: typeString(f.type), lance_type: f.logical_type, nullable: f.nullable,
      kind: f.kind, blob: f.blob, type: f.type,
    })),
    versions,
    tags,
    fragments: man.fragments.map((f) => ({
      id: f.id, physical_rows: f.physical_rows, base: bases.get(f.id),
      files: f.files.length, deletion_file: f.deletion_file ? f.deletion_file.path : null,
    })),
    rows: rows.map((r) => ({ row: r.row, name: String(r.row).padStart(8, '0'), rowid: r.rowid, rowaddr: r.rowaddr, values: r.values })),
  };
}

module.exports = { buildOracle, splitUri, sha256 };
