// The load generator: WebSocket clients (`ws`, loopback only) and the relay
// workloads. Every wait is bounded in time and every loop in count.
//
// A workload runs on a "room set" opened once per server (sockets stay open
// between rounds: idle sockets cost nothing, and Noom limits how many sockets
// one address may open per minute). Contract servers (Noom, baseline) get a
// real join and answer with `welcome`; the floors only need a first frame.
import WebSocket from 'ws';
import { performance } from 'node:perf_hooks';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ERROR_MARK = Buffer.from('"type":"error"');

/** One socket of the load generator. Counts what it receives; keeps error frames. */
class LoadClient {
  constructor(ws, server) {
    this.ws = ws;
    this.server = server;
    this.received = 0;
    this.errors = [];
    this.closedUnexpectedly = null;
    this.onFrame = null;
    this.waiter = null;
    this.expectClose = false;
    ws.on('message', (data) => {
      this.received += 1;
      if (data.indexOf(ERROR_MARK) !== -1) this.errors.push(data.toString().slice(0, 200));
      if (this.waiter) {
        const w = this.waiter;
        const text = data.toString();
        if (w.pred(text)) {
          this.waiter = null;
          clearTimeout(w.timer);
          w.resolve(text);
        }
      }
      this.onFrame?.(data);
    });
    ws.on('close', (code) => {
      if (!this.expectClose) this.closedUnexpectedly = code;
      if (this.waiter) {
        clearTimeout(this.waiter.timer);
        this.waiter.reject(new Error(`${server.key}: socket closed (${code}) while waiting`));
        this.waiter = null;
      }
    });
    ws.on('error', () => { /* seen through close */ });
  }

  /** The next text frame satisfying `pred`, within `timeoutMs`. */
  next(pred, timeoutMs = 10_000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`${this.server.key}: no expected frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = { pred, resolve, reject, timer };
    });
  }

  send(text) {
    this.ws.send(text);
  }

  close() {
    this.expectClose = true;
    try { this.ws.close(1000); } catch { /* gone */ }
    setTimeout(() => { try { this.ws.terminate(); } catch { /* gone */ } }, 2000).unref();
  }
}

/**
 * Opens a socket to `room`. A `429` (too many sockets from this address) is
 * waited out and retried, within `maxWaitMs`.
 */
export async function openSocket(server, room, { maxWaitMs = 90_000 } = {}) {
  const url = `${server.wsUrl}/api/rooms/${room}/ws`;
  const deadline = Date.now() + maxWaitMs;
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const started = performance.now();
    const result = await new Promise((resolve) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 10_000 });
      ws.once('open', () => resolve({ ws }));
      ws.once('unexpected-response', (req, res) => {
        res.resume();
        req.destroy();
        resolve({ status: res.statusCode });
      });
      ws.once('error', (e) => resolve({ error: e }));
    });
    if (result.ws) return { client: new LoadClient(result.ws, server), connectMs: performance.now() - started };
    if (result.status === 429 && Date.now() < deadline) {
      await sleep(5000);
      continue;
    }
    throw new Error(`${server.key}: cannot open ${url}: ${result.status ?? result.error?.message}`);
  }
  throw new Error(`${server.key}: cannot open ${url}: too many attempts`);
}

/**
 * Opens and joins one member. Contract servers: `join` then wait for `welcome`
 * (its peer id is kept). Floors: the first frame marks the socket joined.
 * Returns the client and the times: socket open, and open to welcome.
 */
export async function joinMember(server, room, name) {
  const { client, connectMs } = await openSocket(server, room);
  const sent = performance.now();
  if (!server.contract) {
    client.send(JSON.stringify({ type: 'join', name }));
    return { client, connectMs, joinMs: null };
  }
  const welcomed = client.next((t) => t.startsWith('{"type":"welcome"') || t.includes('"type":"error"'));
  client.send(JSON.stringify({ type: 'join', name }));
  const text = await welcomed;
  const joinMs = performance.now() - sent;
  const frame = JSON.parse(text);
  if (frame.type !== 'welcome') throw new Error(`${server.key}: join failed: ${text}`);
  client.id = frame.id;
  return { client, connectMs, joinMs };
}

/** Opens `rooms` rooms of `size` members each, one member at a time. */
export async function openRoomSet(server, prefix, rooms, size) {
  const set = [];
  for (let r = 0; r < rooms; r += 1) {
    const room = `${prefix}-${r}-${Math.random().toString(36).slice(2, 8)}`;
    const members = [];
    for (let m = 0; m < size; m += 1) members.push((await joinMember(server, room, `m${m}`)).client);
    set.push({ room, members });
  }
  // Let the floors handle every first frame (and the contract servers every
  // `joined`) before anything is measured.
  await sleep(300);
  return { rooms: set, lastUse: 0 };
}

function allClients(set) {
  return set.rooms.flatMap((r) => r.members);
}

/**
 * Stops the run if the server closed any of these sockets. The room sets are
 * opened once, so without them every later burst would only wait out its
 * timeout (a minute each, hours in all) and measure nothing. Seen when a
 * file under public/ changed during a run: every server serves that folder,
 * and each `wrangler dev` restarts its Worker when a file in it changes.
 */
export function assertOpen(server, clients) {
  const closed = clients.filter((c) => c.closedUnexpectedly !== null);
  if (closed.length === 0) return;
  throw new Error(`${server.key}: the server closed ${closed.length} of ${clients.length} load sockets `
    + `(close code ${closed[0].closedUnexpectedly}); a run cannot go on without its rooms`);
}

/**
 * Work a server leaves for just after a burst belongs to the burst: Noom
 * writes socket attachments and grouped chat lines up to 100 ms later. CPU is
 * read this long after the last delivery (idle servers use well under 1 ms of
 * CPU per second, see "Idle CPU" in BENCHMARKS.md).
 */
const SETTLE_MS = 250;

/**
 * One measured burst. `sendAll()` sends every message; the burst ends when
 * `expected` frames have arrived in total (or after `timeoutMs`). CPU is read
 * just before the first send and `SETTLE_MS` after the last delivery.
 */
async function burst(server, set, { expected, sendAll, timeoutMs = 60_000, refillMs }) {
  // Each socket's token buckets must be full again before it is used.
  const wait = set.lastUse + refillMs - Date.now();
  if (wait > 0) await sleep(Math.min(wait, 30_000));
  const clients = allClients(set);
  assertOpen(server, clients);
  for (const c of clients) {
    c.received = 0;
    c.errors = [];
  }
  let delivered = 0;
  let lastAt = 0;
  let done;
  const finished = new Promise((r) => { done = r; });
  for (const c of clients) {
    c.onFrame = () => {
      delivered += 1;
      lastAt = performance.now();
      if (delivered >= expected) done();
    };
  }
  const timer = setTimeout(done, timeoutMs);
  const cpu0 = server.cpu();
  const t0 = performance.now();
  sendAll();
  await finished;
  // Anything late (extra frames, errors) also shows up in the counts read below.
  await sleep(SETTLE_MS);
  const cpu1 = server.cpu();
  clearTimeout(timer);
  for (const c of clients) c.onFrame = null;
  set.lastUse = Date.now();
  const errors = clients.flatMap((c) => c.errors);
  const closed = clients.filter((c) => c.closedUnexpectedly !== null).length;
  const seconds = ((lastAt || performance.now()) - t0) / 1000;
  return {
    expected,
    delivered,
    complete: delivered >= expected,
    seconds,
    deliveriesPerSecond: delivered / seconds,
    cpuUs: cpu1.statUs - cpu0.statUs,
    cpuSchedUs: cpu1.schedUs - cpu0.schedUs,
    workerCpuSchedUs: cpu1.workerSchedUs - cpu0.workerSchedUs,
    cpuUsPerDelivery: (cpu1.statUs - cpu0.statUs) / Math.max(1, delivered),
    schedUsPerDelivery: (cpu1.schedUs - cpu0.schedUs) / Math.max(1, delivered),
    workerUsPerDelivery: (cpu1.workerSchedUs - cpu0.workerSchedUs) / Math.max(1, delivered),
    errors: errors.length,
    errorSamples: errors.slice(0, 3),
    closedSockets: closed,
  };
}

/** A fake but realistic browser SDP offer of about `bytes` characters. */
export function fakeSdp(bytes = 4000) {
  const lines = ['v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
    'a=group:BUNDLE 0 1', 'a=extmap-allow-mixed', 'a=msid-semantic: WMS stream'];
  const codecs = ['opus/48000/2', 'VP8/90000', 'VP9/90000', 'H264/90000', 'AV1/90000', 'rtx/90000', 'red/90000', 'ulpfec/90000'];
  let i = 0;
  while (lines.join('\r\n').length < bytes - 80) {
    const pt = 96 + (i % 32);
    lines.push(`a=rtpmap:${pt} ${codecs[i % codecs.length]}`);
    lines.push(`a=rtcp-fb:${pt} nack pli`);
    lines.push(`a=fmtp:${pt} level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f`);
    lines.push(`a=candidate:${1000 + i} 1 udp 2122260223 192.168.1.${i % 250} ${50000 + i} typ host generation 0`);
    i += 1;
  }
  return `${lines.join('\r\n')}\r\n`.slice(0, bytes);
}

/**
 * The throughput workloads. Each has a room layout (opened once per server)
 * and a burst whose every socket stays inside the contract's limits: at most
 * `perSocket` messages at once, against a burst allowance of 200 (any message)
 * or 10 (chat), and a refill wait before the same sockets send again.
 */
export function throughputWorkloads(quick) {
  const scale = quick ? 0.5 : 1;
  const fanout = (size, rooms) => ({
    key: `fanout-${size}`,
    title: `state fan-out, rooms of ${size}`,
    rooms: Math.max(1, Math.round(rooms * scale)),
    size,
    perSocket: 150,
    refillMs: 4000,
    // Every peer toggles its hand: each message is a real change, told to the others.
    expected: (server, set) => set.rooms.length * size * 150 * (size - 1),
    send(server, set) {
      for (let k = 0; k < 150; k += 1) {
        const frame = k % 2 === 0 ? '{"type":"state","hand":true}' : '{"type":"state","hand":false}';
        for (const c of allClients(set)) c.send(frame);
      }
    },
  });
  return [
    fanout(2, 16),
    fanout(4, 8),
    fanout(8, 4),
    {
      key: 'chat-8',
      title: 'chat, full rooms of 8',
      rooms: Math.max(1, Math.round(10 * scale)),
      size: 8,
      perSocket: 10,
      refillMs: 5500,
      // Contract servers echo chat to the sender too; the floors only forward.
      expected: (server, set) => set.rooms.length * 8 * 10 * (server.contract ? 8 : 7),
      send(server, set) {
        for (let k = 0; k < 10; k += 1) {
          for (const c of allClients(set)) c.send(`{"type":"chat","text":"message ${k} from a benchmark peer"}`);
        }
      },
    },
    {
      key: 'signal-4k',
      title: 'signaling pairs, 4 KB SDP offers',
      rooms: Math.max(1, Math.round(16 * scale)),
      size: 2,
      perSocket: 100,
      refillMs: 3000,
      expected: (server, set) => set.rooms.length * 2 * 100,
      send(server, set) {
        const sdp = fakeSdp(4000);
        for (let k = 0; k < 100; k += 1) {
          for (const { members: [a, b] } of set.rooms) {
            a.send(JSON.stringify({ type: 'signal', to: b.id ?? 'peer', data: { type: 'offer', sdp, n: k } }));
            b.send(JSON.stringify({ type: 'signal', to: a.id ?? 'peer', data: { type: 'answer', sdp, n: k } }));
          }
        }
      },
    },
  ];
}

/** Runs one throughput workload once on one server. */
export function runThroughput(server, workload, set) {
  return burst(server, set, {
    expected: workload.expected(server, set),
    sendAll: () => workload.send(server, set),
    refillMs: workload.refillMs,
  });
}

/** A seeded pseudo-random generator (mulberry32), so a run's orders can be replayed. */
let seed = 0x9e3779b9;
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** A shuffled copy (Fisher-Yates). */
export function shuffled(list) {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * `state` changes in one room, one at a time, as in a real meeting: each
 * member in turn raises or lowers its hand, and the next change waits until
 * all the others have it. Returns `send(count, pauseMs)`, which makes `count`
 * more changes, `pauseMs` apart, or back to back with a 25 ms rest each time
 * every member has had its turn (each socket stays inside the contract's 50
 * messages per second, in a room of any size).
 */
export function stateChanges(members, { timeoutMs = 5000 } = {}) {
  const hand = new Array(members.length).fill(false);
  let sent = 0;
  return async (count, pauseMs = 0) => {
    for (let i = 0; i < count; i++) {
      const k = sent++ % members.length;
      hand[k] = !hand[k];
      const others = members.filter((_, j) => j !== k);
      const arrived = Promise.all(others.map((o) => o.next((t) => t.startsWith('{"type":"state"'), timeoutMs)));
      members[k].send(`{"type":"state","hand":${hand[k]}}`);
      await arrived;
      if (pauseMs) await sleep(pauseMs);
      else if (k === members.length - 1) await sleep(25);
    }
  };
}

/**
 * A pair trading 4 KB `signal` offers (or, `short`, the latency test's short
 * signals), for instruction counts (bench/count.mjs): one at a time,
 * alternating direction, each awaited at its recipient; a 25 ms rest after
 * each exchange keeps both sockets inside the contract's 50 messages a
 * second. Returns `(count) => Promise`.
 */
export function signalExchanges([a, b], { timeoutMs = 5000, short = false } = {}) {
  const sdp = fakeSdp(4000);
  let sent = 0;
  return async (count) => {
    for (let i = 0; i < count; i++) {
      const [from, to] = sent % 2 === 0 ? [a, b] : [b, a];
      const n = sent++;
      const mark = short ? latencyMark(n) : null;
      const arrived = to.next(short
        ? (t) => t.includes(mark)
        : (t) => t.startsWith('{"type":"signal"') && t.includes(`"n":${n}}`), timeoutMs);
      from.send(short
        ? shortSignal(to, mark)
        : JSON.stringify({ type: 'signal', to: to.id ?? 'peer', data: { type: 'offer', sdp, n } }));
      await arrived;
      if (n % 2 === 1) await sleep(25);
    }
  };
}

/** A unique text to find the `i`th latency signal by at its recipient. */
const latencyMark = (i) => `lat-${i}-${Math.random().toString(36).slice(2, 8)}`;

/** The latency test's signal: short `data` with a mark to find it by. */
const shortSignal = (to, mark) => JSON.stringify({ type: 'signal', to: to.id ?? 'peer', data: { type: 'candidate', mark } });

/**
 * One-way signal latency on otherwise idle servers: `count` signals per
 * server, one at a time, alternating direction, each timed from send to
 * arrival. The servers take turns signal by signal (`entries` is a list of
 * `{server, pair}`), so a spell of machine noise lands on all of them alike
 * instead of on whichever server had that stretch of the round to itself.
 * Returns `{samples, errors}` per server key.
 */
export async function signalLatency(entries, count) {
  const results = new Map(entries.map(({ server }) => [server.key, { samples: [], errors: 0 }]));
  for (let i = 0; i < count; i += 1) {
    // A fresh order every turn. Rotating the same order is not enough: each
    // server would still nearly always follow the same other one, and a
    // server runs faster after one that warmed the same runtime code (two
    // copies of one build came out 2% apart that way).
    for (const { server, pair } of shuffled(entries)) {
      assertOpen(server, pair.rooms[0].members);
      const [a, b] = pair.rooms[0].members;
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
      const mark = latencyMark(i);
      const arrived = to.next((t) => t.includes(mark), 5000);
      const t0 = performance.now();
      from.send(shortSignal(to, mark));
      try {
        await arrived;
        results.get(server.key).samples.push(performance.now() - t0);
      } catch {
        results.get(server.key).errors += 1;
      }
      // Each socket sends at most one signal per 20 ms: well inside 50/s.
      await sleep(20);
    }
  }
  for (const { server, pair } of entries) {
    for (const member of pair.rooms[0].members) {
      results.get(server.key).errors += member.errors.length;
      member.errors = [];
    }
  }
  return results;
}

/**
 * Join time: `count` fresh sockets join one room one after another (so each
 * finds 0..count-1 peers there); then all leave.
 */
export async function joinTimes(server, count, prefix) {
  const room = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  const clients = [];
  const connectMs = [];
  const joinMs = [];
  let errors = 0;
  for (let i = 0; i < count; i += 1) {
    try {
      const m = await joinMember(server, room, `joiner${i}`);
      clients.push(m.client);
      connectMs.push(m.connectMs);
      if (m.joinMs !== null) joinMs.push(m.joinMs);
    } catch {
      errors += 1;
    }
  }
  await sleep(100);
  errors += clients.reduce((n, c) => n + c.errors.length, 0);
  for (const c of clients) {
    if (server.contract) {
      c.expectClose = true;
      c.send('{"type":"leave"}');
    }
    c.close();
  }
  return { connectMs, joinMs, errors };
}

/** Closes every socket of a room set. */
export function closeSet(set) {
  for (const c of allClients(set)) c.close();
}
