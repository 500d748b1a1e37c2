'use strict';
// Minimal, independent reader for Lance manifests (_versions/*.manifest):
// a protobuf wire-format walker plus the few Manifest fields the oracle
// needs.  Written from the format fact sheet, not from Lance code, so the
// oracle does not depend on lancefs for row numbering.
//
// File layout: [...blobs...][u32 len][Manifest][i64 P][u16 0][u16 2]["LANC"];
// P is the offset of the Manifest's u32 length prefix.
const fs = require('fs');
const path = require('path');

const U64_MAX = (1n << 64n) - 1n;

// Decode one protobuf message into {fieldNumber: [values]}.  Varints and
// fixed64 come back as BigInt, length-delimited fields as Buffer
// (sub-messages, strings, bytes and packed repeated scalars alike).
function decode(buf) {
  const out = new Map();
  let pos = 0;
  const varint = () => {
    let v = 0n; let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('protobuf: truncated varint');
      const b = buf[pos++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
      shift += 7n;
      if (shift > 63n) throw new Error('protobuf: varint too long');
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wt = Number(key & 7n);
    let val;
    if (wt === 0) val = varint();
    else if (wt === 1) { val = buf.readBigUInt64LE(pos); pos += 8; }
    else if (wt === 2) {
      const len = Number(varint());
      if (pos + len > buf.length) throw new Error('protobuf: truncated field ' + field);
      val = buf.subarray(pos, pos + len); pos += len;
    } else if (wt === 5) { val = BigInt(buf.readUInt32LE(pos)); pos += 4; }
    else throw new Error(`protobuf: unsupported wire type ${wt} (field ${field})`);
    if (!out.has(field)) out.set(field, []);
    out.get(field).push(val);
  }
  return out;
}

const one = (m, f, dflt) => (m.has(f) ? m.get(f)[m.get(f).length - 1] : dflt);
const str = (m, f) => (m.has(f) ? one(m, f).toString('utf8') : '');
const int32 = (v) => Number(BigInt.asIntN(32, v));

// Repeated varint field, packed (one length-delimited Buffer) or not.
function repeatedInts(m, f) {
  const out = [];
  for (const v of m.get(f) || []) {
    if (typeof v === 'bigint') { out.push(int32(v)); continue; }
    let pos = 0;
    while (pos < v.length) {
      let x = 0n; let shift = 0n; let b;
      do { b = v[pos++]; x |= BigInt(b & 0x7f) << shift; shift += 7n; } while (b & 0x80);
      out.push(int32(x));
    }
  }
  return out;
}

// Manifest file names: V2 = 20 digits holding u64::MAX - v; V1 = "v.manifest".
function parseManifestName(name) {
  const m = /^(\d+)\.manifest$/.exec(name);
  if (!m) return null;
  if (name.length === 29) return { version: U64_MAX - BigInt(m[1]), scheme: 'v2' };
  return { version: BigInt(m[1]), scheme: 'v1' };
}

function listManifests(datasetDir) {
  const dir = path.join(datasetDir, '_versions');
  const res = [];
  for (const name of fs.readdirSync(dir)) {
    const p = parseManifestName(name);
    if (p) res.push({ ...p, version: Number(p.version), file: path.join(dir, name) });
  }
  return res.sort((a, b) => a.version - b.version);
}

function readManifestFile(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 20 || buf.toString('latin1', buf.length - 4) !== 'LANC') {
    throw new Error(`${file}: no LANC footer`);
  }
  const p = Number(buf.readBigInt64LE(buf.length - 16));
  const len = buf.readUInt32LE(p);
  if (p + 4 + len !== buf.length - 16) throw new Error(`${file}: manifest length does not match`);
  return decodeManifest(buf.subarray(p + 4, p + 4 + len));
}

function decodeManifest(body) {
  const m = decode(body);
  const fields = (m.get(1) || []).map((fb) => {
    const f = decode(fb);
    const metadata = {};
    for (const e of f.get(10) || []) {
      const kv = decode(e);
      metadata[str(kv, 1)] = str(kv, 2);
    }
    return {
      name: str(f, 2), id: int32(one(f, 3, 0n)), parent_id: int32(one(f, 4, 0n)),
      logical_type: str(f, 5), nullable: one(f, 6, 0n) !== 0n,
      extension_name: str(f, 9), metadata,
    };
  });
  const fragments = (m.get(2) || []).map((fb) => {
    const f = decode(fb);
    const frag = {
      id: Number(one(f, 1, 0n)),
      physical_rows: Number(one(f, 4, 0n)),
      files: (f.get(2) || []).map((db) => {
        const d = decode(db);
        return {
          path: str(d, 1), fields: repeatedInts(d, 2), column_indices: repeatedInts(d, 3),
          major: Number(one(d, 4, 0n)), minor: Number(one(d, 5, 0n)),
        };
      }),
      deletion_file: null,
      has_inline_row_ids: f.has(5),
    };
    if (f.has(3)) {
      const d = decode(one(f, 3));
      const type = Number(one(d, 1, 0n)) === 1 ? 'bin' : 'arrow';
      frag.deletion_file = {
        type, read_version: Number(one(d, 2, 0n)), id: one(d, 3, 0n).toString(),
        num_deleted_rows: Number(one(d, 4, 0n)),
      };
      frag.deletion_file.path = `_deletions/${frag.id}-${frag.deletion_file.read_version}-${frag.deletion_file.id}.${type}`;
    }
    return frag;
  });
  const df = m.has(15) ? decode(one(m, 15)) : new Map();
  const ts = m.has(7) ? decode(one(m, 7)) : new Map();
  return {
    version: Number(one(m, 3, 0n)),
    fields,
    fragments,
    reader_feature_flags: Number(one(m, 9, 0n)),
    writer_feature_flags: Number(one(m, 10, 0n)),
    next_row_id: one(m, 14, 0n).toString(),
    data_format: { file_format: str(df, 1), version: str(df, 2) },
    timestamp: { seconds: one(ts, 1, 0n).toString(), nanos: Number(one(ts, 2, 0n)) },
  };
}

function readManifest(datasetDir, version) {
  const all = listManifests(datasetDir);
  if (!all.length) throw new Error(`${datasetDir}: no manifests in _versions/`);
  const pick = version == null ? all[all.length - 1] : all.find((e) => e.version === Number(version));
  if (!pick) throw new Error(`${datasetDir}: no manifest for version ${version}`);
  return { ...readManifestFile(pick.file), file: pick.file, scheme: pick.scheme };
}

// Physical position base of every fragment: sum of physical_rows of the
// fragments before it in manifest order (VIEW.md row numbering).
function fragmentBases(manifest) {
  const bases = new Map();
  let acc = 0;
  for (const f of manifest.fragments) {
    bases.set(f.id, acc);
    acc += f.physical_rows;
  }
  return bases;
}

module.exports = { decode, parseManifestName, listManifests, readManifestFile, readManifest, fragmentBases, U64_MAX };
