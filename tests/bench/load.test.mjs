// bench/lib/load.mjs's guard against measuring nothing: the room sets are
// opened once per run, so a server that closed their sockets (its Worker
// restarted) must stop the run instead of leaving every later burst to wait
// out its timeout. A plain `ws` server on loopback stands in for the relay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { assertOpen, openSocket } from '../../bench/lib/load.mjs';

test('a socket the server closed stops the run; open ones and ones we closed do not', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
  const serverSide = [];
  wss.on('connection', (ws) => serverSide.push(ws));
  const server = { key: 'stand-in', wsUrl: `ws://127.0.0.1:${wss.address().port}` };
  try {
    const { client: a } = await openSocket(server, 'room-a');
    const { client: b } = await openSocket(server, 'room-b');
    const { client: c } = await openSocket(server, 'room-c');
    assert.doesNotThrow(() => assertOpen(server, [a, b, c]));

    c.close(); // our own close is expected
    const bClosed = new Promise((resolve) => b.ws.once('close', resolve));
    serverSide[1].close(1012, 'restarting');
    await bClosed;
    assert.throws(() => assertOpen(server, [a, b, c]),
      /stand-in: the server closed 1 of 3 load sockets \(close code 1012\)/);
    assert.doesNotThrow(() => assertOpen(server, [a, c]));
    a.close();
  } finally {
    for (const ws of wss.clients) ws.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});
