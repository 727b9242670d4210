// Many connections opened and dropped at once, against its own `wrangler dev`
// (the per-IP connect limit, 300 a minute, is shared by everything a server sees).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { closeAll, joinAll, roomName, sleep } from '../support/client.mjs';
import { assertRoomHealthy, openMany, tally, until } from './lib.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await closeAll();
  await server?.stop();
});

describe('connection storms', () => {
  it('100 sockets opened at once all try to join; exactly enough get in, all dropped at once; the room carries on', async () => {
    const room = roomName('storm');
    const members = await joinAll(server, room, ['Ann', 'Bob', 'Cy']);
    const { clients, failures } = await openMany(server, room, 100);
    assert.deepEqual(failures, [], 'every socket opened');
    for (const [i, c] of clients.entries()) c.send({ type: 'join', name: `Storm ${i}` });
    const answers = await Promise.all(clients.map((c) => c.next((m) => m.type === 'welcome' || m.type === 'error', 15_000)));
    const inside = clients.filter((_, i) => answers[i].type === 'welcome');
    for (const [i, c] of clients.entries()) if (answers[i].type === 'welcome') c.id = answers[i].id;
    assert.equal(inside.length, 5, 'the room holds 8: 3 members and 5 of the storm');
    assert.ok(answers.filter((a) => a.type === 'error').every((a) => a.code === 'room_full'));
    for (const m of members) await until(() => m.seen('joined').length >= 5, `${m.label} told of the 5`);
    // Everyone drops at once without a close frame.
    for (const c of clients) c.terminate();
    for (const m of members) {
      for (const c of inside) await m.next((f) => f.type === 'left' && f.id === c.id, 10_000);
    }
    await sleep(200);
    for (const m of members) assert.equal(m.seen('left').length, 5, `${m.label}: one left per peer that had joined`);
    tally('storm', 'sockets opened and dropped at once', clients.length);
    await assertRoomHealthy(server, room, members, 'after-storm');
  });

  it('100 sockets that open and close at once without joining leave no trace', async () => {
    const room = roomName('churn');
    const members = await joinAll(server, room, ['Ann', 'Bob']);
    const { clients, failures } = await openMany(server, room, 100, 'churn');
    assert.deepEqual(failures, []);
    await Promise.all(clients.map((c, i) => (i % 2 ? c.close() : Promise.resolve(c.terminate()))));
    await sleep(500);
    for (const m of members) {
      assert.deepEqual(m.received.filter((f) => f.type !== 'welcome' && f.type !== 'joined'), [], `${m.label} heard nothing`);
    }
    tally('storm', 'sockets opened and dropped at once', clients.length);
    await assertRoomHealthy(server, room, members, 'after-churn');
  });
});
