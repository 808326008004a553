'use strict';
// The client against a real dealwired: appends, conflicts, idempotency, the
// seed story's cap table (now, pro forma and as of), named subscriptions and
// the examples.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFile, spawn } = require('node:child_process');
const { promisify } = require('node:util');
const {
  Client, Conflict, NotFound, InvalidArgument, AlreadyExists, FailedPrecondition, toExpectedVersion,
} = require('../src');
const { startServer, appendSeed, investment, organization, waitFor } = require('./helpers');

const EXAMPLES = path.resolve(__dirname, '..', 'examples');
const run = promisify(execFile);

let server;
let client;
let seed; // event id → AppendResponse

test.before(async () => {
  server = await startServer();
  client = new Client(server.address, { timeoutMs: 15000 });
  seed = await appendSeed(client);
});

test.after(async () => {
  client?.close();
  if (server) {
    const { code } = await server.stop();
    server.removeData();
    assert.equal(code, 0, `dealwired did not stop cleanly:\n${server.log()}`);
  }
});

test('expected versions map to ExpectedVersion', () => {
  assert.deepEqual(toExpectedVersion(undefined), { state: 'EXPECTED_STATE_ANY' });
  assert.deepEqual(toExpectedVersion('no_stream'), { state: 'EXPECTED_STATE_NO_STREAM' });
  assert.deepEqual(toExpectedVersion('exists'), { state: 'EXPECTED_STATE_STREAM_EXISTS' });
  assert.deepEqual(toExpectedVersion(3), { exact: '3' });
  assert.throws(() => toExpectedVersion(-1), TypeError);
});

test('append with expected versions; a conflict throws Conflict and writes nothing', async () => {
  const stream = 'org/conflict-co';
  const first = await client.append(stream, [organization('conflict-co')], { expectedVersion: 'no_stream' });
  assert.equal(first.firstStreamVersion, '0');
  assert.equal(first.nextExpectedVersion, '0');
  assert.equal(first.duplicate, false);

  const update = () => ({
    effective: { date: { year: 2021 }, precision: 'DATE_PRECISION_YEAR' },
    confidence: 'CONFIDENCE_OFFICIAL',
    payload: { organizationUpdated: { orgId: 'conflict-co', description: 'updated' } },
  });
  const second = await client.append(stream, [update()], { expectedVersion: 0 });
  assert.equal(second.nextExpectedVersion, '1');
  assert.equal(BigInt(second.firstPosition), BigInt(first.firstPosition) + 1n);

  const before = await client.lastPosition();
  await assert.rejects(client.append(stream, [update()], { expectedVersion: 0 }), (e) => {
    assert.ok(e instanceof Conflict, `${e}`);
    assert.equal(e.codeName, 'ABORTED');
    assert.equal(e.actualVersion, 1);
    assert.equal(e.streamExists, true);
    return true;
  });
  await assert.rejects(client.append(stream, [update()], { expectedVersion: 'no_stream' }), Conflict);
  await assert.rejects(client.append('org/nobody-yet', [organization('nobody-yet')], { expectedVersion: 'exists' }),
    (e) => e instanceof Conflict && e.streamExists === false);
  assert.equal(await client.lastPosition(), before, 'a refused append wrote something');
  const page = await client.readStream(stream);
  assert.equal(page.events.length, 2);
  assert.equal(page.lastStreamVersion, '1');
  await client.append(stream, [update()], { expectedVersion: 'exists' });
});

test('errors carry their code and the field', async () => {
  await assert.rejects(client.append('org/x', [{ ...organization('x'), eventId: 'not-a-uuid' }]), (e) => {
    assert.ok(e instanceof InvalidArgument);
    assert.match(e.details, /events\[0\]\.event_id/);
    return true;
  });
  await assert.rejects(client.readStream('org/never'), NotFound);
  await assert.rejects(client.capTable('nobody'), NotFound);
  await assert.rejects(client.append('deal/ghost', [investment('ghost', { investor: 'ghost-investor' })]), FailedPrecondition);
});

test('re-appending the same event id is an idempotent duplicate at the same position', async () => {
  const event = investment('idem-softbank-anthropic', { eventId: '7d1c1f0e-2b3a-4c5d-8e9f-0a1b2c3d4e5f' });
  const stream = 'deal/idem-softbank-anthropic';
  const first = await client.append(stream, [structuredClone(event)]);
  assert.equal(first.duplicate, false);
  const end = await client.lastPosition();
  const again = await client.append(stream, [structuredClone(event)], { expectedVersion: 'no_stream' });
  assert.equal(again.duplicate, true);
  assert.equal(again.firstPosition, first.firstPosition);
  assert.equal(again.lastPosition, first.lastPosition);
  assert.equal(await client.lastPosition(), end, 'the duplicate wrote something');
  const changed = structuredClone(event);
  changed.payload.investmentReported.amount.units = '2';
  await assert.rejects(client.append(stream, [changed]), AlreadyExists);
});

test('seed story: OpenAI cap table has Microsoft; pro forma adds Amazon; as of before the talks has no Amazon', async () => {
  const amazonTalks = seed.get('5e1d0c2a-0001-4000-8000-000000000039'); // InvestmentReported amazon → openai
  assert.ok(amazonTalks, 'seed event 039 missing');
  const last = [...seed.values()].at(-1).lastPosition;
  const holders = (res) => res.capTable.holders.map((h) => h.orgId);

  const now = await client.capTable('openai', { minPosition: last });
  assert.equal(now.capTable.companyName, 'OpenAI');
  assert.ok(holders(now).includes('microsoft'), `holders: ${holders(now)}`);
  assert.ok(!holders(now).includes('amazon'), 'amazon is not closed, so not in the plain cap table');
  const microsoft = now.capTable.holders.find((h) => h.orgId === 'microsoft');
  assert.equal(microsoft.ownership.qualifier, 'substantial');

  const pending = await client.capTable('openai', { includePending: true, minPosition: last });
  assert.ok(pending.capTable.includePending);
  const amazon = pending.capTable.holders.find((h) => h.orgId === 'amazon');
  assert.ok(amazon, `pro forma holders: ${holders(pending)}`);
  assert.equal(amazon.pending, true);
  assert.deepEqual(amazon.committed.map((m) => [m.currencyCode, m.units]), [['USD', '50000000000']]);

  const before = await client.capTable('openai', {
    includePending: true, asOf: { knownAtPosition: BigInt(amazonTalks.firstPosition) - 1n },
  });
  assert.equal(before.asOfPosition, String(BigInt(amazonTalks.firstPosition) - 1n));
  assert.ok(!holders(before).includes('amazon'), `as of before the talks: ${holders(before)}`);
  const at = await client.capTable('openai', { includePending: true, asOf: { knownAtPosition: amazonTalks.firstPosition } });
  assert.ok(holders(at).includes('amazon'));
});

test('other queries answer for the seed story', async () => {
  const org = await client.organization('aws');
  assert.equal(org.organization.parentOrgId, 'amazon');
  const portfolio = await client.portfolio('amazon', { includePending: true });
  assert.ok(portfolio.holdings.some((h) => h.orgId === 'openai'));
  const timeline = await client.timeline('openai', { pageSize: 5 });
  assert.equal(timeline.entries.length, 5);
  assert.ok(timeline.nextPageToken);
  const deal = await client.deal('amazon-openai-2026');
  assert.equal(deal.deal.stage, 'DEAL_STAGE_IN_TALKS');
  const deals = await client.deals({ companyId: 'openai' });
  assert.ok(deals.deals.some((d) => d.dealId === 'amazon-openai-2026'));
  const valuations = await client.valuations('openai');
  assert.ok(valuations.points.length >= 2);
  const partners = await client.partners('anthropic');
  assert.ok(partners.partnerships.length >= 1);
  const exposure = await client.exposure('amazon');
  assert.ok(exposure.exposures.some((x) => x.companies.some((c) => c.companyId === 'openai')));
  const summary = await client.summary({ asOf: { effectiveOn: '2026-01-31' } });
  assert.ok(summary.buckets.length > 0);
  const stats = await client.stats();
  assert.ok(BigInt(stats.lastPosition) >= 46n);
  const all = [];
  for await (const e of client.readAllEvents({ pageSize: 7, filter: { eventTypes: ['OrganizationRegistered'] } })) all.push(e);
  assert.ok(all.length >= 10);
  assert.ok(all.every((e) => e.payload.payload === 'organizationRegistered'));
});

test('named subscription: catch-up, live, interrupted, resumed by name without gap or duplicate', async () => {
  const name = 'node-test-deals';
  const filter = { eventTypes: ['InvestmentReported', 'DealStageChanged'] };
  const expectedBacklog = [];
  for await (const e of client.readAllEvents({ filter })) expectedBacklog.push(e.position);

  const got = [];
  let caughtUpAt = null;
  let appending = null; // the live appends, started when the subscription goes live
  const appendLive = async () => {
    const positions = [];
    for (const id of ['live-one', 'live-two']) positions.push((await client.append(`deal/${id}`, [investment(id)])).firstPosition);
    return positions;
  };
  const sub = client.subscribe({
    name, ...filter, fromStart: true, maxBatchEvents: 4, checkpointInterval: 10,
    onCaughtUp: (p) => { caughtUpAt = p; appending ??= appendLive(); },
  });
  for await (const event of sub) {
    got.push(event.position);
    if (got.length === expectedBacklog.length + 2) break; // interrupted
  }
  const live = await appending;
  assert.ok(caughtUpAt !== null && BigInt(caughtUpAt) >= BigInt(expectedBacklog.at(-1)));
  assert.deepEqual(got, [...expectedBacklog, ...live]);
  assert.equal(sub.committedPosition, live[1], 'break commits the checkpoint');

  // While nobody listens: one matching, one not matching, one matching.
  const missed = [];
  missed.push((await client.append('deal/missed-one', [investment('missed-one')])).firstPosition);
  await client.append('org/not-a-deal', [organization('not-a-deal')]);
  missed.push((await client.append('deal/missed-two', [investment('missed-two')])).firstPosition);

  const resumed = [];
  const again = client.subscribe({ name });
  for await (const event of again) {
    resumed.push(event.position);
    if (resumed.length === missed.length) break;
  }
  assert.deepEqual(resumed, missed);

  const list = await client.listSubscriptions();
  const stored = list.subscriptions.find((s) => s.name === name);
  assert.equal(stored.checkpointPosition, missed[1]);
  assert.deepEqual([...stored.filter.eventTypes].sort(), [...filter.eventTypes].sort());

  // Resuming with another filter is refused.
  const other = client.subscribe({ name, eventTypes: ['ValuationReported'] });
  await assert.rejects(other.next(), FailedPrecondition);
  await client.deleteSubscription(name);
  await assert.rejects(client.deleteSubscription(name), NotFound);
});

test('examples: record_deal twice is a duplicate; tail prints deals and stops cleanly on SIGINT', async () => {
  const env = { ...process.env, DEALWIRE_SERVER: server.address };
  const record = () => run(process.execPath, [path.join(EXAMPLES, 'record_deal.js'), '--deal', 'example-deal'], { env });
  const first = await record();
  const m = /^recorded deal\/example-deal event \S+ at position (\d+)/m.exec(first.stdout);
  assert.ok(m, first.stdout + first.stderr);
  const second = await record();
  assert.match(second.stdout, new RegExp(`^duplicate: already recorded deal/example-deal event \\S+ at position ${m[1]} `, 'm'));

  const tail = spawn(process.execPath, [path.join(EXAMPLES, 'tail.js'), '--server', server.address, '--name', 'example-tail'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  tail.stdout.on('data', (c) => { out += c; });
  tail.stderr.on('data', (c) => { err += c; });
  const exited = new Promise((resolve) => tail.once('exit', (code) => resolve(code)));
  try {
    await waitFor(() => /caught up/.test(err), 15000, 'tail to catch up');
    assert.match(out, new RegExp(`^${m[1]} InvestmentReported example-deal softbank -> openai 30000000000 USD IN_TALKS$`, 'm'));
    assert.match(out, /InvestmentReported amazon-openai-2026 amazon -> openai 50000000000 USD IN_TALKS/);
    const live = await client.append('deal/tail-live', [investment('tail-live')]);
    await waitFor(() => out.includes(`${live.firstPosition} InvestmentReported tail-live`), 10000, 'a live deal');
  } finally {
    tail.kill('SIGINT');
  }
  assert.equal(await exited, 0, err);
  const stored = (await client.listSubscriptions()).subscriptions.find((s) => s.name === 'example-tail');
  const lastPrinted = out.trim().split('\n').at(-1).split(' ')[0];
  assert.equal(stored.checkpointPosition, lastPrinted);
});
