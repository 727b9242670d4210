// The load test at a small size (`make load` runs it at 40 rooms x 5 peers):
// every peer chats at the allowed rate and every peer of a room receives every
// message of that room exactly once, in the same order.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runLoad } from './load.mjs';
import { tally } from './lib.mjs';

const ROOMS = Number(process.env.NOOM_LOAD_ROOMS ?? 8);
const PEERS = Number(process.env.NOOM_LOAD_PEERS ?? 5);
const SECONDS = Number(process.env.NOOM_LOAD_SECONDS ?? 8);

describe('load', () => {
  it(`${ROOMS} rooms x ${PEERS} peers chatting at the allowed rate for ${SECONDS} s: no loss, no duplicate, one order per room`, async () => {
    const f = await runLoad({ rooms: ROOMS, peers: PEERS, seconds: SECONDS });
    console.log(`load: ${f.sent} messages, ${f.deliveries} deliveries, ${f.deliveriesPerSecond} deliveries/s, `
      + `latency p50 ${f.latencyMs.p50} ms, p99 ${f.latencyMs.p99} ms, max ${f.latencyMs.max} ms`);
    tally('load', 'chat deliveries checked (small run)', f.deliveries);
    assert.deepEqual(f.problems, []);
    // Each peer starts within the first 3 s, then sends its burst and 2 per second.
    assert.ok(f.sent >= ROOMS * PEERS * (10 + 2 * (SECONDS - 4)), `${f.sent} messages sent`);
    assert.equal(f.deliveries, f.sent * PEERS);
  });
});
