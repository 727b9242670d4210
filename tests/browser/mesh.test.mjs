// Four people join at the same moment: every one of them sees the three others'
// video playing (full mesh, the newcomer offers). Saves meeting-4.png (see
// SCREENSHOTS in helpers.mjs). One loses the server for a moment and everyone
// keeps their connection with them. Then the layout: a shared screen and a
// pinned tile take the stage.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { connectAndJoin } from '../support/client.mjs';
import {
  launchBrowser, joinRoom, tileNames, newPerson, gotoRoom, waitRemoteVideosPlaying, waitTileAttr, waitChat, screenshot, closeAll, videoLimits,
  markConnection, sameConnection, recordToasts, toastsSeen, remoteTileIds, waitRejoined,
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
      assert.equal(await page.getByTestId('alone').isVisible(), false);
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
    assert.match(await ann.page.locator('#toasts').textContent(), /Bob raised a hand/);
    // In the people list, raised hands come first, in the order they went up.
    const listedAt = (at, name) => ann.page.waitForFunction(([i, n]) =>
      [...document.querySelectorAll('[data-testid="people-list"] .person-name')][i]?.textContent === n, [at, name], { timeout: 10_000 });
    await listedAt(0, 'Bob');
    await listedAt(1, 'Ann (you)');
    const toasts = () => ann.page.locator('#toasts').textContent();
    await people[3].page.getByTestId('hand').click();
    await listedAt(1, 'Dan');
    await listedAt(0, 'Bob');
    assert.match(await toasts(), /Dan raised a hand/);
    // Dan lowers it again: the notice goes with it, not four seconds later.
    await people[3].page.getByTestId('hand').click();
    await listedAt(1, 'Ann (you)');
    assert.doesNotMatch(await toasts(), /Dan raised a hand/);
    await waitTileAttr(ann.page, catId, 'data-audio', 'false');
    await waitChat(ann.page, 'Can everyone see me?');
    await screenshot(ann.page, 'meeting-4.png');
  });

  it('one loses the server for a moment: each keeps its own connection with them, and their raised hand', { timeout: 60_000 }, async () => {
    const [ann, bob, cat, dan] = people;
    const [annId, bobId, catId, danId] = await Promise.all(people.map(({ page }) => page.evaluate(() => window.__noom.selfId)));
    const others = [ann, cat, dan];
    for (const { page } of others) {
      await markConnection(page, bobId);
      await recordToasts(page);
    }
    for (const id of [annId, catId, danId]) await markConnection(bob.page, id);

    // Someone else in the room claims a link with made-up proofs: refused, nothing moves.
    const { client: eve } = await connectAndJoin(server, 'quartet', 'Eve');
    eve.send({ type: 'signal', to: annId, data: { resume: ['0'.repeat(32), 'f'.repeat(32)] } });
    const answer = await eve.next((m) => m.type === 'signal' && m.from === annId && 'resumed' in m.data);
    assert.equal(answer.data.resumed, null);
    await eve.close();
    await ann.page.waitForFunction(() => document.querySelectorAll('[data-testid="tile"]').length === 4, null, { timeout: 10_000 });
    assert.equal(await sameConnection(ann.page, bobId), true, 'a stranger\'s claim moved Ann\'s link with Bob');

    await bob.page.evaluate(() => window.__noom.signaling.socket.close());
    const newBobId = await waitRejoined(bob.page, bobId);
    // Bob's one claim to each person matched only the link he has with that person.
    for (const { page } of others) assert.equal(await sameConnection(page, newBobId), true, 'a new connection to Bob');
    for (const id of [annId, catId, danId]) assert.equal(await sameConnection(bob.page, id), true, `Bob has a new connection to ${id}`);
    for (const { page } of others) {
      assert.deepEqual((await remoteTileIds(page)).filter((id) => id === bobId || id === newBobId), [newBobId]);
      await waitTileAttr(page, newBobId, 'data-hand', 'true');
    }
    await Promise.all(people.map(({ page }) => waitRemoteVideosPlaying(page, 3)));
    // Bob's hand stayed where it was in the queue, and nobody was told he left, came or raised it again.
    assert.equal(await ann.page.locator('[data-testid="people-list"] .person-name').first().textContent(), 'Bob');
    for (const { page } of others) {
      const toasts = await toastsSeen(page);
      assert.ok(!toasts.some((t) => /^Bob /.test(t)), `told: ${toasts.join(' | ')}`);
    }
  });

  it('one leaves and the three others keep playing', { timeout: 60_000 }, async () => {
    const leaver = people.pop();
    await leaver.page.getByTestId('leave').click();
    await Promise.all(people.map(({ page }) => page.waitForFunction(() =>
      document.querySelectorAll('[data-testid="tile"]').length === 3, null, { timeout: 10_000 })));
    await Promise.all(people.map(({ page }) => waitRemoteVideosPlaying(page, 2)));
    await closeAll(leaver);
  });
  it('the gallery: equal tiles of a camera\'s shape, the last row centred, refitted when the window changes', { timeout: 60_000 }, async () => {
    const [ann] = people;
    /** The grid's box and its tiles' boxes, as drawn (the second frame: the first may still refit them). */
    const drawn = () => ann.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => {
      const box = (node) => { const { x, y, width, height } = node.getBoundingClientRect(); return { x, y, width, height }; };
      resolve({ grid: box(document.getElementById('grid')), tiles: [...document.querySelectorAll('[data-testid="tile"]')].map(box) });
    }))));
    const check = ({ grid, tiles }, narrowest, where) => {
      assert.equal(tiles.length, 3, where);
      for (const tile of tiles) {
        assert.ok(Math.abs(tile.width - tiles[0].width) < 1 && Math.abs(tile.height - tiles[0].height) < 1, `tiles of different sizes ${where}`);
        const aspect = tile.width / tile.height;
        assert.ok(aspect <= 16 / 9 + 0.02 && aspect >= narrowest - 0.02, `a tile ${tile.width}x${tile.height} ${where}`);
        assert.ok(tile.x >= grid.x - 1 && tile.y >= grid.y - 1 && tile.x + tile.width <= grid.x + grid.width + 1
          && tile.y + tile.height <= grid.y + grid.height + 1, `a tile outside the grid ${where}`);
      }
      // The tiles, as a block, sit in the middle of the grid.
      const left = Math.min(...tiles.map((t) => t.x));
      const right = Math.max(...tiles.map((t) => t.x + t.width));
      assert.ok(Math.abs((left + right) / 2 - (grid.x + grid.width / 2)) < 2, `not centred ${where}`);
    };
    // A computer's window: two above, the third centred below them.
    const wide = await drawn();
    check(wide, 4 / 3, 'at 1280x720');
    const rows = [...new Set(wide.tiles.map((t) => Math.round(t.y)))].sort((a, b) => a - b);
    assert.equal(rows.length, 2, 'not two rows');
    const last = wide.tiles.find((t) => Math.round(t.y) === rows[1]);
    assert.ok(Math.abs(last.x + last.width / 2 - (wide.grid.x + wide.grid.width / 2)) < 2, 'the last row is not centred');
    // A phone held upright: one column.
    await ann.page.setViewportSize({ width: 390, height: 844 });
    const tall = await drawn();
    check(tall, 3 / 4, 'at 390x844');
    assert.equal(new Set(tall.tiles.map((t) => Math.round(t.x))).size, 1, 'not one column on a phone');
    await ann.page.setViewportSize({ width: 1280, height: 720 });
    check(await drawn(), 4 / 3, 'back at 1280x720');
  });

  it('a shared screen takes the stage, a pin overrides it, and leaving takes the pin along', { timeout: 60_000 }, async () => {
    const [ann, bob, cat] = people;
    const [annId, bobId, catId] = await Promise.all(people.map(({ page }) => page.evaluate(() => window.__noom.selfId)));
    const layout = (page) => page.evaluate(() => ({
      layout: document.getElementById('grid').dataset.layout,
      featured: [...document.querySelectorAll('[data-testid="tile"][data-featured="true"]')].map((t) => t.dataset.peerId),
    }));
    const tile = (page, id) => page.locator(`[data-testid="tile"][data-peer-id="${id}"]`);
    const area = async (page, id) => { const box = await tile(page, id).boundingBox(); return box.width * box.height; };
    const pin = (page, id) => tile(page, id).getByTestId('pin');

    assert.deepEqual(await layout(ann.page), { layout: 'grid', featured: [] });
    await bob.page.getByTestId('screen').click();
    await waitTileAttr(ann.page, bobId, 'data-featured', 'true');
    assert.deepEqual(await layout(ann.page), { layout: 'stage', featured: [bobId] });
    assert.match(await ann.page.locator('#toasts').textContent(), /Bob is presenting/);
    assert.ok(await area(ann.page, bobId) > 4 * await area(ann.page, catId), 'the shared screen is not on a large stage');
    // The strip goes where it leaves the stage wider: below it with the chat open beside
    // the videos (a strip beside would leave the screen 644 of 892 px), beside it without.
    const opened = await ann.page.evaluate(() => document.getElementById('side').dataset.panel);
    const setPanel = async (panel) => {
      const now = await ann.page.evaluate(() => document.getElementById('side').dataset.panel);
      if (now !== panel) await ann.page.getByTestId(panel === 'none' ? now : panel).click();
      await ann.page.waitForTimeout(300);
    };
    const strip = () => ann.page.evaluate((id) => {
      const box = (node) => node.getBoundingClientRect();
      const grid = box(document.getElementById('grid'));
      const stage = box(document.querySelector(`[data-testid="tile"][data-peer-id="${id}"]`));
      const others = [...document.querySelectorAll('[data-testid="tile"]:not([data-featured="true"])')].map(box);
      const where = others.every((o) => o.top >= stage.bottom) ? 'below' : others.every((o) => o.left >= stage.right) ? 'beside' : 'overlapping';
      return { where, widerThanBeside: stage.width > grid.width - 248 };
    }, bobId);
    await setPanel('chat');
    assert.deepEqual(await strip(), { where: 'below', widerThanBeside: true });
    await setPanel('none');
    assert.deepEqual(await strip(), { where: 'beside', widerThanBeside: false });
    await setPanel(opened);
    // Bob already sees his own screen: his page keeps equal tiles.
    await waitTileAttr(cat.page, bobId, 'data-featured', 'true');
    assert.deepEqual(await layout(bob.page), { layout: 'grid', featured: [] });

    // Ann pins Cat over Bob's screen; unpinning gives the stage back to the screen.
    await pin(ann.page, catId).click();
    await waitTileAttr(ann.page, catId, 'data-featured', 'true');
    assert.deepEqual(await layout(ann.page), { layout: 'stage', featured: [catId] });
    assert.equal(await pin(ann.page, catId).getAttribute('aria-pressed'), 'true');
    assert.equal(await pin(ann.page, catId).getAttribute('aria-label'), 'Unpin Cat');
    assert.deepEqual(await layout(cat.page), { layout: 'stage', featured: [bobId] }, 'a pin is Ann\'s view only');
    await pin(ann.page, catId).click();
    await waitTileAttr(ann.page, bobId, 'data-featured', 'true');
    assert.equal(await pin(ann.page, catId).getAttribute('aria-pressed'), 'false');

    // Bob stops presenting: equal tiles again.
    await bob.page.getByTestId('screen').click();
    await waitTileAttr(ann.page, bobId, 'data-screen', 'false');
    assert.deepEqual(await layout(ann.page), { layout: 'grid', featured: [] });

    // Her own tile can be pinned too; then Cat, who leaves.
    await pin(ann.page, annId).click();
    assert.deepEqual(await layout(ann.page), { layout: 'stage', featured: [annId] });
    await pin(ann.page, catId).click();
    assert.deepEqual(await layout(ann.page), { layout: 'stage', featured: [catId] });
    // On a phone the strip's tiles are small: each name there is still whole beside its pin.
    const panel = await ann.page.evaluate(() => document.getElementById('side').dataset.panel);
    if (panel !== 'none') await ann.page.getByTestId(panel).click();
    await ann.page.setViewportSize({ width: 390, height: 844 });
    await ann.page.waitForTimeout(300);
    assert.deepEqual(await tileNames(ann.page, '[data-testid="tile"][data-featured="false"]'), [['Ann', true], ['Bob', true]]);
    await ann.page.setViewportSize({ width: 1280, height: 720 });
    if (panel !== 'none') await ann.page.getByTestId(panel).click();
    await cat.page.getByTestId('leave').click();
    await ann.page.waitForFunction(() => document.querySelectorAll('[data-testid="tile"]').length === 2, null, { timeout: 10_000 });
    assert.deepEqual(await layout(ann.page), { layout: 'duo', featured: [] });
    assert.equal(await ann.page.evaluate(() => window.__noom.pinned), null);
    people.pop();
    await closeAll(cat);
  });

  it('the invite link: copied on a computer, handed to the share sheet on a phone; a phone\'s open chat leaves the controls uncovered', { timeout: 60_000 }, async () => {
    const [ann] = people;
    const link = `${server.url}/r/quartet`;
    await ann.context.grantPermissions(['camera', 'microphone', 'clipboard-read', 'clipboard-write']);
    assert.equal(await ann.page.getByTestId('invite').getAttribute('aria-label'), 'Copy invite link');
    await ann.page.getByTestId('invite').click();
    await ann.page.waitForFunction(() => document.getElementById('toasts').textContent.includes('Invite link copied'));
    assert.equal(await ann.page.evaluate(() => navigator.clipboard.readText()), link);

    // A phone: touch only, a share sheet (stubbed: it records what it was given), no screen capture.
    const phone = await newPerson(browser, server.url, { isMobile: true, hasTouch: true, viewport: { width: 390, height: 844 } });
    try {
      await phone.context.addInitScript(() => {
        delete MediaDevices.prototype.getDisplayMedia;
        window.__shared = [];
        navigator.share = async (data) => { window.__shared.push(data); };
      });
      await gotoRoom(phone.page, 'quartet', 'Phone');
      assert.equal(await phone.page.getByTestId('screen').isVisible(), false, 'a Present button that can only fail');
      assert.equal(await ann.page.getByTestId('screen').isVisible(), true);
      assert.equal(await phone.page.getByTestId('invite').getAttribute('aria-label'), 'Share invite link');
      await phone.page.getByTestId('invite').tap();
      assert.deepEqual(await phone.page.evaluate(() => window.__shared), [{ title: 'Join quartet on Noom', url: link }]);
      /** Whether a tap in the middle of that control would reach it (nothing drawn over it). */
      const uncovered = (testId) => phone.page.evaluate((id) => {
        const button = document.querySelector(`[data-testid="${id}"]`);
        const box = button.getBoundingClientRect();
        return document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2)?.closest('[data-testid]') === button;
      }, testId);
      // A notice on a phone stays off the controls (two rows of them here).
      await ann.page.getByTestId('hand').click();
      await phone.page.locator('.toast', { hasText: 'Ann raised a hand' }).waitFor({ timeout: 10_000 });
      const toastBox = await phone.page.locator('#toasts').boundingBox();
      const controlsBox = await phone.page.locator('.controls').boundingBox();
      assert.ok(toastBox.y + toastBox.height <= controlsBox.y, `a notice covers the controls: ${JSON.stringify({ toastBox, controlsBox })}`);
      // Alone in a room of its own, the phone is offered the share sheet right there too.
      await gotoRoom(phone.page, 'quartet-solo', 'Phone');
      await phone.page.getByTestId('alone-invite').tap();
      assert.equal(await phone.page.getByTestId('alone-invite').textContent(), 'Share invite link');
      assert.deepEqual((await phone.page.evaluate(() => window.__shared)).at(-1), { title: 'Join quartet-solo on Noom', url: `${server.url}/r/quartet-solo` });
      for (const testId of ['mute', 'leave', 'chat', 'pin']) {
        assert.ok(await uncovered(testId), `${testId} is covered by the invite offer`);
      }
      // Nor your name on your tile: the offer has a row of its own under it.
      const nameUncovered = await phone.page.evaluate(() => {
        const box = document.querySelector('[data-self] .tile-label').getBoundingClientRect();
        return [[0.1, 0.5], [0.5, 0.5], [0.9, 0.5]].every(([fx, fy]) =>
          document.elementFromPoint(box.x + box.width * fx, box.y + box.height * fy)?.closest('.tile-label') !== null);
      });
      assert.ok(nameUncovered, 'the invite offer covers your name');
      const offerBox = await phone.page.getByTestId('alone').boundingBox();
      const selfBox = await phone.page.locator('[data-self]').boundingBox();
      assert.ok(offerBox.y >= selfBox.y + selfBox.height, `the invite offer is over your tile: ${JSON.stringify({ offerBox, selfBox })}`);

      // The chat open on a phone covers the videos, never the controls (two rows of them here).
      await phone.page.getByTestId('chat').tap();
      await phone.page.getByTestId('chat-input').waitFor({ state: 'visible' });
      for (const testId of ['mute', 'camera', 'hand', 'leave', 'chat', 'chat-input', 'side-close']) {
        assert.ok(await uncovered(testId), `${testId} is covered with the chat open`);
      }
    } finally {
      await closeAll(phone);
    }
  });
});
