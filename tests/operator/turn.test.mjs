// /api/ice-servers with TURN: the Worker mints short-lived credentials from a
// fake TURN API on loopback (TURN_API_BASE), caches them per isolate, and falls
// back to STUN when the API fails or is slow. The key never reaches the page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer } from '../support/server.mjs';

const KEY_ID = 'test-key-id-123';
const TOKEN = 'super-secret-turn-token';
const MINTED = {
  iceServers: [
    { urls: ['stun:stun.cloudflare.com:3478'] },
    { urls: ['turn:turn.cloudflare.com:3478?transport=udp'], username: 'minted-user', credential: 'minted-pass' },
  ],
};

/** A fake TURN API whose behaviour the test switches: ok, fail, slow, garbage. */
function fakeTurnApi() {
  const api = { mode: 'ok', requests: [] };
  api.server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      api.requests.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body });
      if (api.mode === 'fail') { res.writeHead(500); res.end('boom'); return; }
      if (api.mode === 'garbage') { res.writeHead(201, { 'content-type': 'application/json' }); res.end('{"nope":1}'); return; }
      if (api.mode === 'slow') { setTimeout(() => { res.writeHead(201); res.end(JSON.stringify(MINTED)); }, 8000).unref(); return; }
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify(MINTED));
    });
  });
  return new Promise((resolve) => api.server.listen(0, '127.0.0.1', () => { api.port = api.server.address().port; resolve(api); }));
}

describe('/api/ice-servers with TURN secrets', () => {
  let api, server;
  before(async () => {
    api = await fakeTurnApi();
    server = await startServer({
      vars: {
        ICE_SERVERS: '', // unset: the fallback is the default STUN server
        TURN_API_BASE: `http://127.0.0.1:${api.port}/v1`,
        TURN_KEY_ID: KEY_ID,
        TURN_KEY_API_TOKEN: TOKEN,
        TURN_TTL_SECONDS: '7200',
      },
    });
  });
  after(async () => { await server?.stop(); api?.server.close(); });

  const ice = async () => {
    const res = await fetch(server.url + '/api/ice-servers');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const text = await res.text();
    assert.ok(!text.includes(TOKEN), 'the API token never reaches the page');
    return JSON.parse(text).iceServers;
  };
  const STUN_ONLY = [{ urls: 'stun:stun.cloudflare.com:3478' }];

  test('a failing TURN API falls back to STUN', async () => {
    api.mode = 'fail';
    assert.deepEqual(await ice(), STUN_ONLY);
  });

  test('a malformed answer falls back to STUN', async () => {
    api.mode = 'garbage';
    assert.deepEqual(await ice(), STUN_ONLY);
  });

  test('a slow TURN API falls back to STUN within the timeout', async () => {
    api.mode = 'slow';
    const started = Date.now();
    assert.deepEqual(await ice(), STUN_ONLY);
    assert.ok(Date.now() - started < 7000, `answered after ${Date.now() - started} ms`);
  });

  test('minted servers are returned, and the request is the documented one', async () => {
    api.mode = 'ok';
    api.requests.length = 0;
    assert.deepEqual(await ice(), MINTED.iceServers);
    assert.equal(api.requests.length, 1);
    const [r] = api.requests;
    assert.equal(r.method, 'POST');
    assert.equal(r.url, `/v1/turn/keys/${KEY_ID}/credentials/generate-ice-servers`);
    assert.equal(r.auth, `Bearer ${TOKEN}`);
    assert.equal(r.type, 'application/json');
    assert.deepEqual(JSON.parse(r.body), { ttl: 7200 });
  });

  test('later calls are served from the cache', async () => {
    api.mode = 'fail'; // would fall back if the cache were not used
    const before = api.requests.length;
    for (let i = 0; i < 3; i++) assert.deepEqual(await ice(), MINTED.iceServers);
    assert.equal(api.requests.length, before);
  });
});
