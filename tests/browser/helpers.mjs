// Shared pieces of the browser tests: Chromium with fake camera and microphone,
// one browser context per participant, and bounded waits for what a person
// would see (a tile, a playing video, a chat line).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { ROOT, startServer } from '../support/server.mjs';
import { startRelay } from '../hardening/lib.mjs';

/**
 * Where the tests' screenshots go: tests/.tmp/screenshots, so running the
 * suite leaves the checkout as it was. `make screenshots` points this at
 * docs/screenshots (the README's pictures) through NOOM_SCREENSHOTS.
 */
export const SCREENSHOTS = process.env.NOOM_SCREENSHOTS
  ? path.resolve(ROOT, process.env.NOOM_SCREENSHOTS)
  : path.join(ROOT, 'tests', '.tmp', 'screenshots');

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * One Chromium for a whole test file. Its fake devices: three microphones,
 * three speakers and `cameras` cameras (Chromium's `device-count`). Of the
 * cameras, `fake_device_1` is a depth camera (Y16) whose frames WebRTC never
 * encodes; `fake_device_0` and `fake_device_2` (MJPEG) are ordinary ones.
 * The microphones beep twice a second, unless `talking`: then they play
 * `talkingSound()` over and over.
 */
export function launchBrowser({ cameras = 1, talking = false, backForwardCache = false } = {}) {
  const args = cameras === 1 ? [...CHROMIUM_ARGS] : CHROMIUM_ARGS.map((arg) => (arg === '--use-fake-device-for-media-stream'
    ? `${arg}=device-count=${cameras}` : arg));
  if (talking) args.push(`--use-file-for-fake-audio-capture=${talkingSound()}`);
  // Playwright turns the back/forward cache off; `backForwardCache` keeps it, as browsers have it.
  const ignoreDefaultArgs = backForwardCache ? ['--disable-back-forward-cache'] : [];
  return chromium.launch({ executablePath: '/usr/bin/chromium', args, ignoreDefaultArgs, timeout: 30_000 });
}

/**
 * Writes a sound like someone talking to tests/.tmp and returns its path:
 * three seconds of a 140 Hz voice with its overtones, in syllables of 180 ms
 * four times a second (a WAV file, 48 kHz, 16-bit mono).
 */
function talkingSound() {
  const rate = 48_000;
  const samples = rate * 3;
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16); // the format block's size
  wav.writeUInt16LE(1, 20); // PCM
  wav.writeUInt16LE(1, 22); // mono
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28); // bytes a second
  wav.writeUInt16LE(2, 32); // bytes a sample
  wav.writeUInt16LE(16, 34); // bits a sample
  wav.write('data', 36);
  wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i += 1) {
    const t = i / rate;
    const inSyllable = t % 0.25;
    const envelope = inSyllable < 0.18 ? Math.sin((Math.PI * inSyllable) / 0.18) : 0;
    let voice = 0;
    for (let k = 1; k < 8; k += 1) voice += Math.sin(2 * Math.PI * 140 * k * t) / k;
    const value = Math.max(-1, Math.min(1, voice * 0.25 * envelope));
    wav.writeInt16LE(Math.round(value * 32767), 44 + i * 2);
  }
  const dir = path.join(ROOT, 'tests', '.tmp');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'talking.wav');
  writeFileSync(file, wav);
  return file;
}

/**
 * A `wrangler dev` that pages reach through a relay on a fixed port, which a
 * test can freeze (`relay.freeze()`) or point at a restarted server
 * (`relay.setTarget`, with `serverVars(relay)` for the new one).
 */
export async function startServerBehindRelay(vars = {}) {
  const relay = await startRelay(0);
  const server = await startServer({ vars: { ...vars, ...serverVars(relay) } });
  relay.setTarget(server.port);
  return { relay, server };
}

/** The vars a server behind `relay` needs: the relay's origin is the pages' origin. */
export const serverVars = (relay) => ({ ALLOWED_ORIGINS: relay.url });

/** The CSS selector of the remote tile of `peerId`. */
const tileSelector = (peerId) => `[data-testid="tile"][data-peer-id="${peerId}"]`;

/** Runs first in every test page: keeps each AudioContext the page makes, so a test can count the open ones. */
function keepAudioContexts() {
  const Native = window.AudioContext;
  if (!Native) return;
  window.__audioContexts = [];
  window.AudioContext = class extends Native {
    constructor(...args) {
      super(...args);
      window.__audioContexts.push(this);
    }
  };
  window.__openAudioContexts = () => window.__audioContexts.filter((c) => c.state !== 'closed').length;
}

/** How many AudioContexts the page has made and not closed. */
export function openAudioContexts(page) {
  return page.evaluate(() => window.__openAudioContexts?.() ?? 0);
}

/**
 * Makes the page believe its tab went out of view (`hidden`) or came back, as
 * switching tabs would: headless Chromium keeps every page visible.
 */
export function setPageHidden(page, hidden) {
  return page.evaluate((value) => {
    if (value) Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    else delete document.visibilityState;
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** Waits until `count` AudioContexts are open on a page (closing one takes a moment). */
export function waitAudioContexts(page, count, timeout = 5000) {
  return page.waitForFunction((n) => (window.__openAudioContexts?.() ?? 0) === n, count, { timeout });
}

/**
 * Whether the speaking ring shows on a tile at any moment within `ms`
 * (`peerId` null: the self tile). Chromium's fake microphone beeps twice a
 * second, so a working meter lights the ring several times in a few seconds.
 */
export function speakingSeen(page, peerId, ms) {
  const selector = peerId === null ? '[data-testid="tile"][data-self]' : tileSelector(peerId);
  return page.evaluate(([selector, duration]) => new Promise((resolve) => {
    const until = performance.now() + duration;
    const timer = setInterval(() => {
      const lit = document.querySelector(selector)?.classList.contains('speaking');
      if (lit || performance.now() > until) {
        clearInterval(timer);
        resolve(Boolean(lit));
      }
    }, 20);
  }), [selector, ms]);
}

/**
 * A fresh context (own storage, own camera) and page, as a separate person
 * would have. `device`: Playwright context options for another kind of
 * device (a phone: `isMobile`, `hasTouch`, its viewport).
 */
export async function newPerson(browser, baseUrl, device = {}) {
  const context = await browser.newContext({ baseURL: baseUrl, viewport: { width: 1280, height: 720 }, ...device });
  await context.grantPermissions(['camera', 'microphone']);
  await context.addInitScript(keepAudioContexts);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (err) => console.error(`[page error] ${err.message}`));
  if (process.env.NOOM_DEBUG) page.on('console', (m) => console.log(`[console ${page.url()}] ${m.text()}`));
  return { context, page };
}

/** Opens `/r/<room>?name=..&autojoin=1` and waits until the server welcomed us. */
export async function joinRoom(browser, baseUrl, room, name, extra = '') {
  const person = await newPerson(browser, baseUrl);
  await gotoRoom(person.page, room, name, extra);
  return person;
}

export async function gotoRoom(page, room, name, extra = '') {
  await page.goto(`/r/${room}?name=${encodeURIComponent(name)}&autojoin=1${extra}`);
  await waitJoined(page);
}

export async function waitJoined(page, timeout = 20_000) {
  await page.waitForFunction(() => Boolean(window.__noom?.selfId), null, { timeout });
  return page.evaluate(() => window.__noom.selfId);
}

/** Waits for a page to be welcomed again on a new socket (a new self id instead of `oldId`); returns the new id. */
export async function waitRejoined(page, oldId, timeout = 20_000) {
  const handle = await page.waitForFunction((old) => {
    const now = window.__noom?.selfId;
    return Boolean(now) && now !== old && now;
  }, oldId, { timeout, polling: 100 });
  return handle.jsonValue();
}

/** The ids of the remote tiles on a page. */
export function remoteTileIds(page) {
  return page.$$eval('[data-testid="tile"]:not([data-self])', (tiles) => tiles.map((t) => t.dataset.peerId));
}

/**
 * Waits until `count` remote tiles show a video that has frames and plays, then
 * checks that each one's currentTime moves on.
 */
export async function waitRemoteVideosPlaying(page, count, timeout = 30_000) {
  await page.waitForFunction((n) => {
    const videos = [...document.querySelectorAll('[data-testid="tile"]:not([data-self]) video')];
    return videos.length === n && videos.every((v) => v.videoWidth > 0 && !v.paused && v.readyState >= 2);
  }, count, { timeout, polling: 250 });
  const before = await currentTimes(page);
  await page.waitForTimeout(1200);
  const after = await currentTimes(page);
  for (const [id, t] of Object.entries(before)) {
    assert.ok(after[id] > t, `video of ${id} is advancing (${t} -> ${after[id]})`);
  }
}

function currentTimes(page) {
  return page.$$eval('[data-testid="tile"]:not([data-self])', (tiles) =>
    Object.fromEntries(tiles.map((t) => [t.dataset.peerId, t.querySelector('video').currentTime])));
}

/**
 * The names on the tiles `tiles` (a selector) as `[name, shown whole]`, sorted:
 * whole when the name's text fits its box (not cut to "A…").
 */
export function tileNames(page, tiles) {
  return page.$$eval(`${tiles} .tile-name span`, (spans) => spans
    .map((span) => [span.textContent, span.clientWidth > 0 && span.scrollWidth <= span.clientWidth]).sort());
}

/** Waits until the remote tile of `peerId` has `attr` equal to `value`. */
export function waitTileAttr(page, peerId, attr, value, timeout = 10_000) {
  return page.waitForFunction(([selector, a, v]) => document.querySelector(selector)?.getAttribute(a) === v,
    [tileSelector(peerId), attr, value], { timeout, polling: 100 });
}

/** Waits until the chat log contains `text`. */
export function waitChat(page, text, timeout = 10_000) {
  return page.waitForFunction((t) => document.querySelector('[data-testid="chat-log"]')?.textContent.includes(t),
    text, { timeout, polling: 100 });
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name) });
}

/** Closes contexts without letting one slow close hang the suite. */
export async function closeAll(...people) {
  await Promise.all(people.filter(Boolean).map((p) => withTimeout(p.context.close(), 5000).catch(() => {})));
}

export function withTimeout(promise, ms) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * The limits on each outgoing video copy, one per remote peer, as the browser
 * holds them (RTCRtpSender parameters). Waits until every peer link has them.
 */
export async function videoLimits(page, timeout = 10_000) {
  await page.waitForFunction(() => [...window.__noom.peers.values()]
    .every((p) => p.link.videoEncoding()?.maxBitrate !== undefined), null, { timeout });
  return page.evaluate(() => [...window.__noom.peers.values()].map((p) => {
    const { maxBitrate, maxFramerate, scaleResolutionDownBy } = p.link.videoEncoding();
    return { maxBitrate, maxFramerate, scaleResolutionDownBy };
  }));
}

/**
 * Marks the peer connection a page has with `peerId`, so `sameConnection` can
 * tell later whether the call still runs on it or on a new one.
 */
export function markConnection(page, peerId) {
  return page.evaluate((id) => { window.__noom.peers.get(id).link.pc.noomMark = true; }, peerId);
}

/** Waits until the page's link with `peerId` exists and is `connected`; whether it is the one marked. */
export async function sameConnection(page, peerId, timeout = 10_000) {
  await page.waitForFunction((id) => window.__noom.peers.get(id)?.link.pc.connectionState === 'connected',
    peerId, { timeout, polling: 100 });
  return page.evaluate((id) => window.__noom.peers.get(id).link.pc.noomMark === true, peerId);
}

/** From now on (again), keeps the text of every notice (toast) the page shows; read with `toastsSeen`. */
export function recordToasts(page) {
  return page.evaluate(() => {
    const first = !window.noomToasts;
    window.noomToasts = [];
    if (!first) return;
    new MutationObserver((records) => {
      for (const r of records) for (const node of r.addedNodes) window.noomToasts.push(node.textContent);
    }).observe(document.getElementById('toasts'), { childList: true });
  });
}

export function toastsSeen(page) {
  return page.evaluate(() => window.noomToasts);
}

/**
 * From now on, notes the pitch of every tone the page starts (`window.__tones`)
 * and the speaker each AudioContext is sent to (`window.__toneSinks`).
 */
export function listenForTones(page) {
  return page.evaluate(() => {
    window.__tones = [];
    window.__toneSinks = [];
    const start = OscillatorNode.prototype.start;
    if (start.noted) return;
    OscillatorNode.prototype.start = function noted(...args) {
      window.__tones.push(this.frequency.value);
      return start.apply(this, args);
    };
    OscillatorNode.prototype.start.noted = true;
    const setSinkId = AudioContext.prototype.setSinkId;
    AudioContext.prototype.setSinkId = function noted(id) {
      window.__toneSinks.push(id);
      return setSinkId.call(this, id);
    };
  });
}
