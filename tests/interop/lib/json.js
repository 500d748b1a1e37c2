'use strict';
// JSON that keeps what JSON.parse/JSON.stringify lose: 64-bit integers,
// the source text of every number (to check "shortest round-trip"), key
// order and duplicate keys.
//
// parse(text) returns: objects as Map (insertion order), arrays, strings,
// booleans, null, and numbers as JNum {text}.  It is strict RFC 8259.

class JNum {
  constructor(text) { this.text = text; }
  isInteger() { return /^-?\d+$/.test(this.text); }
  bigint() { return BigInt(this.text); }
  number() { return Number(this.text); }
  toString() { return this.text; }
}

class JSONError extends Error {}

function parse(text) {
  let i = 0;
  const fail = (msg) => { throw new JSONError(`${msg} at offset ${i}`); };
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]]) {
      if (text.startsWith(lit, i)) { i += lit.length; return v; }
    }
    return fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
  };
  const object = () => {
    const m = new Map(); i++; ws();
    if (text[i] === '}') { i++; return m; }
    for (;;) {
      ws();
      if (text[i] !== '"') fail('expected a string key');
      const k = string();
      if (m.has(k)) fail(`duplicate key ${JSON.stringify(k)}`);
      ws();
      if (text[i++] !== ':') fail('expected ":"');
      m.set(k, value());
      ws();
      if (text[i] === ',') { i++; continue; }
      if (text[i] === '}') { i++; return m; }
      fail('expected "," or "}"');
    }
  };
  const array = () => {
    const a = []; i++; ws();
    if (text[i] === ']') { i++; return a; }
    for (;;) {
      a.push(value()); ws();
      if (text[i] === ',') { i++; continue; }
      if (text[i] === ']') { i++; return a; }
      fail('expected "," or "]"');
    }
  };
  const string = () => {
    let s = ''; i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text[i++];
      if (c === '"') return s;
      if (c < ' ') fail('raw control character in string');
      if (c !== '\\') { s += c; continue; }
      const e = text[i++];
      const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e in simple) s += simple[e];
      else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.substr(i, 4))) { s += String.fromCharCode(parseInt(text.substr(i, 4), 16)); i += 4; }
      else fail('bad escape');
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) fail('bad number');
    i += m[0].length;
    return new JNum(m[0]);
  };
  const v = value(); ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

// Serializer: BigInt as digits, Map as object, Buffer refused (callers hash).
function stringify(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof JNum) return v.text;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('stringify: non-finite number');
    return Object.is(v, -0) ? '-0' : String(v);
  }
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(stringify).join(',') + ']';
  if (v instanceof Map) return '{' + [...v].map(([k, x]) => JSON.stringify(k) + ':' + stringify(x)).join(',') + '}';
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) throw new Error('stringify: raw bytes');
  return '{' + Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => JSON.stringify(k) + ':' + stringify(x)).join(',') + '}';
}

module.exports = { parse, stringify, JNum, JSONError };
