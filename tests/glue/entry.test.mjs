// src/entry.js, the JavaScript in front of the Rust room, against a stand-in
// for the Rust build (fake-build.mjs): which frames take the fast path, and
// which peer each frame is credited to, also across a reset of the
// WebAssembly instance, which no client can cause on purpose (nothing a
// client sends makes Rust panic), so it cannot be reached through wrangler dev.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
const { RoomObject } = await import('../../src/entry.js');
const { handled, resetInstance } = await import('./fake-build.mjs');

const socket = (tag) => ({ tag, sent: [], send(text) { this.sent.push(text); } });

function frame(room, ws, text) {
  handled.length = 0;
  room.webSocketMessage(ws, text);
  assert.equal(handled.length, 1);
  return handled[0];
}

test('a numbered socket takes the fast path, credited to its own peer', () => {
  const room = new RoomObject({}, {});
  const a = socket('A');
  const b = socket('B');
  assert.deepEqual(frame(room, a, '{"n":1}'), { peer: 'A', text: '{"n":1}', path: 'message' });
  assert.deepEqual(frame(room, b, '{"n":2}'), { peer: 'B', text: '{"n":2}', path: 'message' });
  assert.deepEqual(frame(room, a, '{"n":3}'), { peer: 'A', text: '{"n":3}', path: 'text' });
  assert.deepEqual(frame(room, b, '{"n":4}'), { peer: 'B', text: '{"n":4}', path: 'text' });
  // A long frame takes the slow path whatever its number.
  const long = `{"x":"${'y'.repeat(300)}"}`;
  assert.deepEqual(frame(room, a, long), { peer: 'A', text: long, path: 'message' });
});

test('after an instance reset, an old number never names the socket that got it anew', () => {
  const room = new RoomObject({}, {});
  const a = socket('A');
  frame(room, a, 'first'); // A: number 0 in this instance
  assert.equal(frame(room, a, 'fast').path, 'text');
  resetInstance();
  const c = socket('C');
  assert.deepEqual(frame(room, c, 'hello'), { peer: 'C', text: 'hello', path: 'message' }); // C: number 0 anew
  assert.equal(frame(room, c, 'again').path, 'text');
  // A still carries number 0 from the old instance: its frames are A's.
  assert.deepEqual(frame(room, a, 'mine'), { peer: 'A', text: 'mine', path: 'message' });
  // Marked afresh on that frame, A is back on the fast path as itself.
  assert.deepEqual(frame(room, a, 'mine too'), { peer: 'A', text: 'mine too', path: 'text' });
  assert.deepEqual(frame(room, c, 'and mine'), { peer: 'C', text: 'and mine', path: 'text' });
});
