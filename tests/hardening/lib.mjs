// Helpers shared by the hardening suites (hostile input, connection storms,
// faults, load). They build on the contract tests' client (tests/support/).
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { connect, connectAndJoin, openSocket, sleep } from '../support/client.mjs';
import { ROOT } from '../support/server.mjs';

/**
 * The room still works for well-behaved peers: `members[0]` chats and every
 * member receives it once, and a newcomer joins and is told exactly the
 * members' ids (then leaves, and every member hears `left`).
 */
export async function assertRoomHealthy(server, room, members, label = 'healthy') {
  const text = `${label} ${Math.random().toString(36).slice(2)}`;
  members[0].send({ type: 'chat', text });
  for (const m of members) {
    const got = await m.next((f) => f.type === 'chat' && f.text === text, 10_000);
    assert.equal(got.from, members[0].id);
  }
  const { client: newcomer, welcome } = await connectAndJoin(server, room, 'Newcomer', {}, { label: `${label}-newcomer` });
  assert.deepEqual(welcome.peers.map((p) => p.id).sort(), members.map((m) => m.id).sort(),
    `newcomer sees exactly the members: ${JSON.stringify(welcome.peers)}`);
  for (const m of members) assert.equal((await m.next((f) => f.type === 'joined' && f.peer.id === newcomer.id)).peer.name, 'Newcomer');
  newcomer.send({ type: 'leave' });
  assert.equal((await newcomer.waitClose()).code, 1000);
  for (const m of members) await m.next((f) => f.type === 'left' && f.id === newcomer.id);
  for (const m of members) {
    assert.equal(m.seen((f) => f.type === 'chat' && f.text === text).length, 1, `${m.label} got the chat once`);
  }
  return welcome;
}

/** Opens `n` sockets to `room` at once; returns those that opened (and the count that failed). */
export async function openMany(server, room, n, label = 'storm') {
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => connect(server, room, { label: `${label}-${i}` })));
  const clients = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
  const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason?.status ?? r.reason?.message);
  return { clients, failures };
}

/** Waits until `cond()` is true, polling; fails with `what` after `timeoutMs`. */
export async function until(cond, what, timeoutMs = 10_000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Counts what a suite tried, for docs/reliability.md: with NOOM_HARDENING_TALLY
 * set, each call appends one line `suite<TAB>what<TAB>count` to that file.
 */
export function tally(suite, what, count) {
  const file = process.env.NOOM_HARDENING_TALLY;
  if (!file) return;
  const full = path.resolve(ROOT, file);
  mkdirSync(path.dirname(full), { recursive: true });
  appendFileSync(full, `${suite}\t${what}\t${count}\n`);
}

/**
 * A TCP relay on a fixed loopback port, so clients keep one address while the
 * server behind it is stopped and started again on another port (as a browser
 * keeps its origin while the service restarts).
 */
export function startRelay(targetPort) {
  let target = targetPort;
  /** Relayed connections with a side still open: {inbound, outbound, frozen}. */
  const pairs = new Set();
  /** How many WebSocket handshakes to come are left hanging (`stallHandshakes`), and those left so far. */
  let handshakesToStall = 0;
  const stalled = new Set();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(target, '127.0.0.1');
    const pair = { inbound, outbound, frozen: false };
    pairs.add(pair);
    for (const s of [inbound, outbound]) {
      s.on('close', () => { if (inbound.destroyed && outbound.destroyed) pairs.delete(pair); });
      s.on('error', () => { inbound.destroy(); if (!pair.frozen) outbound.destroy(); });
    }
    inbound.once('data', (head) => {
      if (handshakesToStall > 0 && /^upgrade: *websocket/im.test(head.toString('latin1'))) {
        handshakesToStall -= 1;
        stalled.add(inbound);
        outbound.destroy();
        return;
      }
      if (pair.frozen) return; // frozen before it said anything: stays silent
      outbound.write(head);
      inbound.pipe(outbound);
    });
    outbound.pipe(inbound);
    inbound.on('close', () => { stalled.delete(inbound); if (!pair.frozen) outbound.destroy(); });
    outbound.on('close', () => { if (!stalled.has(inbound)) inbound.destroy(); });
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        port,
        wsUrl: `ws://127.0.0.1:${port}`,
        url: `http://127.0.0.1:${port}`,
        setTarget(p) { target = p; },
        /**
         * Stops relaying on every connection open now, both ways, and keeps
         * the server's side of each open even when the client's side closes:
         * to the server, those sockets go silent but never go away (as when a
         * client's network dies without a goodbye). New connections relay as usual.
         */
        freeze() {
          for (const pair of pairs) {
            pair.frozen = true;
            pair.inbound.unpipe(pair.outbound);
            pair.outbound.unpipe(pair.inbound);
          }
        },
        /**
         * The next `count` WebSocket handshakes get no answer: the connection
         * stays open and silent, as an attempt made on a dead network hangs.
         */
        stallHandshakes(count) {
          handshakesToStall = count;
        },
        /** How many connections are hanging in a stalled handshake now. */
        get stalledNow() { return stalled.size; },
        close() {
          for (const { inbound, outbound } of pairs) { inbound.destroy(); outbound.destroy(); }
          return new Promise((r) => server.close(() => r()));
        },
      });
    });
  });
}

/**
 * A peer that rejoins by itself whenever its socket closes, as the app does:
 * it retries every `retryMs` until `stop()`. `welcomes` holds every welcome
 * with the time it arrived; `client` is the current connection.
 */
export class RejoiningPeer {
  constructor(urlOf, name, { retryMs = 200, label = name } = {}) {
    this.urlOf = urlOf;
    this.name = name;
    this.retryMs = retryMs;
    this.label = label;
    this.welcomes = [];
    this.closes = [];
    this.client = undefined;
    this.stopped = false;
    this.attempts = 0;
  }

  /** Connects and joins; resolves with the first welcome. */
  async start() {
    await this.#connectOnce();
    return this.welcomes[0].welcome;
  }

  async #connectOnce() {
    this.attempts += 1;
    const client = await openSocket(this.urlOf(), { label: this.label, timeoutMs: 3000 });
    const welcome = await client.join(this.name, {}, 3000);
    this.client = client;
    this.welcomes.push({ at: Date.now(), welcome });
    client.closed.then((info) => {
      this.closes.push({ at: Date.now(), ...info });
      this.#rejoinSoon();
    });
  }

  #rejoinSoon() {
    if (this.stopped) return;
    setTimeout(async () => {
      if (this.stopped) return;
      try {
        await this.#connectOnce();
      } catch {
        this.#rejoinSoon();
      }
    }, this.retryMs);
  }

  get id() { return this.client?.id; }

  async stop() {
    this.stopped = true;
    await this.client?.close();
  }
}
