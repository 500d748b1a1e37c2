const { lancedb } = require('./lib/lancedb');
const A = require('./lib/arrowdata');
const { arrow, I } = A;
(async () => {
  const [dir, ver] = process.argv.slice(2);
  const dictT = new arrow.Dictionary(new arrow.Utf8(), new arrow.Int8());
  const col = A.dictionary(dictT, Int8Array.from([0, 1]), [true, true], I.utf8(['red', 'green']));
  const table = A.batchTable([new arrow.Field('name', new arrow.Utf8(), true), new arrow.Field('tag', dictT, true)], [I.utf8(['a', 'b']), col]);
  const conn = await lancedb.connect(dir);
  const t = await conn.createTable('t', table, { storageOptions: { new_table_data_storage_version: ver } });
  console.log(await t.countRows()); t.close();
})();
