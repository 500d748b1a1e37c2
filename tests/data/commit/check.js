'use strict';
// LanceDB reads what lance_commit writes.
//
//   node check.js COMMIT_TOOL FIXTURES OUT
//
// 1. `commit_tool make` copies LanceDB fixtures to OUT and commits appends,
//    deletes (arrow and roaring vectors, a dropped fragment), stable row ids
//    and a new dataset.
// 2. For every dataset, LanceDB checks out every version and must see the
//    versions, row counts and _rowid lists (scan order) that our reader
//    (`commit_tool expect`) sees.
// 3. Rebase: LanceDB opens a table, we commit an Append, a Delete and an
//    Update (both at once) behind its back, and LanceDB's own appends (planned on the stale
//    version) must rebase over our transactions. Then step 2 again, so our
//    reader is also checked on LanceDB's rebased versions.
const path = require('path');
const { execFileSync } = require('child_process');
const lancedb = require(path.join(__dirname, '..', '..', 'interop', 'node_modules', '@lancedb', 'lancedb'));

const [tool, fixtures, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node check.js COMMIT_TOOL FIXTURES OUT');
  process.exit(2);
}

let failures = 0;
function fail(msg) {
  console.error(`FAIL ${msg}`);
  failures++;
}

const run = (...args) => execFileSync(tool, args, { encoding: 'utf8' });

async function compare(conn, name) {
  const dir = path.join(out, `${name}.lance`);
  const want = JSON.parse(run('expect', dir));
  const tbl = await conn.openTable(name);
  try {
    const versions = (await tbl.listVersions()).map((v) => v.version);
    const ours = want.map((v) => v.version);
    if (versions.join() !== ours.join()) fail(`${name}: LanceDB lists versions ${versions}, we list ${ours}`);
    for (const w of want) {
      await tbl.checkout(w.version);
      const rows = await tbl.countRows();
      if (rows !== w.rows) fail(`${name}@${w.version} (${w.writer}): LanceDB counts ${rows} rows, we count ${w.rows}`);
      const t = await tbl.query().withRowId().toArrow();
      const ids = [...t.getChild('_rowid').toArray()].map(String);
      if (ids.join() !== w.rowids.join()) {
        fail(`${name}@${w.version} (${w.writer}): _rowid differ\n  LanceDB: ${ids.join(' ')}\n  lancefs: ${w.rowids.join(' ')}`);
      }
    }
    console.log(`ok ${name}: ${want.length} versions (${want.filter((w) => w.writer === 'lancefs').length} ours)`);
  } finally {
    tbl.close();
  }
  return want;
}

// A live row's (fragment id, offset), from LanceDB's _rowaddr.
async function liveRow(tbl) {
  const t = await tbl.query().select({ a: '_rowaddr' }).limit(1).toArrow();
  const addr = BigInt(t.getChild('a').get(0));
  return [String(addr >> 32n), String(addr & 0xffffffffn)];
}

async function rebase(conn, name) {
  const dir = path.join(out, `${name}.lance`);
  const tbl = await conn.openTable(name);
  try {
    const n = await tbl.version();
    const rows = await tbl.countRows();
    const extra = await tbl.query().limit(2).toArrow();

    // Our Append lands as n+1 behind LanceDB's back.
    const appended = Number(run('append', dir).trim());
    if (appended !== n + 1) fail(`${name}: our append landed as ${appended}, expected ${n + 1}`);
    await tbl.add(extra);
    const v1 = await tbl.version();
    if (v1 !== n + 2) fail(`${name}: LanceDB's append after ours is version ${v1}, expected ${n + 2}`);
    const ourRows = JSON.parse(run('expect', dir)).find((w) => w.version === n + 1).rows;
    const got = await tbl.countRows();
    if (got !== ourRows + 2) fail(`${name}: LanceDB counts ${got} rows after rebasing over our append, expected ${ourRows + 2}`);

    // Our Delete of one live row lands behind LanceDB's back too.
    const [frag, off] = await liveRow(tbl);
    const deleted = Number(run('delete', dir, frag, off).trim());
    if (deleted !== n + 3) fail(`${name}: our delete landed as ${deleted}, expected ${n + 3}`);
    await tbl.add(extra);
    const v2 = await tbl.version();
    if (v2 !== n + 4) fail(`${name}: LanceDB's append after our delete is version ${v2}, expected ${n + 4}`);
    const afterDelete = await tbl.countRows();
    if (afterDelete !== got + 1) fail(`${name}: LanceDB counts ${afterDelete} rows after rebasing over our delete, expected ${got + 1}`);

    // And our Update (a delete and an append in one commit).
    const [frag2, off2] = await liveRow(tbl);
    const updated = Number(run('update', dir, frag2, off2).trim());
    if (updated !== n + 5) fail(`${name}: our update landed as ${updated}, expected ${n + 5}`);
    const upRows = JSON.parse(run('expect', dir)).find((w) => w.version === n + 5).rows;
    await tbl.add(extra);
    const v3 = await tbl.version();
    if (v3 !== n + 6) fail(`${name}: LanceDB's append after our update is version ${v3}, expected ${n + 6}`);
    await tbl.checkoutLatest();
    const final = await tbl.countRows();
    if (final !== upRows + 2) fail(`${name}: LanceDB counts ${final} rows at the end, expected ${upRows + 2}`);
    console.log(`ok ${name}: LanceDB rebased over our append, delete and update (${rows} -> ${final} rows)`);
  } finally {
    tbl.close();
  }
}

async function main() {
  run('make', fixtures, out);
  const names = ['append', 'stable', 'bitmap', 'created'];
  let conn = await lancedb.connect(out);
  for (const name of names) await compare(conn, name);
  for (const name of names) await rebase(conn, name);
  conn = await lancedb.connect(out);
  for (const name of names) await compare(conn, name);
  if (failures) {
    console.error(`${failures} failure(s)`);
    process.exit(1);
  }
  console.log('all commit interop checks passed');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
