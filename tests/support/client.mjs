// A small WebSocket client for the contract tests.
//
// Every frame the server sends is kept in `received` (all of them, in order) and
// in an inbox that `next(match)` takes from: a test waits for the frame it cares
// about and the ones it skips stay available for later waits. Every wait has a
// timeout, so a missing frame fails the test with a readable message instead of
// hanging the run.
import WebSocket from 'ws';

/** How long `next` waits by default, in milliseconds. */
export const WAIT_MS = 5000;

const openClients = new Set();
let roomCounter = 0;

/** A fresh, valid room name (unique within the run), prefixed for readable logs. */
export function roomName(prefix = 'room') {
  roomCounter += 1;
  const rand = Math.random().toString(36).slice(2, 8);
  return `${prefix}-${roomCounter}-${rand}`.slice(0, 64);
}

/** The WebSocket URL of a room on a server started by `startServer`. */
export function roomUrl(server, room) {
  return `${server.wsUrl}/api/rooms/${room}/ws`;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Turns a matcher into a predicate: a string matches `type`, an object matches
 * when every listed field is strictly equal, a function is used as is.
 */
function toPredicate(match) {
  if (match === undefined) return () => true;
  if (typeof match === 'function') return match;
  if (typeof match === 'string') return (m) => m.type === match;
  return (m) => Object.entries(match).every(([k, v]) => m[k] === v);
}

function describeMatch(match) {
  if (match === undefined) return 'any frame';
  if (typeof match === 'function') return match.name || match.toString();
  return JSON.stringify(match);
}

/** One connection to a room. */
export class Client {
  constructor(ws, label) {
    this.ws = ws;
    this.label = label;
    /** Every frame received, in order: parsed JSON, `{raw}` for other text, `{binary}` for binary. */
    this.received = [];
    this.inbox = [];
    this.waiters = [];
    /** The peer id from the welcome, once joined. */
    this.id = undefined;
    /** `{code, reason}` once the socket has closed. */
    this.closeInfo = undefined;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        openClients.delete(this);
        for (const w of this.waiters.splice(0)) {
          clearTimeout(w.timer);
          w.reject(new Error(`${this.label}: socket closed (code ${code}) while waiting for ${w.desc}; `
            + `last frames: ${this.tail()}`));
        }
        resolve(this.closeInfo);
      });
    });
    ws.on('error', () => { /* surfaced through close and timeouts */ });
    ws.on('message', (data, isBinary) => {
      let frame;
      if (isBinary) frame = { binary: Buffer.from(data) };
      else {
        const text = data.toString();
        try { frame = JSON.parse(text); } catch { frame = { raw: text }; }
        if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) frame = { raw: text };
      }
      this.received.push(frame);
      const i = this.waiters.findIndex((w) => w.pred(frame));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(frame);
      } else {
        this.inbox.push(frame);
      }
    });
  }

  /** The last few frames, for error messages. */
  tail(n = 6) {
    return this.received.slice(-n).map((f) => JSON.stringify(f).slice(0, 200)).join(' | ') || '(none)';
  }

  /**
   * The first unconsumed frame matching `match` (type string, partial object or
   * predicate), waiting up to `timeoutMs` for it. The frame is consumed.
   */
  next(match, timeoutMs = WAIT_MS) {
    const pred = toPredicate(match);
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    const desc = describeMatch(match);
    if (this.closeInfo) {
      return Promise.reject(new Error(`${this.label}: socket already closed (code ${this.closeInfo.code}) `
        + `while waiting for ${desc}; last frames: ${this.tail()}`));
    }
    return new Promise((resolve, reject) => {
      const w = { pred, resolve, reject, desc };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.label}: no ${desc} within ${timeoutMs} ms; last frames: ${this.tail()}`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Waits for an error frame and returns it; fails if its code is not `code`. */
  async nextError(code, timeoutMs = WAIT_MS) {
    const frame = await this.next('error', timeoutMs);
    if (frame.code !== code) {
      throw new Error(`${this.label}: expected error ${code}, got ${JSON.stringify(frame)}`);
    }
    if (typeof frame.message !== 'string') {
      throw new Error(`${this.label}: error frame without a string message: ${JSON.stringify(frame)}`);
    }
    return frame;
  }

  /** All frames received so far that match, consumed or not. */
  seen(match) {
    return this.received.filter(toPredicate(match));
  }

  /** Sends one JSON message as a text frame. */
  send(message) {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends a raw frame: a string as text, a Buffer as binary unless `binary:false`. */
  sendRaw(data, { binary = Buffer.isBuffer(data) } = {}) {
    this.ws.send(data, { binary });
  }

  /**
   * Sends a join and returns the welcome. Throws (with `.frame`) if the answer is
   * an error instead.
   */
  async join(name, extra = {}, timeoutMs = WAIT_MS) {
    this.send({ type: 'join', name, ...extra });
    const frame = await this.next((m) => m.type === 'welcome' || m.type === 'error', timeoutMs);
    if (frame.type === 'error') {
      const err = new Error(`${this.label}: join as ${JSON.stringify(name)} failed: ${JSON.stringify(frame)}`);
      err.frame = frame;
      throw err;
    }
    this.id = frame.id;
    this.name = typeof name === 'string' ? name.trim() : name;
    return frame;
  }

  /** Sends a chat and waits for its echo to come back to this client. */
  async chat(text, timeoutMs = WAIT_MS) {
    this.send({ type: 'chat', text });
    return this.next((m) => m.type === 'chat' && m.text === text && m.from === this.id, timeoutMs);
  }

  /** Resolves with `{code, reason}` when the socket closes; fails after `timeoutMs`. */
  async waitClose(timeoutMs = WAIT_MS) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label}: socket not closed within ${timeoutMs} ms; `
        + `last frames: ${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  get isOpen() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Closes politely (no `leave`) and waits, bounded, for the close to finish. */
  async close(code = 1000) {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(code);
    try { await this.waitClose(3000); } catch { this.ws.terminate(); }
  }

  /** Drops the TCP connection without a close handshake. */
  terminate() {
    this.ws.terminate();
  }
}

/**
 * Opens a WebSocket. Resolves with a `Client` once open. If the server answers
 * the upgrade with plain HTTP, rejects with an error carrying `status`, `body`
 * and `headers`.
 * @param {string} url  a ws:// URL (see `roomUrl`)
 * @param {{origin?:string, headers?:object, label?:string, timeoutMs?:number}} [opts]
 */
export function openSocket(url, opts = {}) {
  const { origin, headers, label = 'client', timeoutMs = 10_000 } = opts;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { origin, headers, handshakeTimeout: timeoutMs });
    const client = new Client(ws, label);
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(new Error(`${label}: WebSocket to ${url} did not open within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.once('open', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      openClients.add(client);
      resolve(client);
    });
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const err = new Error(`${label}: upgrade to ${url} answered ${res.statusCode}: ${body}`);
        err.status = res.statusCode;
        err.body = body;
        err.headers = res.headers;
        req.destroy();
        reject(err);
      });
      res.on('error', () => {});
    });
    ws.once('error', (e) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Opens a socket to `room` on `server`. */
export function connect(server, room, opts = {}) {
  return openSocket(roomUrl(server, room), opts);
}

/** Connects and joins; returns `{client, welcome}`. */
export async function connectAndJoin(server, room, name, extra = {}, opts = {}) {
  const client = await connect(server, room, { label: name, ...opts });
  const welcome = await client.join(name, extra);
  return { client, welcome };
}

/** Joins `names` into `room` one after another; returns the clients in order. */
export async function joinAll(server, room, names, extra = {}) {
  const clients = [];
  for (const name of names) clients.push((await connectAndJoin(server, room, name, extra)).client);
  return clients;
}

/**
 * Checks the room still works: `from` sends a chat and every client in `to`
 * receives it. Costs one chat token of `from`.
 */
export async function assertChatReaches(from, to, text = `still works ${Math.random().toString(36).slice(2)}`) {
  from.send({ type: 'chat', text });
  for (const c of to) {
    const m = await c.next((f) => f.type === 'chat' && f.text === text);
    if (m.from !== from.id) throw new Error(`chat ${JSON.stringify(text)} came from ${m.from}, not ${from.id}`);
  }
}

/** Closes every client still open (for `after` hooks). */
export async function closeAll() {
  await Promise.all([...openClients].map((c) => c.close()));
}
