'use strict';
// meta.json expectations: how a raw oracle value (dump.js) of a given type
// descriptor (lib/schema.js) must appear in lancefs's meta.json.  The rules
// are written down in README.md ("meta.json rendering"); this file is their
// executable form.
//
// Raw values (as dump.js emits them): integers as BigInt; floats as Number,
// or the strings "NaN", "Infinity", "-Infinity", "-0"; dates, times,
// timestamps and durations as BigInt in the column's unit (date32: days,
// date64: ms); decimals as the unscaled BigInt; fixed_size_binary as
// lowercase hex; lists as arrays; structs as Map/objects; maps as arrays of
// entry structs; dictionaries as their decoded value; JSON columns as the
// JSON text LanceDB's query gives.
const { JNum, parse } = require('./json');

const UNIT = { s: 1n, ms: 1000n, us: 1000000n, ns: 1000000000n };
const DIGITS = { s: 0, ms: 3, us: 6, ns: 9 };

const floorDiv = (a, b) => { const q = a / b; return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q; };
const pad = (n, w) => String(n).padStart(w, '0');

// Proleptic Gregorian date from days since 1970-01-01 (H. Hinnant's algorithm).
function civil(days) {
  const z = Number(days) + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return { y, m, d };
}
function ymd(days) {
  const { y, m, d } = civil(days);
  const ys = y >= 0 && y <= 9999 ? pad(y, 4) : (y < 0 ? '-' : '+') + pad(Math.abs(y), 6);
  return `${ys}-${pad(m, 2)}-${pad(d, 2)}`;
}
function fraction(frac, unit) {
  return DIGITS[unit] ? '.' + pad(frac, DIGITS[unit]) : '';
}
function hms(secOfDay) {
  const s = Number(secOfDay);
  return `${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor(s / 60) % 60, 2)}:${pad(s % 60, 2)}`;
}

function formatDate32(days) { return ymd(BigInt(days)); }
// a day, or (off midnight, which Arrow allows) the instant it holds
function formatDate64(ms) {
  ms = BigInt(ms);
  return ms % 86400000n ? formatTimestamp(ms, 'ms', null) : ymd(floorDiv(ms, 86400000n));
}
function formatTime(v, unit) {
  v = BigInt(v);
  const secs = floorDiv(v, UNIT[unit]);
  return hms(secs) + fraction(v - secs * UNIT[unit], unit);
}
function formatTimestamp(v, unit, tz) {
  v = BigInt(v);
  const secs = floorDiv(v, UNIT[unit]);
  const days = floorDiv(secs, 86400n);
  return `${ymd(days)}T${hms(secs - days * 86400n)}${fraction(v - secs * UNIT[unit], unit)}${tz ? 'Z' : ''}`;
}
function formatDecimal(unscaled, scale) {
  const u = BigInt(unscaled);
  const neg = u < 0n;
  const digits = (neg ? -u : u).toString();
  if (scale <= 0) return (neg ? '-' : '') + digits + '0'.repeat(-scale);
  const s = digits.padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`;
}

// ---- floats ---------------------------------------------------------------
const F16_MAX = 65504;
function f16round(x) {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  const q = 2 ** (Math.max(e, -14) - 10); // quantum (subnormals below 2^-14)
  const n = a / q; let r = Math.round(n);
  if (r - n === 0.5 && r % 2 === 1) r -= 1; // ties to even (Math.round rounds half up)
  const v = r * q;
  const out = v > F16_MAX ? Infinity : v;
  return x < 0 ? -out : out;
}
function f16FromBits(h) {
  const s = h & 0x8000 ? -1 : 1; const e = (h >> 10) & 0x1f; const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}
const roundTo = (bits, x) => (bits === 64 ? x : bits === 32 ? Math.fround(x) : f16round(x));

function sigDigits(text) {
  let t = text.replace(/^[-+]/, '').replace(/[eE].*$/, '').replace('.', '');
  t = t.replace(/^0+/, '').replace(/0+$/, '');
  return Math.max(t.length, 1);
}
// Shortest decimal text that reads back to x at the given precision.
function shortestFloat(x, bits) {
  if (Object.is(x, -0)) return '-0';
  if (bits === 64) return String(x);
  for (let p = 1; p <= 17; p++) {
    const s = x.toPrecision(p);
    if (roundTo(bits, Number(s)) === x) return String(Number(s));
  }
  return String(x);
}
const rawFloat = (raw) => (typeof raw === 'number' ? raw : raw === '-0' ? -0 : Number(raw)); // also BigInt

// ---- rendering (expected JSON text, for humans and self-tests) ---------------
function isNullRaw(raw) { return raw === null || raw === undefined; }

function expectedValue(ty, raw) {
  // Returns a plain JS structure whose stringify() is the canonical meta.json
  // text: BigInt for integers, JNum for floats, Map for objects.
  if (isNullRaw(raw)) return null;
  switch (ty.t) {
    case 'null': return null;
    case 'bool': case 'utf8': return raw;
    case 'int': case 'duration': return BigInt(raw);
    case 'float': {
      const x = rawFloat(raw);
      return Number.isFinite(x) ? new JNum(shortestFloat(x, ty.bits)) : null;
    }
    case 'fixed_size_binary': case 'binary': return raw; // hex string
    case 'decimal': return formatDecimal(raw, ty.scale);
    case 'date32': return formatDate32(raw);
    case 'date64': return formatDate64(raw);
    case 'time': return formatTime(raw, ty.unit);
    case 'timestamp': return formatTimestamp(raw, ty.unit, ty.tz);
    case 'list': case 'fixed_size_list': return raw.map((v) => expectedValue(ty.item.type, v));
    case 'map': return raw.map((v) => expectedValue(ty.entries.type, v));
    case 'struct': {
      const m = new Map();
      for (const f of ty.fields) m.set(f.name, expectedValue(f.type, getField(raw, f.name)));
      return m;
    }
    case 'dictionary': return expectedValue(ty.value, raw);
    case 'json': return parse(raw);
    default: throw new Error(`no meta.json rendering for type ${ty.t}`);
  }
}
const getField = (obj, name) => (obj instanceof Map ? obj.get(name) : obj[name]);

// The same JSON (lib/json.js parse output): integers exactly, floats to the
// bit (-0.0 too), integers and floats never equal, object members in any
// order.
function sameJson(a, b) {
  if (a instanceof JNum || b instanceof JNum) {
    if (!(a instanceof JNum && b instanceof JNum) || a.isInteger() !== b.isInteger()) return false;
    return a.isInteger() ? a.bigint() === b.bigint() : Object.is(a.number(), b.number());
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => sameJson(v, b[i]));
  }
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false;
    return [...a].every(([k, v]) => b.has(k) && sameJson(v, b.get(k)));
  }
  return a === b;
}

// ---- comparison --------------------------------------------------------------
const MAXSHOW = 120;
function show(v) {
  const { stringify } = require('./json');
  let s;
  try { s = stringify(v); } catch (e) { s = String(v); }
  return s.length > MAXSHOW ? s.slice(0, MAXSHOW) + `…(${s.length} chars)` : s;
}

// Compare a parsed meta.json value (lib/json.js parse output) with the raw
// oracle value.  Pushes "path: expected X, got Y" strings into errs.
function compareValue(ty, raw, got, path, errs) {
  const bad = (why) => errs.push(`${path}: ${why}`);
  const exp = () => show(expectedValue(ty, raw));
  if (isNullRaw(raw) || ty.t === 'null') {
    if (got !== null) bad(`expected null, got ${show(got)}`);
    return;
  }
  switch (ty.t) {
    case 'int': case 'duration':
      if (!(got instanceof JNum) || !got.isInteger() || got.bigint() !== BigInt(raw)) bad(`expected integer ${exp()}, got ${show(got)}`);
      return;
    case 'float': {
      const x = rawFloat(raw);
      if (!Number.isFinite(x)) { if (got !== null) bad(`expected null (${raw}), got ${show(got)}`); return; }
      if (!(got instanceof JNum)) { bad(`expected number ${exp()}, got ${show(got)}`); return; }
      const g = roundTo(ty.bits, got.number());
      if (!Object.is(g, x)) { bad(`expected ${exp()} (float${ty.bits}), got ${got.text}`); return; }
      const want = sigDigits(shortestFloat(x, ty.bits));
      if (sigDigits(got.text) > want) bad(`float${ty.bits} ${got.text} is not the shortest round-trip form ${exp()}`);
      return;
    }
    case 'bool': case 'utf8': case 'fixed_size_binary': case 'binary':
    case 'decimal': case 'date32': case 'date64': case 'time': case 'timestamp': {
      const e = expectedValue(ty, raw);
      if (got !== e) bad(`expected ${show(e)}, got ${show(got)}`);
      return;
    }
    case 'list': case 'fixed_size_list': case 'map': {
      const item = ty.t === 'map' ? ty.entries.type : ty.item.type;
      if (!Array.isArray(got)) { bad(`expected array ${exp()}, got ${show(got)}`); return; }
      if (got.length !== raw.length) { bad(`expected ${raw.length} elements ${exp()}, got ${got.length}: ${show(got)}`); return; }
      raw.forEach((v, i) => compareValue(item, v, got[i], `${path}[${i}]`, errs));
      return;
    }
    case 'struct': {
      if (!(got instanceof Map)) { bad(`expected object ${exp()}, got ${show(got)}`); return; }
      const keys = [...got.keys()]; const want = ty.fields.map((f) => f.name);
      if (keys.join('\u0000') !== want.join('\u0000')) { bad(`expected keys ${JSON.stringify(want)} in this order, got ${JSON.stringify(keys)}`); return; }
      for (const f of ty.fields) compareValue(f.type, getField(raw, f.name), got.get(f.name), `${path}.${f.name}`, errs);
      return;
    }
    case 'dictionary': compareValue(ty.value, raw, got, path, errs); return;
    case 'json':
      if (!sameJson(parse(raw), got)) bad(`expected ${exp()}, got ${show(got)}`);
      return;
    default: bad(`no meta.json rule for type ${ty.t}`);
  }
}

module.exports = {
  civil, formatDate32, formatDate64, formatTime, formatTimestamp, formatDecimal,
  f16round, f16FromBits, shortestFloat, sigDigits, expectedValue, compareValue, show, sameJson,
};
