// The WebSocket to the room's Durable Object: connect, reconnect, keep alive.
// It only moves JSON frames. A dropped socket is dialled again with backoff
// and jitter (a room that lost the same link does not knock all at once);
// each new one is a new peer to the server: the caller joins again.

// A ping this long after each `pong`, armed from that message: a hidden tab's
// repeating timers run once a minute, too seldom for the server's timeout.
const PING_EVERY_MS = 20_000;
const CHECK_EVERY_MS = 5_000;
// No frame at all (not even `pong`) for this long: the link is dead even if the
// browser has not noticed yet, so drop it and reconnect.
const SILENCE_LIMIT_MS = 50_000;
// After `probe()` (media lost), no frame for this long: dead. TCP would hold
// it through an outage and resend slowly after; a new socket is quick.
const PROBE_LIMIT_MS = 5_000;
// A socket not open this long is made again: without a network, an attempt
// can hang for a minute (TCP waits ever longer between tries).
const CONNECT_LIMIT_MS = 5_000;
const BACKOFF_FIRST_MS = 500;
// Capped low on purpose: after a server restart or deploy, everyone must be
// back within 5 seconds of the service returning. Jitter still spreads them.
const BACKOFF_MAX_MS = 5_000;

/** The socket address for a room, on this page's own origin. */
export function roomSocketUrl(room, loc = window.location) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/api/rooms/${encodeURIComponent(room)}/ws`;
}

/** Delay before reconnect attempt number `attempt` (0-based): doubling, capped, with jitter. */
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** A socket opened ahead of time by `preconnect`, not yet used. */
let early = null;

/**
 * Opens the room socket ahead of time (pre-join, camera starting), for
 * `createSignaling` to start from: the handshake is done when `join` goes.
 */
export function preconnect(url) {
  if (early) return;
  try { early = new WebSocket(url); } catch { early = null; }
}

/** How often the pre-join screen asks again who is in the room. */
const PEEK_EVERY_MS = 5_000;

/**
 * Asks who is in the room (`peek`, Noom's extension) on the early socket,
 * now and every few seconds while the page is in view, until `stop()` (call
 * it before the meeting takes the socket). A closed socket is dialled again
 * at the next question.
 * @param {string} url  the room's socket address
 * @param {(answer: {peers: object[], maxPeers?: number}) => void} onPeek
 * @returns {() => void} stop
 */
export function watchRoom(url, onPeek) {
  let socket = null;
  const onMessage = (event) => {
    if (event.target !== socket || typeof event.data !== 'string') return;
    let answer;
    try { answer = JSON.parse(event.data); } catch { return; }
    if (answer?.type === 'peek' && Array.isArray(answer.peers)) onPeek(answer);
  };
  const ask = () => {
    if (document.visibilityState === 'hidden') return;
    if (early && early.readyState > WebSocket.OPEN) early = null;
    preconnect(url);
    if (early !== socket) {
      socket?.removeEventListener('message', onMessage);
      socket = early;
      socket?.addEventListener('message', onMessage);
      socket?.addEventListener('open', ask, { once: true });
    }
    if (socket?.readyState === WebSocket.OPEN) socket.send('{"type":"peek"}');
  };
  const timer = setInterval(ask, PEEK_EVERY_MS);
  document.addEventListener('visibilitychange', ask);
  ask();
  return () => {
    clearInterval(timer);
    document.removeEventListener('visibilitychange', ask);
    socket?.removeEventListener('message', onMessage);
    socket?.removeEventListener('open', ask);
  };
}

/** The early socket, if it is for `url` and still connecting or open. */
function takeEarly(url) {
  const socket = early;
  early = null;
  if (!socket) return null;
  if (socket.url === new URL(url).href && socket.readyState <= WebSocket.OPEN) return socket;
  socket.close();
  return null;
}

/**
 * Opens the room socket and keeps it open until `close()`: `onOpen` (send
 * `join` there), `onMessage` (each JSON frame), `onStatus` ('connecting',
 * 'open', 'reconnecting', 'closed'); `shouldReconnect(code)` false stops it.
 */
export function createSignaling({ url, onOpen, onMessage, onStatus, shouldReconnect = () => true }) {
  const state = {
    socket: null, attempt: 0, retryTimer: 0, openTimer: 0, checkTimer: 0, pingTimer: 0, probeTimer: 0, closed: false, lastHeard: 0, lastCheck: 0,
  };

  function connect() {
    clearTimeout(state.retryTimer);
    onStatus(state.attempt === 0 ? 'connecting' : 'reconnecting');
    const socket = (state.attempt === 0 && takeEarly(url)) || new WebSocket(url);
    state.socket = socket;
    clearTimeout(state.openTimer);
    state.openTimer = setTimeout(() => {
      if (state.socket === socket && socket.readyState === WebSocket.CONNECTING) dropAndReconnect(socket);
    }, CONNECT_LIMIT_MS);
    const opened = () => {
      if (socket !== state.socket) return;
      clearTimeout(state.openTimer);
      onStatus('open');
      state.lastHeard = Date.now();
      state.lastCheck = state.lastHeard;
      clearInterval(state.checkTimer);
      state.checkTimer = setInterval(keepAlive, CHECK_EVERY_MS);
      pingLater();
      onOpen();
    };
    // An early socket may be open already; `onOpen` still runs after the caller has its handle.
    if (socket.readyState === WebSocket.OPEN) queueMicrotask(opened);
    else socket.addEventListener('open', opened);
    socket.addEventListener('message', (event) => {
      if (socket !== state.socket) return;
      state.lastHeard = Date.now();
      if (event.data === 'pong') { pingLater(); return; }
      if (typeof event.data !== 'string') return;
      let msg;
      try { msg = JSON.parse(event.data); } catch { return; }
      if (msg && typeof msg.type === 'string') onMessage(msg);
    });
    socket.addEventListener('close', (event) => {
      if (socket !== state.socket) return;
      clearTimers();
      state.socket = null;
      if (state.closed || !shouldReconnect(event.code)) {
        state.closed = true;
        onStatus('closed', { code: event.code, reason: event.reason });
        return;
      }
      scheduleReconnect();
    });
  }

  // Drops a socket that went silent, or that is stuck closing (the closing
  // handshake can take a minute when the other end never answers it), and
  // reconnects at once instead of waiting for the browser to give up. A check
  // that comes late (a closed lid stopped the timers, pings too) cannot tell
  // a dead socket from a sleeping page, so it probes.
  function keepAlive() {
    const socket = state.socket;
    if (!socket) return;
    const now = Date.now();
    const late = now - state.lastCheck > 2 * CHECK_EVERY_MS;
    state.lastCheck = now;
    if (late && socket.readyState === WebSocket.OPEN) {
      probe();
    } else if (now - state.lastHeard > SILENCE_LIMIT_MS || socket.readyState >= WebSocket.CLOSING) {
      dropAndReconnect(socket);
    }
  }

  function pingLater() {
    clearTimeout(state.pingTimer);
    state.pingTimer = setTimeout(sendRaw, PING_EVERY_MS, 'ping');
  }

  /** Pings now; drops the socket if nothing comes back within PROBE_LIMIT_MS. */
  function probe() {
    const socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || state.probeTimer) return;
    const sentAt = Date.now();
    sendRaw('ping');
    state.probeTimer = setTimeout(() => {
      state.probeTimer = 0;
      if (state.socket === socket && state.lastHeard < sentAt) dropAndReconnect(socket);
    }, PROBE_LIMIT_MS);
  }

  /** Stops watching the current socket: its open, check, ping and probe timers. */
  function clearTimers() {
    clearTimeout(state.openTimer);
    clearInterval(state.checkTimer);
    clearTimeout(state.pingTimer);
    clearTimeout(state.probeTimer);
    state.probeTimer = 0;
  }

  function dropAndReconnect(socket) {
    clearTimers();
    state.socket = null;
    if (socket.readyState < WebSocket.CLOSING) socket.close();
    scheduleReconnect();
  }

  function scheduleReconnect() {
    clearTimeout(state.retryTimer);
    const delay = backoffDelay(state.attempt);
    state.attempt += 1;
    onStatus('reconnecting', { delay });
    state.retryTimer = setTimeout(connect, delay);
  }

  function sendRaw(text) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(text);
      return true;
    }
    return false;
  }

  // Coming back online: try now instead of waiting out the backoff.
  function onOnline() {
    if (!state.closed && !state.socket) { state.attempt = 0; connect(); }
  }
  window.addEventListener('online', onOnline);

  connect();

  return {
    /** The live WebSocket, or null between attempts (exposed for debugging and tests). */
    get socket() { return state.socket; },
    probe,
    /** Sends one message object; false when the socket is not open. */
    send(msg) { return sendRaw(JSON.stringify(msg)); },
    /** Call once the server accepted us, so the next drop starts from a short delay. */
    resetBackoff() { state.attempt = 0; },
    /** Stops for good: no reconnect. */
    close(code = 1000) {
      state.closed = true;
      clearTimeout(state.retryTimer);
      clearTimers();
      window.removeEventListener('online', onOnline);
      const socket = state.socket;
      state.socket = null;
      if (socket && socket.readyState <= WebSocket.OPEN) socket.close(code);
    },
  };
}
