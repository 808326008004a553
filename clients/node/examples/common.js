'use strict';
// Small helpers shared by the examples: flag parsing and formatting.

const { parseArgs } = require('node:util');

/**
 * Parses the command line; --server defaults to $DEALWIRE_SERVER or 127.0.0.1:50051.
 * @param {Record<string, {type: 'string' | 'boolean', default?: any, short?: string}>} options
 * @param {string} usage
 */
function parseFlags(options, usage) {
  let parsed;
  try {
    parsed = parseArgs({
      options: { server: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' }, ...options },
      allowPositionals: false,
    });
  } catch (e) {
    process.stderr.write(`${e.message}\n${usage}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const values = /** @type {Record<string, any>} */ (parsed.values);
  values.server = values.server || process.env.DEALWIRE_SERVER || '127.0.0.1:50051';
  values.token = values.token || process.env.DEALWIRE_TOKEN || undefined;
  return values;
}

/**
 * Formats a Money as "50000000000 USD" (nanos as a fraction).
 * @param {{currencyCode: string, units: string, nanos: number} | null | undefined} m
 */
function money(m) {
  if (!m) return 'undisclosed';
  const nanos = m.nanos ? `.${String(Math.abs(m.nanos)).padStart(9, '0').replace(/0+$/, '')}` : '';
  return `${m.units}${nanos} ${m.currencyCode}`;
}

/** Strips an enum prefix: DEAL_STAGE_IN_TALKS → IN_TALKS. */
function enumName(value, prefix) {
  return String(value || '').replace(prefix, '');
}

module.exports = { parseFlags, money, enumName };
