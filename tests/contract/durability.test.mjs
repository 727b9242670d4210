// Durability: chat history lives in the Room Durable Object's storage. It
// survives a restart of `wrangler dev` on the same persisted state (also for a
// burst of lines, which the room writes together a moment later), and it is
// deleted HISTORY_TTL_SECONDS after the room was last left.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startServer } from '../support/server.mjs';
import { closeAll, connectAndJoin, roomName, sleep } from '../support/client.mjs';

describe('chat history across a restart of wrangler dev', () => {
  let server;
  let persistTo;
  before(async () => {
    server = await startServer();
    persistTo = server.persistTo;
  });
  after(async () => {
    await closeAll();
    await server?.stop();
    if (persistTo) rmSync(persistTo, { recursive: true, force: true });
  });

  it('is still there, unchanged, after the server is stopped and started on the same state', async () => {
    const room = roomName('durable');
    const { client: ann } = await connectAndJoin(server, room, 'Ann');
    const { client: bob } = await connectAndJoin(server, room, 'Bob');
    const chats = [];
    for (const [c, text] of [[ann, 'first'], [bob, 'second ✓'], [ann, 'third']]) chats.push(await c.chat(text));
    ann.send({ type: 'leave' });
    await ann.waitClose();
    await bob.close();

    await server.stop({ keepState: true });
    server = await startServer({ persistTo });

    const { client: cat, welcome } = await connectAndJoin(server, room, 'Cat');
    assert.deepEqual(welcome.peers, [], 'nobody is left in the room after a restart');
    assert.deepEqual(welcome.history, chats.map(({ type, ...entry }) => entry));
    // New chats keep ts increasing after the restart.
    const next = await cat.chat('after restart');
    assert.ok(next.ts > chats[chats.length - 1].ts, `${next.ts} after ${chats[chats.length - 1].ts}`);
  });

  // Lines sent faster than one per 100 ms are committed together, a moment
  // later, by the room's timer (not by anyone leaving): all of them are kept.
  it('keeps a burst of lines whose sender is still in the room', async () => {
    const room = roomName('burst');
    const { client: ann } = await connectAndJoin(server, room, 'Ann');
    const texts = Array.from({ length: 10 }, (_, i) => `burst line ${i}`);
    for (const text of texts) ann.send({ type: 'chat', text });
    const chats = [];
    for (const text of texts) chats.push(await ann.next((m) => m.type === 'chat' && m.text === text));
    await sleep(1_000);

    await server.stop({ keepState: true });
    server = await startServer({ persistTo });
    const { welcome } = await connectAndJoin(server, room, 'Bob');
    assert.deepEqual(welcome.history, chats.map(({ type, ...entry }) => entry));
  });
});

describe('chat history expiry (HISTORY_TTL_SECONDS)', () => {
  let server;
  before(async () => { server = await startServer({ vars: { HISTORY_TTL_SECONDS: '2' } }); });
  after(async () => { await closeAll(); await server?.stop(); });

  it('is deleted a few seconds after the last peer left, and kept while someone is in', async () => {
    const room = roomName('ttl');
    const { client: ann } = await connectAndJoin(server, room, 'Ann');
    await ann.chat('short-lived');
    // Someone stays past the TTL: nothing is deleted while the room has peers.
    await sleep(2500);
    const { client: bob, welcome } = await connectAndJoin(server, room, 'Bob');
    assert.deepEqual(welcome.history.map((e) => e.text), ['short-lived']);
    ann.send({ type: 'leave' });
    await ann.waitClose();
    bob.send({ type: 'leave' });
    await bob.waitClose();

    // Each look joins and leaves again, which restarts the clock: look less
    // often than the TTL. Bounded: about 15 s in all.
    let history;
    for (let i = 0; i < 5; i++) {
      await sleep(3000);
      const { client, welcome: w } = await connectAndJoin(server, room, `Look ${i}`);
      history = w.history;
      client.send({ type: 'leave' });
      await client.waitClose();
      if (history.length === 0) break;
    }
    assert.deepEqual(history, [], 'history still there ~15 s after the room was left with a 2 s TTL');
  });
});
