#!/usr/bin/env node
'use strict';
// Prints deals as they arrive: a durable, named subscription filtered on the
// deal event types. It catches up on what it has not seen, then follows the
// log live, and survives server restarts (reconnects and resumes). Ctrl-C
// (or SIGTERM) commits its checkpoint and exits 0; the next run with the same
// --name continues right after the last deal it printed.
//
//   node examples/tail.js --name my-deal-feed
//
// Output, one line per event:  <position> <type> <deal> <details>

const { Client, DealwireError } = require('..');
const { parseFlags, money, enumName } = require('./common');

const USAGE = `usage: tail.js [--server HOST:PORT] [--name SUBSCRIPTION] [--from-start] [--org ORG]
Follows the deals (FundingRoundReported, InvestmentReported, DealStageChanged, AcquisitionReported)
with a named subscription (default name: tail-deals). --org: only deals naming that organization
(a new name is needed to change the filter). --server defaults to $DEALWIRE_SERVER or 127.0.0.1:50051.
`;

const DEAL_TYPES = ['FundingRoundReported', 'InvestmentReported', 'DealStageChanged', 'AcquisitionReported'];

/** Returns one line for a deal event. */
function describe(event) {
  const p = event.payload;
  switch (p.payload) {
    case 'investmentReported': {
      const i = p.investmentReported;
      return `InvestmentReported ${i.investmentId} ${i.investorId} -> ${i.companyId} ${money(i.amount)} ${enumName(i.stage, 'DEAL_STAGE_')}`;
    }
    case 'fundingRoundReported': {
      const r = p.fundingRoundReported;
      return `FundingRoundReported ${r.roundId} ${r.companyId} ${r.label} ${money(r.targetAmount)} ${enumName(r.stage, 'DEAL_STAGE_')}`;
    }
    case 'dealStageChanged': {
      const d = p.dealStageChanged;
      return `DealStageChanged ${d.dealId} -> ${enumName(d.newStage, 'DEAL_STAGE_')}${d.amount ? ` ${money(d.amount)}` : ''}`;
    }
    case 'acquisitionReported': {
      const a = p.acquisitionReported;
      return `AcquisitionReported ${a.acquisitionId} ${a.acquirerId} -> ${a.targetId} ${money(a.price)} ${enumName(a.stage, 'DEAL_STAGE_')}`;
    }
    default:
      return p.payload;
  }
}

async function main() {
  const f = parseFlags({
    name: { type: 'string', default: 'tail-deals' },
    'from-start': { type: 'boolean', default: false },
    org: { type: 'string' },
  }, USAGE);
  const client = new Client(f.server, { token: f.token });
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  const sub = client.subscribe({
    name: f.name,
    fromStart: f['from-start'],
    eventTypes: DEAL_TYPES,
    orgIds: f.org ? [f.org] : [],
    signal: stop.signal,
    maxReconnectAttempts: Infinity,
    onCaughtUp: (position) => console.error(`-- caught up at position ${position}, live`),
    onReconnect: (attempt, err) => console.error(`-- reconnecting (attempt ${attempt}): ${err.message}`),
  });
  try {
    for await (const event of sub) {
      console.log(`${event.position} ${describe(event)}`);
    }
    console.error(`-- stopped; checkpoint ${sub.committedPosition ?? 'unchanged'}`);
  } catch (e) {
    if (!(e instanceof DealwireError)) throw e;
    console.error(`subscription failed: ${e.codeName}: ${e.details}`);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
