// Four people join at the same moment: every one of them sees the three others'
// video playing (full mesh, the newcomer offers). Saves meeting-4.png (see SCREENSHOTS in helpers.mjs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import {
  launchBrowser, joinRoom, waitRemoteVideosPlaying, waitTileAttr, waitChat, screenshot, closeAll, videoLimits,
} from './helpers.mjs';

describe('a meeting of four', { timeout: 180_000 }, () => {
  let server;
  let browser;
  let people = [];

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });

  after(async () => {
    await closeAll(...people);
    await browser?.close();
    await server?.stop();
  });

  it('everyone sees the three others\' video playing', { timeout: 90_000 }, async () => {
    const names = ['Ann', 'Bob', 'Cat', 'Dan'];
    people = await Promise.all(names.map((name) => joinRoom(browser, server.url, 'quartet', name)));
    await Promise.all(people.map(({ page }) => waitRemoteVideosPlaying(page, 3, 45_000)));
    for (const { page } of people) {
      assert.equal(await page.getByTestId('participant-count').textContent(), '4');
      assert.equal(await page.locator('[data-testid="tile"]').count(), 4);
      assert.equal(await page.locator('[data-testid="tile"][data-self]').count(), 1);
      // Three outgoing copies of the camera: each smaller and slower than in a call of two.
      assert.deepEqual(await videoLimits(page), Array(3).fill({ maxBitrate: 600_000, maxFramerate: 24, scaleResolutionDownBy: 1.5 }));
    }

    // Dress the screenshot: a raised hand, a muted mic and a chat line.
    const [ann, bob, cat] = people;
    const bobId = await bob.page.evaluate(() => window.__noom.selfId);
    const catId = await cat.page.evaluate(() => window.__noom.selfId);
    await bob.page.getByTestId('hand').click();
    await cat.page.getByTestId('mute').click();
    await bob.page.getByTestId('chat-input').fill('Hi all! Can everyone see me?');
    await bob.page.getByTestId('chat-input').press('Enter');
    await waitTileAttr(ann.page, bobId, 'data-hand', 'true');
    await waitTileAttr(ann.page, catId, 'data-audio', 'false');
    await waitChat(ann.page, 'Can everyone see me?');
    await screenshot(ann.page, 'meeting-4.png');
  });

  it('one leaves and the three others keep playing', { timeout: 60_000 }, async () => {
    const leaver = people.pop();
    await leaver.page.getByTestId('leave').click();
    await Promise.all(people.map(({ page }) => page.waitForFunction(() =>
      document.querySelectorAll('[data-testid="tile"]').length === 3, null, { timeout: 10_000 })));
    await Promise.all(people.map(({ page }) => waitRemoteVideosPlaying(page, 2)));
    await closeAll(leaver);
  });
});
