// Noom's wire contract (/work/shared/PROTOCOL.md) in plain JavaScript: the
// baseline Noom's Rust server is measured against.
//
// It is written the way a careful JavaScript engineer would write it for
// speed, not as a straw man:
// - the hibernation API (`ctx.acceptWebSocket`), so idle rooms cost nothing;
// - joined members kept in memory (a Map by peer id) and rebuilt from the
//   sockets' attachments only after a wake-up;
// - one `JSON.stringify` per broadcast, the same string sent to every member;
// - chat history in the object's SQLite storage, trimmed in batches;
// - `ping` answered by the runtime (`setWebSocketAutoResponse`).
// It must pass the same contract tests as Noom, so the comparison is like for like:
//   NOOM_SERVER_CONFIG=bench/baseline-js/wrangler.toml node --test --test-concurrency=1 tests/contract/
import { DurableObject } from 'cloudflare:workers';

// ---- limits and rules of the contract ------------------------------------------

const MAX_FRAME_BYTES = 65536;
const MAX_NAME_CHARS = 32;
const MAX_CHAT_CHARS = 2000;
const HISTORY_LIMIT = 100;
const TRIM_EVERY = 50;
const DEFAULT_MAX_PEERS = 8;
const DEFAULT_HISTORY_TTL_SECONDS = 86400;
const HEARTBEAT_MS = 10 * 60 * 1000;
const STALE_AFTER_MS = 3 * HEARTBEAT_MS;
const ANY_BURST = 200;
const ANY_PER_SECOND = 50;
const CHAT_BURST = 10;
const CHAT_PER_SECOND = 2;
const MAX_DROPPED = 1000;
const DEFAULT_ICE_SERVERS = [{ urls: 'stun:stun.cloudflare.com:3478' }];
const TURN_API_BASE = 'https://rtc.live.cloudflare.com/v1';
const TURN_TTL_SECONDS = 4 * 60 * 60;
const TURN_TIMEOUT_MS = 3000;
const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const CONTROL = /\p{Cc}/u;
const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const LOBBY_NAME = 'lobby';

/** Every error code of the contract with its human message and, if fatal, close code. */
const ERRORS = {
  bad_json: ['frame is not a JSON object'],
  bad_message: ['unknown type, wrong or missing field, or binary frame'],
  not_joined: ['send join first'],
  already_joined: ['this connection has already joined'],
  name_invalid: ['name must be 1 to 32 characters with no control characters'],
  text_invalid: ['chat text must be 1 to 2000 characters and not only whitespace'],
  unknown_peer: ['no such peer in this room'],
  rate_limited: ['too many messages; this one was dropped'],
  too_large: ['frame is larger than 65536 bytes', 1009],
  room_full: ['the room is full', 4001],
};
/** Error frames never change: built once. */
const ERROR_FRAMES = Object.fromEntries(Object.entries(ERRORS).map(([code, [message]]) => [
  code, JSON.stringify({ type: 'error', code, message }),
]));

/** A client mistake: its contract code. */
class ProtocolError extends Error {
  /** `fields`: extra fields for the error frame (`room_full`'s `maxPeers`). */
  constructor(code, fields = null) {
    super(code);
    this.code = code;
    this.fields = fields;
  }
}

/** Token bucket in thousandths of a token, refilled from the clock on use. */
class RateLimit {
  constructor(burst, perSecond, now) {
    this.burst = burst;
    this.perSecond = perSecond;
    this.milliTokens = burst * 1000;
    this.refilledAt = now;
  }

  tryTake(now) {
    const elapsed = now - this.refilledAt;
    if (elapsed > 0) {
      this.milliTokens = Math.min(this.milliTokens + elapsed * this.perSecond, this.burst * 1000);
      this.refilledAt = now;
    }
    if (this.milliTokens >= 1000) {
      this.milliTokens -= 1000;
      return true;
    }
    return false;
  }
}

function randomPeerId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let id = '';
  for (const b of bytes) id += ID_ALPHABET[b & 63];
  return id;
}

/** `abc-defg-hij`, letters drawn without bias (bytes ≥ 234 are skipped). */
function meetingCode() {
  for (;;) {
    const letters = [];
    for (const b of crypto.getRandomValues(new Uint8Array(32))) {
      if (b < 234) letters.push(LETTERS[b % 26]);
      if (letters.length === 10) {
        const s = letters.join('');
        return `${s.slice(0, 3)}-${s.slice(3, 7)}-${s.slice(7)}`;
      }
    }
  }
}

function utf8Length(text) {
  // Cheap bound first: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= MAX_FRAME_BYTES) return text.length;
  return new TextEncoder().encode(text).length;
}

function jsonResponse(body, status = 200, headers = {}) {
  return new Response(JSON.stringify(body), {
    status, headers: { 'Content-Type': 'application/json', ...headers },
  });
}

const jsonError = (status, code, headers) => jsonResponse({ error: code }, status, headers);

/** A var holding a positive whole number, else the fallback. */
function positiveInt(value, fallback) {
  const text = String(value ?? '').trim();
  return /^\+?\d+$/.test(text) && Number(text) > 0 ? Number(text) : fallback;
}

/** Optional boolean field: absent → undefined; present but not boolean → bad_message. */
function optionalBool(message, key) {
  const value = message[key];
  if (value === undefined && !(key in message)) return undefined;
  if (typeof value !== 'boolean') throw new ProtocolError('bad_message');
  return value;
}

function requiredString(message, key) {
  const value = message[key];
  if (typeof value !== 'string') throw new ProtocolError('bad_message');
  return value;
}

/**
 * Parses and type-checks one text frame, as the contract reads it. Returns a
 * plain object `{type, ...fields}`; rules that need the room (names, text,
 * peers) are checked where the message is applied.
 */
function parseClientFrame(text) {
  if (utf8Length(text) > MAX_FRAME_BYTES) throw new ProtocolError('too_large');
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    throw new ProtocolError('bad_json');
  }
  if (message === null || typeof message !== 'object' || Array.isArray(message)) throw new ProtocolError('bad_json');
  switch (requiredString(message, 'type')) {
    case 'join':
      return {
        type: 'join',
        name: requiredString(message, 'name'),
        public: optionalBool(message, 'public') ?? false,
        audio: optionalBool(message, 'audio') ?? false,
        video: optionalBool(message, 'video') ?? false,
      };
    case 'chat':
      return { type: 'chat', text: requiredString(message, 'text') };
    case 'signal':
      if (!('data' in message)) throw new ProtocolError('bad_message');
      return { type: 'signal', to: requiredString(message, 'to'), data: message.data };
    case 'state':
      return {
        type: 'state',
        audio: optionalBool(message, 'audio'),
        video: optionalBool(message, 'video'),
        screen: optionalBool(message, 'screen'),
        hand: optionalBool(message, 'hand'),
      };
    case 'leave':
      return { type: 'leave' };
    case 'peek':
      return { type: 'peek' };
    default:
      throw new ProtocolError('bad_message');
  }
}

function validName(name) {
  const trimmed = name.trim();
  const chars = [...trimmed].length;
  if (chars === 0 || chars > MAX_NAME_CHARS || CONTROL.test(trimmed)) throw new ProtocolError('name_invalid');
  return trimmed;
}

function checkChatText(text) {
  // Counting code points only matters for long texts: a code point is 1 or 2 UTF-16 units.
  const chars = text.length <= MAX_CHAT_CHARS ? text.length : [...text].length;
  if (chars === 0 || chars > MAX_CHAT_CHARS || text.trim() === '') throw new ProtocolError('text_invalid');
}

const peerView = (p) => ({ id: p.id, name: p.name, audio: p.audio, video: p.video, screen: p.screen, hand: p.hand });

// ---- the Room Durable Object -------------------------------------------------

/**
 * One meeting. Every socket is accepted through the hibernation API with its
 * peer id as tag; the attachment holds what the room must remember about it
 * (`{id, room, peer, public}`), rewritten whenever the peer changes. While the
 * object is in memory, `this.members` is the truth; after a wake-up it is
 * rebuilt from the attachments before the first event is handled.
 */
export class Room extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS chat (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, from_id TEXT NOT NULL, name TEXT NOT NULL, text TEXT NOT NULL)');
    this.sql.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('ping', 'pong'));
    this.maxPeers = positiveInt(env.MAX_PEERS, DEFAULT_MAX_PEERS);
    this.historyTtlMs = positiveIntOrZero(env.HISTORY_TTL_SECONDS, DEFAULT_HISTORY_TTL_SECONDS) * 1000;
    /** Connections by peer id, in arrival order; null until rebuilt. */
    this.members = null;
    this.insertsSinceTrim = 0;
  }

  /** The in-memory room, rebuilt from sockets, attachments and storage after construction. */
  room(nameHint) {
    if (this.members) return this;
    this.members = new Map();
    this.name = nameHint ?? '';
    this.public = false;
    const now = Date.now();
    for (const ws of this.ctx.getWebSockets()) {
      const id = this.ctx.getTags(ws)[0];
      if (!id) continue;
      const a = ws.deserializeAttachment() ?? { id, room: '', peer: null, public: false };
      if (!this.name && a.room) this.name = a.room;
      if (a.peer && a.public) this.public = true;
      this.members.set(id, this.connection(id, ws, a.peer, now));
    }
    if (!this.name) this.name = this.meta('room') ?? '';
    this.history = this.sql.exec('SELECT ts, from_id, name, text FROM (SELECT * FROM chat ORDER BY seq DESC LIMIT 100) ORDER BY seq')
      .toArray().map((r) => ({ from: r.from_id, name: r.name, text: r.text, ts: r.ts }));
    this.lastTs = this.history.length ? this.history[this.history.length - 1].ts : 0;
    return this;
  }

  connection(id, ws, peer, now) {
    return {
      id, ws, peer,
      any: new RateLimit(ANY_BURST, ANY_PER_SECOND, now),
      chat: new RateLimit(CHAT_BURST, CHAT_PER_SECOND, now),
      dropped: 0,
    };
  }

  /** Only the Worker calls this, with a checked upgrade. */
  async fetch(request) {
    const name = new URL(request.url).pathname.split('/')[3] ?? '';
    if (!ROOM_NAME.test(name)) return jsonError(400, 'bad_room');
    if (!this.members && this.meta('room') !== name) this.setMeta('room', name);
    this.room(name);
    const { 0: client, 1: server } = new WebSocketPair();
    let id;
    do id = randomPeerId(); while (this.members.has(id));
    this.ctx.acceptWebSocket(server, [id]);
    server.serializeAttachment({ id, room: this.name, peer: null, public: this.public });
    this.members.set(id, this.connection(id, server, null, Date.now()));
    return new Response(null, { status: 101, webSocket: client });
  }

  async webSocketMessage(ws, message) {
    this.room();
    const id = this.ctx.getTags(ws)[0];
    if (!id) return;
    let c = this.members.get(id);
    if (!c) {
      // Accepted before a restart of this object but not in its attachments: adopt it.
      c = this.connection(id, ws, null, Date.now());
      this.members.set(id, c);
    }
    const now = Date.now();
    if (!c.any.tryTake(now)) {
      if (this.dropOne(c)) await this.close(c, 1008, 'flooding');
      else this.sendError(c, 'rate_limited');
      return;
    }
    if (typeof message !== 'string') {
      this.sendError(c, 'bad_message');
      return;
    }
    try {
      await this.apply(c, parseClientFrame(message), now);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.sendError(c, e.code, e.fields);
      const closeCode = ERRORS[e.code][1];
      if (closeCode) await this.close(c, closeCode, e.code);
    }
  }

  async apply(c, m, now) {
    if (m.type === 'join') {
      if (c.peer) throw new ProtocolError('already_joined');
      const name = validName(m.name);
      const count = this.peerCount();
      if (count >= this.maxPeers) throw new ProtocolError('room_full', { maxPeers: this.maxPeers });
      if (count === 0) this.public = m.public;
      const others = [];
      for (const o of this.members.values()) if (o.peer) others.push(o.peer);
      c.peer = { id: c.id, name, audio: m.audio, video: m.video, screen: false, hand: false };
      this.saveAttachment(c);
      safeSend(c.ws, JSON.stringify({
        type: 'welcome', id: c.id, room: this.name, peers: others, history: this.history, maxPeers: this.maxPeers,
      }));
      this.broadcast(JSON.stringify({ type: 'joined', peer: c.peer }), c);
      await this.headCount(count + 1);
      return;
    }
    if (m.type === 'peek') {
      // Who is in the room, before or after joining: to the asker only.
      const others = [];
      for (const o of this.members.values()) if (o.peer && o !== c) others.push(o.peer);
      safeSend(c.ws, JSON.stringify({
        type: 'peek', id: c.id, room: this.name, peers: others, history: [], maxPeers: this.maxPeers,
      }));
      return;
    }
    if (!c.peer) throw new ProtocolError('not_joined');
    switch (m.type) {
      case 'chat': {
        checkChatText(m.text);
        if (!c.chat.tryTake(now)) {
          if (this.dropOne(c)) {
            await this.close(c, 1008, 'flooding');
            return;
          }
          throw new ProtocolError('rate_limited');
        }
        // Strictly increasing even when the clock stands still or goes back.
        const ts = Math.max(now, this.lastTs + 1);
        this.lastTs = ts;
        const entry = { from: c.id, name: c.peer.name, text: m.text, ts };
        this.history.push(entry);
        if (this.history.length > HISTORY_LIMIT) this.history.shift();
        this.storeChat(entry);
        this.broadcast(JSON.stringify({ type: 'chat', ...entry }), null);
        return;
      }
      case 'signal': {
        if (m.to === c.id) throw new ProtocolError('bad_message');
        const to = this.members.get(m.to);
        if (!to?.peer) throw new ProtocolError('unknown_peer');
        safeSend(to.ws, JSON.stringify({ type: 'signal', from: c.id, data: m.data }));
        return;
      }
      case 'state': {
        const p = c.peer;
        const before = `${p.audio}${p.video}${p.screen}${p.hand}`;
        if (m.audio !== undefined) p.audio = m.audio;
        if (m.video !== undefined) p.video = m.video;
        if (m.screen !== undefined) p.screen = m.screen;
        if (m.hand !== undefined) p.hand = m.hand;
        if (before === `${p.audio}${p.video}${p.screen}${p.hand}`) return;
        this.saveAttachment(c);
        this.broadcast(JSON.stringify({
          type: 'state', id: c.id, audio: p.audio, video: p.video, screen: p.screen, hand: p.hand,
        }), c);
        return;
      }
      case 'leave':
        await this.close(c, 1000, 'left');
        return;
      default:
        throw new ProtocolError('bad_message');
    }
  }

  /** Counts one dropped message; true at the 1000th, when the connection must be closed (1008). */
  dropOne(c) {
    c.dropped += 1;
    return c.dropped >= MAX_DROPPED;
  }

  sendError(c, code, fields = null) {
    safeSend(c.ws, fields
      ? JSON.stringify({ type: 'error', code, message: ERRORS[code][0], ...fields })
      : ERROR_FRAMES[code]);
  }

  /** The same string to every joined member except `skip`. */
  broadcast(frame, skip) {
    for (const o of this.members.values()) {
      if (o.peer && o !== skip) safeSend(o.ws, frame);
    }
  }

  peerCount() {
    let n = 0;
    for (const o of this.members.values()) if (o.peer) n += 1;
    return n;
  }

  saveAttachment(c) {
    c.ws.serializeAttachment({ id: c.id, room: this.name, peer: c.peer, public: this.public });
  }

  /** Forgets a connection and closes its socket; the others hear of it. */
  async close(c, code, reason) {
    await this.forget(c.id, () => {
      try { c.ws.close(code, reason); } catch { /* already closed */ }
    });
  }

  /**
   * Forgets a connection and tells the others if it had joined. Frames and the
   * close (`beforeIo`) go out first, synchronously; the lobby and alarm after.
   */
  async forget(id, beforeIo) {
    const c = this.members.get(id);
    if (!c) return;
    this.members.delete(id);
    if (c.peer) this.broadcast(JSON.stringify({ type: 'left', id }), null);
    beforeIo?.();
    if (c.peer) await this.headCount(this.peerCount());
  }

  async webSocketClose(ws) {
    try { ws.close(1000, 'closed'); } catch { /* already closed */ }
    this.room();
    const id = this.ctx.getTags(ws)[0];
    if (id) await this.forget(id);
  }

  async webSocketError(ws) {
    this.room();
    const id = this.ctx.getTags(ws)[0];
    if (id) await this.forget(id);
  }

  /** Tells the lobby (public rooms only) and schedules the alarm. */
  async headCount(peers) {
    const now = Date.now();
    if (this.public) await this.report(peers);
    if (peers === 0) {
      this.setMeta('last_left', String(now));
      await this.ctx.storage.setAlarm(now + this.historyTtlMs);
    } else if (this.public) {
      await this.ctx.storage.setAlarm(now + HEARTBEAT_MS);
    }
  }

  /** History expiry, and the lobby heartbeat while a public room is occupied. */
  async alarm() {
    this.room();
    const now = Date.now();
    const peers = this.peerCount();
    if (peers > 0) {
      if (this.public) {
        await this.report(peers);
        await this.ctx.storage.setAlarm(now + HEARTBEAT_MS);
      }
      return;
    }
    const lastLeft = Number(this.meta('last_left') ?? 0) || 0;
    const expires = lastLeft + this.historyTtlMs;
    if (now + 1000 >= expires) {
      this.sql.exec('DELETE FROM chat');
      const name = this.name;
      this.members = null;
      if (name) await this.report(0, name, true);
    } else {
      await this.ctx.storage.setAlarm(expires);
    }
  }

  /** Best effort: the list is a convenience, a meeting never fails because of it. */
  async report(peers, room = this.name, isPublic = this.public) {
    try {
      await this.env.LOBBY.getByName(LOBBY_NAME).fetch('https://lobby/report', {
        method: 'POST', body: JSON.stringify({ room, peers, public: isPublic }),
      });
    } catch (e) {
      console.warn(`lobby report failed: ${e}`);
    }
  }

  storeChat(entry) {
    this.sql.exec('INSERT INTO chat (ts, from_id, name, text) VALUES (?, ?, ?, ?)', entry.ts, entry.from, entry.name, entry.text);
    this.insertsSinceTrim += 1;
    if (this.insertsSinceTrim >= TRIM_EVERY) {
      this.insertsSinceTrim = 0;
      this.sql.exec('DELETE FROM chat WHERE seq <= (SELECT MAX(seq) FROM chat) - 100');
    }
  }

  meta(key) {
    const rows = this.sql.exec('SELECT value FROM meta WHERE key = ?', key).toArray();
    return rows.length ? rows[0].value : undefined;
  }

  setMeta(key, value) {
    this.sql.exec('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)', key, value);
  }
}

function positiveIntOrZero(value, fallback) {
  const text = String(value ?? '').trim();
  return /^\d+$/.test(text) ? Number(text) : fallback;
}

function safeSend(ws, frame) {
  try { ws.send(frame); } catch { /* closing; its close event will clean up */ }
}

// ---- the Lobby Durable Object: the public room list --------------------------

export class Lobby extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec('CREATE TABLE IF NOT EXISTS rooms (name TEXT PRIMARY KEY, peers INTEGER NOT NULL, updated_at INTEGER NOT NULL)');
    this.rooms = new Map();
    for (const r of this.sql.exec('SELECT name, peers, updated_at FROM rooms').toArray()) {
      this.rooms.set(r.name, { peers: r.peers, at: r.updated_at });
    }
  }

  async fetch(request) {
    const now = Date.now();
    const { pathname } = new URL(request.url);
    if (request.method === 'POST' && pathname === '/report') {
      let report;
      try { report = await request.json(); } catch { return new Response('bad report', { status: 400 }); }
      if (report.public && report.peers > 0) {
        this.rooms.set(report.room, { peers: report.peers, at: now });
        this.sql.exec('INSERT OR REPLACE INTO rooms (name, peers, updated_at) VALUES (?, ?, ?)', report.room, report.peers, now);
      } else {
        this.rooms.delete(report.room);
        this.sql.exec('DELETE FROM rooms WHERE name = ?', report.room);
      }
      return new Response(null);
    }
    if (request.method === 'GET' && pathname === '/rooms') {
      const rooms = [...this.rooms].filter(([, r]) => now - r.at < STALE_AFTER_MS)
        .map(([room, r]) => ({ room, peers: r.peers }))
        .sort((a, b) => b.peers - a.peers || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0));
      return jsonResponse({ rooms });
    }
    return new Response('not found', { status: 404 });
  }
}

// ---- the Worker: routes ---------------------------------------------------------

function originAllowed(request, env) {
  const origin = request.headers.get('Origin');
  if (origin === null) return true;
  const o = origin.replace(/\/+$/, '').toLowerCase();
  if (o === new URL(request.url).origin.toLowerCase()) return true;
  return String(env.ALLOWED_ORIGINS ?? '').split(',').map((s) => s.trim().replace(/\/+$/, '').toLowerCase())
    .some((s) => s !== '' && s === o);
}

/** Per-IP limit through a Rate Limiting binding; a missing or failing binding lets the request through. */
async function overLimit(request, env, binding) {
  try {
    if (!env[binding]) return false;
    const key = request.headers.get('CF-Connecting-IP') ?? 'local';
    const { success } = await env[binding].limit({ key });
    return !success;
  } catch (e) {
    console.warn(`rate limiter ${binding} unavailable: ${e}`);
    return false;
  }
}

const tooManyRequests = () => jsonError(429, 'rate_limited', { 'Retry-After': '60' });

function configuredIceServers(env) {
  const text = String(env.ICE_SERVERS ?? '').trim();
  if (text === '') return DEFAULT_ICE_SERVERS;
  try {
    const value = JSON.parse(text);
    if (Array.isArray(value)) return value;
  } catch { /* fall through */ }
  console.error(`ICE_SERVERS is not a JSON array: ${text}; using the default`);
  return DEFAULT_ICE_SERVERS;
}

let turnCache = null;

async function turnServers(env) {
  const now = Date.now();
  if (turnCache && now < turnCache.freshUntil) return turnCache.servers;
  const ttl = positiveInt(env.TURN_TTL_SECONDS, TURN_TTL_SECONDS);
  const base = String(env.TURN_API_BASE || TURN_API_BASE).replace(/\/+$/, '');
  const res = await fetch(`${base}/turn/keys/${env.TURN_KEY_ID}/credentials/generate-ice-servers`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${env.TURN_KEY_API_TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ ttl }),
    signal: AbortSignal.timeout(TURN_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`TURN API answered ${res.status}`);
  const body = await res.json();
  const servers = body?.iceServers;
  if (!Array.isArray(servers) || servers.length === 0 || !servers.every((s) => s && typeof s === 'object' && 'urls' in s)) {
    throw new Error('TURN API answer has no iceServers array');
  }
  turnCache = { servers, freshUntil: now + (ttl * 1000) / 2 };
  return servers;
}

async function iceServers(env) {
  let servers = configuredIceServers(env);
  if (env.TURN_KEY_ID && env.TURN_KEY_API_TOKEN) {
    try {
      servers = await turnServers(env);
    } catch (e) {
      console.error(`${e}; answering without TURN`);
    }
  }
  return jsonResponse({ iceServers: servers }, 200, { 'Cache-Control': 'no-store' });
}

async function roomSocket(request, env, room) {
  if (!ROOM_NAME.test(room)) return jsonError(400, 'bad_room');
  if (await overLimit(request, env, 'CONNECT_LIMITER')) return tooManyRequests();
  if ((request.headers.get('Upgrade') ?? '').toLowerCase() !== 'websocket') return jsonError(426, 'upgrade_required');
  return env.ROOM.getByName(room).fetch(request);
}

export default {
  async fetch(request, env) {
    if (!originAllowed(request, env)) return jsonError(403, 'forbidden_origin');
    const url = new URL(request.url);
    const s = url.pathname.replace(/^\/+/, '').split('/');
    const get = request.method === 'GET';
    if (s[0] === 'api') {
      if (s.length === 2 && s[1] === 'health' && get) return jsonResponse({ ok: true });
      if (s.length === 2 && s[1] === 'rooms' && request.method === 'POST') {
        if (await overLimit(request, env, 'CREATE_LIMITER')) return tooManyRequests();
        return jsonResponse({ room: meetingCode() }, 201);
      }
      if (s.length === 2 && s[1] === 'rooms' && get) return env.LOBBY.getByName(LOBBY_NAME).fetch('https://lobby/rooms');
      if (s.length === 4 && s[1] === 'rooms' && s[3] === 'ws') return roomSocket(request, env, s[2]);
      if (s.length === 2 && s[1] === 'ice-servers' && get) return iceServers(env);
      return jsonError(404, 'not_found');
    }
    if (s[0] === 'r' && s.length >= 2) {
      if (s.length !== 2 || !ROOM_NAME.test(s[1])) return jsonError(400, 'bad_room');
      const page = new URL('/room', url);
      return env.ASSETS.fetch(page);
    }
    return env.ASSETS.fetch(request);
  },
};
