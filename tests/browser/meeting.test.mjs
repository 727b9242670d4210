// Two people in a meeting: they see each other, chat, see each other's state,
// leave, reload and survive a dropped socket. One wrangler dev and one Chromium
// for the file; each person has their own browser context.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import {
  launchBrowser, joinRoom, tileNames, gotoRoom, newPerson, waitJoined, waitRejoined, remoteTileIds, waitRemoteVideosPlaying,
  waitTileAttr, waitChat, closeAll, videoLimits, speakingSeen, openAudioContexts, waitAudioContexts, screenshot, setPageHidden,
  markConnection, sameConnection, recordToasts, toastsSeen, listenForTones,
} from './helpers.mjs';

const TEST_TIMEOUT = 60_000;

describe('a meeting of two', { timeout: 240_000 }, () => {
  let server;
  let browser;
  let ann;
  let bob;
  let annId;
  let bobId;
  /** The speaker Ann picks (its device id). */
  let chosenSpeaker;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser({ cameras: 3 });
  });

  after(async () => {
    await closeAll(ann, bob);
    await browser?.close();
    await server?.stop();
  });

  it('both see the other one\'s video playing', { timeout: TEST_TIMEOUT }, async () => {
    ann = await joinRoom(browser, server.url, 'duo', 'Ann');
    annId = await waitJoined(ann.page);
    // Alone, Ann's own level comes from an analyser on her microphone.
    assert.equal(await speakingSeen(ann.page, null, 6000), true, 'alone: the self tile never lit up');
    assert.equal(await openAudioContexts(ann.page), 1);
    // Alone, the invite link is offered where it is seen.
    assert.equal(await ann.page.getByTestId('alone').isVisible(), true, 'alone: no invite offered');
    assert.equal(await ann.page.getByTestId('alone-invite').textContent(), 'Copy invite link');
    const centre = async (selector) => { const b = await ann.page.locator(selector).boundingBox(); return b.x + b.width / 2; };
    assert.ok(Math.abs(await centre('#alone') - await centre('#grid')) < 4, 'the invite offer is not centred over the videos');
    await listenForTones(ann.page);
    bob = await joinRoom(browser, server.url, 'duo', 'Bob');
    bobId = await waitJoined(bob.page);
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
    // Ann was waiting alone: a chime told her Bob came.
    assert.deepEqual(await ann.page.evaluate(() => window.__tones), [660, 880]);
    assert.equal(await ann.page.getByTestId('alone').isVisible(), false, 'with Bob there: still "the only one here"');
    assert.equal(await bob.page.getByTestId('alone').isVisible(), false, 'Bob joined Ann: "the only one here"');
    assert.deepEqual(await remoteTileIds(ann.page), [bobId]);
    assert.deepEqual(await remoteTileIds(bob.page), [annId]);
    assert.equal(await ann.page.getByTestId('participant-count').textContent(), '2');
    assert.equal(await ann.page.locator('[data-testid="tile"][data-self]').getAttribute('data-peer-id'), annId);
    // Two people: the one outgoing copy of the camera goes at full size.
    assert.deepEqual(await videoLimits(ann.page), [{ maxBitrate: 1_200_000, maxFramerate: 30, scaleResolutionDownBy: 1 }]);
    // Bob fills Ann's view, a camera's shape; she is a small picture in its bottom right corner,
    // also in a window wider than his picture (the corner of his picture, not of the window)
    // and on a phone (the chat closed there), her name in full on it. It sits above his
    // name and pin: a long name ran under it, and the pin was out of reach.
    await ann.page.getByTestId('chat').click();
    for (const viewport of [{ width: 390, height: 844 }, { width: 1600, height: 600 }, { width: 1280, height: 720 }]) {
      if (viewport.width === 1600) await ann.page.getByTestId('chat').click();
      await ann.page.setViewportSize(viewport);
      await ann.page.waitForTimeout(300); // the gallery refits on its ResizeObserver
      const boxes = await ann.page.evaluate(() => {
        const box = (node) => { const { x, y, width, height } = node.getBoundingClientRect(); return { x, y, width, height }; };
        return { layout: document.getElementById('grid').dataset.layout, grid: box(document.getElementById('grid')),
          self: box(document.querySelector('[data-testid="tile"][data-self]')), bob: box(document.querySelector('[data-testid="tile"]:not([data-self])')),
          bobLabel: box(document.querySelector('[data-testid="tile"]:not([data-self]) .tile-label')),
          bobPin: box(document.querySelector('[data-testid="tile"]:not([data-self]) .tile-pin')),
          pinReached: ((pin) => { const r = pin.getBoundingClientRect(); return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)?.closest('.tile-pin') === pin; })(
            document.querySelector('[data-testid="tile"]:not([data-self]) .tile-pin')) };
      });
      assert.equal(boxes.layout, 'duo');
      assert.deepEqual(await tileNames(ann.page, '[data-self]'), [['Ann', true]], `Ann's name is cut on her picture at ${JSON.stringify(viewport)}`);
      const { grid, self, bob: bobBox } = boxes;
      const shape = viewport.width > viewport.height ? [4 / 3, 16 / 9] : [3 / 4, 3 / 4]; // a phone held upright: portrait
      assert.ok(bobBox.width / bobBox.height <= shape[1] + 0.02 && bobBox.width / bobBox.height >= shape[0] - 0.02, `Bob's tile ${JSON.stringify(bobBox)}`);
      assert.ok(bobBox.width >= grid.width - 2 || bobBox.height >= grid.height - 2, `Bob's tile does not fill the view: ${JSON.stringify(boxes)}`);
      assert.ok(self.width * self.height < bobBox.width * bobBox.height / 8, `Ann's own picture is not small: ${JSON.stringify(boxes)}`);
      const [right, bottom] = [bobBox.x + bobBox.width - (self.x + self.width), bobBox.y + bobBox.height - (self.y + self.height)];
      assert.ok(right >= 0 && right < 16 && bottom >= 0 && bottom < 64 && self.x > bobBox.x && self.y > bobBox.y,
        `Ann's own picture is not in the corner of Bob's: ${JSON.stringify(boxes)}`);
      assert.ok(self.y + self.height <= Math.min(boxes.bobLabel.y, boxes.bobPin.y), `Ann's own picture is over Bob's name or pin: ${JSON.stringify(boxes)}`);
      assert.ok(boxes.pinReached, `Bob's pin is out of reach under Ann's picture: ${JSON.stringify(boxes)}`);
    }
    assert.equal(await ann.page.locator('[data-testid="tile"][data-self]').getByTestId('pin').isVisible(), false, 'a pin on the small picture');
  });

  it('chat goes both ways', { timeout: TEST_TIMEOUT }, async () => {
    assert.equal(await ann.page.getByTestId('chat-empty').isVisible(), true, 'no hint in an empty chat');
    await ann.page.getByTestId('chat-input').fill('hello from Ann');
    await ann.page.getByTestId('chat-input').press('Enter');
    await waitChat(bob.page, 'hello from Ann');
    await bob.page.getByTestId('chat-input').fill('hi Ann, Bob here');
    await bob.page.getByTestId('chat-input').press('Enter');
    await waitChat(ann.page, 'hi Ann, Bob here');
    await waitChat(ann.page, 'hello from Ann');
    assert.equal(await ann.page.getByTestId('chat-input').inputValue(), '');
    assert.equal(await ann.page.getByTestId('chat-empty').isVisible(), false, 'the empty-chat hint stayed');

    // With her chat closed, Ann sees Bob's message as a notice and an unread count.
    await ann.page.getByTestId('chat').click();
    assert.equal(await ann.page.getByTestId('chat-input').isVisible(), false);
    await bob.page.getByTestId('chat-input').fill('are   you there? ' + 'la'.repeat(60));
    await bob.page.getByTestId('chat-input').press('Enter');
    await ann.page.waitForFunction(() => document.querySelector('[data-testid="chat-unread"]')?.textContent === '1', null, { timeout: 10_000 });
    assert.match(await ann.page.locator('#toasts').textContent(), /Bob: are you there\? (la)+l?…/);
    // The tab's title counts it too, for a meeting in a background tab.
    assert.equal(await ann.page.title(), '(1) duo · Noom');
    await ann.page.getByTestId('chat').click();
    assert.equal(await ann.page.getByTestId('chat-unread').isVisible(), false, 'opening the chat left the count');
    // ...and took the preview back: it would sit over the message itself.
    assert.doesNotMatch(await ann.page.locator('#toasts').textContent(), /Bob:/, 'the preview stayed over the open chat');
    assert.equal(await ann.page.title(), 'duo · Noom');

    // The chat open but the tab out of view: messages wait unread until it is back.
    await setPageHidden(ann.page, true);
    for (const text of ['while you were away', 'and one more']) {
      await bob.page.getByTestId('chat-input').fill(text);
      await bob.page.getByTestId('chat-input').press('Enter');
      await waitChat(ann.page, text);
    }
    assert.equal(await ann.page.title(), '(2) duo · Noom');
    assert.equal(await ann.page.getByTestId('chat-unread').textContent(), '2');
    await setPageHidden(ann.page, false);
    assert.equal(await ann.page.title(), 'duo · Noom');
    assert.equal(await ann.page.getByTestId('chat-unread').isVisible(), false, 'back in view, the count stayed');
  });

  it('chat never injects markup, and only http(s) addresses become links', { timeout: TEST_TIMEOUT }, async () => {
    const evil = '<img src=x onerror="window.__pwned=1"><b>bold</b> javascript:window.__pwned=2 see https://example.com/a?b=1.';
    await ann.page.getByTestId('chat-input').fill(evil);
    await ann.page.getByTestId('chat-input').press('Enter');
    await waitChat(bob.page, evil);
    for (const page of [ann.page, bob.page]) {
      await waitChat(page, evil);
      assert.equal(await page.locator('[data-testid="chat-log"] img').count(), 0);
      assert.equal(await page.locator('[data-testid="chat-log"] b').count(), 0);
      const links = await page.$$eval('[data-testid="chat-log"] a', (all) => all.map((a) => ({
        href: a.getAttribute('href'), text: a.textContent, target: a.target, rel: a.rel,
      })));
      // The sentence's full stop stays outside the link.
      assert.deepEqual(links, [{ href: 'https://example.com/a?b=1', text: 'https://example.com/a?b=1', target: '_blank', rel: 'noopener noreferrer' }]);
      assert.equal(await page.evaluate(() => window.__pwned), undefined);
    }
  });

  it('chat takes more than one line: Shift+Enter breaks the line, Enter sends', { timeout: TEST_TIMEOUT }, async () => {
    const input = ann.page.getByTestId('chat-input');
    const oneLine = (await input.boundingBox()).height;
    await input.fill('first line');
    await input.press('Shift+Enter');
    await input.pressSequentially('second line');
    assert.equal(await input.inputValue(), 'first line\nsecond line', 'Shift+Enter sent the message');
    assert.ok((await input.boundingBox()).height > oneLine, 'the box did not grow with the second line');
    await input.press('Enter');
    await bob.page.waitForFunction(() => [...document.querySelectorAll('[data-testid="chat-log"] .chat-text')]
      .some((p) => p.textContent === 'first line\nsecond line' && p.getClientRects()[0]?.height > 0), null, { timeout: 10_000 });
    // Two lines on Bob's screen too, not one.
    const lines = await bob.page.evaluate(() => {
      const text = [...document.querySelectorAll('[data-testid="chat-log"] .chat-text')].at(-1);
      return Math.round(text.getBoundingClientRect().height / parseFloat(getComputedStyle(text).lineHeight));
    });
    assert.equal(lines, 2);
    assert.equal(await input.inputValue(), '');
    assert.equal((await input.boundingBox()).height, oneLine, 'the box kept its height after sending');
  });

  it('chat counts characters as the server does, not UTF-16 units', { timeout: TEST_TIMEOUT }, async () => {
    // 1500 emoji are 3000 UTF-16 units but 1500 characters: within the 2000.
    const foxes = '🦊'.repeat(1500);
    await ann.page.getByTestId('chat-input').fill(foxes);
    assert.equal(await ann.page.getByTestId('chat-input').inputValue(), foxes, 'the box cut the message');
    await ann.page.getByTestId('chat-input').press('Enter');
    await waitChat(bob.page, foxes);
    assert.equal(await ann.page.getByTestId('chat-input').inputValue(), '');
    // 2001 characters are refused before sending, with the reason, and kept in the box.
    const tooLong = 'y'.repeat(2001);
    await ann.page.getByTestId('chat-input').fill(tooLong);
    await ann.page.getByTestId('chat-input').press('Enter');
    assert.match(await ann.page.getByTestId('chat-input').evaluate((input) => input.validationMessage), /At most 2000 characters/);
    assert.equal(await ann.page.getByTestId('chat-input').inputValue(), tooLong);
    await ann.page.getByTestId('chat-input').fill('after the long one');
    await ann.page.getByTestId('chat-input').press('Enter');
    await waitChat(bob.page, 'after the long one');
    assert.equal(await bob.page.evaluate(() => document.querySelector('[data-testid="chat-log"]').textContent.includes('yyyyyyyyyy')), false);
  });

  it('mute, camera and hand reach the other side', { timeout: TEST_TIMEOUT }, async () => {
    await waitTileAttr(bob.page, annId, 'data-audio', 'true');
    await waitTileAttr(bob.page, annId, 'data-video', 'true');

    await ann.page.getByTestId('mute').click();
    await waitTileAttr(bob.page, annId, 'data-audio', 'false');
    await waitTileAttr(ann.page, annId, 'data-audio', 'false');
    await ann.page.getByTestId('mute').click();
    await waitTileAttr(bob.page, annId, 'data-audio', 'true');

    await ann.page.getByTestId('camera').click();
    await waitTileAttr(bob.page, annId, 'data-video', 'false');
    await ann.page.getByTestId('camera').click();
    await waitTileAttr(bob.page, annId, 'data-video', 'true');
    // The camera came back through replaceTrack, without renegotiation: still playing.
    await waitRemoteVideosPlaying(bob.page, 1);

    await bob.page.getByTestId('hand').click();
    await waitTileAttr(ann.page, bobId, 'data-hand', 'true');
    await bob.page.getByTestId('hand').click();
    await waitTileAttr(ann.page, bobId, 'data-hand', 'false');

    // Keyboard shortcut: Ctrl+D toggles the microphone.
    await bob.page.keyboard.press('Control+d');
    await waitTileAttr(ann.page, bobId, 'data-audio', 'false');
    await bob.page.keyboard.press('Control+d');
    await waitTileAttr(ann.page, bobId, 'data-audio', 'true');
    // Push to talk: with the microphone off and nothing focused, it is on while Space is held.
    await bob.page.keyboard.press('Control+d');
    await waitTileAttr(ann.page, bobId, 'data-audio', 'false');
    await bob.page.evaluate(() => document.activeElement?.blur());
    await bob.page.keyboard.down('Space');
    await waitTileAttr(ann.page, bobId, 'data-audio', 'true');
    await bob.page.keyboard.up('Space');
    await waitTileAttr(ann.page, bobId, 'data-audio', 'false');
    // In the chat box, Space is only a space.
    await bob.page.getByTestId('chat-input').focus();
    await bob.page.keyboard.press('Space');
    assert.equal(await bob.page.getByTestId('chat-input').inputValue(), ' ');
    assert.equal(await bob.page.locator('[data-testid="tile"][data-self]').getAttribute('data-audio'), 'false');
    await bob.page.getByTestId('chat-input').fill('');
    await bob.page.keyboard.press('Control+d');
    await waitTileAttr(ann.page, bobId, 'data-audio', 'true');
    // Ctrl+Alt+H (⌘+Ctrl+H on a Mac) raises and lowers the hand, as in other meeting apps.
    await bob.page.keyboard.press('Control+Alt+KeyH');
    await waitTileAttr(ann.page, bobId, 'data-hand', 'true');
    await bob.page.keyboard.press('Meta+Control+KeyH');
    await waitTileAttr(ann.page, bobId, 'data-hand', 'false');

    // Escape closes the open panel and puts focus back on its button.
    await bob.page.getByTestId('people').click();
    assert.equal(await bob.page.getByTestId('people-list').isVisible(), true);
    await bob.page.keyboard.press('Escape');
    assert.equal(await bob.page.getByTestId('people-list').isVisible(), false);
    assert.equal(await bob.page.getByTestId('people').getAttribute('aria-pressed'), 'false');
    assert.equal(await bob.page.evaluate(() => document.activeElement?.dataset.testid), 'people');
    await bob.page.getByTestId('chat').click(); // as it was: the chat open
  });

  it('a reaction rises over the sender\'s video for everyone', { timeout: TEST_TIMEOUT }, async () => {
    const reactionsOn = (page, peerId) => page.$$eval(`[data-testid="tile"][data-peer-id="${peerId}"] [data-testid="reaction"]`,
      (nodes) => nodes.map((n) => n.textContent));
    await ann.page.getByTestId('react').click();
    assert.equal(await ann.page.getByTestId('react').getAttribute('aria-expanded'), 'true');
    await ann.page.getByTestId('reactions').getByRole('button', { name: 'Thumbs up' }).click();
    await bob.page.waitForFunction((id) => document.querySelector(`[data-testid="tile"][data-peer-id="${id}"] [data-testid="reaction"]`)?.textContent === '👍',
      annId, { timeout: 5000 });
    assert.deepEqual(await reactionsOn(ann.page, annId), ['👍'], 'not shown over Ann\'s own tile');
    assert.deepEqual(await reactionsOn(bob.page, bobId), [], 'shown over the wrong tile');
    // It fades away, and the bar closes with Escape, focus back on its button.
    await bob.page.waitForFunction(() => !document.querySelector('[data-testid="reaction"]'), null, { timeout: 6000 });
    await ann.page.keyboard.press('Escape');
    assert.equal(await ann.page.getByTestId('reactions').isVisible(), false);
    assert.equal(await ann.page.evaluate(() => document.activeElement?.dataset.testid), 'react');
    // A reaction is not a signal for the peer link: the call goes on untouched.
    await waitRemoteVideosPlaying(bob.page, 1);
    assert.equal(await ann.page.getByTestId('chat-input').isVisible(), true, 'Escape closed the chat instead of the bar');
  });

  it('the speaking ring follows the sound, with no audio graph running in a call', { timeout: TEST_TIMEOUT }, async () => {
    // In a call, levels come from the packets' level headers (the others) and
    // the audio sender's stats (oneself), so neither page keeps an AudioContext.
    assert.equal(await speakingSeen(bob.page, annId, 6000), true, 'Bob never saw Ann speak');
    assert.equal(await speakingSeen(ann.page, bobId, 6000), true, 'Ann never saw Bob speak');
    assert.equal(await speakingSeen(ann.page, null, 6000), true, 'Ann\'s own tile never lit up');
    assert.equal(await openAudioContexts(ann.page), 0);
    assert.equal(await openAudioContexts(bob.page), 0);

    await ann.page.getByTestId('mute').click();
    await waitTileAttr(bob.page, annId, 'data-audio', 'false');
    assert.equal(await speakingSeen(bob.page, annId, 2000), false, 'muted, but Bob still saw Ann speak');
    assert.equal(await speakingSeen(ann.page, null, 2000), false, 'muted, but Ann\'s own tile lit up');
    // Muted, Ann's page listens for talk on her microphone (the one audio
    // graph), and four seconds of beeps are not talk.
    assert.equal(await openAudioContexts(ann.page), 1);
    assert.equal(await ann.page.getByTestId('muted-hint').isVisible(), false, 'beeps taken for talk');
    await ann.page.getByTestId('mute').click();
    await waitTileAttr(bob.page, annId, 'data-audio', 'true');
    assert.equal(await speakingSeen(bob.page, annId, 6000), true, 'unmuted, but Bob never saw Ann speak');
    await waitAudioContexts(ann.page, 0); // unmuted: no more listening for talk
  });

  it('switching camera and microphone mid-call, and choosing the speaker', { timeout: TEST_TIMEOUT }, async () => {
    // What Ann sends to Bob: the labels of the tracks on her senders.
    const sending = () => ann.page.evaluate(() => {
      const [peer] = window.__noom.peers.values();
      return { audio: peer.link.sender('audio').track?.label, video: peer.link.sender('video').track?.label };
    });
    /** Frames Ann's video sender has encoded so far. */
    const framesSent = () => ann.page.evaluate(async () => {
      const [peer] = window.__noom.peers.values();
      const stats = await peer.link.sender('video').getStats();
      return [...stats.values()].find((s) => s.type === 'outbound-rtp')?.framesEncoded ?? 0;
    });
    assert.deepEqual(await sending(), { audio: 'Fake Default Audio Input', video: 'fake_device_0' });
    await ann.page.getByTestId('devices').click();
    await ann.page.locator('#call-camera').selectOption({ label: 'fake_device_2' });
    await ann.page.locator('#call-microphone').selectOption({ label: 'Fake Audio Input 1' });
    await ann.page.waitForFunction(() => {
      const [peer] = window.__noom.peers.values();
      return peer.link.sender('video').track?.label === 'fake_device_2' && peer.link.sender('audio').track?.label === 'Fake Audio Input 1';
    }, null, { timeout: 10_000 });
    const framesBefore = await framesSent();
    await ann.page.waitForTimeout(1500);
    assert.ok(await framesSent() > framesBefore + 5, 'the new camera\'s frames are not being sent');
    // The new tracks replaced the old ones without a new negotiation: Bob still sees and hears Ann.
    await waitRemoteVideosPlaying(bob.page, 1);
    assert.equal(await speakingSeen(bob.page, annId, 6000), true, 'after the switch, Bob never saw Ann speak');
    assert.equal(await ann.page.evaluate(() => window.__noom.local.audio.readyState), 'live');

    // The speaker: every remote voice plays on it, also a later arrival's.
    await ann.page.locator('#call-speaker').selectOption({ label: 'Fake Audio Output 1' });
    const chosen = await ann.page.locator('#call-speaker').inputValue();
    chosenSpeaker = chosen;
    assert.notEqual(chosen, 'default');
    const sinks = () => ann.page.$$eval('[data-testid="tile"]:not([data-self]) audio', (all) => all.map((a) => a.sinkId));
    await ann.page.waitForFunction((id) => [...document.querySelectorAll('[data-testid="tile"]:not([data-self]) audio')]
      .every((a) => a.sinkId === id), chosen, { timeout: 5000 });
    const cat = await joinRoom(browser, server.url, 'duo', 'Cat');
    try {
      await ann.page.waitForFunction(() => document.querySelectorAll('[data-testid="tile"]:not([data-self]) audio').length === 2);
      await ann.page.waitForFunction((id) => [...document.querySelectorAll('[data-testid="tile"]:not([data-self]) audio')]
        .every((a) => a.sinkId === id), chosen, { timeout: 5000 });
      assert.deepEqual(await sinks(), [chosen, chosen]);
    } finally {
      await closeAll(cat);
    }
    await ann.page.waitForFunction(() => document.querySelectorAll('[data-testid="tile"]:not([data-self])').length === 1, null, { timeout: 15_000 });

    // In a short window (a phone on its side) the panel scrolls in its place: no
    // control is covered, and its last line can be scrolled to.
    await ann.page.setViewportSize({ width: 800, height: 380 });
    await ann.page.waitForTimeout(300);
    assert.deepEqual(await ann.page.evaluate(() => ['mute', 'leave', 'devices', 'chat'].filter((id) => {
      const button = document.querySelector(`[data-testid="${id}"]`);
      const { x, y, width, height } = button.getBoundingClientRect();
      return !button.contains(document.elementFromPoint(x + width / 2, y + height / 2));
    })), [], 'controls covered by the panel');
    const lastLine = ann.page.locator('#devices-panel > :last-child');
    await lastLine.scrollIntoViewIfNeeded();
    assert.ok(await lastLine.evaluate((node) => node.getBoundingClientRect().bottom <= document.getElementById('side').getBoundingClientRect().bottom + 0.5),
      'the panel\'s last line cannot be scrolled into its place');
    await ann.page.setViewportSize({ width: 1280, height: 720 });
    await ann.page.getByTestId('devices').click();
  });

  it('screen sharing replaces the video and ends cleanly', { timeout: TEST_TIMEOUT }, async () => {
    const remoteWidth = (page) => page.$eval('[data-testid="tile"]:not([data-self]) video', (v) => v.videoWidth);
    const cameraWidth = await remoteWidth(bob.page);
    await ann.page.getByTestId('screen').click();
    await waitTileAttr(bob.page, annId, 'data-screen', 'true');
    // Chromium's fake screen is 1280 wide, larger than the camera we ask for.
    await bob.page.waitForFunction((w) =>
      document.querySelector('[data-testid="tile"]:not([data-self]) video').videoWidth > w, cameraWidth,
    { timeout: 10_000 });
    await waitRemoteVideosPlaying(bob.page, 1);
    // A shared screen keeps its resolution and gives up frame rate.
    assert.deepEqual(await videoLimits(ann.page), [{ maxBitrate: 1_500_000, maxFramerate: 15, scaleResolutionDownBy: 1 }]);
    // A double click fills Bob's screen with Ann's; another gives it back.
    const fullscreenPeer = () => bob.page.evaluate(() => document.fullscreenElement?.dataset.peerId ?? null);
    await bob.page.locator(`[data-testid="tile"][data-peer-id="${annId}"]`).dblclick();
    await bob.page.waitForFunction((id) => document.fullscreenElement?.dataset.peerId === id, annId, { timeout: 5000 });
    await bob.page.locator(`[data-testid="tile"][data-peer-id="${annId}"]`).dblclick();
    await bob.page.waitForFunction(() => document.fullscreenElement === null, null, { timeout: 5000 });
    assert.equal(await fullscreenPeer(), null);
    // The browser's own "Stop sharing" ends the track; the camera comes back.
    await ann.page.evaluate(() => window.__noom.local.screen.dispatchEvent(new Event('ended')));
    await waitTileAttr(bob.page, annId, 'data-screen', 'false');
    await waitTileAttr(ann.page, annId, 'data-screen', 'false');
    await bob.page.waitForFunction((w) =>
      document.querySelector('[data-testid="tile"]:not([data-self]) video').videoWidth === w, cameraWidth,
    { timeout: 10_000 });
    await waitRemoteVideosPlaying(bob.page, 1);
    assert.deepEqual(await videoLimits(ann.page), [{ maxBitrate: 1_200_000, maxFramerate: 30, scaleResolutionDownBy: 1 }]);
  });

  it('a dropped socket reconnects and the call goes on on the same peer connections', { timeout: TEST_TIMEOUT }, async () => {
    await markConnection(ann.page, bobId);
    await markConnection(bob.page, annId);
    await recordToasts(ann.page);
    await bob.page.evaluate(() => window.__noom.signaling.socket.close());
    const newBobId = await waitRejoined(bob.page, bobId);
    await ann.page.waitForFunction((id) => {
      const ids = [...document.querySelectorAll('[data-testid="tile"]:not([data-self])')].map((t) => t.dataset.peerId);
      return ids.length === 1 && ids[0] === id;
    }, newBobId, { timeout: 20_000 });
    // Media never stopped: both ends kept the connection they had, now under Bob's new id.
    assert.equal(await sameConnection(ann.page, newBobId), true, 'Ann built a new connection to Bob');
    assert.equal(await sameConnection(bob.page, annId), true, 'Bob built a new connection to Ann');
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
    await waitTileAttr(ann.page, newBobId, 'data-connection', 'connected');
    assert.equal(await ann.page.getByTestId('participant-count').textContent(), '2');
    const toasts = await toastsSeen(ann.page);
    assert.ok(!toasts.some((t) => /Bob (left|joined)/.test(t)), `Ann was told: ${toasts.join(' | ')}`);
    // The call carries chat and state on the new socket.
    await bob.page.getByTestId('chat-input').fill('back again');
    await bob.page.getByTestId('chat-input').press('Enter');
    await waitChat(ann.page, 'back again');
    await waitChat(bob.page, 'hello from Ann'); // history from the new welcome
    bobId = newBobId;
  });

  it('an answer to a claim that comes too late: both sides start a new link, nobody is told of a leave', { timeout: TEST_TIMEOUT }, async () => {
    // Bob's page answers claims slowly (its hashing takes 4 s), so Ann stops
    // waiting after 3 s and links afresh; Bob's answer must not undo that.
    await bob.page.evaluate(() => {
      const digest = crypto.subtle.digest.bind(crypto.subtle);
      window.noomDigest = crypto.subtle.digest;
      crypto.subtle.digest = (...args) => new Promise((r) => setTimeout(r, 4000)).then(() => digest(...args));
    });
    await markConnection(ann.page, bobId);
    await markConnection(bob.page, annId);
    await recordToasts(bob.page);
    await ann.page.evaluate(() => window.__noom.signaling.socket.close());
    const newAnnId = await waitRejoined(ann.page, annId);
    await bob.page.waitForTimeout(5000); // past Bob's late answer
    assert.equal(await sameConnection(ann.page, bobId), false, 'Ann still on the old connection');
    assert.equal(await sameConnection(bob.page, newAnnId), false, 'Bob moved the old connection after Ann gave up on it');
    assert.deepEqual(await remoteTileIds(bob.page), [newAnnId]);
    assert.deepEqual(await remoteTileIds(ann.page), [bobId]);
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
    await bob.page.evaluate(() => { crypto.subtle.digest = window.noomDigest; });
    const toasts = await toastsSeen(bob.page);
    assert.ok(!toasts.some((t) => /^Ann /.test(t)), `Bob was told: ${toasts.join(' | ')}`);
    annId = newAnnId;
  });

  it('a socket gone for good: the others see "Reconnecting…" for a while, then the person leaves', { timeout: TEST_TIMEOUT }, async () => {
    await recordToasts(ann.page);
    // Bob's page loses the server (and stops trying); its peer connection to Ann stays up.
    await bob.page.evaluate(() => window.__noom.signaling.close());
    await waitTileAttr(ann.page, bobId, 'data-connection', 'disconnected');
    const bobTile = ann.page.locator(`[data-testid="tile"][data-peer-id="${bobId}"]`);
    assert.equal(await bobTile.locator('.tile-status').textContent(), 'Reconnecting…');
    await ann.page.waitForTimeout(3000);
    assert.deepEqual(await remoteTileIds(ann.page), [bobId], 'Bob was dropped at once: no chance to come back');
    assert.equal(await ann.page.getByTestId('participant-count').textContent(), '2');
    assert.deepEqual(await toastsSeen(ann.page), []);
    // Nobody claims the link back: Bob has left.
    await ann.page.waitForFunction(() => document.querySelectorAll('[data-testid="tile"]:not([data-self])').length === 0,
      null, { timeout: 20_000, polling: 250 });
    assert.deepEqual(await toastsSeen(ann.page), ['Bob left']);
    assert.equal(await ann.page.getByTestId('participant-count').textContent(), '1');
  });

  it('reloading the page rejoins the meeting', { timeout: TEST_TIMEOUT }, async () => {
    await recordToasts(ann.page);
    await bob.page.reload();
    const newBobId = await waitJoined(bob.page);
    assert.notEqual(newBobId, bobId);
    await ann.page.waitForFunction((id) => {
      const ids = [...document.querySelectorAll('[data-testid="tile"]:not([data-self])')].map((t) => t.dataset.peerId);
      return ids.length === 1 && ids[0] === id;
    }, newBobId, { timeout: 20_000 });
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
    bobId = newBobId;
  });

  it('a page that goes away says goodbye: nobody waits for it to come back', { timeout: TEST_TIMEOUT }, async () => {
    await recordToasts(ann.page);
    await markConnection(ann.page, bobId);
    await bob.page.reload(); // the old page's goodbye, then a new Bob
    const newBobId = await waitJoined(bob.page);
    await ann.page.waitForFunction(() => window.noomToasts.includes('Bob left'), null, { timeout: 5000, polling: 100 });
    assert.equal(await sameConnection(ann.page, newBobId), false);
    bobId = newBobId;
  });

  it('the camera, microphone and speaker picked last are used again', { timeout: TEST_TIMEOUT }, async () => {
    await ann.page.reload();
    annId = await waitJoined(ann.page);
    await ann.page.waitForFunction((id) => {
      const audio = document.querySelectorAll('[data-testid="tile"]:not([data-self]) audio');
      return audio.length === 1 && audio[0].sinkId === id;
    }, chosenSpeaker, { timeout: 10_000 });
    assert.deepEqual(await ann.page.evaluate(() => [window.__noom.local.video.label, window.__noom.local.audio.label]),
      ['fake_device_2', 'Fake Audio Input 1']);
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
  });

  it('a remembered device that is gone gives way to the default one', { timeout: TEST_TIMEOUT }, async () => {
    const cat = await newPerson(browser, server.url);
    try {
      await cat.context.addInitScript(() => localStorage.setItem('noom.devices', JSON.stringify({ audio: 'unplugged', video: 'unplugged' })));
      await listenForTones(ann.page);
      await gotoRoom(cat.page, 'duo', 'Cat');
      assert.deepEqual(await cat.page.evaluate(() => [window.__noom.local.video?.label, window.__noom.local.audio?.label]),
        ['fake_device_0', 'Fake Default Audio Input']);
      // Ann was not alone (Bob is there): Cat's arrival is only a notice, no chime.
      await ann.page.locator('.toast', { hasText: 'Cat joined' }).waitFor({ timeout: 10_000 });
      assert.deepEqual(await ann.page.evaluate(() => window.__tones), []);
    } finally {
      await closeAll(cat);
    }
    await ann.page.waitForFunction(() => document.querySelectorAll('[data-testid="tile"]:not([data-self])').length === 1, null, { timeout: 15_000 });
  });

  it('a microphone that goes away mid-call gives way to the default one; with none left, it is off, as is a camera that goes', { timeout: TEST_TIMEOUT }, async () => {
    await recordToasts(ann.page);
    /** The microphone goes, as an unplugged headset does: its track ends. */
    const unplug = () => ann.page.evaluate(() => {
      const track = window.__noom.local.audio;
      track.stop();
      track.dispatchEvent(new Event('ended'));
    });
    const lost = await ann.page.evaluate(() => window.__noom.local.audio.id);
    await unplug();
    await ann.page.waitForFunction((id) => window.__noom.local.audio?.id !== id && window.__noom.local.audio?.readyState === 'live', lost);
    const [sent, now, label, enabled] = await ann.page.evaluate(() => {
      const [peer] = window.__noom.peers.values();
      const { audio } = window.__noom.local;
      return [peer.link.sender('audio')?.track?.id, audio.id, audio.label, audio.enabled];
    });
    assert.equal(sent, now, 'Bob is not sent the new microphone');
    assert.deepEqual([label, enabled], ['Fake Default Audio Input', true]);
    assert.ok((await toastsSeen(ann.page)).includes('Microphone disconnected. Now using Fake Default Audio Input.'));
    assert.equal(await ann.page.getByTestId('mute').getAttribute('data-on'), 'true');
    // No microphone left: it is off, for Ann and for Bob.
    await ann.page.evaluate(() => {
      navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
    });
    await unplug();
    await waitTileAttr(bob.page, annId, 'data-audio', 'false');
    assert.equal(await ann.page.evaluate(() => window.__noom.local.audio), null);
    assert.equal(await ann.page.getByTestId('mute').getAttribute('data-on'), 'false');
    assert.ok((await toastsSeen(ann.page)).includes('Microphone disconnected.'));
    // The camera goes too: it is off, for Ann and for Bob.
    await ann.page.evaluate(() => {
      const track = window.__noom.local.video;
      track.stop();
      track.dispatchEvent(new Event('ended'));
    });
    await waitTileAttr(bob.page, annId, 'data-video', 'false');
    assert.equal(await ann.page.getByTestId('camera').getAttribute('data-on'), 'false');
    assert.ok((await toastsSeen(ann.page)).includes('Camera disconnected.'));
    // Ann's page as it was, for the tests after this one.
    await ann.page.reload();
    annId = await waitJoined(ann.page);
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
  });

  it('leaving removes the tile for the others', { timeout: TEST_TIMEOUT }, async () => {
    await bob.page.getByTestId('leave').click();
    // At once: Bob said goodbye, so his link is not kept waiting for him (see the test of a socket gone for good).
    await ann.page.waitForFunction(() =>
      document.querySelectorAll('[data-testid="tile"]:not([data-self])').length === 0, null, { timeout: 5000 });
    assert.equal(await ann.page.getByTestId('participant-count').textContent(), '1');
    assert.equal(await ann.page.getByTestId('alone').isVisible(), true, 'alone again: no invite offered');
    // Alone again, Ann's own level goes back to an analyser on her microphone.
    assert.equal(await speakingSeen(ann.page, null, 6000), true, 'alone again: the self tile never lit up');
    assert.equal(await openAudioContexts(ann.page), 1);
    assert.equal(await bob.page.locator('[data-testid="tile"]').count(), 0);
    await bob.page.getByText('You left the meeting').waitFor({ timeout: 5000 });
    assert.equal(await bob.page.getByRole('link', { name: 'Rejoin' }).getAttribute('href'), '/r/duo');
  });

  it('someone without camera or microphone joins, listens and is seen as off', { timeout: TEST_TIMEOUT }, async () => {
    const cat = await newPerson(browser, server.url);
    try {
      // A machine with no devices at all.
      await cat.page.addInitScript(() => {
        navigator.mediaDevices.getUserMedia = () =>
          Promise.reject(new DOMException('Requested device not found', 'NotFoundError'));
      });
      await cat.page.goto('/r/duo');
      await cat.page.getByTestId('media-messages').getByText('No camera was found', { exact: false })
        .waitFor({ timeout: 10_000 });
      await cat.page.getByTestId('prejoin-name').fill('Cat');
      await cat.page.getByRole('button', { name: 'Join now' }).click();
      const catId = await waitJoined(cat.page);
      await waitRemoteVideosPlaying(cat.page, 1);
      await waitTileAttr(ann.page, catId, 'data-audio', 'false');
      await waitTileAttr(ann.page, catId, 'data-video', 'false');
    } finally {
      await closeAll(cat);
    }
  });

  it('talking with the microphone off says so, and the notice turns it on', { timeout: TEST_TIMEOUT }, async () => {
    const talking = await launchBrowser({ talking: true });
    try {
      const dan = await joinRoom(talking, server.url, 'talk', 'Dan');
      // Microphone on: talk is just talk.
      assert.equal(await speakingSeen(dan.page, null, 6000), true, 'Dan\'s own tile never lit up');
      assert.equal(await dan.page.getByTestId('muted-hint').isVisible(), false, 'the notice with the microphone on');
      await dan.page.getByTestId('mute').click();
      await dan.page.getByTestId('muted-hint').waitFor({ state: 'visible', timeout: 10_000 });
      await screenshot(dan.page, 'muted-hint.png');
      assert.equal(await dan.page.getByTestId('mute').getAttribute('data-on'), 'false');
      // On a phone an open panel fills the stage: the notice does not cover its form.
      await dan.page.setViewportSize({ width: 390, height: 760 });
      assert.equal(await dan.page.getByTestId('chat').getAttribute('aria-pressed'), 'true', 'the chat was not open');
      assert.equal(await dan.page.getByTestId('muted-hint').isVisible(), false, 'the notice covers the open chat');
      await dan.page.getByTestId('chat').click(); // closed: the notice shows again
      assert.equal(await dan.page.getByTestId('muted-hint').isVisible(), true);
      await dan.page.setViewportSize({ width: 1280, height: 720 });
      await dan.page.getByTestId('muted-hint-unmute').click();
      assert.equal(await dan.page.getByTestId('mute').getAttribute('data-on'), 'true');
      assert.equal(await dan.page.getByTestId('muted-hint').isVisible(), false, 'unmuted, the notice stayed');
      // Alone and unmuted: only the analyser of the speaking ring is left.
      await waitAudioContexts(dan.page, 1);
    } finally {
      await talking.close();
    }
  });
});
