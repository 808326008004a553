#!/usr/bin/env node
'use strict';
// Records an investment (InvestmentReported) in stream deal/<id> and prints
// its position. Re-running the same command is idempotent: the event id is
// derived from the deal's content (or given with --event-id), so the second
// run writes nothing and prints the original position with "duplicate".
//
//   node examples/record_deal.js --deal softbank-openai-demo --investor softbank --company openai \
//        --amount 30000000000 --currency USD --stage IN_TALKS --confidence REPORTED
//
// Exit status: 0 recorded or duplicate, 1 refused by the server, 2 bad flags.

const crypto = require('node:crypto');
const { Client, DealwireError } = require('..');
const { parseFlags } = require('./common');

const USAGE = `usage: record_deal.js [--server HOST:PORT] [--deal ID] [--investor ORG] [--company ORG]
       [--amount UNITS] [--currency CODE] [--stage STAGE] [--instrument KIND] [--confidence LEVEL]
       [--date YYYY-MM-DD] [--source-url URL] [--event-id UUID]
Records an investment in stream deal/<ID> (defaults: softbank invests 30000000000 USD in openai,
IN_TALKS, REPORTED). --server defaults to $DEALWIRE_SERVER or 127.0.0.1:50051.
`;

/** Returns a UUID (version 5 layout) derived from text, so equal deals get equal ids. */
function uuidFrom(text) {
  const h = crypto.createHash('sha1').update(text).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

async function main() {
  const f = parseFlags({
    deal: { type: 'string', default: 'softbank-openai-demo' },
    investor: { type: 'string', default: 'softbank' },
    company: { type: 'string', default: 'openai' },
    amount: { type: 'string', default: '30000000000' },
    currency: { type: 'string', default: 'USD' },
    stage: { type: 'string', default: 'IN_TALKS' },
    instrument: { type: 'string', default: 'EQUITY' },
    confidence: { type: 'string', default: 'REPORTED' },
    date: { type: 'string', default: '2026-01-29' },
    'source-url': { type: 'string', default: 'https://example.com/dealwire-demo' },
    'event-id': { type: 'string' },
  }, USAGE);
  const [year, month, day] = f.date.split('-').map(Number);
  // Enum values are built from flags, so the literal types of Event do not apply.
  const event = /** @type {any} */ ({
    effective: { date: { year, month: month || 0, day: day || 0 },
      precision: day ? 'DATE_PRECISION_DAY' : month ? 'DATE_PRECISION_MONTH' : 'DATE_PRECISION_YEAR' },
    sources: [{ publisher: 'record_deal.js', url: f['source-url'] }],
    confidence: `CONFIDENCE_${f.confidence.toUpperCase()}`,
    payload: {
      investmentReported: {
        investmentId: f.deal, investorId: f.investor, companyId: f.company,
        amount: { currencyCode: f.currency.toUpperCase(), units: f.amount },
        instrument: `INSTRUMENT_${f.instrument.toUpperCase()}`,
        stage: `DEAL_STAGE_${f.stage.toUpperCase()}`,
      },
    },
  });
  event.eventId = f['event-id'] || uuidFrom(JSON.stringify(['dealwire-record-deal', f.deal, event]));

  const client = new Client(f.server, { token: f.token });
  try {
    const stream = `deal/${f.deal}`;
    const res = await client.append(stream, [event]);
    const what = res.duplicate ? 'duplicate: already recorded' : 'recorded';
    console.log(`${what} ${stream} event ${event.eventId} at position ${res.firstPosition} (stream version ${res.firstStreamVersion})`);
  } catch (e) {
    if (!(e instanceof DealwireError)) throw e;
    console.error(`refused: ${e.codeName}: ${e.details}`);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
