// The network goes away for 20 seconds in the middle of a call of two (the
// loopback interface of the test's own namespace is taken down, so the
// signaling socket and the media both stop) and then comes back. ICE gives up
// about 15 s into such an outage, and its restart made then gathers nothing:
// the call must come back by itself once the network does, and each page must
// say it is reconnecting meanwhile, not "Connected".
//
// The pages reach the server through a relay that, as the outage starts,
// freezes the sockets open then: the server never hears that they are gone
// (as when a phone's network dies without a goodbye), so it keeps listing the
// old ones until they have been silent for PEER_TIMEOUT_SECONDS (set to 5
// minutes here, so no sweep clears them during the test). Each page must
// still end up with one tile for the other person, not a second one for
// their old socket.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  launchBrowser, joinRoom, newPerson, gotoRoom, waitJoined, waitRejoined, waitRemoteVideosPlaying, remoteTileIds, closeAll,
  startServerBehindRelay, recordToasts, toastsSeen, waitTileAttr,
} from './helpers.mjs';
import { startServer } from '../support/server.mjs';
import { until } from '../hardening/lib.mjs';

const OUTAGE_MS = 20_000;

const network = (state) => execFileSync('ip', ['link', 'set', 'lo', state]);
/** What the page's header says of its connection ("Connected", "Reconnecting…"). */
const status = (page) => page.evaluate(() => document.getElementById('status').textContent);

describe('a network outage during a call', { timeout: 180_000 }, () => {
  let relay;
  let server;
  let browser;
  let ann;
  let bob;
  let cy;
  let dee;

  before(async () => {
    ({ relay, server } = await startServerBehindRelay({ PEER_TIMEOUT_SECONDS: '300' }));
    browser = await launchBrowser();
  });

  after(async () => {
    network('up');
    await closeAll(ann, bob, cy, dee);
    await browser?.close();
    await server?.stop();
    await relay?.close();
  });

  it('the call comes back by itself when the network does, with no tile left for an old socket', { timeout: 120_000 }, async () => {
    ann = await joinRoom(browser, relay.url, 'outage', 'Ann');
    bob = await joinRoom(browser, relay.url, 'outage', 'Bob');
    const oldIds = await Promise.all([waitJoined(ann.page), waitJoined(bob.page)]);
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);

    const connection = (page) => page.evaluate(() => [...window.__noom.peers.values()].map((p) => p.link.pc.connectionState));
    relay.freeze();
    network('down');
    try {
      await ann.page.waitForTimeout(OUTAGE_MS);
      assert.deepEqual(await connection(ann.page), ['failed'], 'the outage was not long enough for ICE to give up');
      assert.equal(await status(ann.page), 'Reconnecting…');
      assert.equal(await status(bob.page), 'Reconnecting…');
    } finally {
      network('up');
    }
    const back = Date.now();
    // Long before the server would drop the frozen sockets.
    await Promise.all([ann, bob].map(({ page }) => page.waitForFunction(() => {
      const peers = [...window.__noom.peers.values()];
      return peers.length === 1 && peers[0].link.pc.connectionState === 'connected';
    }, null, { timeout: 20_000, polling: 250 })));
    const backMs = Date.now() - back;
    // A claim sent to an old socket waits 3 s for its answer before linking
    // to it afresh: look again once that time is past.
    await ann.page.waitForTimeout(4000);
    const newIds = await Promise.all([ann.page, bob.page].map((page) => page.evaluate(() => window.__noom.selfId)));
    assert.deepEqual(await remoteTileIds(ann.page), [newIds[1]]);
    assert.deepEqual(await remoteTileIds(bob.page), [newIds[0]]);
    assert.ok(!oldIds.includes(newIds[0]) && !oldIds.includes(newIds[1]));
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
    assert.equal(await status(ann.page), 'Connected');
    assert.equal(await ann.page.getByTestId('participant-count').textContent(), '2');
    console.log(`# the call was back ${backMs} ms after the network`);
  });

  // With no network, a new socket's handshake can hang for a minute: the page
  // gives an attempt 5 s (CONNECT_LIMIT_MS in signaling.js), then makes another.
  it('a reconnect whose handshake hangs is given up and made again', { timeout: 60_000 }, async () => {
    cy = await joinRoom(browser, relay.url, 'stall', 'Cy');
    const firstId = await waitJoined(cy.page);
    relay.stallHandshakes(1);
    await cy.page.evaluate(() => window.__noom.signaling.socket.close());
    await cy.page.waitForFunction(() => window.__noom.signaling.socket?.readyState === WebSocket.CONNECTING, null, { timeout: 5000 });
    await until(() => relay.stalledNow === 1, 'the reconnect to reach the relay and hang', 5000);
    await waitRejoined(cy.page, firstId, 15_000);
    assert.equal(await status(cy.page), 'Connected');
    await until(() => relay.stalledNow === 0, 'the page to let go of the attempt that hung', 2000);
  });

  // A hidden tab's timers run about once a minute (Chromium's intensive
  // throttling, for a page with no call going), and a laptop's lid stops
  // them altogether: the page's next health check comes a minute or more
  // late, having sent no ping meanwhile. Silence then says nothing about the
  // socket: the page pings and keeps it if the server answers. Playwright's
  // clock jumps the page's time the same way (each due timer fires once).
  it('health checks that come a minute late keep a socket that answers, and drop one that does not', { timeout: 90_000 }, async () => {
    await closeAll(ann, bob, cy);
    ann = bob = cy = undefined;
    dee = await newPerson(browser, relay.url);
    await dee.page.clock.install();
    await gotoRoom(dee.page, 'asleep', 'Dee');
    const firstId = await waitJoined(dee.page);
    const selfId = () => dee.page.evaluate(() => window.__noom.selfId);
    for (let minute = 1; minute <= 3; minute += 1) {
      await dee.page.clock.fastForward(60_000);
      // Real time for the ping's answer, and past the 5 s the page gives it.
      await dee.page.waitForTimeout(minute === 3 ? 7000 : 1500);
      assert.equal(await selfId(), firstId, `the page made a new socket after late checks (minute ${minute})`);
    }
    assert.equal(await status(dee.page), 'Connected');

    // The same late check on a socket that no longer answers: dropped within
    // the probe's 5 s, not the minute a silent socket otherwise gets.
    relay.freeze();
    const frozenAt = Date.now();
    await dee.page.clock.fastForward(60_000);
    await waitRejoined(dee.page, firstId, 15_000);
    console.log(`# the dead socket was replaced ${Date.now() - frozenAt} ms after the late check`);
    assert.equal(await status(dee.page), 'Connected');
  });

  // A phone moving from Wi-Fi to mobile data: its socket dies without a word,
  // the page dials again, and the server lists the new socket beside the old
  // one it has not seen go. The others must not be told that person joined
  // (nor raised a hand again): their link is claimed back under the new id.
  // Ann reaches the server through the relay, which keeps her old socket open
  // to the server; Bob goes straight to it.
  it('one whose old socket the server has not seen go comes back: nobody is told they joined, one tile each', { timeout: 60_000 }, async () => {
    await closeAll(ann, bob, cy, dee);
    cy = dee = undefined;
    ann = await joinRoom(browser, relay.url, 'unseen', 'Ann');
    bob = await joinRoom(browser, server.url, 'unseen', 'Bob');
    const annId = await waitJoined(ann.page);
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
    await ann.page.getByTestId('hand').click();
    await waitTileAttr(bob.page, annId, 'data-hand', 'true');
    await recordToasts(bob.page);

    relay.freeze();
    await ann.page.evaluate(() => window.__noom.signaling.socket.close());
    const newId = await waitRejoined(ann.page, annId);
    await bob.page.waitForFunction((id) => window.__noom.peers.get(id)?.link.pc.connectionState === 'connected', newId, { timeout: 10_000 });
    await bob.page.waitForTimeout(4000); // past the wait for a claim
    assert.deepEqual(await remoteTileIds(bob.page), [newId]);
    await waitTileAttr(bob.page, newId, 'data-hand', 'true');
    const toasts = await toastsSeen(bob.page);
    assert.ok(!toasts.some((t) => /^Ann /.test(t)), `told: ${toasts.join(' | ')}`);

    // Someone new under a name already there is told, after that wait.
    const twin = await joinRoom(browser, server.url, 'unseen', 'Ann');
    const twinId = await waitJoined(twin.page);
    await bob.page.waitForFunction(() => window.noomToasts.includes('Ann joined'), null, { timeout: 10_000 });
    assert.deepEqual((await remoteTileIds(bob.page)).sort(), [newId, twinId].sort());
    await closeAll(twin);
  });
});

// A tab hidden for five minutes with no call in it gets its repeating timers
// run once a minute (Chromium's intensive throttling: an open WebSocket does
// not exempt a page, but its message events are not throttled, nor are
// timeouts set from them). Headless Chromium never hides a page, so the test
// slows the page's setInterval to once a minute instead. The server drops a
// connection silent for 25 s here: a page that pinged from its health checks
// would be dropped and rejoin over and over, a page that pings 20 s after
// each `pong` stays.
describe('a page waiting alone in a tab hidden for long', { timeout: 120_000 }, () => {
  let server;
  let browser;
  let eve;

  before(async () => {
    server = await startServer({ vars: { PEER_TIMEOUT_SECONDS: '25' } });
    browser = await launchBrowser();
  });

  after(async () => {
    await closeAll(eve);
    await browser?.close();
    await server?.stop();
  });

  it('keeps its socket, pinging every 20 s, while its repeating timers run once a minute', { timeout: 90_000 }, async () => {
    eve = await newPerson(browser, server.url);
    await eve.page.addInitScript(() => {
      const every = window.setInterval;
      window.setInterval = (fn, ms, ...args) => every(fn, Math.max(ms, 60_000), ...args);
      window.__pings = [];
      const send = WebSocket.prototype.send;
      WebSocket.prototype.send = function (data) {
        if (data === 'ping') window.__pings.push(Date.now());
        return send.call(this, data);
      };
    });
    await gotoRoom(eve.page, 'hidden-long', 'Eve');
    const firstId = await waitJoined(eve.page);
    await eve.page.waitForTimeout(50_000);
    assert.equal(await eve.page.evaluate(() => window.__noom.selfId), firstId, 'the server dropped the page and it rejoined');
    assert.equal(await status(eve.page), 'Connected');
    const pings = await eve.page.evaluate(() => window.__pings);
    assert.ok(pings.length >= 2, `pings sent in 50 s: ${pings.length}`);
  });
});
