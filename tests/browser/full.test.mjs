// A full room: with MAX_PEERS=2 the third person is told the meeting is full
// and how many it holds (`maxPeers` of `room_full`, close code 4001), and the
// page does not keep knocking. Before joining, the pre-join screen says who is
// there and that the meeting is full, and keeps that up to date.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { launchBrowser, joinRoom, newPerson, closeAll, setPageHidden, waitJoined } from './helpers.mjs';

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
    // Cat never got in: the way back in is to try again, not to "rejoin".
    assert.equal(await cat.page.getByRole('link', { name: 'Try again' }).getAttribute('href'), '/r/pair');
    await cat.page.waitForTimeout(2000);
    assert.equal(sockets, 1);
    assert.equal(await cat.page.locator('[data-testid="tile"]').count(), 0);
    assert.equal(await people[0].page.locator('[data-testid="tile"]').count(), 2);
  });

  it('the pre-join screen says who is there, that it is full, and when a place frees up', { timeout: 60_000 }, async () => {
    const dan = await newPerson(browser, server.url);
    people.push(dan);
    const who = dan.page.getByTestId('prejoin-who');
    const peeks = [];
    dan.page.on('websocket', (ws) => ws.on('framesent', ({ payload }) => { if (String(payload).includes('"peek"')) peeks.push(Date.now()); }));
    await dan.page.goto('/r/nobody-here');
    await dan.page.getByText('No one else is here yet.').waitFor({ timeout: 10_000 });
    await dan.page.goto('/r/pair');
    await dan.page.getByText('Ann and Bob are in this meeting. It is full (2 people)', { exact: false }).waitFor({ timeout: 10_000 });
    // A tab out of view asks nothing; back in view, it asks at once.
    await setPageHidden(dan.page, true);
    const asked = peeks.length;
    await dan.page.waitForTimeout(6000);
    assert.equal(peeks.length, asked, 'a hidden tab kept asking who is there');
    await setPageHidden(dan.page, false);
    // At once, not at the next of the 5-second questions.
    for (let i = 0; i < 20 && peeks.length === asked; i += 1) await dan.page.waitForTimeout(50);
    assert.ok(peeks.length > asked, 'back in view, no question within a second');
    // Bob leaves: within a few seconds the screen has a place for Dan.
    await people[1].page.getByTestId('leave').click();
    await dan.page.waitForFunction(() => document.querySelector('[data-testid="prejoin-who"]')?.textContent === 'Ann is in this meeting.', null, { timeout: 15_000 });
    await dan.page.getByTestId('prejoin-name').fill('Dan');
    await dan.page.getByTestId('join').click();
    await waitJoined(dan.page);
    assert.equal(await who.isVisible(), false, 'the pre-join line stayed');
    // The peeks did not count as anyone: Ann sees Dan alone beside her.
    await people[0].page.waitForFunction(() => document.querySelectorAll('[data-testid="tile"]').length === 2, null, { timeout: 10_000 });
    assert.equal(await people[0].page.getByTestId('participant-count').textContent(), '2');
  });
});
