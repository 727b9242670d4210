// The contract's WebSocket messages, one `describe` per message type, against
// one real `wrangler dev`. Each test uses its own room, so tests do not see
// each other's peers. Error codes that are about bad input live in
// errors.test.mjs; this file covers the happy paths and the per-message rules.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import {
  assertChatReaches, closeAll, connect, connectAndJoin, joinAll, roomName,
} from '../support/client.mjs';

const PEER_ID = /^[A-Za-z0-9_-]{8,32}$/;

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await closeAll();
  await server?.stop();
});

/** Checks a peer object has exactly the contract's values for the given fields. */
function assertPeer(actual, expected) {
  assert.equal(typeof actual, 'object', `peer is not an object: ${JSON.stringify(actual)}`);
  const full = { audio: false, video: false, screen: false, hand: false, ...expected };
  for (const [k, v] of Object.entries(full)) {
    assert.equal(actual[k], v, `peer field ${k}: ${JSON.stringify(actual)} vs expected ${JSON.stringify(full)}`);
  }
}

/** Checks `actual` has every field of `expected` (deep-equal); extra fields are allowed (compatible extensions). */
function assertHas(actual, expected) {
  for (const [k, v] of Object.entries(expected)) {
    assert.deepEqual(actual?.[k], v, `field ${k} of ${JSON.stringify(actual)}; expected ${JSON.stringify(expected)}`);
  }
}

/** Sends a chat from `from` and waits until `to` has it: everything `from` sent before is delivered. */
async function barrier(from, to) {
  const text = `barrier ${Math.random().toString(36).slice(2)}`;
  from.send({ type: 'chat', text });
  for (const c of to) await c.next((m) => m.type === 'chat' && m.text === text);
}

describe('join', () => {
  it('answers a welcome with id, room, the others with their state, history and maxPeers', async () => {
    const room = roomName('join');
    const ann = await connect(server, room, { label: 'ann' });
    const w1 = await ann.join('Ann', { audio: true, video: false });
    assert.equal(w1.type, 'welcome');
    assert.match(w1.id, PEER_ID);
    assert.equal(w1.room, room);
    assert.deepEqual(w1.peers, []);
    assert.deepEqual(w1.history, []);
    assert.equal(w1.maxPeers, 8);

    const bob = await connect(server, room, { label: 'bob' });
    const w2 = await bob.join('  Bob \t');
    assert.match(w2.id, PEER_ID);
    assert.notEqual(w2.id, w1.id);
    assert.equal(w2.room, room);
    assert.equal(w2.peers.length, 1, JSON.stringify(w2.peers));
    assertPeer(w2.peers[0], { id: w1.id, name: 'Ann', audio: true, video: false });

    // The others hear about the newcomer, with its trimmed name and default state.
    const joined = await ann.next('joined');
    assertPeer(joined.peer, { id: w2.id, name: 'Bob' });

    const cat = await connect(server, room, { label: 'cat' });
    const w3 = await cat.join('Cat', { audio: false, video: true, public: false });
    assert.equal(new Set([w1.id, w2.id, w3.id]).size, 3, 'ids are unique within the room');
    const peers = [...w3.peers].sort((a, b) => (a.id < b.id ? -1 : 1));
    const expected = [{ id: w1.id, name: 'Ann', audio: true }, { id: w2.id, name: 'Bob' }]
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    assert.equal(peers.length, 2, JSON.stringify(w3.peers));
    peers.forEach((p, i) => assertPeer(p, expected[i]));
    assertPeer((await ann.next('joined')).peer, { id: w3.id, name: 'Cat', video: true });
    assertPeer((await bob.next('joined')).peer, { id: w3.id, name: 'Cat', video: true });

    // Nobody is told about their own join.
    await barrier(ann, [ann, bob, cat]);
    assert.deepEqual(bob.seen((m) => m.type === 'joined' && m.peer?.id === w2.id), []);
    assert.deepEqual(cat.seen('joined'), []);
  });

  it('ignores unknown fields', async () => {
    const c = await connect(server, roomName('join-extra'));
    const w = await c.join('Ann', { colour: 'red', nested: { x: [1, 2] } });
    assert.equal(w.type, 'welcome');
  });

  it('takes names of 1 to 32 Unicode scalar values after trimming, without control characters', async () => {
    const room = roomName('names');
    const [watcher] = await joinAll(server, room, ['Watcher']);
    const c = await connect(server, room, { label: 'names' });
    const bad = [
      '', '   ', '\t\n', 'x'.repeat(33), '😀'.repeat(33), `${'é'.repeat(32)}x`,
      'A\u0007B', 'A\nB', 'A\u0000B', 'A\u001bB', 'A\u007fB', 'A\u009fB',
    ];
    for (const name of bad) {
      c.send({ type: 'join', name });
      const err = await c.next('error');
      assert.equal(err.code, 'name_invalid', `name ${JSON.stringify(name)}: ${JSON.stringify(err)}`);
      assert.equal(typeof err.message, 'string');
    }
    assert.ok(c.isOpen, 'stays open after name_invalid');
    // The same socket may then join with a valid name: 32 emoji are 32 scalar values.
    const w = await c.join('😀'.repeat(32));
    assert.equal(w.type, 'welcome');
    assertPeer((await watcher.next('joined')).peer, { id: w.id, name: '😀'.repeat(32) });

    const d = await connect(server, room, { label: 'trim' });
    const wd = await d.join(`  ${'y'.repeat(32)}  `);
    assertPeer((await watcher.next('joined')).peer, { id: wd.id, name: 'y'.repeat(32) });
    const e = await connect(server, room, { label: 'x32' });
    const we = await e.join('x'.repeat(32));
    assertPeer((await watcher.next('joined')).peer, { id: we.id, name: 'x'.repeat(32) });
    // None of the refused joins was announced.
    await assertChatReaches(c, [watcher, d, e]);
    assert.equal(watcher.seen('joined').length, 3);
  });

  it('answers already_joined to a second join and keeps the socket open', async () => {
    const room = roomName('twice');
    const [ann, bob] = await joinAll(server, room, ['Ann', 'Bob']);
    ann.send({ type: 'join', name: 'Ann again' });
    await ann.nextError('already_joined');
    ann.send({ type: 'join', name: 'x'.repeat(40) });
    await ann.nextError('already_joined');
    assert.ok(ann.isOpen);
    await assertChatReaches(ann, [bob, ann]);
    assert.equal(bob.seen('joined').length, 0, 'a refused join is not announced');
  });

  it('answers not_joined to chat, signal, state and leave before a join, and stays open', async () => {
    const room = roomName('early');
    const [ann] = await joinAll(server, room, ['Ann']);
    const c = await connect(server, room, { label: 'early' });
    for (const message of [
      { type: 'chat', text: 'hi' },
      { type: 'signal', to: ann.id, data: { sdp: 'x' } },
      { type: 'state', audio: true },
      { type: 'leave' },
    ]) {
      c.send(message);
      const err = await c.next('error');
      assert.equal(err.code, 'not_joined', `${message.type}: ${JSON.stringify(err)}`);
      assert.equal(typeof err.message, 'string');
    }
    assert.ok(c.isOpen, 'stays open after not_joined (also after leave)');
    const w = await c.join('Late');
    assert.deepEqual(w.peers.map((p) => p.id), [ann.id]);
    await assertChatReaches(c, [ann]);
    assert.equal(ann.seen('signal').length, 0);
    assert.equal(ann.seen('state').length, 0);
    assert.equal(ann.seen((m) => m.type === 'chat' && m.text === 'hi').length, 0);
  });
});

describe('chat', () => {
  it('goes to everyone in the room, sender included, with from, name, text and ts', async () => {
    const room = roomName('chat');
    const [ann, bob, cat] = await joinAll(server, room, [' Ann ', 'Bob', 'Cat']);
    const before = Date.now();
    const text = 'hello 😀 <b>&amp;</b> "quoted"\nline two';
    ann.send({ type: 'chat', text });
    for (const c of [ann, bob, cat]) {
      const m = await c.next('chat');
      assert.equal(m.from, ann.id);
      assert.equal(m.name, 'Ann');
      assert.equal(m.text, text);
      assert.ok(Number.isInteger(m.ts), `ts ${m.ts}`);
      assert.ok(Math.abs(m.ts - before) < 60_000, `ts ${m.ts} is not now (${before})`);
    }
  });

  it('accepts 2000 characters, refuses 2001 and whitespace-only with text_invalid', async () => {
    const room = roomName('chat-len');
    const [ann, bob] = await joinAll(server, room, ['Ann', 'Bob']);
    const ok = ['a'.repeat(2000), '😀'.repeat(2000), ' x '];
    const bad = ['a'.repeat(2001), '😀'.repeat(2001), '', '   \n\t  ', '\u3000\u00a0 '];
    for (const text of bad) {
      ann.send({ type: 'chat', text });
      const err = await ann.next('error');
      assert.equal(err.code, 'text_invalid', `text of ${[...text].length} chars ${JSON.stringify(text.slice(0, 10))}: ${JSON.stringify(err)}`);
    }
    for (const text of ok) {
      const echo = await ann.chat(text);
      assert.equal(echo.text, text);
      assert.equal((await bob.next('chat')).text, text);
    }
    assert.ok(ann.isOpen);
    assert.equal(bob.seen('chat').length, ok.length, 'refused chats are not delivered');
  });

  it('keeps the last 100 entries, oldest first, for later joiners; ts strictly increases', async () => {
    const room = roomName('history');
    const [watcher] = await joinAll(server, room, ['Watcher']);
    // Each socket has its own chat bucket (burst 10): 11 senders of 10 chats each.
    const sent = [];
    for (let s = 0; s < 11; s++) {
      const { client } = await connectAndJoin(server, room, `Sender ${s}`);
      const texts = [];
      for (let i = 0; i < 10; i++) texts.push(`m${String(s * 10 + i).padStart(3, '0')}`);
      for (const text of texts) client.send({ type: 'chat', text });
      for (const text of texts) await client.next((m) => m.type === 'chat' && m.text === text);
      sent.push(...texts);
      client.send({ type: 'leave' });
      await client.waitClose();
    }
    const chats = [];
    for (let i = 0; i < sent.length; i++) chats.push(await watcher.next('chat'));
    assert.deepEqual(chats.map((m) => m.text), sent, 'the watcher got every chat, in order');
    for (let i = 1; i < chats.length; i++) {
      assert.ok(chats[i].ts > chats[i - 1].ts, `ts not strictly increasing at ${i}: ${chats[i - 1].ts} then ${chats[i].ts}`);
    }

    const { welcome } = await connectAndJoin(server, room, 'Late');
    const expected = chats.slice(-100).map(({ type, ...entry }) => entry);
    assert.equal(welcome.history.length, 100);
    assert.deepEqual(welcome.history, expected);
  });
});

describe('signal', () => {
  it('goes to the addressee only, with from set and data unchanged', async () => {
    const room = roomName('signal');
    const [ann, bob, cat] = await joinAll(server, room, ['Ann', 'Bob', 'Cat']);
    const payloads = [
      { type: 'offer', sdp: 'v=0\r\no=- 4611 2 IN IP4 127.0.0.1\r\ns=-\r\n' },
      { candidate: { candidate: 'candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host', sdpMid: '0', sdpMLineIndex: 0 } },
      { nested: { deep: [1, 2.5, -3, { x: null, y: true, z: 'héllo 😀 \u2028 "q" \\ / \u0000' }], empty: {}, list: [] } },
      'just a string: ünïcödé 👍🏽',
      42,
      [1, 'two', { three: 3 }],
      null,
      false,
    ];
    for (const data of payloads) ann.send({ type: 'signal', to: bob.id, data, extra: 'ignored' });
    for (const data of payloads) {
      const m = await bob.next('signal');
      assert.equal(m.from, ann.id);
      assert.deepEqual(m.data, data);
    }
    bob.send({ type: 'signal', to: ann.id, data: { type: 'answer', sdp: 'v=0' } });
    const back = await ann.next('signal');
    assertHas(back, { type: 'signal', from: bob.id, data: { type: 'answer', sdp: 'v=0' } });

    await barrier(ann, [ann, bob, cat]);
    assert.equal(cat.seen('signal').length, 0, `cat got signals: ${cat.tail()}`);
    assert.equal(ann.seen('signal').length, 1, 'the sender gets no copy');
    assert.equal(bob.seen('signal').length, payloads.length);
  });

  it('to oneself is bad_message; to an unknown or departed peer is unknown_peer; stays open', async () => {
    const room = roomName('signal-bad');
    const [ann, bob, cat] = await joinAll(server, room, ['Ann', 'Bob', 'Cat']);
    ann.send({ type: 'signal', to: ann.id, data: {} });
    await ann.nextError('bad_message');
    ann.send({ type: 'signal', to: 'nobody-here-123', data: {} });
    await ann.nextError('unknown_peer');
    const catId = cat.id;
    cat.send({ type: 'leave' });
    await cat.waitClose();
    await ann.next('left');
    ann.send({ type: 'signal', to: catId, data: { sdp: 'x' } });
    await ann.nextError('unknown_peer');
    assert.ok(ann.isOpen);
    await assertChatReaches(ann, [bob]);
    assert.equal(bob.seen('signal').length, 0);
  });
});

describe('state', () => {
  it('merges a subset, sends the full state to the others and nothing to the sender', async () => {
    const room = roomName('state');
    const { client: ann } = await connectAndJoin(server, room, 'Ann', { audio: true, video: true });
    const { client: bob } = await connectAndJoin(server, room, 'Bob');

    ann.send({ type: 'state', hand: true });
    assertHas(await bob.next('state'),
      { type: 'state', id: ann.id, audio: true, video: true, screen: false, hand: true });
    ann.send({ type: 'state', audio: false, screen: true, ignored: 'yes' });
    assertHas(await bob.next('state'),
      { type: 'state', id: ann.id, audio: false, video: true, screen: true, hand: true });
    bob.send({ type: 'state', audio: true, video: true, screen: false, hand: false });
    assertHas(await ann.next('state'),
      { type: 'state', id: bob.id, audio: true, video: true, screen: false, hand: false });

    await barrier(ann, [ann, bob]);
    assert.equal(ann.seen((m) => m.type === 'state' && m.id === ann.id).length, 0, 'no echo to the sender');
    assert.equal(bob.seen((m) => m.type === 'state' && m.id === bob.id).length, 0, 'no echo to the sender');

    // A later joiner sees the merged state in its welcome.
    const { welcome } = await connectAndJoin(server, room, 'Cat');
    const byId = Object.fromEntries(welcome.peers.map((p) => [p.id, p]));
    assertPeer(byId[ann.id], { id: ann.id, name: 'Ann', audio: false, video: true, screen: true, hand: true });
    assertPeer(byId[bob.id], { id: bob.id, name: 'Bob', audio: true, video: true });
  });
});

describe('leave', () => {
  it('closes the socket with 1000 and tells the others with left', async () => {
    const room = roomName('leave');
    const [ann, bob, cat] = await joinAll(server, room, ['Ann', 'Bob', 'Cat']);
    ann.send({ type: 'leave' });
    const { code } = await ann.waitClose();
    assert.equal(code, 1000);
    assertHas(await bob.next('left'), { type: 'left', id: ann.id });
    assertHas(await cat.next('left'), { type: 'left', id: ann.id });
    const { welcome } = await connectAndJoin(server, room, 'Dan');
    assert.deepEqual(welcome.peers.map((p) => p.id).sort(), [bob.id, cat.id].sort());
    await assertChatReaches(bob, [cat]);
  });

  it('a socket closed without leave, or dropped, is announced with left', async () => {
    const room = roomName('drop');
    const [ann, bob, cat] = await joinAll(server, room, ['Ann', 'Bob', 'Cat']);
    await bob.close(1000);
    assertHas(await ann.next('left', 10_000), { type: 'left', id: bob.id });
    cat.terminate();
    assertHas(await ann.next('left', 15_000), { type: 'left', id: cat.id });
    const { welcome } = await connectAndJoin(server, room, 'Dan');
    assert.deepEqual(welcome.peers.map((p) => p.id), [ann.id]);
  });
});

describe('peek (an extension: who is in the room, for the pre-join screen)', () => {
  it('answers the asker only, before or after a join, with the joined others and maxPeers', async () => {
    const room = roomName('peek');
    const c = await connect(server, room, { label: 'looker' });
    c.send({ type: 'peek' });
    const empty = await c.next('peek');
    assertHas(empty, { type: 'peek', room, peers: [], maxPeers: 8 });

    const [ann, bob] = await joinAll(server, room, ['Ann', 'Bob']);
    bob.send({ type: 'state', hand: true });
    await ann.next('state');
    c.send({ type: 'peek', extra: { ignored: true } });
    const full = await c.next('peek');
    const byId = Object.fromEntries(full.peers.map((p) => [p.id, p]));
    assert.deepEqual(Object.keys(byId).sort(), [ann.id, bob.id].sort());
    assertPeer(byId[ann.id], { id: ann.id, name: 'Ann' });
    assertPeer(byId[bob.id], { id: bob.id, name: 'Bob', hand: true });
    assert.equal(c.seen('error').length, 0, `errors: ${c.tail()}`);

    // Looking is not joining: nobody is told, nothing changes, the looker may still join.
    const w = await c.join('Cat');
    assert.deepEqual(w.peers.map((p) => p.id).sort(), [ann.id, bob.id].sort());
    await ann.next((m) => m.type === 'joined' && m.peer.id === w.id);
    assert.deepEqual(ann.seen('joined').map((m) => m.peer.name), ['Bob', 'Cat'], 'a peek was announced');
    c.send({ type: 'peek' });
    assert.deepEqual((await c.next('peek')).peers.map((p) => p.id).sort(), [ann.id, bob.id].sort(), 'oneself is not listed');
    assert.equal(ann.seen('peek').length, 0, 'a peek went to someone else');
  });
});

describe('ping', () => {
  it('the text frame ping is answered with the text frame pong, before and after join', async () => {
    const room = roomName('ping');
    const c = await connect(server, room, { label: 'pinger' });
    c.sendRaw('ping', { binary: false });
    const pong = await c.next((m) => 'raw' in m || 'binary' in m);
    assert.deepEqual(pong, { raw: 'pong' }, 'a text frame "pong"');
    await c.join('Ann');
    c.sendRaw('ping', { binary: false });
    assert.deepEqual(await c.next((m) => 'raw' in m || 'binary' in m), { raw: 'pong' });
    assert.equal(c.seen('error').length, 0, `errors: ${c.tail()}`);
  });
});

describe('rooms', () => {
  it('keep their peers and messages apart (names are case-sensitive)', async () => {
    const base = roomName('Iso');
    const upper = base.toUpperCase();
    const lower = base.toLowerCase();
    const [a1, a2] = await joinAll(server, upper, ['A1', 'A2']);
    const [b1, b2] = await joinAll(server, lower, ['B1', 'B2']);
    const { welcome } = await connectAndJoin(server, lower, 'B3');
    assert.equal(welcome.room, lower);
    assert.equal(welcome.peers.length, 2);

    a1.send({ type: 'chat', text: 'only upper' });
    a1.send({ type: 'state', hand: true });
    await a2.next((m) => m.type === 'chat' && m.text === 'only upper');
    a1.send({ type: 'signal', to: b1.id, data: { cross: true } });
    await a1.nextError('unknown_peer');
    await barrier(b2, [b1, b2]);
    for (const b of [b1, b2]) {
      assert.equal(b.seen((m) => m.type === 'chat' && m.text === 'only upper').length, 0);
      assert.equal(b.seen('signal').length, 0);
      assert.equal(b.seen((m) => m.type === 'state' && m.id === a1.id).length, 0);
    }
    assert.equal(a1.seen((m) => m.type === 'chat' && m.from === b2.id).length, 0);
    assert.equal(a2.seen('joined').length, 0, 'joins in the other room are not announced');
  });
});
