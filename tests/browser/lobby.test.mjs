// The lobby at `/`: new meeting, join by code or name (with a clear error for
// bad input), the remembered name, and the public room list with live counts.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { launchBrowser, newPerson, joinRoom, waitJoined, screenshot, closeAll, listenForTones } from './helpers.mjs';

const TEST_TIMEOUT = 60_000;

/** Waits until the lobby lists `room` with `count` people. */
function waitListed(page, room, count, timeout = 15_000) {
  return page.waitForFunction(([r, n]) => {
    const item = [...document.querySelectorAll('[data-testid="public-rooms"] li')].find((li) => li.dataset.room === r);
    return item?.querySelector('[data-testid="room-count"]')?.textContent === String(n);
  }, [room, count], { timeout, polling: 200 });
}

describe('the lobby', { timeout: 180_000 }, () => {
  let server;
  let browser;
  const people = [];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  // Each test's people leave with it: pages left open with their cameras
  // running slowed the later tests on a 2-core machine (a lobby once took
  // over 15 s to load in CI).
  afterEach(async () => {
    await closeAll(...people.splice(0));
  });

  after(async () => {
    await closeAll(...people);
    await browser?.close();
    await server?.stop();
  });

  it('creates a new meeting and remembers the name', { timeout: TEST_TIMEOUT }, async () => {
    const lea = await newPerson(browser, server.url);
    people.push(lea);
    const roomSockets = [];
    lea.page.on('websocket', (ws) => { if (ws.url().includes('/api/rooms/')) roomSockets.push(ws); });
    await lea.page.goto('/');
    await lea.page.getByTestId('lobby-name').fill('Lea');
    await lea.page.getByTestId('new-meeting').click();
    await lea.page.waitForURL(/\/r\/[a-z]{3}-[a-z]{4}-[a-z]{3}$/, { timeout: 10_000 });
    assert.equal(await lea.page.getByTestId('prejoin-name').inputValue(), 'Lea');
    // The room's socket is opened while the pre-join screen shows, and the
    // join goes out on that same socket: no second handshake after the click.
    for (let i = 0; i < 50 && roomSockets.length === 0; i += 1) await lea.page.waitForTimeout(100);
    assert.equal(roomSockets.length, 1, 'one room socket opened on the pre-join screen');
    const joins = [];
    roomSockets[0].on('framesent', (frame) => { if (String(frame.payload).includes('"join"')) joins.push(frame); });
    await lea.page.getByRole('button', { name: 'Join now' }).click();
    await waitJoined(lea.page);
    assert.equal(roomSockets.length, 1, 'joining did not open another socket');
    assert.equal(joins.length, 1, 'the join went out on the early socket');
    assert.equal(await lea.page.getByTestId('participant-count').textContent(), '1');
    const code = new URL(lea.page.url()).pathname.split('/').pop();
    await lea.page.goto('/');
    assert.equal(await lea.page.getByTestId('lobby-name').inputValue(), 'Lea');
    // The meeting is in the lobby's recent list (kept on this browser only), and its link leads back.
    const recent = lea.page.getByTestId('recent-meetings').locator('a');
    assert.deepEqual(await recent.evaluateAll((links) => links.map((a) => [a.querySelector('.room-name').textContent, a.getAttribute('href')])),
      [[code, `/r/${code}`]]);
    await screenshot(lea.page, 'lobby-recent.png');
    await recent.first().click();
    await lea.page.waitForURL(`**/r/${code}`, { timeout: 10_000 });
  });

  it('back from a meeting, the lobby it was left from works again and lists that meeting', { timeout: TEST_TIMEOUT }, async () => {
    // As browsers ship: Back shows the lobby as it was left, from memory.
    const cached = await launchBrowser({ backForwardCache: true });
    try {
      const { page } = await newPerson(cached, server.url);
      await page.goto('/');
      await page.evaluate(() => { window.leftHere = true; });
      await page.getByTestId('lobby-name').fill('Ned');
      await page.getByTestId('new-meeting').click();
      await page.waitForURL(/\/r\/[a-z-]{12}$/, { timeout: 10_000 });
      const code = new URL(page.url()).pathname.split('/').pop();
      await page.getByTestId('prejoin-name').fill('Ned Stark');
      await page.getByRole('button', { name: 'Join now' }).click();
      await waitJoined(page);
      await page.goBack({ waitUntil: 'commit' }); // a page from the cache fires no `load`
      await page.waitForFunction(() => document.readyState === 'complete', null, { timeout: 10_000 });
      assert.equal(await page.evaluate(() => window.leftHere), true, 'the lobby came from the back/forward cache');
      await page.waitForFunction(() => !document.querySelector('[data-testid="new-meeting"]').disabled, null, { timeout: 5000 });
      assert.equal(await page.getByTestId('lobby-name').inputValue(), 'Ned Stark');
      assert.deepEqual(await page.getByTestId('recent-meetings').locator('.room-name').allTextContents(), [code]);
      await page.getByTestId('new-meeting').click();
      await page.waitForURL((url) => /^\/r\/[a-z-]{12}$/.test(url.pathname) && !url.pathname.endsWith(code), { timeout: 10_000 });
    } finally {
      await cached.close();
    }
  });

  it('creates a meeting for later: a link to pass on now, kept in the recent list', { timeout: TEST_TIMEOUT }, async () => {
    const kim = await newPerson(browser, server.url);
    people.push(kim);
    await kim.context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await kim.page.goto('/');
    await kim.page.getByTestId('meeting-later').click();
    const link = kim.page.getByTestId('later-link');
    await link.waitFor({ state: 'visible', timeout: 10_000 });
    const first = await link.textContent();
    const code = first.match(/^http:\/\/127\.0\.0\.1:\d+\/r\/([a-z]{3}-[a-z]{4}-[a-z]{3})$/)?.[1];
    assert.ok(first.startsWith(`${server.url}/r/`) && code, `not a meeting link: ${first}`);
    assert.equal(kim.page.url(), `${server.url}/`, 'the page left the lobby');
    await kim.page.getByTestId('later-copy').click();
    await kim.page.waitForFunction(() => document.querySelector('[data-testid="later-status"]').textContent === 'Invite link copied', null, { timeout: 5000 });
    assert.equal(await kim.page.evaluate(() => navigator.clipboard.readText()), first);
    // Another one is another meeting.
    await kim.page.getByTestId('meeting-later').click();
    await kim.page.waitForFunction((old) => document.querySelector('[data-testid="later-link"]').textContent !== old, first, { timeout: 10_000 });
    assert.equal(await kim.page.getByTestId('later-status').textContent(), '', 'the first link\'s "copied" stayed');
    // With the server failing, it says so and the button works again.
    await kim.page.route('**/api/rooms', (route) => (route.request().method() === 'POST' ? route.fulfill({ status: 503 }) : route.continue()));
    await kim.page.getByTestId('meeting-later').click();
    await kim.page.getByTestId('lobby-error').waitFor({ state: 'visible', timeout: 5000 });
    assert.match(await kim.page.getByTestId('lobby-error').textContent(), /Could not create a meeting: the server answered 503/);
    assert.equal(await kim.page.getByTestId('meeting-later').isEnabled(), true);
    await kim.page.unroute('**/api/rooms');
    // Both wait in the recent list, newest first, and the link leads to the meeting's pre-join screen.
    await kim.page.reload();
    const recent = await kim.page.getByTestId('recent-meetings').locator('.room-name').allTextContents();
    assert.equal(recent.length, 2);
    assert.equal(recent[1], code);
    await kim.page.goto(first);
    await kim.page.getByTestId('prejoin-name').waitFor({ timeout: 10_000 });
    assert.equal(await kim.page.locator('#prejoin-room').textContent(), `Meeting: ${code}`);
  });

  it('a recent meeting can be taken off the list, from the keyboard too; the list stays so', { timeout: TEST_TIMEOUT }, async () => {
    const ida = await newPerson(browser, server.url);
    people.push(ida);
    await ida.page.goto('/');
    let link = '';
    for (let i = 0; i < 2; i += 1) {
      await ida.page.getByTestId('meeting-later').click();
      await ida.page.waitForFunction((old) => (document.querySelector('[data-testid="later-link"]')?.textContent ?? '') !== old, link, { timeout: 10_000 });
      link = await ida.page.getByTestId('later-link').textContent();
    }
    await ida.page.reload();
    const names = () => ida.page.getByTestId('recent-meetings').locator('.room-name').allTextContents();
    const focused = () => ida.page.evaluate(() => document.activeElement?.dataset.testid ?? null);
    const [newest, older] = await names();
    assert.ok(newest && older && newest !== older, `two recent meetings: ${[newest, older]}`);
    const forget = ida.page.getByTestId('forget-recent');
    assert.equal(await forget.first().getAttribute('aria-label'), `Remove ${newest} from your recent meetings`);
    // From the keyboard: the row goes, and the focus goes to the next row's button.
    await forget.first().focus();
    await ida.page.keyboard.press('Enter');
    assert.deepEqual(await names(), [older]);
    assert.equal(await focused(), 'forget-recent');
    assert.equal(await forget.first().getAttribute('aria-label'), `Remove ${older} from your recent meetings`);
    // It stays off the list, and the one left still leads to its meeting.
    await ida.page.reload();
    assert.deepEqual(await names(), [older]);
    assert.equal(await ida.page.getByTestId('recent-meetings').locator('a').getAttribute('href'), `/r/${older}`);
    // The last one gone, the list goes, and the focus lands in the Join box.
    await forget.first().click();
    assert.equal(await ida.page.locator('#recent').isVisible(), false);
    assert.equal(await focused(), 'join-room');
    await ida.page.reload();
    assert.equal(await ida.page.locator('#recent').isVisible(), false);
  });

  it('a name of 32 emoji fits the name boxes and is joined with whole; 33 are refused; a long name wraps in the chat', { timeout: TEST_TIMEOUT }, async () => {
    // 32 characters (the contract's limit) but 64 UTF-16 units.
    const foxes = '🦊'.repeat(32);
    const fox = await newPerson(browser, server.url);
    people.push(fox);
    await fox.page.goto('/');
    // 33 characters in 64 units: the box takes them, the check counts them.
    await fox.page.getByTestId('lobby-name').fill(`${'🦊'.repeat(31)}ab`);
    await fox.page.getByTestId('new-meeting').click();
    await fox.page.getByTestId('lobby-error').waitFor({ state: 'visible', timeout: 5000 });
    assert.match(await fox.page.getByTestId('lobby-error').textContent(), /at most 32 characters/);
    await fox.page.getByTestId('lobby-name').fill(foxes);
    assert.equal(await fox.page.getByTestId('lobby-name').inputValue(), foxes);
    await fox.page.getByTestId('new-meeting').click();
    await fox.page.waitForURL(/\/r\/[a-z]{3}-[a-z]{4}-[a-z]{3}$/, { timeout: 10_000 });
    assert.equal(await fox.page.getByTestId('prejoin-name').inputValue(), foxes);
    await fox.page.getByRole('button', { name: 'Join now' }).click();
    // `welcome` came, so the server took the name.
    await waitJoined(fox.page);
    assert.ok(await fox.page.locator('[data-testid="tile"][data-self] .tile-name').evaluate((n, f) => n.textContent.includes(f), foxes));

    // On a small phone the name is cut short, in the people list and on the tile, but "(you)" after it is not.
    await fox.page.setViewportSize({ width: 320, height: 640 });
    await fox.page.getByTestId('people').click();
    for (const selector of ['[data-testid="people-list"] .person-name', '[data-testid="tile"][data-self] .tile-name']) {
      const seen = await fox.page.locator(selector).evaluate((node) => {
        const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
        let text = walker.nextNode();
        while (text && !text.data.includes('(you)')) text = walker.nextNode();
        if (!text) return null;
        const range = document.createRange();
        range.setStart(text, text.data.indexOf('(you)'));
        range.setEnd(text, text.data.indexOf('(you)') + 5);
        const clipped = [node, ...node.children].some((n) => n.scrollWidth > n.clientWidth);
        return { you: range.getBoundingClientRect().right, box: node.getBoundingClientRect().right, clipped };
      });
      assert.ok(seen, `${selector}: no "(you)"`);
      assert.ok(seen.clipped, `${selector}: the name is not long enough to be cut here: ${JSON.stringify(seen)}`);
      assert.ok(seen.you <= seen.box + 0.5, `${selector}: "(you)" is cut off: ${JSON.stringify(seen)}`);
    }

    // In the chat a long name wraps, even one with no place to break (emoji have one between
    // each): nothing runs off the panel, and the time beside it stays in view.
    await fox.page.setViewportSize({ width: 1280, height: 720 });
    await fox.page.getByTestId('chat').click();
    const wes = await joinRoom(browser, server.url, new URL(fox.page.url()).pathname.split('/').pop(), 'W'.repeat(32));
    people.push(wes);
    await wes.page.getByTestId('chat-input').fill('hello');
    await wes.page.getByTestId('chat-input').press('Enter');
    await fox.page.locator('.chat-entry', { hasText: 'hello' }).waitFor({ timeout: 5000 });
    assert.deepEqual(await fox.page.evaluate(() => {
      const log = document.getElementById('chat-log');
      const [time, box] = [log.querySelector('.chat-time').getBoundingClientRect(), log.getBoundingClientRect()];
      return { overflow: log.scrollWidth - log.clientWidth, timeInView: time.width > 0 && time.right <= box.right + 0.5 };
    }), { overflow: 0, timeInView: true });
  });

  it('a microphone picked before joining is the one the next visit starts with', { timeout: TEST_TIMEOUT }, async () => {
    const max = await newPerson(browser, server.url);
    people.push(max);
    await max.page.goto('/r/mic-check');
    const micSelect = max.page.getByTestId('microphone-select');
    await max.page.waitForFunction(() => document.querySelectorAll('#pre-microphone option').length === 3);
    assert.equal(await micSelect.locator('option:checked').textContent(), 'Fake Default Audio Input');
    await micSelect.selectOption({ label: 'Fake Audio Input 2' });
    await max.page.reload();
    await max.page.waitForFunction(() => document.querySelectorAll('#pre-microphone option').length === 3);
    assert.equal(await micSelect.locator('option:checked').textContent(), 'Fake Audio Input 2');
  });

  it('the pre-join meter follows the microphone; the speaker picked and tried there plays the meeting', { timeout: TEST_TIMEOUT }, async () => {
    const sue = await newPerson(browser, server.url);
    people.push(sue);
    await sue.page.goto('/r/speaker-check');
    // Chromium's fake microphone beeps twice a second: the meter moves with it, and rests while the microphone is off.
    const peakLevel = (ms) => sue.page.evaluate((duration) => new Promise((resolve) => {
      let peak = 0;
      const until = performance.now() + duration;
      const timer = setInterval(() => {
        peak = Math.max(peak, Number(document.getElementById('pre-level').style.getPropertyValue('--level') || 0));
        if (performance.now() > until) { clearInterval(timer); resolve(peak); }
      }, 20);
    }), ms);
    assert.ok(await peakLevel(3000) > 0.1, 'the meter never moved');
    await sue.page.locator('#pre-mic').click();
    await sue.page.waitForTimeout(300);
    assert.equal(await peakLevel(1500), 0, 'the meter moved with the microphone off');
    await sue.page.locator('#pre-mic').click();

    const speaker = sue.page.getByTestId('speaker-select');
    await sue.page.waitForFunction(() => document.querySelectorAll('#pre-speaker option').length > 1);
    assert.equal(await speaker.isVisible(), true);
    assert.equal(await speaker.inputValue(), 'default');
    await speaker.selectOption({ label: 'Fake Audio Output 1' });
    const chosen = await speaker.inputValue();
    assert.notEqual(chosen, 'default');
    await listenForTones(sue.page);
    await sue.page.getByTestId('speaker-test').click();
    await sue.page.waitForFunction(() => window.__tones.length === 2);
    assert.deepEqual(await sue.page.evaluate(() => [window.__tones, window.__toneSinks]), [[660, 880], [chosen]]);

    // The meeting plays everyone on it, and offers the same test.
    await sue.page.getByTestId('prejoin-name').fill('Sue');
    await sue.page.getByRole('button', { name: 'Join now' }).click();
    await waitJoined(sue.page);
    const tom = await joinRoom(browser, server.url, 'speaker-check', 'Tom');
    people.push(tom);
    await sue.page.waitForFunction((id) => {
      const audio = document.querySelector('[data-testid="tile"]:not([data-self]) audio');
      return audio?.sinkId === id;
    }, chosen, { timeout: 15_000 });
    await sue.page.getByTestId('devices').click();
    assert.equal(await sue.page.locator('#call-speaker').inputValue(), chosen);
    await listenForTones(sue.page);
    await sue.page.locator('#call-test').click();
    await sue.page.waitForFunction(() => window.__tones.length === 2);
    assert.deepEqual(await sue.page.evaluate(() => window.__toneSinks), [chosen]);
    // The next visit's pre-join starts with it.
    await sue.page.reload();
    await sue.page.waitForFunction(() => document.querySelectorAll('#pre-speaker option').length > 1);
    assert.equal(await speaker.inputValue(), chosen);
  });

  it('where the browser cannot choose a speaker (Safari), Test still plays on the one it has', { timeout: TEST_TIMEOUT }, async () => {
    const ola = await newPerson(browser, server.url);
    people.push(ola);
    await ola.context.addInitScript(() => { delete HTMLMediaElement.prototype.setSinkId; });
    await ola.page.goto('/r/no-sink');
    await ola.page.waitForFunction(() => document.querySelectorAll('#pre-camera option').length > 0);
    assert.equal(await ola.page.getByTestId('speaker-select').isVisible(), false, 'a speaker picker that cannot work');
    await listenForTones(ola.page);
    await ola.page.getByTestId('speaker-test').click();
    await ola.page.waitForFunction(() => window.__tones.length === 2);
    assert.deepEqual(await ola.page.evaluate(() => [window.__tones, window.__toneSinks]), [[660, 880], []]);

    await ola.page.getByTestId('prejoin-name').fill('Ola');
    await ola.page.getByRole('button', { name: 'Join now' }).click();
    await waitJoined(ola.page);
    await ola.page.getByTestId('devices').click();
    await ola.page.waitForFunction(() => document.querySelectorAll('#call-microphone option').length > 0);
    assert.equal(await ola.page.locator('#call-speaker').isVisible(), false);
    await listenForTones(ola.page);
    await ola.page.locator('#call-test').click();
    await ola.page.waitForFunction(() => window.__tones.length === 2);
  });

  it('the pre-join screen follows devices that come and go; one unplugged there gives way to the default', { timeout: TEST_TIMEOUT }, async () => {
    const vic = await newPerson(browser, server.url);
    people.push(vic);
    // Every track the page opens, to unplug one as a browser does: it ends, and the device list changes.
    await vic.context.addInitScript(() => {
      window.__opened = [];
      const open = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = async (constraints) => {
        const stream = await open(constraints);
        window.__opened.push(...stream.getTracks());
        return stream;
      };
    });
    const unplug = (label) => vic.page.evaluate((l) => {
      const track = window.__opened.find((t) => t.label === l && t.readyState === 'live');
      track.stop();
      track.dispatchEvent(new Event('ended'));
      navigator.mediaDevices.dispatchEvent(new Event('devicechange'));
    }, label);
    /** A device the browser lists from now on, announced as a plugged-in one is. */
    const plugIn = (kind, label) => vic.page.evaluate(([k, l]) => {
      const list = navigator.mediaDevices.enumerateDevices.bind(navigator.mediaDevices);
      navigator.mediaDevices.enumerateDevices = async () => [...await list(), { kind: k, deviceId: `id-${l}`, label: l, groupId: 'g' }];
      navigator.mediaDevices.dispatchEvent(new Event('devicechange'));
    }, [kind, label]);
    const listed = (select, label) => vic.page.waitForFunction(([s, l]) => [...document.querySelectorAll(`${s} option`)]
      .some((o) => o.textContent === l), [select, label], { timeout: 5000 });

    await vic.page.goto('/r/plug-check');
    await vic.page.waitForFunction(() => document.querySelectorAll('#pre-microphone option').length === 3);
    await plugIn('audioinput', 'USB Headset');
    await listed('#pre-microphone', 'USB Headset');

    const mic = vic.page.getByTestId('microphone-select');
    await mic.selectOption({ label: 'Fake Audio Input 1' });
    await vic.page.waitForFunction(() => window.__opened.some((t) => t.label === 'Fake Audio Input 1' && t.readyState === 'live'));
    await unplug('Fake Audio Input 1');
    await vic.page.waitForFunction(() => window.__opened.at(-1).label === 'Fake Default Audio Input' && window.__opened.at(-1).readyState === 'live');
    await vic.page.waitForFunction(() => document.querySelector('#pre-microphone option:checked')?.textContent === 'Fake Default Audio Input');
    // The meter works on the microphone that took over.
    await vic.page.waitForFunction(() => Number(document.getElementById('pre-level').style.getPropertyValue('--level')) > 0.1, null, { timeout: 5000 });

    const previewTrack = () => vic.page.evaluate(() => {
      const track = document.getElementById('preview').srcObject?.getVideoTracks()[0];
      return track ? [track.id, track.readyState] : null;
    });
    const [before] = await previewTrack();
    await unplug('fake_device_0');
    await vic.page.waitForFunction((id) => {
      const track = document.getElementById('preview').srcObject?.getVideoTracks()[0];
      return track && track.id !== id && track.readyState === 'live';
    }, before, { timeout: 5000 });

    // In the meeting, with the tracks that took over; its pickers follow plugged devices too.
    const opened = await vic.page.evaluate(() => window.__opened.length);
    await vic.page.getByTestId('prejoin-name').fill('Vic');
    await vic.page.getByRole('button', { name: 'Join now' }).click();
    await waitJoined(vic.page);
    assert.deepEqual(await vic.page.evaluate(() => {
      const last = (kind) => window.__opened.filter((t) => t.kind === kind).at(-1);
      const { audio, video } = window.__noom.local;
      return [audio === last('audio'), video === last('video'), audio.readyState, video.readyState, window.__opened.length];
    }), [true, true, 'live', 'live', opened]);
    await plugIn('videoinput', 'USB Camera');
    await listed('#call-camera', 'USB Camera');
  });

  it('the pre-join screen fits a small window: nothing covers the name box, a long name or room name wraps', { timeout: TEST_TIMEOUT }, async () => {
    const room = 'R'.repeat(64); // the longest room name, and a name with no place to break, already there
    people.push(await joinRoom(browser, server.url, room, 'W'.repeat(32)));
    for (const viewport of [{ width: 800, height: 420 }, { width: 390, height: 560 }]) { // phones on their side and upright
      const pat = await newPerson(browser, server.url, { viewport });
      people.push(pat);
      await pat.page.goto(`/r/${room}`);
      await pat.page.getByTestId('prejoin-who').waitFor({ state: 'visible', timeout: 10_000 });
      assert.deepEqual(await pat.page.evaluate(() => {
        const prejoin = document.getElementById('prejoin');
        const [section, preview, form] = [prejoin, document.querySelector('.preview'), document.getElementById('prejoin-form')].map((n) => n.getBoundingClientRect());
        return { previewInView: preview.height > 100 && preview.top >= section.top, formBelowIt: form.top >= preview.bottom, sideways: prejoin.scrollWidth - prejoin.clientWidth };
      }), { previewInView: true, formBelowIt: true, sideways: 0 }, `at ${viewport.width}x${viewport.height}`);
    }
  });

  it('explains a bad room name before leaving the page', { timeout: TEST_TIMEOUT }, async () => {
    const mo = await newPerson(browser, server.url);
    people.push(mo);
    await mo.page.goto('/');
    await mo.page.getByTestId('join-room').fill('team meeting!');
    await mo.page.getByTestId('join').click();
    await mo.page.getByTestId('lobby-error').waitFor({ state: 'visible', timeout: 5000 });
    assert.match(await mo.page.getByTestId('lobby-error').textContent(), /letters, digits/);
    assert.equal(new URL(mo.page.url()).pathname, '/');
    // A whole invite link is accepted too.
    await mo.page.getByTestId('join-room').fill(`${server.url}/r/abc-defg-hij`);
    await mo.page.getByTestId('join').click();
    await mo.page.waitForURL(/\/r\/abc-defg-hij$/, { timeout: 10_000 });
    // A code typed back loosely (a phone's capital first letter, spaces for
    // dashes) is still that meeting's code; a room name keeps its case.
    for (const [typed, path] of [['Abc-Defg-Hij', '/r/abc-defg-hij'], [' xyz wxyz  abc ', '/r/xyz-wxyz-abc'], ['Standup', '/r/Standup']]) {
      await mo.page.goto('/');
      assert.equal(await mo.page.getByTestId('join-room').getAttribute('autocapitalize'), 'none');
      await mo.page.getByTestId('join-room').fill(typed);
      await mo.page.getByTestId('join').click();
      await mo.page.waitForURL((url) => url.pathname === path, { timeout: 10_000 });
    }
  });

  it('runs under a strict Content-Security-Policy without a violation', { timeout: TEST_TIMEOUT }, async () => {
    const csp = await newPerson(browser, server.url);
    people.push(csp);
    // The policy the Worker will send; added here to every document response.
    await csp.context.route('**/*', async (route) => {
      if (route.request().resourceType() !== 'document') return route.continue();
      const response = await route.fetch();
      return route.fulfill({
        response,
        headers: { ...response.headers(), 'content-security-policy': "script-src 'self'; style-src 'self'" },
      });
    });
    await csp.page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    await csp.page.goto('/');
    await csp.page.getByTestId('new-meeting').waitFor();
    await csp.page.waitForTimeout(300);
    assert.deepEqual(await csp.page.evaluate(() => window.__violations), []);
    // The policy is really in force: an inline style is refused and reported.
    await csp.page.evaluate(() => document.head.append(Object.assign(document.createElement('style'), { textContent: 'p{}' })));
    await csp.page.waitForFunction(() => window.__violations.length > 0, null, { timeout: 5000 });
    // A fulfilled document loses its local address space, so Chromium's Local
    // Network Access checks block its socket to 127.0.0.1: this part checks the
    // meeting page as far as it gets without the server (tiles, controls, toasts).
    await csp.page.goto('/r/csp-check?name=Cy&autojoin=1');
    await csp.page.locator('[data-testid="tile"][data-self]').waitFor({ timeout: 10_000 });
    await csp.page.getByTestId('hand').click();
    await csp.page.locator('[data-testid="tile"][data-self][data-hand="true"]').waitFor({ timeout: 5000 });
    await csp.page.getByTestId('chat-input').fill('styled?');
    await csp.page.getByTestId('chat-input').press('Enter');
    await csp.page.waitForTimeout(300);
    assert.deepEqual(await csp.page.evaluate(() => window.__violations), []);
  });

  it('lists a public room with its live count, and not a private one', { timeout: TEST_TIMEOUT }, async () => {
    const pat = await newPerson(browser, server.url);
    people.push(pat);
    await pat.page.goto('/');
    await pat.page.getByTestId('lobby-name').fill('Pat');
    await pat.page.getByTestId('public').check();
    await pat.page.getByTestId('join-room').fill('open-house');
    await pat.page.getByTestId('join').click();
    await pat.page.waitForURL(/\/r\/open-house\?public=1$/, { timeout: 10_000 });
    await pat.page.getByRole('button', { name: 'Join now' }).click();
    await waitJoined(pat.page);
    people.push(await joinRoom(browser, server.url, 'back-office', 'Ray'));

    const viewer = await newPerson(browser, server.url);
    people.push(viewer);
    await viewer.page.goto('/');
    await waitListed(viewer.page, 'open-house', 1);

    people.push(await joinRoom(browser, server.url, 'open-house', 'Quin'));
    await waitListed(viewer.page, 'open-house', 2);
    assert.equal(await viewer.page.locator('[data-testid="public-rooms"] li[data-room="back-office"]').count(), 0);
    await screenshot(viewer.page, 'lobby.png');
  });
});
