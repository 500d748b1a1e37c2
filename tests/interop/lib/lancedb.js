'use strict';
// One place that loads LanceDB and Arrow, so both share the same
// apache-arrow instance (lancedb's `instanceof` checks need that) and so a
// missing `npm ci` gives one clear message.
function load(name) {
  try {
    return require(name);
  } catch (e) {
    if (e.code === 'MODULE_NOT_FOUND') {
      console.error(`lancefs interop: cannot load ${name}; run \`npm ci --prefix tests/interop\` first`);
      process.exit(2);
    }
    throw e;
  }
}
const arrow = load('apache-arrow');
const lancedb = load('@lancedb/lancedb');
module.exports = { arrow, lancedb };
