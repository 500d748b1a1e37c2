#!/usr/bin/env node
'use strict';
// check.js --lancefs BIN --data OUTDIR [--mount] [--only NAME]... [--full] [--max-rows N] [--jobs N] [--max-report N]
//
// Compares what `lancefs ls` / `lancefs cat` show for every fixture dataset
// (make_datasets.js OUTDIR) with LanceDB's view (lib/oracle.js, the same as
// dump.js).  With --mount, each dataset is mounted with `lancefs mount` and
// the same questions are answered through plain filesystem calls (readdir,
// stat, read) on the mount instead.  One test per dataset per storage
// version; the last line is "N passed, M failed"; exit status 1 when
// anything failed.
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');
const { buildOracle, sha256 } = require('./lib/oracle');
const { parse, JSONError } = require('./lib/json');
const { compareValue, show } = require('./lib/render');
const { sniffExt } = require('./lib/sniff');

const HIDDEN = ['@versions', '@tags', '.lancefs'];
const SAMPLE_ALL_BELOW = 300;
const CMD_TIMEOUT_MS = 120000;

function usage(msg) {
  if (msg) console.error(`check.js: ${msg}`);
  console.error('usage: node check.js --lancefs PATH --data OUTDIR [--only NAME]... [--full] [--max-rows N] [--jobs N] [--max-report N]');
  console.error('  --only NAME   a dataset name (types), or VERSION_DIR/NAME (v_2.1/types); repeatable');
  console.error('  --full        check every row (default: all rows up to 300, else a sample of about 250)');
  console.error('  --max-rows N  check at most N rows per dataset and version');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { only: [], full: false, jobs: 4, maxReport: 20, maxRows: 0, mount: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === '--lancefs') o.lancefs = val();
    else if (a === '--data') o.data = val();
    else if (a === '--only') o.only.push(val());
    else if (a === '--full') o.full = true;
    else if (a === '--mount') o.mount = true;
    else if (a === '--jobs') o.jobs = Math.max(1, parseInt(val(), 10) || 1);
    else if (a === '--max-report') o.maxReport = Math.max(1, parseInt(val(), 10) || 1);
    else if (a === '--max-rows') o.maxRows = Math.max(1, parseInt(val(), 10) || 1);
    else if (a === '-h' || a === '--help') usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.lancefs) usage('--lancefs is required');
  if (!o.data) usage('--data is required');
  return o;
}

// ---- running lancefs ---------------------------------------------------------
let jobsFree = 4;
const waiting = [];
async function withJob(fn) {
  if (jobsFree === 0) await new Promise((r) => waiting.push(r));
  jobsFree--;
  try { return await fn(); } finally { jobsFree++; if (waiting.length) waiting.shift()(); }
}

// In --mount mode `run` answers `lancefs ls [-l] SOURCE [PATH]` and
// `lancefs cat SOURCE PATH` from the mounted view with fs calls, printing
// what lancefs would.  SOURCE@VERSION has no mount equivalent: such calls
// report "skip" and their checks are left out.
let mounted = null; // { source, mnt }
async function fsRun(args) {
  const ok = (stdout) => ({ code: 0, signal: null, stdout: Buffer.isBuffer(stdout) ? stdout : Buffer.from(stdout) });
  const err = (e) => ({ code: 1, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.from(String(e.message || e)) });
  try {
    const long = args[0] === 'ls' && args[1] === '-l';
    const rest = args.slice(long ? 2 : 1);
    if (rest[0] !== mounted.source) return { skip: true, code: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
    const p = path.join(mounted.mnt, rest[1] || '');
    if (args[0] === 'cat') return ok(await fs.promises.readFile(p));
    const line = async (dir, n) => {
      const st = await fs.promises.stat(path.join(dir, n));
      return `${st.isDirectory() ? 'dr-xr-xr-x' : '-r--r--r--'} ${st.size} ${new Date(st.mtimeMs).toISOString()} ${n}`;
    };
    const st = await fs.promises.stat(p);
    if (!st.isDirectory()) return ok(long ? (await line(path.dirname(p), path.basename(p))) + '\n' : path.basename(p) + '\n');
    const names = await fs.promises.readdir(p);
    if (!long) return ok(names.map((n) => n + '\n').join(''));
    const lines = [];
    for (const n of names) lines.push(await line(p, n));
    return ok(lines.map((l) => l + '\n').join(''));
  } catch (e) { return err(e); }
}

function run(bin, args) {
  if (mounted) return withJob(() => fsRun(args));
  return withJob(() => new Promise((resolve) => {
    let child;
    try {
      child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      resolve({ code: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.from(String(e.message)), error: e });
      return;
    }
    const out = []; const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, CMD_TIMEOUT_MS);
    child.on('error', (e) => { clearTimeout(timer); resolve({ code: null, signal: null, stdout: Buffer.concat(out), stderr: Buffer.from(e.message), error: e }); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }); });
  }));
}

const trunc = (s, n = 200) => { s = String(s).replace(/\s+$/, ''); return s.length > n ? s.slice(0, n) + `…(${s.length} chars)` : s; };
function describeExit(r) {
  if (r.error) return `could not run: ${r.error.message}`;
  if (r.signal) return `killed by ${r.signal}${r.signal === 'SIGKILL' ? ' (timeout?)' : ''}`;
  const e = r.stderr.toString('utf8').trim();
  return `exit ${r.code}${e ? `: ${trunc(e)}` : ' (no message on stderr)'}`;
}
const cmdText = (args) => 'lancefs ' + args.map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ');

// ---- parsing `lancefs ls` and `ls -l` ---------------------------------------
function lsNames(stdout) {
  return stdout.toString('utf8').split('\n').filter((l) => l.length).map((l) => l.replace(/\/$/, ''));
}
// Accepted `ls -l` line forms: "MODE SIZE ISO-TIME NAME" (what lancefs
// prints, man/lancefs.1), "MODE LINKS OWNER GROUP SIZE DATE... NAME"
// (coreutils style, MODE like -r--r--r--), "NAME SIZE", "SIZE NAME"
// (whitespace separated); a "total N" line is ignored.
function parseLsLong(stdout) {
  const entries = []; const bad = [];
  for (const line of stdout.toString('utf8').split('\n')) {
    if (!line.trim() || /^total \d+$/.test(line.trim())) continue;
    const tok = line.trim().split(/\s+/);
    let name; let size;
    const own = /^([-d][-rwx]{9})\s+(\d+)\s+\d{4}-\d\d-\d\dT\S+\s(.*)$/.exec(line);
    if (own) {
      entries.push({ name: own[3].replace(/\/$/, ''), size: Number(own[2]), dir: own[1].startsWith('d') });
      continue;
    }
    if (/^[-dlcbps][-rwxsStT]{9}[.+@]?$/.test(tok[0]) && tok.length >= 6) {
      size = tok[4]; name = tok[tok.length - 1];
    } else if (tok.length === 2) {
      if (/^\d+$/.test(tok[1])) [name, size] = tok; else [size, name] = tok;
    }
    if (name === undefined || !/^\d+$/.test(size || '')) { bad.push(line); continue; }
    entries.push({ name: name.replace(/\/$/, ''), size: Number(size), dir: tok[0].startsWith('d') });
  }
  return { entries, bad };
}

// ---- one dataset ---------------------------------------------------------------
class Failures {
  constructor() { this.list = []; }
  add(msg) { this.list.push(msg); }
  get count() { return this.list.length; }
}

function sampleRows(rows, full, maxRows) {
  if (maxRows && rows.length > maxRows) return rows.slice(0, maxRows);
  if (full || rows.length <= SAMPLE_ALL_BELOW) return rows;
  const pick = new Set();
  for (let k = 0; k < 25; k++) { pick.add(k); pick.add(rows.length - 1 - k); }
  let gaps = 0;
  for (let k = 1; k < rows.length && gaps < 25; k++) {
    if (rows[k].row !== rows[k - 1].row + 1) { pick.add(k - 1); pick.add(k); gaps++; }
  }
  const step = Math.max(1, Math.floor(rows.length / 150));
  for (let k = 0; k < rows.length; k += step) pick.add(k);
  return [...pick].sort((a, b) => a - b).map((k) => rows[k]);
}

function expectedFiles(oracle, row) {
  const files = new Map();
  for (const f of oracle.schema) {
    if (f.kind !== 'file') continue;
    const v = row.values[f.name];
    if (v === null) continue;
    files.set(`${f.name}.${sniffExt(Buffer.from(v.head, 'hex'))}`, { column: f.name, ...v });
  }
  return files;
}

// Check one row folder at PREFIX (e.g. "00000003" or "@versions/2/00000003").
async function checkRow(ctx, oracle, row, prefix, fail) {
  const where = `row ${prefix}`;
  const lsArgs = ['ls', '-l', ctx.source, prefix];
  const ls = await run(ctx.bin, lsArgs);
  if (ls.code !== 0) { fail.add(`${where}: \`${cmdText(lsArgs)}\` failed: ${describeExit(ls)}`); return; }
  const { entries, bad } = parseLsLong(ls.stdout);
  for (const l of bad) fail.add(`${where}: cannot parse \`ls -l\` line ${JSON.stringify(trunc(l, 120))}`);
  const got = new Map(entries.map((e) => [e.name, e]));
  const want = expectedFiles(oracle, row);
  const wantNames = new Set([...want.keys(), 'meta.json']);
  const missing = [...wantNames].filter((n) => !got.has(n));
  const extra = [...got.keys()].filter((n) => !wantNames.has(n));
  if (missing.length) fail.add(`${where}: missing files ${JSON.stringify(missing)} (listed: ${JSON.stringify([...got.keys()])})`);
  if (extra.length) fail.add(`${where}: unexpected files ${JSON.stringify(extra)} (expected: ${JSON.stringify([...wantNames])})`);

  for (const [name, w] of want) {
    const e = got.get(name);
    if (e && e.size !== w.size) fail.add(`${where}/${name}: ls -l size ${e.size}, expected ${w.size}`);
    if (!e) continue;
    const catArgs = ['cat', ctx.source, `${prefix}/${name}`];
    const cat = await run(ctx.bin, catArgs);
    if (cat.code !== 0) { fail.add(`${where}/${name}: \`${cmdText(catArgs)}\` failed: ${describeExit(cat)}`); continue; }
    if (cat.stdout.length !== w.size || sha256(cat.stdout) !== w.sha256) {
      fail.add(`${where}/${name}: content differs: expected ${w.size} bytes sha256 ${w.sha256.slice(0, 16)}… head ${w.head || '(empty)'}, `
        + `got ${cat.stdout.length} bytes sha256 ${sha256(cat.stdout).slice(0, 16)}… head ${cat.stdout.subarray(0, 16).toString('hex') || '(empty)'}`);
    }
  }

  const catArgs = ['cat', ctx.source, `${prefix}/meta.json`];
  const cat = await run(ctx.bin, catArgs);
  if (cat.code !== 0) { fail.add(`${where}/meta.json: \`${cmdText(catArgs)}\` failed: ${describeExit(cat)}`); return; }
  const e = got.get('meta.json');
  if (e && e.size !== cat.stdout.length) fail.add(`${where}/meta.json: ls -l size ${e.size}, but cat returned ${cat.stdout.length} bytes`);
  checkMeta(oracle, row, cat.stdout, `${where}/meta.json`, fail);
}

function checkMeta(oracle, row, bytes, where, fail) {
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) fail.add(`${where}: not valid UTF-8`);
  if (!text.endsWith('\n')) fail.add(`${where}: no trailing newline`);
  let doc;
  try { doc = parse(text); } catch (err) {
    if (!(err instanceof JSONError)) throw err;
    fail.add(`${where}: invalid JSON (${err.message}): ${JSON.stringify(trunc(text, 160))}`);
    return;
  }
  if (!(doc instanceof Map)) { fail.add(`${where}: not a JSON object: ${trunc(text, 160)}`); return; }
  const cols = oracle.schema.filter((f) => f.kind === 'meta');
  const want = cols.map((f) => f.name); const keys = [...doc.keys()];
  if (keys.join('\u0000') !== want.join('\u0000')) {
    const missing = want.filter((k) => !doc.has(k)); const extra = keys.filter((k) => !want.includes(k));
    fail.add(`${where}: keys differ: ${missing.length ? `missing ${JSON.stringify(missing)} ` : ''}${extra.length ? `unexpected ${JSON.stringify(extra)} ` : ''}`
      + `${!missing.length && !extra.length ? `wrong order ${JSON.stringify(keys)}, schema order ${JSON.stringify(want)}` : ''}`);
  }
  for (const f of cols) {
    if (!doc.has(f.name)) continue;
    const errs = [];
    compareValue(f.type, row.values[f.name], doc.get(f.name), f.name, errs);
    for (const m of errs) fail.add(`${where}: ${m}`);
  }
}

async function checkListing(ctx, args, oracle, what, fail) {
  const r = await run(ctx.bin, args);
  if (r.skip) return true;
  if (r.code !== 0) { fail.add(`${what}: \`${cmdText(args)}\` failed: ${describeExit(r)}`); return false; }
  const names = lsNames(r.stdout);
  const got = new Set(names);
  const want = new Set(oracle.rows.map((x) => x.name));
  if (got.size !== names.length) fail.add(`${what}: duplicate names in listing`);
  const hidden = names.filter((n) => HIDDEN.includes(n) || n.startsWith('@'));
  if (hidden.length) fail.add(`${what}: lists hidden entries ${JSON.stringify(hidden)}`);
  const missing = [...want].filter((n) => !got.has(n));
  const extra = names.filter((n) => !want.has(n) && !hidden.includes(n));
  if (missing.length) fail.add(`${what}: ${missing.length} row folders missing, e.g. ${JSON.stringify(missing.slice(0, 8))}`);
  if (extra.length) fail.add(`${what}: ${extra.length} unexpected entries, e.g. ${JSON.stringify(extra.slice(0, 8))}`);
  return true;
}

async function checkDataset(ctx) {
  const fail = new Failures();
  const oracle = await buildOracle(ctx.source);
  ctx.rowsChecked = 0;

  // 1. Root listing.
  const rootOk = await checkListing(ctx, ['ls', ctx.source], oracle, 'root listing', fail);
  if (!rootOk) return fail; // nothing else can work; one clear message is enough

  // 2. Row folders: files, sizes, bytes, meta.json.
  const rows = sampleRows(oracle.rows, ctx.full, ctx.maxRows);
  await Promise.all(rows.map((row) => checkRow(ctx, oracle, row, row.name, fail)));
  ctx.rowsChecked = rows.length;

  // A deleted row (a gap in the numbering) must not resolve.
  const gap = oracle.rows.findIndex((r, k) => k > 0 && r.row !== oracle.rows[k - 1].row + 1);
  if (gap > 0 && !oracle.stable_row_ids) {
    const name = String(oracle.rows[gap - 1].row + 1).padStart(8, '0');
    const r = await run(ctx.bin, ['ls', '-l', ctx.source, name]);
    if (r.code === 0) fail.add(`deleted row ${name}: \`lancefs ls -l SOURCE ${name}\` succeeded, expected an error`);
  }

  // 3. Versions and tags.
  const versions = oracle.versions.map((v) => v.version);
  if (versions.length > 1 || Object.keys(oracle.tags).length) {
    const r = await run(ctx.bin, ['ls', ctx.source, '@versions']);
    if (r.code !== 0) fail.add(`@versions: \`lancefs ls SOURCE @versions\` failed: ${describeExit(r)}`);
    else {
      const got = lsNames(r.stdout).sort().join(','); const want = versions.map(String).sort().join(',');
      if (got !== want) fail.add(`@versions: lists [${trunc(got, 120)}], expected [${want}]`);
    }
    const deep = ctx.name === 'versions';
    const pick = deep ? versions : [...new Set([versions[0], versions[Math.floor(versions.length / 2)], versions[versions.length - 1]])];
    for (const v of pick) {
      const ov = v === oracle.version ? oracle : await buildOracle(ctx.source, { version: v });
      await checkListing(ctx, ['ls', ctx.source, `@versions/${v}`], ov, `@versions/${v}`, fail);
      if (deep) {
        await checkListing(ctx, ['ls', `${ctx.source}@${v}`], ov, `SOURCE@${v}`, fail);
        const some = sampleRows(ov.rows.filter((_, k) => k % Math.max(1, Math.floor(ov.rows.length / 5)) === 0), false, ctx.maxRows);
        for (const row of some) await checkRow(ctx, ov, row, `@versions/${v}/${row.name}`, fail);
      }
    }
    for (const [tag, v] of Object.entries(oracle.tags)) {
      const ov = await buildOracle(ctx.source, { version: v });
      await checkListing(ctx, ['ls', ctx.source, `@tags/${tag}`], ov, `@tags/${tag}`, fail);
      if (deep) {
        await checkListing(ctx, ['ls', `${ctx.source}@${tag}`], ov, `SOURCE@${tag}`, fail);
        if (ov.rows.length) await checkRow(ctx, ov, ov.rows[0], `@tags/${tag}/${ov.rows[0].name}`, fail);
      }
    }
  }
  return fail;
}

// ---- main ----------------------------------------------------------------------
function listDatasets(data) {
  const fx = path.join(data, 'fixtures.json');
  if (!fs.existsSync(fx)) throw new Error(`${fx} not found: run \`node make_datasets.js ${data}\` first`);
  const report = JSON.parse(fs.readFileSync(fx, 'utf8'));
  const out = [];
  for (const [ver, v] of Object.entries(report.versions)) {
    for (const [name, d] of Object.entries(v.datasets)) {
      if (!d.path) continue;
      out.push({ ver, name, label: `${v.dir}/${name}`, source: path.resolve(data, d.path), refused: d.refused });
    }
  }
  return out;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  jobsFree = o.jobs;
  const bin = path.resolve(o.lancefs);
  let datasets = listDatasets(o.data);
  if (o.only.length) {
    datasets = datasets.filter((d) => o.only.some((s) => s === d.name || s === d.label || s === `${d.ver}/${d.name}`));
    if (!datasets.length) usage(`--only ${o.only.join(', ')} matches no dataset`);
  }
  let binProblem = null;
  try { fs.accessSync(bin, fs.constants.X_OK); } catch (e) { binProblem = `lancefs binary ${bin} is not executable: ${e.code}`; }
  if (binProblem) console.error(`check.js: ${binProblem}`);

  let passed = 0; let failed = 0;
  for (const d of datasets) {
    const t0 = Date.now();
    let fail;
    const ctx = { bin, source: d.source, name: d.name, full: o.full, maxRows: o.maxRows };
    if (binProblem) { fail = new Failures(); fail.add(binProblem); } else {
      let mnt = null;
      try {
        if (o.mount) {
          mnt = fs.mkdtempSync(path.join(require('os').tmpdir(), 'lancefs-check-'));
          // a read-only check: a writable mount would keep a staging
          // folder for the fixture in the user's state folder
          const r = await run(bin, ['mount', '-o', 'ro', d.source, mnt]);
          if (r.code !== 0) throw new Error(`\`lancefs mount ${d.source} ${mnt}\` failed: ${describeExit(r)}`);
          mounted = { source: d.source, mnt };
        }
        fail = await checkDataset(ctx);
      } catch (e) {
        fail = new Failures(); fail.add(`oracle or harness error: ${e.stack || e.message}`);
      } finally {
        if (mounted) {
          mounted = null;
          const r = await run(bin, ['umount', mnt]);
          if (r.code !== 0) fail.add(`\`lancefs umount ${mnt}\` failed: ${describeExit(r)}`);
        }
        if (mnt) try { fs.rmdirSync(mnt); } catch (e) { fail.add(`mount point ${mnt} left behind: ${e.message}`); }
      }
    }
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    if (fail.count === 0) {
      passed++;
      console.log(`PASS ${d.label} (${ctx.rowsChecked} rows checked, ${secs} s)`);
    } else {
      failed++;
      console.log(`FAIL ${d.label} (${fail.count} problems, ${secs} s)`);
      for (const m of fail.list.slice(0, o.maxReport)) console.log(`  ${d.label}: ${m}`);
      if (fail.count > o.maxReport) console.log(`  ${d.label}: … and ${fail.count - o.maxReport} more`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

if (require.main === module) {
  main().catch((e) => { console.error(`check.js: ${e.stack || e}`); console.log('0 passed, 1 failed'); process.exit(1); });
}
module.exports = { parseLsLong, lsNames, sampleRows, expectedFiles, checkMeta };
