// `GET /api/ice-servers` under each configuration the tests can set without
// TURN secrets: the default STUN server, and a custom ICE_SERVERS array.
// (The `[]` override, the tests' default, is checked in http.test.mjs.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { request, summary } from '../support/http.mjs';

describe('GET /api/ice-servers with ICE_SERVERS unset (empty)', () => {
  let server;
  before(async () => { server = await startServer({ vars: { ICE_SERVERS: '' } }); });
  after(async () => { await server?.stop(); });

  it("answers Cloudflare's STUN server", async () => {
    const res = await request(server, '/api/ice-servers');
    assert.equal(res.status, 200, summary(res));
    assert.deepEqual(res.json, { iceServers: [{ urls: 'stun:stun.cloudflare.com:3478' }] }, summary(res));
  });
});

describe('GET /api/ice-servers with a custom ICE_SERVERS array', () => {
  const custom = [
    { urls: 'stun:stun.example.org:3478' },
    { urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:5349'], username: 'u', credential: 'p' },
  ];
  let server;
  before(async () => { server = await startServer({ vars: { ICE_SERVERS: JSON.stringify(custom) } }); });
  after(async () => { await server?.stop(); });

  it('answers that array unchanged', async () => {
    const res = await request(server, '/api/ice-servers');
    assert.equal(res.status, 200, summary(res));
    assert.deepEqual(res.json, { iceServers: custom }, summary(res));
  });
});
