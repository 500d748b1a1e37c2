#!/usr/bin/env node
'use strict';
// A stand-in for the lancefs CLI (`ls [-l] SOURCE [PATH]`, `cat SOURCE PATH`)
// built on the oracle, used only to test check.js itself (selftest.js): with
// no bug switched on, check.js must pass against it; with
// FAKE_LANCEFS_BUG=<name> it misbehaves in one specific way and check.js
// must say so.  It is also a runnable example of the view README.md
// describes.  Oracles are cached (v8 serialization) under
// FAKE_LANCEFS_CACHE, default $TMPDIR/lancefs-fake-cache.
const fs = require('fs');
const os = require('os');
const path = require('path');
const v8 = require('v8');
const crypto = require('crypto');
const { expectedValue } = require('../lib/render');
const { stringify, JNum } = require('../lib/json');
const { sniffExt } = require('../lib/sniff');

const BUG = process.env.FAKE_LANCEFS_BUG || '';
const BUGS = ['float-long', 'nan-string', 'int-as-double', 'ts-no-z', 'ext-bin', 'size-off', 'truncate', 'hidden',
  'no-newline', 'key-order', 'deleted-row', 'version-off'];
if (BUG && !BUGS.includes(BUG)) die(`unknown FAKE_LANCEFS_BUG ${BUG}; one of ${BUGS.join(', ')}`, 1);

function die(msg, code = 1) { process.stderr.write(`lancefs: ${msg}\n`); process.exit(code); }

async function oracle(source, sel) {
  const { listManifests } = require('../lib/manifest');
  const last = listManifests(source).pop();
  const key = crypto.createHash('sha256').update(JSON.stringify([source, sel, last.file, fs.statSync(last.file).mtimeMs])).digest('hex');
  const dir = process.env.FAKE_LANCEFS_CACHE || path.join(os.tmpdir(), 'lancefs-fake-cache');
  const file = path.join(dir, `${key}.v8`);
  if (fs.existsSync(file)) return v8.deserialize(fs.readFileSync(file));
  const { buildOracle } = require('../lib/oracle');
  const o = await buildOracle(source, { ...sel, keepBytes: true });
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, v8.serialize(o));
  fs.renameSync(tmp, file);
  return o;
}

function buggyValue(ty, raw) {
  // Start from the correct rendering, then break it the way BUG says.
  const v = expectedValue(ty, raw);
  if (raw === null || raw === undefined) return v;
  switch (ty.t) {
    case 'float':
      if (BUG === 'nan-string' && v === null) return String(raw);
      if (BUG === 'float-long' && v instanceof JNum) return new JNum(Number(v.text).toPrecision(17));
      return v;
    case 'int': return BUG === 'int-as-double' ? new JNum(String(Number(raw))) : v;
    case 'timestamp': return BUG === 'ts-no-z' ? v.replace(/Z$/, '') : v;
    case 'list': case 'fixed_size_list': return raw.map((x) => buggyValue(ty.item.type, x));
    case 'struct': return new Map(ty.fields.map((f) => [f.name, buggyValue(f.type, raw instanceof Map ? raw.get(f.name) : raw[f.name])]));
    default: return v;
  }
}

function metaJson(o, row) {
  let cols = o.schema.filter((f) => f.kind === 'meta');
  if (BUG === 'key-order') cols = [...cols].reverse();
  const m = new Map(cols.map((f) => [f.name, buggyValue(f.type, row.values[f.name])]));
  return Buffer.from(stringify(m) + (BUG === 'no-newline' ? '' : '\n'), 'utf8');
}

function rowFiles(o, row) {
  const files = new Map();
  for (const f of o.schema) {
    const v = row.values[f.name];
    if (f.kind !== 'file' || v === null) continue;
    const ext = BUG === 'ext-bin' ? 'bin' : sniffExt(v.bytes);
    files.set(`${f.name}.${ext}`, Buffer.from(v.bytes));
  }
  files.set('meta.json', metaJson(o, row));
  return files;
}

const lsLine = (dir, size, name) => `${dir ? 'dr-xr-xr-x' : '-r--r--r--'} 1 lancefs lancefs ${size} 2024-01-01 00:00 ${name}`;

async function main() {
  const argv = process.argv.slice(2);
  const cmd = argv.shift();
  let long = false;
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-l') long = true;
    else if (argv[i] === '-o') i++;
    else pos.push(argv[i]);
  }
  if (!['ls', 'cat'].includes(cmd) || pos.length < 1 || pos.length > 2 || (cmd === 'cat' && pos.length !== 2)) {
    die('usage: lancefs ls [-l] SOURCE [PATH] | lancefs cat SOURCE PATH');
  }
  let source = pos[0]; const rel = (pos[1] || '').replace(/^\/+|\/+$/g, '');
  let sel = {};
  const at = /^(.*\.lance)@([^/@]+)$/.exec(source);
  if (at) { source = at[1]; sel = /^\d+$/.test(at[2]) ? { version: +at[2] } : { tag: at[2] }; }
  if (!fs.existsSync(path.join(source, '_versions'))) die(`${source}: no dataset`, 1);
  let parts = rel ? rel.split('/') : [];
  let o = await oracle(source, sel);
  if (parts[0] === '@versions' && parts.length === 1) {
    if (cmd === 'cat') die(`${rel}: is a directory`);
    for (const v of o.versions) console.log(long ? lsLine(true, 0, v.version) : String(v.version));
    return;
  }
  if (parts[0] === '@versions' || parts[0] === '@tags') {
    if (parts.length < 2) die(`${rel}: No such file or directory`);
    const s = parts[0] === '@versions' ? { version: +parts[1] } : { tag: parts[1] };
    if (parts[0] === '@versions' && !o.versions.some((v) => v.version === s.version)) die(`${rel}: No such file or directory`);
    if (parts[0] === '@tags' && !(parts[1] in o.tags)) die(`${rel}: No such file or directory`);
    if (!(BUG === 'version-off' && parts[0] === '@versions')) o = await oracle(source, s);
    parts = parts.slice(2);
  }
  const out = [];
  if (parts.length === 0) {
    if (cmd === 'cat') die(`${rel || '/'}: is a directory`);
    const names = o.rows.map((r) => r.name);
    if (BUG === 'hidden' && !rel) names.unshift('@versions', '.lancefs');
    if (BUG === 'deleted-row') {
      const gap = o.rows.findIndex((r, k) => k > 0 && r.row !== o.rows[k - 1].row + 1);
      if (gap > 0) names.push(String(o.rows[gap - 1].row + 1).padStart(8, '0'));
    }
    for (const n of names) out.push(long ? lsLine(true, 0, n) : n);
  } else {
    const row = o.rows.find((r) => r.name === parts[0]);
    if (!row || parts.length > 2) die(`${rel}: No such file or directory`);
    const files = rowFiles(o, row);
    if (parts.length === 1) {
      if (cmd === 'cat') die(`${rel}: is a directory`);
      for (const [n, b] of files) out.push(long ? lsLine(false, b.length + (BUG === 'size-off' && n !== 'meta.json' ? 1 : 0), n) : n);
    } else {
      const b = files.get(parts[1]);
      if (!b) die(`${rel}: No such file or directory`);
      if (cmd === 'ls') out.push(long ? lsLine(false, b.length, parts[1]) : parts[1]);
      else { process.stdout.write(BUG === 'truncate' && parts[1] !== 'meta.json' && b.length ? b.subarray(0, b.length - 1) : b); return; }
    }
  }
  process.stdout.write(out.map((l) => l + '\n').join(''));
}

main().catch((e) => die(e.message, 2));
