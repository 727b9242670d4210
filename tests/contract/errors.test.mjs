// The contract's error table, one `describe` per error code that comes from bad
// input or limits (name_invalid, text_invalid, unknown_peer, not_joined and
// already_joined are with their messages in websocket.test.mjs). After each bad
// input the test checks that the socket is open or closed as the table says, and
// that the room still works for well-behaved peers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import {
  assertChatReaches, closeAll, connect, joinAll, roomName, sleep,
} from '../support/client.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await closeAll();
  await server?.stop();
});

/** A room with `n` joined peers named P0, P1, … */
function room(prefix, n = 2) {
  return joinAll(server, roomName(prefix), Array.from({ length: n }, (_, i) => `P${i}`));
}

describe('bad_json', () => {
  it('answers a frame that is not a JSON object, before and after join, and stays open', async () => {
    const [a, b] = await room('bad-json');
    const frames = ['hello', '{"type":"chat"', '[1,2]', '[]', '"chat"', '42', 'null', 'true', ''];
    const loner = await connect(server, roomName('bad-json-early'));
    for (const c of [loner, a]) {
      for (const frame of frames) {
        c.sendRaw(frame, { binary: false });
        const err = await c.next('error');
        assert.equal(err.code, 'bad_json', `frame ${JSON.stringify(frame)}: ${JSON.stringify(err)}`);
        assert.equal(typeof err.message, 'string');
      }
      assert.ok(c.isOpen);
    }
    await loner.join('Loner');
    await assertChatReaches(a, [a, b]);
  });
});

describe('bad_message', () => {
  it('answers unknown types, wrong field types, missing fields and binary frames, and stays open', async () => {
    const [a, b] = await room('bad-message');
    const messages = [
      { type: 'dance' },
      { type: 'Chat', text: 'hi' },
      { type: 5 },
      { notype: true },
      {},
      { type: 'chat', text: 5 },
      { type: 'chat', text: ['hi'] },
      { type: 'chat' },
      { type: 'signal', data: {} },
      { type: 'signal', to: 5, data: {} },
      { type: 'state', audio: 'yes' },
      { type: 'state', hand: 1 },
    ];
    for (const message of messages) {
      a.send(message);
      const err = await a.next('error');
      assert.equal(err.code, 'bad_message', `${JSON.stringify(message)}: ${JSON.stringify(err)}`);
      assert.equal(typeof err.message, 'string');
    }
    // A binary frame is refused even when it holds a valid message.
    a.sendRaw(Buffer.from(JSON.stringify({ type: 'chat', text: 'binary hi' })), { binary: true });
    await a.nextError('bad_message');
    assert.ok(a.isOpen);
    await assertChatReaches(a, [b]);
    assert.equal(b.seen((m) => m.type === 'chat' && m.text === 'binary hi').length, 0);
    assert.equal(b.seen('state').length, 0, 'an invalid state is not applied');
  });

  it('answers a join with a missing or mistyped field, and the socket may join after', async () => {
    const c = await connect(server, roomName('bad-join'));
    for (const message of [
      { type: 'join' },
      { type: 'join', name: 5 },
      { type: 'join', name: null },
      { type: 'join', name: 'Ann', public: 'yes' },
      { type: 'join', name: 'Ann', audio: 1 },
      { type: 'join', name: 'Ann', video: 'false' },
    ]) {
      c.send(message);
      const err = await c.next('error');
      assert.equal(err.code, 'bad_message', `${JSON.stringify(message)}: ${JSON.stringify(err)}`);
    }
    assert.ok(c.isOpen);
    const w = await c.join('Ann');
    assert.equal(w.type, 'welcome');
  });
});

/**
 * A chat frame of exactly `bytes` UTF-8 bytes: the chat plus an unknown
 * field padded with `unit` characters (and single bytes for what is left).
 */
function paddedChat(text, bytes, unit = 'x') {
  const base = JSON.stringify({ type: 'chat', text, pad: '' });
  const padBytes = bytes - Buffer.byteLength(base);
  const width = Buffer.byteLength(unit);
  const frame = base.replace('"pad":""', `"pad":"${unit.repeat(Math.floor(padBytes / width))}${'x'.repeat(padBytes % width)}"`);
  assert.equal(Buffer.byteLength(frame), bytes);
  return frame;
}

describe('too_large', () => {
  it('accepts a frame of exactly 65536 bytes', async () => {
    const [a, b] = await room('big-ok');
    a.sendRaw(paddedChat('big but fine', 65536), { binary: false });
    const m = await b.next('chat');
    assert.equal(m.text, 'big but fine');
    assert.equal(a.seen('error').length, 0, a.tail());
  });

  it('answers a frame of 65537 bytes with too_large, then closes with 1009', async () => {
    const [a, b, c] = await room('big', 3);
    a.sendRaw(paddedChat('too big', 65537), { binary: false });
    await a.nextError('too_large');
    const { code } = await a.waitClose();
    assert.equal(code, 1009);
    assert.equal((await b.next('left')).id, a.id);
    assert.equal(b.seen((m) => m.type === 'chat' && m.text === 'too big').length, 0);
    await assertChatReaches(b, [c]);
  });
});

describe('too_large counts UTF-8 bytes, not characters', () => {
  // A frame under the cap in characters can be over it in bytes: "€" is 3 bytes.
  const wide = (text, bytes) => {
    const frame = paddedChat(text, bytes, '€');
    assert.ok(frame.length < 65536 / 2, 'far under the cap in characters');
    return frame;
  };

  it('accepts 65536 bytes of mostly three-byte characters', async () => {
    const [a, b] = await room('big-utf8-ok');
    a.sendRaw(wide('wide but fine ✓', 65536), { binary: false });
    const m = await b.next('chat');
    assert.equal(m.text, 'wide but fine ✓');
    assert.equal(a.seen('error').length, 0, a.tail());
  });

  it('answers 65537 bytes of them with too_large, then closes with 1009', async () => {
    const [a, b, c] = await room('big-utf8', 3);
    a.sendRaw(wide('too wide', 65537), { binary: false });
    await a.nextError('too_large');
    assert.equal((await a.waitClose()).code, 1009);
    assert.equal(b.seen((m) => m.type === 'chat' && m.text === 'too wide').length, 0);
    await assertChatReaches(b, [c]);
  });
});

describe('rate_limited', () => {
  it('drops the 11th chat of a burst with rate_limited; the bucket refills at 2 per second', async () => {
    const [a, b] = await room('chat-burst');
    for (let i = 1; i <= 11; i++) a.send({ type: 'chat', text: `c${i}` });
    await a.nextError('rate_limited');
    const got = [];
    for (let i = 0; i < 10; i++) got.push((await b.next('chat')).text);
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `c${i + 1}`));
    assert.ok(a.isOpen);
    await sleep(700); // one token back at 2 per second
    await assertChatReaches(a, [b], 'after the pause');
    assert.equal(b.seen((m) => m.type === 'chat' && m.text === 'c11').length, 0, 'the 11th chat was dropped');
    assert.equal(a.seen('error').length, 1, `one error only: ${a.tail()}`);
    // Other sockets have their own bucket.
    await assertChatReaches(b, [a]);
  });

  it('drops any message over a burst of 200 with rate_limited; the bucket refills at 50 per second', async () => {
    const [a, b] = await room('any-burst');
    const burst = 300; // room for 2 s of refill if the machine is slow
    for (let i = 0; i < burst; i++) a.send({ type: 'state', hand: i % 2 === 0 });
    await a.nextError('rate_limited');
    await sleep(600); // the rest of the burst is handled, and 30 tokens come back at 50 per second
    // Frames are handled in order: once this chat arrives, the whole burst has been.
    await assertChatReaches(a, [b], 'after the burst');
    const errorsBefore = a.seen('error').length;
    assert.ok(errorsBefore >= 1 && errorsBefore <= burst - 200, `${errorsBefore} rate_limited errors for ${burst} messages`);
    const states = b.seen((m) => m.type === 'state' && m.id === a.id).length;
    assert.ok(states >= 200 && states < burst, `${states} of ${burst} states went through`);
    assert.ok(a.isOpen);
    for (let i = 0; i < 5; i++) a.send({ type: 'state', audio: i % 2 === 0 });
    await assertChatReaches(a, [b]);
    assert.equal(a.seen('error').length, errorsBefore, `no errors after the pause: ${a.tail()}`);
    assert.equal(b.seen((m) => m.type === 'state' && m.id === a.id).length, states + 5);
  });

  it('closes a connection that keeps flooding with 1008; the others keep working', async () => {
    const [flooder, b, c] = await room('flood', 3);
    const total = 1600;
    for (let i = 0; i < total; i++) flooder.send({ type: 'state', hand: i % 2 === 0 });
    const { code } = await flooder.waitClose(15_000);
    assert.equal(code, 1008);
    const errors = flooder.seen('error');
    assert.ok(errors.length > 0, 'rate_limited errors before the close');
    assert.ok(errors.every((e) => e.code === 'rate_limited'), `only rate_limited: ${JSON.stringify(errors.find((e) => e.code !== 'rate_limited'))}`);
    assert.equal((await b.next('left', 10_000)).id, flooder.id);
    const states = b.seen((m) => m.type === 'state' && m.id === flooder.id).length;
    assert.ok(states >= 200 && states < total - 900, `the first ~200 (burst) went through, not the rest: ${states}`);
    await assertChatReaches(b, [c]);
    await assertChatReaches(c, [b]);
  });
});

describe('room_full', () => {
  it('by default a room holds 8 peers: the 9th join gets room_full and 4001', async () => {
    const name = roomName('full8');
    const peers = await joinAll(server, name, Array.from({ length: 8 }, (_, i) => `P${i}`));
    const ninth = await connect(server, name, { label: 'ninth' });
    ninth.send({ type: 'join', name: 'Ninth' });
    assert.equal((await ninth.nextError('room_full')).maxPeers, 8, 'room_full says how many the room holds');
    assert.equal((await ninth.waitClose()).code, 4001);
    await assertChatReaches(peers[7], peers);
  });

  describe('with MAX_PEERS=3', () => {
    let small;
    before(async () => { small = await startServer({ vars: { MAX_PEERS: '3' } }); });
    after(async () => { await closeAll(); await small?.stop(); });

    it('answers a join to a room holding MAX_PEERS peers with room_full, then closes with 4001', async () => {
      const name = roomName('full');
      const [a, b, c] = await joinAll(small, name, ['A', 'B', 'C']);
      const d = await connect(small, name, { label: 'D' });
      d.send({ type: 'join', name: 'D' });
      assert.equal((await d.nextError('room_full')).maxPeers, 3);
      const { code } = await d.waitClose();
      assert.equal(code, 4001);
      await assertChatReaches(a, [b, c]);
      assert.equal(a.seen('joined').length, 2, 'the refused peer was not announced');
      // When someone leaves there is room again; the welcome says maxPeers 3.
      c.send({ type: 'leave' });
      await c.waitClose();
      const e = await connect(small, name, { label: 'E' });
      const w = await e.join('E');
      assert.equal(w.maxPeers, 3);
      assert.equal(w.peers.length, 2);
      // Another room on the same server is not affected by this one being full.
      const [x] = await joinAll(small, roomName('other'), ['X']);
      assert.ok(x.isOpen);
    });
  });
});
