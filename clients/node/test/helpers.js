'use strict';
// Starts the real dealwired (path from $DEALWIRED) on 127.0.0.1 with a temp
// data dir, and loads the seed story.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fromCanonicalJson } = require('../src');

const START_LINE = /dealwired \S+ started data_dir=\S+ listen=(\S+):(\d+) pid=\d+/;

/**
 * Starts dealwired and resolves once its start line names the port.
 * @param {{dataDir?: string, port?: number, timeoutMs?: number}} [options]
 */
async function startServer(options = {}) {
  const binary = process.env.DEALWIRED;
  if (!binary) throw new Error('DEALWIRED is not set (path of the dealwired binary)');
  const dataDir = options.dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'dealwire-node-'));
  const child = spawn(binary, ['--data-dir', path.join(dataDir, 'data'), '--listen', `127.0.0.1:${options.port || 0}`],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start line within ${options.timeoutMs || 30000} ms:\n${log}`)),
      options.timeoutMs || 30000);
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = START_LINE.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[2])); }
    });
    exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`dealwired exited (${code ?? signal}):\n${log}`)); });
  });
  return {
    dataDir,
    port,
    address: `127.0.0.1:${port}`,
    log: () => log,
    /** Stops the server with SIGTERM (SIGKILL after 15 s); resolves with its exit. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    removeData() { fs.rmSync(dataDir, { recursive: true, force: true }); },
  };
}

const SEED = path.resolve(__dirname, '..', '..', '..', 'demo', 'seed_story.jsonl');

/** Returns the seed story's events as {stream, event} in file order. */
function loadSeed(file = SEED) {
  return fs.readFileSync(file, 'utf8').split('\n')
    .filter((line) => line.trim() && !line.trimStart().startsWith('#'))
    .map((line) => {
      const event = fromCanonicalJson('dealwire.v1.Event', JSON.parse(line));
      return { stream: event.stream, event };
    });
}

/** Appends the seed story; resolves with a map event id → append response. */
async function appendSeed(client) {
  const results = new Map();
  for (const { stream, event } of loadSeed()) {
    results.set(event.eventId, await client.append(stream, [event]));
  }
  return results;
}

/** Returns an InvestmentReported event (valid once the seed's organizations exist). */
function investment(id, { investor = 'softbank', company = 'anthropic', units = '1000000000', eventId } = {}) {
  const event = {
    effective: { date: { year: 2026, month: 2, day: 1 }, precision: 'DATE_PRECISION_DAY' },
    sources: [{ publisher: 'Test', url: `https://example.com/${id}` }],
    confidence: 'CONFIDENCE_RUMORED',
    payload: {
      investmentReported: {
        investmentId: id, investorId: investor, companyId: company,
        amount: { currencyCode: 'USD', units }, instrument: 'INSTRUMENT_EQUITY', stage: 'DEAL_STAGE_RUMORED',
      },
    },
  };
  if (eventId) event.eventId = eventId;
  return event;
}

/** Returns an OrganizationRegistered event. */
function organization(orgId, eventId) {
  const event = {
    effective: { date: { year: 2020 }, precision: 'DATE_PRECISION_YEAR' },
    confidence: 'CONFIDENCE_OFFICIAL',
    payload: { organizationRegistered: { orgId, name: orgId, kind: 'ORGANIZATION_KIND_COMPANY' } },
  };
  if (eventId) event.eventId = eventId;
  return event;
}

/** Resolves once predicate() is true, polling every 20 ms, or rejects after timeoutMs. */
async function waitFor(predicate, timeoutMs = 10000, what = 'condition') {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

module.exports = { startServer, appendSeed, investment, organization, waitFor };
