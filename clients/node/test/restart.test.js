'use strict';
// A subscription survives a server restart: it reconnects with backoff and
// resumes after the last event it delivered — no gap, no duplicate — and a
// named subscription's checkpoint survives the restart too.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Client } = require('../src');
const { startServer, investment, organization } = require('./helpers');

test('subscription resumes across a server restart without gap or duplicate', async () => {
  let server = await startServer();
  const { dataDir, port } = server;
  const client = new Client(server.address, { timeoutMs: 10000 });
  try {
    const written = [];
    const append = async (stream, event) => written.push((await client.append(stream, [event])).firstPosition);
    await append('org/alpha', organization('alpha'));
    await append('org/beta', organization('beta'));
    await append('deal/alpha-beta-1', investment('alpha-beta-1', { investor: 'alpha', company: 'beta' }));

    const got = [];
    let restarted = false;
    const sub = client.subscribe({ name: 'restart-test', fromStart: true, maxReconnectAttempts: 50 });
    for await (const event of sub) {
      got.push(event.position);
      if (got.length === 3 && !restarted) {
        restarted = true;
        const { code } = await server.stop();
        assert.equal(code, 0);
        server = await startServer({ dataDir, port });
        // Appended while the subscription is disconnected: it must catch up on them.
        await append('deal/alpha-beta-2', investment('alpha-beta-2', { investor: 'alpha', company: 'beta' }));
        await append('deal/beta-alpha-1', investment('beta-alpha-1', { investor: 'beta', company: 'alpha' }));
      }
      if (got.length === 5) break;
    }
    assert.deepEqual(got, written);
    assert.ok(sub.reconnects >= 1, 'it did not reconnect');

    // The checkpoint committed on break survives another restart.
    assert.equal(sub.committedPosition, written[4]);
    assert.equal((await server.stop()).code, 0);
    server = await startServer({ dataDir, port });
    await append('deal/alpha-beta-3', investment('alpha-beta-3', { investor: 'alpha', company: 'beta' }));
    const resumed = client.subscribe({ name: 'restart-test' });
    const first = await resumed.next();
    assert.equal(first.value.position, written[5]);
    await resumed.return();
  } finally {
    client.close();
    await server.stop();
    server.removeData();
  }
});
