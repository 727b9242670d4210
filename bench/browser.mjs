// Call set-up in a real browser: headless Chromium with a fake camera and
// microphone against Noom under `wrangler dev`. Run by bench/run.mjs inside a
// loopback-only network namespace (`unshare --net`), so nothing leaves the machine:
//
//   unshare --net bash -c 'ip link set lo up; node bench/browser.mjs --out FILE [--quick]'
//
// For a call of N participants, N-1 people are already in the room, see each
// other and have talked for CALL_SETTLE_MS (the newcomer joins a call under way,
// not one still starting); then the last one opens `/r/<room>?name=..&autojoin=1`. The figure is
// the time from that navigation (the page's own time origin) until every
// remote tile's <video> is playing, read in the page every 10 ms.
import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { SERVERS, startServer } from './lib/servers.mjs';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const out = argv[argv.indexOf('--out') + 1];
// A call of 8 is 8 Chromium pages each encoding video for 7 others: slow on a
// small machine, so the quick smoke leaves it out and the full run does it twice.
const SIZES = argv.includes('--sizes') ? argv[argv.indexOf('--sizes') + 1].split(',').map(Number) : quick ? [2, 4] : [2, 4, 8];
const runsFor = (n) => (quick ? 1 : n >= 8 ? 2 : n >= 4 ? 5 : 3);
const SETTLE_MS = 45_000;
const CALL_SETTLE_MS = 3_000;
// Eight Chromium pages sharing two cores are slow to set up; give them longer.
const joinMsFor = (n) => (n >= 8 ? 90_000 : 45_000);
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run',
];
const log = (...a) => console.log(`[browser ${new Date().toISOString().slice(11, 19)}]`, ...a);

/**
 * Runs in every page before its scripts: notes when the page sent `join` (its
 * code loaded and its camera open) and when N-1 remote videos first all play.
 */
function watchVideos() {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (window.__benchJoinSentAt === undefined && typeof data === 'string' && data.includes('"type":"join"')) {
      window.__benchJoinSentAt = performance.now();
    }
    return send.call(this, data);
  };
  const expected = Number(new URLSearchParams(location.search).get('benchPeers') ?? 'NaN');
  const timer = setInterval(() => {
    const videos = [...document.querySelectorAll('[data-testid="tile"]:not([data-self]) video')];
    const playing = videos.filter((v) => v.videoWidth > 0 && !v.paused && v.readyState >= 2).length;
    window.__benchPlaying = playing;
    if (playing >= expected && window.__benchAllPlayingAt === undefined) {
      window.__benchAllPlayingAt = performance.now();
      clearInterval(timer);
    }
  }, 10);
}

async function person(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  await context.grantPermissions(['camera', 'microphone']);
  await context.addInitScript(watchVideos);
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  return { context, page, url };
}

const waitPlaying = (page, timeout) => page.waitForFunction(() => window.__benchAllPlayingAt !== undefined,
  null, { timeout, polling: 50 });

/** One call of `n` people; returns the last joiner's time to all remote videos playing. */
async function oneCall(browser, base, n, run, recordPage) {
  const room = `bench-call-${n}-${run}-${Math.random().toString(36).slice(2, 8)}`;
  const people = [];
  try {
    for (let i = 0; i < n - 1; i += 1) {
      const p = await person(browser, base);
      await p.page.goto(`${base}/r/${room}?name=P${i}&autojoin=1&benchPeers=${n - 2}`);
      people.push(p);
    }
    // The ones already there see each other first (bounded; a slow mesh is noted, not hidden).
    let settled = true;
    const settleBy = Date.now() + SETTLE_MS;
    for (const p of people) {
      await waitPlaying(p.page, Math.max(1000, settleBy - Date.now())).catch(() => { settled = false; });
    }
    await new Promise((r) => setTimeout(r, CALL_SETTLE_MS));
    const joiner = await person(browser, base);
    people.push(joiner);
    const requests = [];
    const responses = [];
    joiner.page.on('request', (r) => requests.push({ url: r.url(), type: r.resourceType() }));
    joiner.page.on('websocket', (ws) => requests.push({ url: ws.url(), type: 'websocket' }));
    if (recordPage) {
      joiner.page.on('response', (r) => {
        const type = r.request().resourceType();
        if (['document', 'stylesheet', 'script'].includes(type)) {
          responses.push(r.body().then((b) => ({ url: r.url(), type, bytes: b.length, gzip: gzipSync(b, { level: 9 }).length }))
            .catch(() => null));
        }
      });
    }
    const pending = new Map();
    joiner.page.on('request', (r) => pending.set(r, Date.now()));
    joiner.page.on('requestfinished', (r) => pending.delete(r));
    joiner.page.on('requestfailed', (r) => pending.delete(r));
    let ms = null;
    let joinSentMs = null;
    /** On a call that did not finish: how many remote videos were playing when time ran out. */
    let playingAtEnd = null;
    try {
      await joiner.page.goto(`${base}/r/${room}?name=Joiner&autojoin=1&benchPeers=${n - 1}`, { waitUntil: 'commit' });
      await waitPlaying(joiner.page, joinMsFor(n));
      [ms, joinSentMs] = await joiner.page.evaluate(() => [window.__benchAllPlayingAt, window.__benchJoinSentAt ?? null]);
    } catch {
      playingAtEnd = await joiner.page.evaluate(() => window.__benchPlaying ?? 0).catch(() => null);
      const stuck = [...pending.keys()].map((r) => `${r.resourceType()} ${r.url().replace(base, '')}`).join(', ');
      log(`call of ${n}, run ${run + 1}: not every remote video played within ${joinMsFor(n) / 1000} s`
        + `${playingAtEnd === null ? '' : ` (${playingAtEnd} of ${n - 1} playing)`}`
        + `${stuck ? `; requests still pending: ${stuck}` : ''}`);
    }
    const files = (await Promise.all(responses)).filter(Boolean);
    return { n, run, ms, joinSentMs, playingAtEnd, settled, requests, files };
  } finally {
    await Promise.all(people.map((p) => Promise.race([p.context.close(), new Promise((r) => setTimeout(r, 5000))])));
  }
}

/**
 * The most a whole call may take: its own waits and a minute for the rest.
 * Playwright's calls that open a context or a page have no timeout of their
 * own, and once (a call of four, on a loaded machine) the browser stopped
 * answering one for good: past this the call counts as not finished and the
 * browser is replaced.
 */
const callLimitMs = (n) => SETTLE_MS + CALL_SETTLE_MS + joinMsFor(n) + 60_000;
const launch = () => chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 30_000 });

/** `oneCall`, bounded by `callLimitMs`. */
async function boundedCall(n, run, recordPage) {
  let timer;
  const stuck = new Promise((resolve) => { timer = setTimeout(() => resolve(null), callLimitMs(n)); });
  const call = oneCall(browser, server.url, n, run, recordPage);
  call.catch(() => {}); // if it is left behind, its failure is nobody's
  try {
    const done = await Promise.race([call, stuck]);
    if (done !== null) return done;
  } finally {
    clearTimeout(timer);
  }
  log(`call of ${n}, run ${run + 1}: the browser stopped answering within ${callLimitMs(n) / 1000} s; not finished, browser replaced`);
  await Promise.race([browser.close(), new Promise((r) => setTimeout(r, 5000))]).catch(() => {});
  browser = await launch();
  return { n, run, ms: null, joinSentMs: null, playingAtEnd: null, settled: false, stuck: true, requests: [], files: [] };
}

const server = await startServer(SERVERS.find((s) => s.key === 'noom'));
let browser = await launch();
const result = { runs: [], page: null, command: server.command, chromiumArgs: CHROMIUM_ARGS };
try {
  // Warm-up, not measured: the browser's first call pays for starting its
  // media, codec and network services.
  await oneCall(browser, server.url, 2, -1, false).catch((e) => log(`warm-up call failed: ${e.message}`));
  for (const n of SIZES) {
    const RUNS = runsFor(n);
    for (let run = 0; run < RUNS; run += 1) {
      const call = await boundedCall(n, run, result.page === null);
      log(`call of ${n}, run ${run + 1}/${RUNS}: ${call.ms === null ? 'did not finish' : `${Math.round(call.ms)} ms${call.joinSentMs === null ? '' : ` (join sent at ${Math.round(call.joinSentMs)} ms)`}`}`
        + `${call.settled ? '' : ' (the others had not all seen each other)'}`);
      if (result.page === null && call.files.length) {
        // The meeting page as the browser loaded it: HTML, CSS, JS, gzipped; and every request it made.
        const http = call.requests.filter((r) => r.type !== 'websocket');
        result.page = {
          files: call.files,
          gzip: call.files.reduce((s, f) => s + f.gzip, 0),
          bytes: call.files.reduce((s, f) => s + f.bytes, 0),
          requests: call.requests.length,
          httpRequests: http.length,
          webSockets: call.requests.filter((r) => r.type === 'websocket').length,
          requestList: call.requests.map((r) => `${r.type} ${r.url.replace(server.url, '').replace(server.wsUrl, '')}`),
        };
      }
      delete call.requests;
      delete call.files;
      result.runs.push(call);
    }
  }
} finally {
  await browser.close().catch(() => {});
  await server.stop();
}
writeFileSync(out, JSON.stringify(result, null, 1));
