// Silent connections: a peer that vanishes without a close frame (its network
// cut, its process frozen) is found by the room's sweep alarm and announced as
// `left`. A page keeps itself alive with the `ping` text frame, which the
// runtime answers without waking the room; the room reads when that happened.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { connect, roomName, sleep } from '../support/client.mjs';

/**
 * Two peers in a fresh room: `alive` pings every `pingEveryMs` (answered by
 * the runtime, not the room) and `silent` sends nothing after its join.
 * `stop()` ends the pinging.
 */
async function pingingAndSilent(server, prefix, pingEveryMs) {
  const room = roomName(prefix);
  const alive = await connect(server, room, { label: 'alive' });
  await alive.join('Alive');
  const pinger = setInterval(() => alive.sendRaw('ping', { binary: false }), pingEveryMs);
  try {
    const silent = await connect(server, room, { label: 'silent' });
    const welcome = await silent.join('Silent');
    await alive.next({ type: 'joined' });
    return { alive, silent, silentId: welcome.id, stop: () => clearInterval(pinger) };
  } catch (e) {
    clearInterval(pinger);
    throw e;
  }
}

describe('silent connections time out (PEER_TIMEOUT_SECONDS=2)', () => {
  let server;
  before(async () => { server = await startServer({ vars: { PEER_TIMEOUT_SECONDS: '2' } }); });
  after(async () => { await server?.stop(); });

  test('a peer that stops talking is dropped with 1001 and the others get left; a pinging one stays', async () => {
    const { alive, silent, silentId, stop } = await pingingAndSilent(server, 'silent', 500);
    try {
      // The silent peer now sends nothing at all: no frame, no ping.
      const started = Date.now();
      const left = await alive.next((m) => m.type === 'left' && m.id === silentId, 10_000);
      assert.ok(left);
      const waited = Date.now() - started;
      assert.ok(waited >= 1500, `dropped too early (${waited} ms)`);
      const { code } = await silent.waitClose(5000);
      assert.equal(code, 1001);
      // The pinging peer is still in and the room still works.
      await sleep(3000);
      assert.ok(alive.isOpen, 'a peer that pings is never timed out');
      const echo = await alive.chat('still here');
      assert.equal(echo.text, 'still here');
    } finally {
      stop();
    }
  });

  test('a connection that never joins is closed too', async () => {
    const lurker = await connect(server, roomName('lurk'), { label: 'lurker' });
    const started = Date.now();
    // The server's close frame comes after the timeout (2 s) plus one sweep
    // (1 s); the closing handshake with workerd's local server then takes up
    // to ~10 s more before the TCP connection ends, hence the wide bound.
    const { code } = await lurker.waitClose(20_000);
    assert.equal(code, 1001);
    assert.ok(Date.now() - started >= 1500, 'not before the timeout');
  });
});

// A room whose pages only ping has nothing to do between sweeps, and the
// runtime puts it to sleep (in `wrangler dev` after about 10 s idle): the
// next sweep wakes a new object with no memory of who was heard when. The
// socket's attachment keeps that time, so silence is still counted.
describe('silent connections time out in a room that sleeps between sweeps (PEER_TIMEOUT_SECONDS=15)', () => {
  let server;
  before(async () => { server = await startServer({ vars: { PEER_TIMEOUT_SECONDS: '15' } }); });
  after(async () => { await server?.stop(); });

  test('the silent peer is dropped after its timeout; the pinging one stays', { timeout: 90_000 }, async () => {
    const { alive, silentId, stop } = await pingingAndSilent(server, 'sleepy', 5000);
    try {
      const started = Date.now();
      const left = await alive.next((m) => m.type === 'left' && m.id === silentId, 60_000);
      assert.ok(left);
      assert.ok(Date.now() - started >= 14_000, `dropped too early (${Date.now() - started} ms)`);
      assert.ok(alive.isOpen, 'a peer that pings is never timed out');
      const echo = await alive.chat('still here');
      assert.equal(echo.text, 'still here');
    } finally {
      stop();
    }
  });
});
