#!/usr/bin/env node
'use strict';
// dump.js DATASET_URI [--version N | --tag NAME]
// Prints LanceDB's view of a Lance dataset as JSON: the test oracle that
// check.js compares lancefs against.  See lib/oracle.js for where each
// piece comes from and README.md for the output format.
const { buildOracle } = require('./lib/oracle');
const { stringify } = require('./lib/json');

function usage(msg) {
  if (msg) console.error(`dump.js: ${msg}`);
  console.error('usage: node dump.js DATASET_URI [--version N | --tag NAME]');
  process.exit(1);
}

function toJsonText(o) {
  // One top-level key per line, one row per line: diffable and greppable.
  const { rows, ...head } = o;
  const lines = Object.entries(head).map(([k, v]) => `  ${JSON.stringify(k)}: ${stringify(v)}`);
  const rowLines = rows.map((r) => '    ' + stringify(r));
  lines.push(`  "rows": [${rowLines.length ? '\n' + rowLines.join(',\n') + '\n  ' : ''}]`);
  return '{\n' + lines.join(',\n') + '\n}\n';
}

async function main() {
  const args = process.argv.slice(2);
  const opts = {};
  let uri = null;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--version') opts.version = args[++i];
    else if (args[i] === '--tag') opts.tag = args[++i];
    else if (args[i] === '-h' || args[i] === '--help') usage();
    else if (args[i].startsWith('-')) usage(`unknown option ${args[i]}`);
    else if (uri === null) uri = args[i];
    else usage('more than one dataset');
  }
  if (uri === null) usage('no dataset given');
  if (opts.version != null && !/^\d+$/.test(opts.version)) usage('--version takes a number');
  process.stdout.write(toJsonText(await buildOracle(uri, opts)));
}

if (require.main === module) {
  main().catch((e) => { console.error(`dump.js: ${e.message}`); process.exit(2); });
}
module.exports = { toJsonText };
