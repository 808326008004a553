'use strict';
/**
 * Conversions between what callers write and what the loaded protos take:
 * expected versions, AsOf, dates, timestamps, and protobuf canonical JSON.
 */

const { loadDealwire } = require('./protos');

/**
 * @typedef {import('@dealwire/generated/dealwire/v1/ExpectedVersion').ExpectedVersion} ExpectedVersionMessage
 * @typedef {import('@dealwire/generated/dealwire/v1/AsOf').AsOf} AsOfMessage
 * @typedef {import('@dealwire/generated/dealwire/v1/Date').Date} DateMessage
 * @typedef {import('@dealwire/generated/google/protobuf/Timestamp').Timestamp} TimestampMessage
 */

/**
 * An expected version: a stream version (the last event's), 'no_stream',
 * 'exists', 'any' (the default), or an ExpectedVersion message.
 * @typedef {number | bigint | string | 'no_stream' | 'exists' | 'any' | ExpectedVersionMessage} ExpectedVersionLike
 */

/**
 * Returns the ExpectedVersion message for an expected version.
 * @param {ExpectedVersionLike | undefined | null} expected
 * @returns {ExpectedVersionMessage}
 * @throws {TypeError} for a value that is none of the above
 */
function toExpectedVersion(expected) {
  if (expected === undefined || expected === null || expected === 'any') return { state: 'EXPECTED_STATE_ANY' };
  if (expected === 'no_stream') return { state: 'EXPECTED_STATE_NO_STREAM' };
  if (expected === 'exists') return { state: 'EXPECTED_STATE_STREAM_EXISTS' };
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return { exact: String(expected) };
  if (typeof expected === 'bigint' && expected >= 0n) return { exact: expected.toString() };
  if (typeof expected === 'string' && /^\d+$/.test(expected)) return { exact: expected };
  if (typeof expected === 'object' && ('state' in expected || 'exact' in expected)) return expected;
  throw new TypeError(`expectedVersion: ${String(expected)} is not a version, 'no_stream', 'exists' or 'any'`);
}

/**
 * Returns an optional 64-bit value as the decimal string proto-loader takes,
 * or undefined (the field stays unset) for undefined or null.
 * @param {number | bigint | string | null | undefined} v
 * @returns {string | undefined}
 */
function optionalString(v) {
  return v === undefined || v === null ? undefined : String(v);
}

/**
 * Returns a position as a BigInt (0n for empty).
 * @param {number | bigint | string | null | undefined} p
 * @returns {bigint}
 */
function toBigInt(p) {
  if (p === undefined || p === null || p === '') return 0n;
  return BigInt(p);
}

/**
 * Returns a dealwire.v1.Date for '2026-01-31', a JS Date (its UTC day) or a
 * {year, month, day} object.
 * @param {string | Date | DateMessage} d
 * @returns {DateMessage}
 */
function toDate(d) {
  if (d instanceof Date) return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
  if (typeof d === 'string') {
    const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(d);
    if (!m) throw new TypeError(`date: '${d}' is not YYYY, YYYY-MM or YYYY-MM-DD`);
    return { year: Number(m[1]), month: Number(m[2] || 0), day: Number(m[3] || 0) };
  }
  return d;
}

/**
 * Returns a google.protobuf.Timestamp for a JS Date, an RFC 3339 string or
 * milliseconds since the epoch; a {seconds, nanos} object passes through.
 * @param {Date | string | number | TimestampMessage} t
 * @returns {TimestampMessage}
 */
function toTimestamp(t) {
  if (typeof t === 'string') {
    const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(t);
    if (!m) throw new TypeError(`timestamp: '${t}' is not RFC 3339`);
    const ms = Date.parse(m[1] + m[3]);
    if (Number.isNaN(ms)) throw new TypeError(`timestamp: '${t}' is not RFC 3339`);
    return { seconds: String(Math.floor(ms / 1000)), nanos: Number((m[2] || '').padEnd(9, '0')) };
  }
  if (t instanceof Date || typeof t === 'number') {
    const ms = t instanceof Date ? t.getTime() : t;
    const seconds = Math.floor(ms / 1000);
    return { seconds: String(seconds), nanos: Math.round((ms - seconds * 1000) * 1e6) };
  }
  return t;
}

/**
 * Returns a google.protobuf.Timestamp as a JS Date (millisecond precision).
 * @param {{seconds?: string | number, nanos?: number} | null | undefined} ts
 * @returns {Date | null}
 */
function timestampToDate(ts) {
  if (!ts) return null;
  return new Date(Number(ts.seconds || 0) * 1000 + Math.floor((ts.nanos || 0) / 1e6));
}

/**
 * Point in time and filters of a MarketIntel query.
 * @typedef {object} AsOfOptions
 * @property {number | bigint | string} [knownAtPosition] what we knew at this log position
 * @property {Date | string | number | TimestampMessage} [knownAtTime] what we knew at this recorded time
 * @property {string | Date | DateMessage} [effectiveOn] what was true on this day ('2026-01-31')
 * @property {string} [minConfidence] 'REPORTED' or 'CONFIDENCE_REPORTED', ...
 */

/**
 * Returns the AsOf message for AsOf options (or undefined when empty).
 * @param {AsOfOptions | AsOfMessage | undefined} asOf
 * @returns {AsOfMessage | undefined}
 */
function toAsOf(asOf) {
  if (!asOf) return undefined;
  /** @type {AsOfMessage} */
  const out = {};
  if (asOf.knownAtPosition !== undefined && asOf.knownAtPosition !== null) out.knownAtPosition = String(asOf.knownAtPosition);
  if (asOf.knownAtTime !== undefined && asOf.knownAtTime !== null) out.knownAtTime = toTimestamp(asOf.knownAtTime);
  if (asOf.effectiveOn) out.effectiveOn = toDate(asOf.effectiveOn);
  if (asOf.minConfidence) {
    const c = String(asOf.minConfidence).toUpperCase();
    out.minConfidence = /** @type {any} */ (c.startsWith('CONFIDENCE_') ? c : `CONFIDENCE_${c}`);
  }
  return out;
}

function parseDuration(s) {
  const m = /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(s);
  if (!m) throw new TypeError(`duration: '${s}' is not like "1.5s"`);
  const nanos = Number((m[2] || '').padEnd(9, '0'));
  return { seconds: m[1], nanos: m[1].startsWith('-') ? -nanos : nanos };
}

/**
 * Returns the object proto-loader takes for a message given in protobuf's
 * canonical JSON mapping (lowerCamelCase names, enum names, 64-bit integers
 * as strings — all taken as they are; Timestamps as RFC 3339 strings and
 * Durations as "1.5s" are converted; original proto field names are
 * accepted too).
 *
 *   const event = fromCanonicalJson('dealwire.v1.Event', JSON.parse(line));
 *
 * @param {string} typeName fully qualified, e.g. 'dealwire.v1.Event'
 * @param {any} json the parsed JSON
 * @param {import('@grpc/proto-loader').PackageDefinition} [packageDefinition]
 * @returns {any}
 */
function fromCanonicalJson(typeName, json, packageDefinition = loadDealwire().packageDefinition) {
  const walk = (fullName, value) => {
    if (fullName === 'google.protobuf.Timestamp' && typeof value === 'string') return toTimestamp(value);
    if (fullName === 'google.protobuf.Duration' && typeof value === 'string') return parseDuration(value);
    const def = /** @type {any} */ (packageDefinition[fullName]);
    if (!def || !def.type || value === null || typeof value !== 'object') return value;
    const pkg = fullName.slice(0, fullName.lastIndexOf('.'));
    const fields = new Map();
    for (const f of def.type.field) {
      fields.set(f.name, f);
      fields.set(f.name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()), f);
    }
    const out = {};
    for (const [key, v] of Object.entries(value)) {
      const f = fields.get(key);
      if (!f) { out[key] = v; continue; }
      let converted = v;
      if (f.type === 'TYPE_MESSAGE' && v !== null) {
        const tn = f.typeName.replace(/^\./, '');
        const sub = packageDefinition[`${pkg}.${tn}`] ? `${pkg}.${tn}` : tn;
        const mapEntry = /** @type {any} */ (packageDefinition[sub])?.type?.options?.mapEntry;
        if (f.label === 'LABEL_REPEATED' && !mapEntry && Array.isArray(v)) converted = v.map((x) => walk(sub, x));
        else if (!mapEntry) converted = walk(sub, v);
      }
      out[f.name] = converted;
    }
    return out;
  };
  return walk(typeName, json);
}

module.exports = {
  toExpectedVersion, toBigInt, optionalString, toDate, toTimestamp, timestampToDate, toAsOf, fromCanonicalJson,
};
