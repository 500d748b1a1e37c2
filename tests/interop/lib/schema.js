'use strict';
// The dataset schema, rebuilt from the manifest's flat Field list (pre-order,
// parent_id links) and Lance logical type strings, as type descriptors:
//
//   {t:'null'} {t:'bool'} {t:'int', bits, signed} {t:'float', bits}
//   {t:'utf8', large} {t:'binary', large} {t:'fixed_size_binary', width}
//   {t:'decimal', bits, precision, scale} {t:'date32'} {t:'date64'}
//   {t:'time', bits, unit} {t:'timestamp', unit, tz} {t:'duration', unit}
//   {t:'list', large, item:FIELD} {t:'fixed_size_list', size, item:FIELD}
//   {t:'struct', fields:[FIELD]} {t:'map', entries:FIELD}
//   {t:'dictionary', value:TYPE, index:TYPE} {t:'blob_v2'}
//   {t:'json'} (lance.json: JSONB in large_binary; LanceDB reads JSON text)
//
// FIELD = {name, type, nullable, metadata}.  Top-level fields also get
// `kind`: 'file' (binary, large_binary, blob v1, blob v2: one file per
// non-null value) or 'meta' (everything else: meta.json), and `blob`:
// 'v1' | 'v2' | null.

const INTS = {
  int8: [8, true], int16: [16, true], int32: [32, true], int64: [64, true],
  uint8: [8, false], uint16: [16, false], uint32: [32, false], uint64: [64, false],
};

function parseScalar(lt) {
  if (lt in INTS) return { t: 'int', bits: INTS[lt][0], signed: INTS[lt][1] };
  switch (lt) {
    case 'null': return { t: 'null' };
    case 'bool': return { t: 'bool' };
    case 'halffloat': return { t: 'float', bits: 16 };
    case 'float': return { t: 'float', bits: 32 };
    case 'double': return { t: 'float', bits: 64 };
    case 'string': return { t: 'utf8', large: false };
    case 'large_string': return { t: 'utf8', large: true };
    case 'binary': return { t: 'binary', large: false };
    case 'large_binary': return { t: 'binary', large: true };
    case 'json': return { t: 'json' };
    case 'date32:day': return { t: 'date32' };
    case 'date64:ms': return { t: 'date64' };
    default: break;
  }
  let m;
  if ((m = /^fixed_size_binary:(\d+)$/.exec(lt))) return { t: 'fixed_size_binary', width: +m[1] };
  if ((m = /^fixed_size_list:(.+):(\d+)$/.exec(lt))) {
    return { t: 'fixed_size_list', size: +m[2], item: { name: 'item', type: parseScalar(m[1]), nullable: true, metadata: {} } };
  }
  if ((m = /^decimal:(128|256):(\d+):(-?\d+)$/.exec(lt))) return { t: 'decimal', bits: +m[1], precision: +m[2], scale: +m[3] };
  if ((m = /^time(32|64):(s|ms|us|ns)$/.exec(lt))) return { t: 'time', bits: +m[1], unit: m[2] };
  if ((m = /^timestamp:(s|ms|us|ns):(.*)$/.exec(lt))) return { t: 'timestamp', unit: m[1], tz: m[2] === '-' ? null : m[2] };
  if ((m = /^duration:(s|ms|us|ns)$/.exec(lt))) return { t: 'duration', unit: m[1] };
  if ((m = /^dict:(.+):(u?int(?:8|16|32|64)):(true|false)$/.exec(lt))) {
    return { t: 'dictionary', value: parseScalar(m[1]), index: parseScalar(m[2]) };
  }
  throw new Error(`unknown Lance logical type ${JSON.stringify(lt)}`);
}

// manifestFields: [{name, id, parent_id, logical_type, nullable, metadata, extension_name}]
function buildSchema(manifestFields) {
  const byParent = new Map();
  for (const f of manifestFields) {
    if (!byParent.has(f.parent_id)) byParent.set(f.parent_id, []);
    byParent.get(f.parent_id).push(f);
  }
  const build = (f) => {
    const kids = () => (byParent.get(f.id) || []).map(build);
    const ext = f.metadata['ARROW:extension:name'] || f.extension_name;
    let type;
    const lt = f.logical_type;
    if (ext === 'lance.blob.v2') type = { t: 'blob_v2' };
    else if (lt === 'struct') type = { t: 'struct', fields: kids() };
    else if (lt === 'list' || lt === 'large_list' || lt === 'list.struct' || lt === 'large_list.struct') {
      const k = kids();
      if (k.length !== 1) throw new Error(`list field ${f.name} has ${k.length} children`);
      type = { t: 'list', large: lt.startsWith('large_'), item: k[0] };
    } else if (lt === 'map') {
      const k = kids();
      if (k.length !== 1) throw new Error(`map field ${f.name} has ${k.length} children`);
      type = { t: 'map', entries: k[0] };
    } else type = parseScalar(lt);
    return { name: f.name, id: f.id, logical_type: lt, type, nullable: f.nullable, metadata: f.metadata };
  };
  return (byParent.get(-1) || []).map((f) => {
    const field = build(f);
    const t = field.type.t;
    field.blob = t === 'blob_v2' ? 'v2' : (t === 'binary' && f.metadata['lance-encoding:blob'] === 'true' ? 'v1' : null);
    field.kind = t === 'binary' || t === 'blob_v2' ? 'file' : 'meta';
    return field;
  });
}

// Arrow type string, for humans (dump.js "arrow_type").
function typeString(ty) {
  switch (ty.t) {
    case 'int': return `${ty.signed ? 'int' : 'uint'}${ty.bits}`;
    case 'float': return `float${ty.bits}`;
    case 'utf8': return ty.large ? 'large_utf8' : 'utf8';
    case 'binary': return ty.large ? 'large_binary' : 'binary';
    case 'fixed_size_binary': return `fixed_size_binary[${ty.width}]`;
    case 'decimal': return `decimal${ty.bits}(${ty.precision}, ${ty.scale})`;
    case 'time': return `time${ty.bits}[${ty.unit}]`;
    case 'timestamp': return `timestamp[${ty.unit}${ty.tz ? ', tz=' + ty.tz : ''}]`;
    case 'duration': return `duration[${ty.unit}]`;
    case 'list': return `${ty.large ? 'large_list' : 'list'}<${typeString(ty.item.type)}>`;
    case 'fixed_size_list': return `fixed_size_list<${typeString(ty.item.type)}, ${ty.size}>`;
    case 'struct': return `struct<${ty.fields.map((f) => `${f.name}: ${typeString(f.type)}`).join(', ')}>`;
    case 'map': return `map<${ty.entries.type.fields.map((f) => typeString(f.type)).join(', ')}>`;
    case 'dictionary': return `dictionary<values=${typeString(ty.value)}, indices=${typeString(ty.index)}>`;
    case 'blob_v2': return 'lance.blob.v2 struct<data: large_binary, uri: utf8>';
    case 'json': return 'lance.json large_binary';
    default: return ty.t;
  }
}

// True when arrow-js 18 cannot decode the type (it has no LargeList); the
// oracle then reads the column through an arrow_cast to the List form.
function needsCast(ty) {
  switch (ty.t) {
    case 'list': return ty.large || needsCast(ty.item.type);
    case 'fixed_size_list': return needsCast(ty.item.type);
    case 'struct': return ty.fields.some((f) => needsCast(f.type));
    case 'map': return needsCast(ty.entries.type);
    default: return false;
  }
}

// DataFusion arrow_cast type text for the arrow-js-readable form of a type.
function castTypeText(ty) {
  switch (ty.t) {
    case 'null': return 'Null';
    case 'bool': return 'Boolean';
    case 'int': return `${ty.signed ? 'Int' : 'UInt'}${ty.bits}`;
    case 'float': return `Float${ty.bits}`;
    case 'utf8': return ty.large ? 'LargeUtf8' : 'Utf8';
    case 'binary': return ty.large ? 'LargeBinary' : 'Binary';
    case 'list': return `List(${castTypeText(ty.item.type)})`;
    case 'fixed_size_list': return `FixedSizeList(${ty.size}, ${castTypeText(ty.item.type)})`;
    default: throw new Error(`no cast text for ${typeString(ty)}`);
  }
}

module.exports = { buildSchema, parseScalar, typeString, needsCast, castTypeText };
