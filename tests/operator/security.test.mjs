// Security headers and per-IP limits, against a real wrangler dev.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';

describe('security headers', () => {
  let server;
  before(async () => { server = await startServer(); });
  after(async () => { await server?.stop(); });

  for (const path of ['/', '/r/some-room', '/js/room.js']) {
    test(`${path} carries a strict CSP and the other headers`, async () => {
      const res = await fetch(server.url + path);
      assert.equal(res.status, 200);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.match(csp, /style-src 'self'(;|$)/);
      assert.match(csp, /connect-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.match(res.headers.get('permissions-policy') ?? '', /camera=\(self\).*microphone=\(self\).*display-capture=\(self\)/);
    });
  }

  test('API answers are JSON, not sniffed and not cached', async () => {
    const res = await fetch(server.url + '/api/health');
    assert.match(res.headers.get('content-type'), /application\/json/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  test('pages carry no inline script or style', async () => {
    for (const path of ['/', '/r/some-room']) {
      const html = await (await fetch(server.url + path)).text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, `${path}: inline <script>`);
      assert.doesNotMatch(html, /<style/i, `${path}: <style>`);
      assert.doesNotMatch(html, /\sstyle=/i, `${path}: style attribute`);
      assert.doesNotMatch(html, /\son[a-z]+=/i, `${path}: inline event handler`);
    }
  });
});

describe('per-IP limits', () => {
  let server;
  before(async () => { server = await startServer(); });
  after(async () => { await server?.stop(); });

  /**
   * Sends `request` until the first 429, at most 2 × limit + 1 times. The
   * runtime counts in fixed windows of the period, so a quick burst may straddle
   * one window boundary: between `limit` and 2 × limit requests pass first.
   */
  async function untilLimited(limit, request) {
    for (let i = 0; i <= 2 * limit; i++) {
      const res = await request();
      if (res.status === 429) return { passed: i, res };
    }
    assert.fail(`no 429 after ${2 * limit + 1} requests`);
  }

  test('minting meeting codes is limited to 30 a minute per IP, with 429', async () => {
    const statuses = new Set();
    const { passed, res } = await untilLimited(30, async () => {
      const r = await fetch(server.url + '/api/rooms', { method: 'POST' });
      if (r.status !== 429) statuses.add(r.status);
      return r;
    });
    assert.ok(passed >= 30 && passed <= 60, `${passed} codes minted before the first 429`);
    assert.deepEqual([...statuses], [201]);
    assert.deepEqual(await res.json(), { error: 'rate_limited' });
    assert.ok(Number(res.headers.get('retry-after')) > 0);
  });

  test('opening meeting sockets is limited to 300 a minute per IP, with 429', async () => {
    // Requests without Upgrade count too (they answer 426), which keeps this test light.
    const statuses = new Set();
    const { passed } = await untilLimited(300, async () => {
      const r = await fetch(server.url + '/api/rooms/limit-test/ws');
      if (r.status !== 429) statuses.add(r.status);
      return r;
    });
    assert.ok(passed >= 300 && passed <= 600, `${passed} opens before the first 429`);
    assert.deepEqual([...statuses], [426]);
    // Other endpoints are not affected.
    assert.equal((await fetch(server.url + '/api/health')).status, 200);
  });
});
