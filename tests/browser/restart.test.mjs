// The server restarts during a meeting (as on a deploy, or `wrangler dev`
// stopped and started): both browsers reconnect within 5 seconds of it coming
// back, the call goes on on the peer connections it had (media never needed
// the server), and the chat history is intact, your own lines still
// shown as yours under your new id. The pages talk to
// a fixed-address relay in front of the server, so their origin stays the same
// while the server behind it comes back on another port.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import {
  startServerBehindRelay, serverVars, launchBrowser, joinRoom, waitJoined, waitRejoined, waitRemoteVideosPlaying, waitChat, closeAll, markConnection, sameConnection, remoteTileIds,
} from './helpers.mjs';

describe('a server restart during a meeting', { timeout: 240_000 }, () => {
  let relay;
  let server;
  let browser;
  let ann;
  let bob;

  before(async () => {
    ({ relay, server } = await startServerBehindRelay());
    browser = await launchBrowser();
  });

  after(async () => {
    await closeAll(ann, bob);
    await browser?.close();
    await server?.stop();
    await relay?.close();
  });

  it('browsers are back within 5 s, the call recovers and chat history is kept', { timeout: 180_000 }, async () => {
    ann = await joinRoom(browser, relay.url, 'restart', 'Ann');
    bob = await joinRoom(browser, relay.url, 'restart', 'Bob');
    const annBefore = await waitJoined(ann.page);
    const bobBefore = await waitJoined(bob.page);
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
    await ann.page.getByTestId('chat-input').fill('said before the restart');
    await ann.page.getByTestId('chat-input').press('Enter');
    await waitChat(bob.page, 'said before the restart');
    await markConnection(ann.page, bobBefore);
    await markConnection(bob.page, annBefore);

    await server.stop({ keepState: true });
    server = await startServer({ persistTo: server.persistTo, vars: serverVars(relay) });
    relay.setTarget(server.port);
    const back = Date.now();

    // A new welcome means a new peer id on each page.
    await Promise.all([waitRejoined(ann.page, annBefore, 5_000), waitRejoined(bob.page, bobBefore, 5_000)]);
    const reconnectMs = Date.now() - back;
    assert.ok(reconnectMs <= 5_000, `reconnected after ${reconnectMs} ms`);

    // Each side claimed its link back under the other's new id.
    const [annNow, bobNow] = await Promise.all([waitJoined(ann.page), waitJoined(bob.page)]);
    assert.equal(await sameConnection(ann.page, bobNow), true, 'Ann built a new connection to Bob');
    assert.equal(await sameConnection(bob.page, annNow), true, 'Bob built a new connection to Ann');
    assert.deepEqual(await remoteTileIds(ann.page), [bobNow]);
    assert.deepEqual(await remoteTileIds(bob.page), [annNow]);
    await Promise.all([waitRemoteVideosPlaying(ann.page, 1), waitRemoteVideosPlaying(bob.page, 1)]);
    // History comes back with the new welcome: on Ann's page and on Bob's.
    await waitChat(ann.page, 'said before the restart');
    await waitChat(bob.page, 'said before the restart');
    const count = await bob.page.getByTestId('chat-log').textContent();
    assert.equal(count.split('said before the restart').length - 1, 1, 'the message is shown once, not repeated');
    // Ann came back under a new id, and what she said before is still hers.
    const said = (page) => page.locator('.chat-entry', { hasText: 'said before the restart' });
    assert.equal(await said(ann.page).locator('.chat-name').textContent(), 'Ann (you)');
    assert.match(await said(ann.page).getAttribute('class'), /\bmine\b/);
    assert.equal(await said(bob.page).locator('.chat-name').textContent(), 'Ann');
    assert.doesNotMatch(await said(bob.page).getAttribute('class'), /\bmine\b/);
  });
});
