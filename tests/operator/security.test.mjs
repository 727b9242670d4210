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

  test('minting meeting codes is limited to 30 a minute per IP, with 429', async () => {
    const statuses = [];
    for (let i = 0; i < 32; i++) statuses.push((await fetch(server.url + '/api/rooms', { method: 'POST' })).status);
    assert.deepEqual(statuses.slice(0, 30), Array(30).fill(201));
    const res = await fetch(server.url + '/api/rooms', { method: 'POST' });
    assert.equal(res.status, 429);
    assert.deepEqual(await res.json(), { error: 'rate_limited' });
    assert.ok(Number(res.headers.get('retry-after')) > 0);
  });

  test('opening meeting sockets is limited to 300 a minute per IP, with 429', async () => {
    // Requests without Upgrade count too (they answer 426), which keeps this test light.
    const statuses = [];
    for (let i = 0; i < 300; i++) statuses.push((await fetch(server.url + '/api/rooms/limit-test/ws')).status);
    assert.ok(statuses.every((s) => s === 426), `first 300: ${[...new Set(statuses)]}`);
    const res = await fetch(server.url + '/api/rooms/limit-test/ws');
    assert.equal(res.status, 429);
    // Other endpoints are not affected.
    assert.equal((await fetch(server.url + '/api/health')).status, 200);
  });
});
