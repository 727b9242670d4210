// A full room: with MAX_PEERS=2 the third person is told the meeting is full
// and how many it holds (`maxPeers` of `room_full`, close code 4001), and the
// page does not keep knocking.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { launchBrowser, joinRoom, newPerson, closeAll } from './helpers.mjs';

describe('a full meeting', { timeout: 120_000 }, () => {
  let server;
  let browser;
  const people = [];

  before(async () => {
    server = await startServer({ vars: { MAX_PEERS: '2' } });
    browser = await launchBrowser();
  });

  after(async () => {
    await closeAll(...people);
    await browser?.close();
    await server?.stop();
  });

  it('turns the third person away with a clear message and no retry loop', { timeout: 60_000 }, async () => {
    people.push(await joinRoom(browser, server.url, 'pair', 'Ann'));
    people.push(await joinRoom(browser, server.url, 'pair', 'Bob'));
    const cat = await newPerson(browser, server.url);
    people.push(cat);
    let sockets = 0;
    cat.page.on('websocket', () => { sockets += 1; });
    await cat.page.goto('/r/pair?name=Cat&autojoin=1');
    await cat.page.getByText('This meeting is full').waitFor({ timeout: 15_000 });
    // The room's own limit (MAX_PEERS=2 here), not a number written into the page.
    await cat.page.getByText('It already has 2 people, as many as it holds.').waitFor({ timeout: 5_000 });
    await cat.page.waitForTimeout(2000);
    assert.equal(sockets, 1);
    assert.equal(await cat.page.locator('[data-testid="tile"]').count(), 0);
    assert.equal(await people[0].page.locator('[data-testid="tile"]').count(), 2);
  });
});
