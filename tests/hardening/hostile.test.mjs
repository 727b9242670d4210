// Hostile input against a real `wrangler dev`: binary and oversized frames, deep
// JSON nesting, huge numbers, a wrong type in every field, messages before join,
// floods from one connection, a room filled past maxPeers, and peers of one room
// reaching into another. After each, the room still works for well-behaved
// peers (`assertRoomHealthy`: a chat reaches everyone once, a newcomer sees
// exactly the members).
//
// The contract tests (tests/contract/errors.test.mjs) check each error code once;
// here every variant is thrown at the same room in bulk.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { closeAll, connect, joinAll, roomName, sleep } from '../support/client.mjs';
import { assertRoomHealthy, tally } from './lib.mjs';

const CODES = new Set(['bad_json', 'bad_message', 'not_joined', 'already_joined', 'name_invalid', 'text_invalid',
  'unknown_peer', 'rate_limited', 'too_large', 'room_full']);

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  await closeAll();
  if (process.env.NOOM_SERVER_LOGS) console.log(server?.logs());
  await server?.stop();
});

/** Sends raw text frames one by one, each answered by an error with the expected code. */
async function expectErrors(client, frames, code) {
  for (const frame of frames) {
    client.sendRaw(frame, { binary: false });
    const err = await client.next('error');
    assert.ok(CODES.has(err.code), `code outside the contract: ${JSON.stringify(err)}`);
    assert.equal(err.code, code, `frame ${frame.slice(0, 160)} answered ${JSON.stringify(err)}`);
    assert.equal(typeof err.message, 'string');
  }
  assert.ok(client.isOpen, `${client.label} is still open`);
}

/** Values of every JSON type but the one a field wants, as raw JSON text. */
const NOT_A_STRING = ['5', '-0', '1e400', '123456789012345678901234567890', 'true', 'null', '[]', '["x"]', '{}', '{"a":"x"}',
  `${'['.repeat(500)}${']'.repeat(500)}`];
const NOT_A_BOOL = ['0', '1', '1e400', '"true"', '""', 'null', '[]', '[true]', '{}', `${'{"a":'.repeat(300)}1${'}'.repeat(300)}`];

describe('wrong types in every field', () => {
  it('answers bad_message for each, before and after join, and the room keeps working', async () => {
    const room = roomName('types');
    const [a, b] = await joinAll(server, room, ['A', 'B']);
    const frames = [];
    const obj = (fields) => `{${Object.entries(fields).map(([k, v]) => `"${k}":${v}`).join(',')}}`;
    for (const v of NOT_A_STRING) {
      frames.push(obj({ type: v, text: '"x"' }));
      frames.push(obj({ type: '"chat"', text: v }));
      frames.push(obj({ type: '"signal"', to: v, data: '{}' }));
    }
    frames.push(obj({ type: '"signal"', to: `"${b.id}"` })); // data missing
    for (const field of ['audio', 'video', 'screen', 'hand']) {
      for (const v of NOT_A_BOOL) frames.push(obj({ type: '"state"', [field]: v }));
    }
    for (const t of ['"Chat"', '"JOIN"', '" chat"', '"chat\\u0000"', '""', '"welcome"', '"error"', '"joined"']) {
      frames.push(obj({ type: t, text: '"x"', name: '"x"' }));
    }
    await expectErrors(a, frames, 'bad_message');

    // A join with a wrong type anywhere, from a socket that has not joined: it may join after.
    const pending = await connect(server, room, { label: 'pending' });
    const joins = [];
    for (const v of NOT_A_STRING) joins.push(obj({ type: '"join"', name: v }));
    for (const field of ['public', 'audio', 'video']) {
      for (const v of NOT_A_BOOL) joins.push(obj({ type: '"join"', name: '"P"', [field]: v }));
    }
    await expectErrors(pending, joins, 'bad_message');

    assert.equal(b.seen((m) => !['welcome', 'joined'].includes(m.type)).length, 0, `B heard nothing of it: ${b.tail()}`);
    await pending.join('Late');
    await a.next('joined');
    await b.next('joined');
    tally('hostile', 'frames with a wrong type in a field', frames.length + joins.length);
    await assertRoomHealthy(server, room, [a, b, pending], 'types');
  });
});

describe('binary frames', () => {
  it('answers bad_message to binary frames up to 65536 bytes, before and after join, and stays open', async () => {
    const room = roomName('binary');
    const [a, b] = await joinAll(server, room, ['A', 'B']);
    const pending = await connect(server, room, { label: 'pending' });
    const sizes = [0, 1, 2, 100, 4096, 65536];
    for (const c of [pending, a]) {
      for (const size of sizes) {
        const frame = Buffer.alloc(size, size % 251);
        if (size >= 2) frame.write('{}'); // even valid JSON bytes are not a text frame
        c.sendRaw(frame);
        const err = await c.next('error');
        assert.equal(err.code, 'bad_message', `binary of ${size} bytes: ${JSON.stringify(err)}`);
      }
      c.sendRaw(Buffer.from(JSON.stringify({ type: 'chat', text: 'as binary' })));
      assert.equal((await c.next('error')).code, 'bad_message');
      assert.ok(c.isOpen);
    }
    assert.equal(b.seen('chat').length, 0, 'a chat sent as binary is not relayed');
    tally('hostile', 'binary frames', 2 * (sizes.length + 1));
    await assertRoomHealthy(server, room, [a, b], 'binary');
  });

  it('treats a binary frame over 65536 bytes like any oversized frame: too_large, then 1009', async () => {
    // PROTOCOL.md: too_large is a "frame over 65536 bytes", whatever it holds.
    // Without this, a peer may push megabytes per frame at the room forever.
    const room = roomName('binary-big');
    const [a, b] = await joinAll(server, room, ['A', 'B']);
    const big = await connect(server, room, { label: 'big-binary' });
    await big.join('Big');
    await a.next('joined');
    await b.next('joined');
    big.sendRaw(Buffer.alloc(100_000, 7));
    const err = await big.next('error');
    tally('hostile', 'oversized binary frames', 1);
    assert.equal(err.code, 'too_large', `a 100000-byte binary frame was answered ${JSON.stringify(err)}`);
    assert.equal((await big.waitClose()).code, 1009);
    assert.equal((await a.next('left')).id, big.id);
    await assertRoomHealthy(server, room, [a, b], 'binary-big');
  });
});

describe('oversized text frames', () => {
  for (const size of [65_537, 200_000, 1_000_000, 2_000_000]) {
    it(`answers a ${size}-byte frame with too_large and closes 1009; nothing of it is relayed`, async () => {
      const room = roomName(`big-${size}`);
      const [a, b] = await joinAll(server, room, ['A', 'B']);
      const sender = await connect(server, room, { label: `sender-${size}` });
      await sender.join('Sender');
      await a.next('joined');
      const base = JSON.stringify({ type: 'chat', text: 'oversized', pad: '' });
      sender.sendRaw(base.replace('"pad":""', `"pad":"${'z'.repeat(size - Buffer.byteLength(base))}"`), { binary: false });
      await sender.nextError('too_large', 10_000);
      assert.equal((await sender.waitClose(10_000)).code, 1009);
      assert.equal((await a.next('left')).id, sender.id);
      assert.equal(a.seen((m) => m.type === 'chat' && m.text === 'oversized').length, 0);
      tally('hostile', 'oversized text frames', 1);
      await assertRoomHealthy(server, room, [a, b], `big-${size}`);
    });
  }
});

describe('deep nesting and huge numbers', () => {
  it('ignores deep values in unknown fields, rejects them where a field is typed, relays them in signal data', async () => {
    const room = roomName('deep');
    const [a, b] = await joinAll(server, room, ['A', 'B']);
    // Unknown fields are ignored, however deep (up to the frame limit).
    a.sendRaw(`{"type":"chat","text":"deep but fine","x":${'['.repeat(30_000)}${']'.repeat(30_000)}}`, { binary: false });
    assert.equal((await b.next('chat')).text, 'deep but fine');
    // Typed fields: bad_message; unbalanced: bad_json.
    await expectErrors(a, [
      `{"type":${'['.repeat(30_000)}${']'.repeat(30_000)}}`,
      `{"type":"chat","text":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      `{"type":"state","hand":${'['.repeat(20_000)}true${']'.repeat(20_000)}}`,
    ], 'bad_message');
    await expectErrors(a, ['['.repeat(60_000), `{"type":"chat","text":"x","y":${'['.repeat(30_000)}}`, '{'.repeat(1000)], 'bad_json');
    // Signal data is any JSON value and arrives unchanged, deep or huge.
    const raw = [];
    b.ws.on('message', (d, isBinary) => { if (!isBinary) raw.push(d.toString()); });
    const datas = [`${'['.repeat(30_000)}${']'.repeat(30_000)}`, '1e400', '-1e400', '123456789012345678901234567890',
      '1E-400', '{"n":9007199254740993,"x":[1.50, 2e10]}'];
    for (const data of datas) {
      a.sendRaw(`{"type":"signal","to":"${b.id}","data":${data}}`, { binary: false });
      await b.next('signal');
      assert.equal(raw.at(-1), `{"type":"signal","from":"${a.id}","data":${data}}`, 'data is relayed byte for byte');
    }
    // The same, whatever surrounds `data` and whichever way the frame reaches
    // the room: short (up to 256 UTF-16 units) or long, ASCII (relayed by
    // slicing the frame as it came, see src/entry.js) or not (rebuilt in
    // Rust), with non-ASCII before `data` shifting byte against UTF-16 offsets.
    const framed = [
      [`{"type":"signal","to":"${b.id}", "data" : [1, 2 ,3] ,"z":0}`, '[1, 2 ,3]'],
      [`{"type":"signal","note":"ünïcödé 👍🏽","to":"${b.id}","data":{"a":[1.50]}}`, '{"a":[1.50]}'],
      [`{"type":"signal","data":{"s":"héllo 😀 \\u00e9"},"to":"${b.id}"}`, '{"s":"héllo 😀 \\u00e9"}'],
      [`{"type":"signal","to":"${b.id}","data":{"sdp":"${'v=0 a=x\\r\\n'.repeat(40)}"}}`, `{"sdp":"${'v=0 a=x\\r\\n'.repeat(40)}"}`],
      [`{"type":"signal","note":"ö","to":"${b.id}","data":{"sdp":"${'o=- 1 '.repeat(60)}"}}`, `{"sdp":"${'o=- 1 '.repeat(60)}"}`],
      [`{"type":"signal","to":"${b.id}","data":"${'é😀'.repeat(150)}"}`, `"${'é😀'.repeat(150)}"`],
    ];
    assert.ok(framed.filter(([frame]) => frame.length > 256).length === 3, 'three long frames');
    for (const [frame, data] of framed) {
      a.sendRaw(frame, { binary: false });
      await b.next('signal');
      assert.equal(raw.at(-1), `{"type":"signal","from":"${a.id}","data":${data}}`, `relayed byte for byte: ${frame.slice(0, 80)}`);
    }
    // Huge numbers where a string or boolean is wanted.
    await expectErrors(a, ['{"type":"chat","text":1e400}', '{"type":"state","audio":1e400}', '{"type":"signal","to":1e400,"data":1}'],
      'bad_message');
    assert.equal(a.seen('error').length, 9);
    tally('hostile', 'deeply nested or huge-number frames', 4 + 3 + 3 + datas.length + framed.length);
    await assertRoomHealthy(server, room, [a, b], 'deep');
  });
});

describe('messages before join', () => {
  it('answers not_joined, relays nothing, and lets a pending socket hear nothing of the room', async () => {
    const room = roomName('early');
    const [a, b] = await joinAll(server, room, ['A', 'B']);
    const early = await connect(server, room, { label: 'early' });
    await expectErrors(early, [
      JSON.stringify({ type: 'chat', text: 'sneak' }),
      JSON.stringify({ type: 'signal', to: a.id, data: { sdp: 'x' } }),
      JSON.stringify({ type: 'state', hand: true }),
      JSON.stringify({ type: 'leave' }),
    ], 'not_joined');
    await expectErrors(early, [JSON.stringify({ type: 'join', name: '\u0000' }), JSON.stringify({ type: 'join', name: ' ' }),
      JSON.stringify({ type: 'join', name: 'x'.repeat(33) })], 'name_invalid');
    // The room goes on; the pending socket must not overhear any of it.
    a.send({ type: 'chat', text: 'private' });
    b.send({ type: 'state', audio: true });
    b.send({ type: 'signal', to: a.id, data: 1 });
    await b.next((m) => m.type === 'chat' && m.text === 'private');
    await a.next('signal');
    await sleep(300);
    assert.deepEqual(early.received.filter((m) => m.type !== 'error'), [], 'a socket that has not joined hears nothing');
    assert.equal(a.seen((m) => m.type === 'chat' && m.text === 'sneak').length, 0);
    assert.equal(a.seen('signal').filter((m) => m.from !== b.id).length, 0);
    // Signal to a pending socket's id is unknown_peer: it is not in the room yet.
    tally('hostile', 'messages before join', 7);
    await assertRoomHealthy(server, room, [a, b], 'early');
  });
});

describe('floods from one connection', () => {
  it('a chat flood delivers the burst of 10 to everyone, drops the rest with rate_limited', async () => {
    const room = roomName('chat-flood');
    const [a, b, c] = await joinAll(server, room, ['A', 'B', 'C']);
    for (let i = 0; i < 60; i++) a.send({ type: 'chat', text: `f${i}` });
    await a.next((m) => m.type === 'chat' && m.text === 'f9');
    await sleep(300);
    for (const x of [a, b, c]) {
      const texts = x.seen((m) => m.type === 'chat' && m.from === a.id).map((m) => m.text);
      assert.ok(texts.length >= 10 && texts.length <= 11, `${x.label}: ${texts.length} chats`);
      assert.deepEqual(texts.slice(0, 10), Array.from({ length: 10 }, (_, i) => `f${i}`));
    }
    const limited = a.seen((m) => m.type === 'error' && m.code === 'rate_limited').length;
    assert.ok(limited >= 49, `${limited} rate_limited answers`);
    tally('hostile', 'flood messages', 60);
    await sleep(600);
    await assertRoomHealthy(server, room, [b, a, c], 'chat-flood');
  });

  it('a flood of garbage, of signals or before join ends with 1008; the others keep working', async () => {
    const room = roomName('flood');
    const [a, b] = await joinAll(server, room, ['A', 'B']);
    const garbage = await connect(server, room, { label: 'garbage' });
    await garbage.join('Garbage');
    const signaller = await connect(server, room, { label: 'signaller' });
    await signaller.join('Signaller');
    const early = await connect(server, room, { label: 'early-flood' });
    for (let i = 0; i < 1300; i++) {
      garbage.sendRaw(i % 2 ? 'not json' : '{"type":"dance"}', { binary: false });
      signaller.send({ type: 'signal', to: a.id, data: { i } });
      early.send({ type: 'chat', text: 'before join' });
    }
    for (const c of [garbage, signaller, early]) assert.equal((await c.waitClose(20_000)).code, 1008, c.label);
    await a.next((m) => m.type === 'left' && m.id === garbage.id, 10_000);
    await a.next((m) => m.type === 'left' && m.id === signaller.id, 10_000);
    const signals = a.seen((m) => m.type === 'signal' && m.from === signaller.id).length;
    assert.ok(signals >= 199 && signals <= 260, `the burst of signals went through, not the flood: ${signals}`);
    assert.ok(b.seen('signal').length === 0, 'signals reach their addressee only');
    tally('hostile', 'flood messages', 3 * 1300);
    await assertRoomHealthy(server, room, [a, b], 'flood');
  });
});

describe('a room filled past maxPeers', () => {
  it('lets exactly 8 of 12 simultaneous joiners in; the rest get room_full and 4001', async () => {
    const room = roomName('crowd');
    const sockets = await Promise.all(Array.from({ length: 12 }, (_, i) => connect(server, room, { label: `crowd-${i}` })));
    for (const [i, s] of sockets.entries()) s.send({ type: 'join', name: `Crowd ${i}`, public: true });
    const answers = await Promise.all(sockets.map((s) => s.next((m) => m.type === 'welcome' || m.type === 'error', 10_000)));
    const inside = sockets.filter((_, i) => answers[i].type === 'welcome');
    const refused = sockets.filter((_, i) => answers[i].type === 'error');
    assert.equal(inside.length, 8, JSON.stringify(answers.map((a) => a.code ?? a.type)));
    for (const [i, s] of sockets.entries()) if (answers[i].type === 'welcome') s.id = answers[i].id;
    for (const s of refused) {
      assert.equal(s.seen('error')[0].code, 'room_full');
      assert.equal((await s.waitClose()).code, 4001);
      assert.deepEqual(s.received.filter((m) => m.type !== 'error'), [], 'a refused socket hears nothing of the room');
    }
    // Everyone inside was told about the others and only them.
    await sleep(300);
    const ids = new Set(inside.map((s) => s.id));
    for (const s of inside) {
      const known = new Set([...answers[sockets.indexOf(s)].peers.map((p) => p.id), ...s.seen('joined').map((m) => m.peer.id)]);
      known.add(s.id);
      assert.deepEqual([...known].sort(), [...ids].sort(), `${s.label} knows exactly the 8`);
    }
    // Still full: one more is refused; after one leaves, one more gets in.
    const late = await connect(server, room, { label: 'late' });
    late.send({ type: 'join', name: 'Late' });
    await late.nextError('room_full');
    assert.equal((await late.waitClose()).code, 4001);
    inside[0].send({ type: 'leave' });
    await inside[1].next((m) => m.type === 'left' && m.id === inside[0].id);
    tally('hostile', 'joins past maxPeers', refused.length + 1);
    await assertRoomHealthy(server, room, inside.slice(1), 'crowd');
  });
});

describe('one room cannot reach into another', () => {
  it('signals to a peer of another room are unknown_peer; chat, state and leave stay in their room', async () => {
    const one = roomName('iso');
    const two = `${one}-other`;
    const [a, b] = await joinAll(server, one, ['A', 'B']);
    const [x] = await joinAll(server, two, ['X']);
    const [upper] = await joinAll(server, one.toUpperCase(), ['Upper']); // names are case-sensitive
    await expectErrors(x, [JSON.stringify({ type: 'signal', to: a.id, data: 1 })], 'unknown_peer');
    await expectErrors(upper, [JSON.stringify({ type: 'signal', to: b.id, data: 1 })], 'unknown_peer');
    x.send({ type: 'chat', text: 'from two' });
    x.send({ type: 'state', hand: true });
    upper.send({ type: 'chat', text: 'from upper' });
    await x.next((m) => m.type === 'chat' && m.text === 'from two');
    await upper.next((m) => m.type === 'chat' && m.text === 'from upper');
    await sleep(300);
    for (const c of [a, b]) {
      assert.deepEqual(c.received.filter((m) => m.from === x.id || m.id === x.id || m.from === upper.id), [], `${c.label}`);
    }
    tally('hostile', 'cross-room attempts', 4);
    await assertRoomHealthy(server, one, [a, b], 'iso');
  });
});
