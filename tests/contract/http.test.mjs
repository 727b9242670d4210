// The contract's HTTP table: health, room codes, the public room list, ICE
// servers (as tests configure them), the pages, room-name checks, the upgrade
// requirement, the Origin rule and unknown API paths.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../support/server.mjs';
import { request, summary } from '../support/http.mjs';
import { closeAll, connect, connectAndJoin, openSocket, roomName, roomUrl, sleep } from '../support/client.mjs';

const ALLOWED = ['https://allowed.example', 'https://also-allowed.example:8443'];
const FOREIGN = 'https://evil.example';
const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

let server;

before(async () => {
  server = await startServer({ vars: { ALLOWED_ORIGINS: ALLOWED.join(',') } });
});

after(async () => {
  await closeAll();
  await server?.stop();
});

function assertJsonBody(res, status, body) {
  assert.equal(res.status, status, summary(res));
  assert.deepEqual(res.json, body, summary(res));
}

describe('GET /api/health', () => {
  it('answers 200 {"ok":true}', async () => {
    assertJsonBody(await request(server, '/api/health'), 200, { ok: true });
  });
});

describe('POST /api/rooms', () => {
  it('answers 201 with a fresh code of the form abc-defg-hij', async () => {
    const codes = [];
    for (let i = 0; i < 5; i++) {
      const res = await request(server, '/api/rooms', { method: 'POST' });
      assert.equal(res.status, 201, summary(res));
      assert.equal(typeof res.json?.room, 'string', summary(res));
      assert.match(res.json.room, /^[a-z]{3}-[a-z]{4}-[a-z]{3}$/);
      assert.match(res.json.room, ROOM_NAME, 'a code is a valid room name');
      codes.push(res.json.room);
    }
    assert.equal(new Set(codes).size, codes.length, `codes repeat: ${codes}`);
  });
});

/** Polls GET /api/rooms until `check(rooms)` is true; bounded. Returns the last list. */
async function pollRooms(check, { tries = 40, intervalMs = 250 } = {}) {
  let last;
  for (let i = 0; i < tries; i++) {
    const res = await request(server, '/api/rooms');
    assert.equal(res.status, 200, summary(res));
    assert.ok(Array.isArray(res.json?.rooms), summary(res));
    last = res.json.rooms;
    if (check(last)) return last;
    await sleep(intervalMs);
  }
  assert.fail(`GET /api/rooms never reached the expected state; last: ${JSON.stringify(last)}`);
}

const find = (rooms, room) => rooms.find((r) => r.room === room);

describe('GET /api/rooms', () => {
  it('answers 200 {"rooms":[...]}', async () => {
    const res = await request(server, '/api/rooms');
    assert.equal(res.status, 200, summary(res));
    assert.ok(Array.isArray(res.json?.rooms), summary(res));
  });

  it('lists public rooms with their peer counts, most peers first, and not private ones', async () => {
    const big = roomName('pub-big');
    const small = roomName('pub-small');
    const secret = roomName('private');
    // The first peer decides: later peers saying otherwise do not change it.
    const a1 = (await connectAndJoin(server, big, 'A1', { public: true })).client;
    const a2 = (await connectAndJoin(server, big, 'A2', { public: false })).client;
    const a3 = (await connectAndJoin(server, big, 'A3')).client;
    const b1 = (await connectAndJoin(server, small, 'B1', { public: true })).client;
    const c1 = (await connectAndJoin(server, secret, 'C1', { public: false })).client;
    const c2 = (await connectAndJoin(server, secret, 'C2', { public: true })).client;

    const rooms = await pollRooms((rs) => find(rs, big)?.peers === 3 && find(rs, small)?.peers === 1);
    assert.equal(find(rooms, secret), undefined, `private room listed: ${JSON.stringify(rooms)}`);
    for (const r of rooms) {
      assert.equal(typeof r.room, 'string');
      assert.match(r.room, ROOM_NAME);
      assert.ok(Number.isInteger(r.peers) && r.peers >= 1, `bad entry ${JSON.stringify(r)}`);
    }
    for (let i = 1; i < rooms.length; i++) {
      assert.ok(rooms[i - 1].peers >= rooms[i].peers, `not sorted by peers, most first: ${JSON.stringify(rooms)}`);
    }
    assert.ok(rooms.indexOf(find(rooms, big)) < rooms.indexOf(find(rooms, small)));

    // Counts follow leaves and closes.
    a2.send({ type: 'leave' });
    await a2.waitClose();
    await pollRooms((rs) => find(rs, big)?.peers === 2);
    await a3.close();
    await pollRooms((rs) => find(rs, big)?.peers === 1);

    // An emptied room disappears; the others stay.
    b1.send({ type: 'leave' });
    await b1.waitClose();
    const later = await pollRooms((rs) => find(rs, small) === undefined);
    assert.equal(find(later, big)?.peers, 1, JSON.stringify(later));
    assert.equal(find(later, secret), undefined);

    // The count goes up again when someone joins.
    const a4 = (await connectAndJoin(server, big, 'A4')).client;
    await pollRooms((rs) => find(rs, big)?.peers === 2);
    await Promise.all([a1, a4, c1, c2].map((c) => c.close()));
    await pollRooms((rs) => find(rs, big) === undefined);

    // Emptied, the room starts over: a private first peer keeps it off the list.
    const again = (await connectAndJoin(server, big, 'Again', { public: false })).client;
    const marker = roomName('marker');
    const m1 = (await connectAndJoin(server, marker, 'M1', { public: true })).client;
    const last = await pollRooms((rs) => find(rs, marker)?.peers === 1);
    assert.equal(find(last, big), undefined, `re-used room listed though its new first peer is private: ${JSON.stringify(last)}`);
    await Promise.all([again, m1].map((c) => c.close()));
  });

  it('does not list a code from POST /api/rooms that nobody joined', async () => {
    const res = await request(server, '/api/rooms', { method: 'POST' });
    const rooms = await pollRooms(() => true);
    assert.equal(find(rooms, res.json.room), undefined);
  });
});

describe('GET /api/ice-servers', () => {
  it('answers the ICE_SERVERS var when set (here [])', async () => {
    assertJsonBody(await request(server, '/api/ice-servers'), 200, { iceServers: [] });
  });
});

describe('GET /', () => {
  it('serves the lobby page as HTML', async () => {
    const res = await request(server, '/');
    assert.equal(res.status, 200, summary(res));
    assert.match(res.headers['content-type'] ?? '', /text\/html/);
  });
});

describe('GET /r/<room>', () => {
  it('serves the meeting page as HTML for a valid room name', async () => {
    for (const room of ['abc-defg-hij', 'A_b-9', 'x', 'R'.repeat(64)]) {
      const res = await request(server, `/r/${room}`);
      assert.equal(res.status, 200, `/r/${room}: ${summary(res)}`);
      assert.match(res.headers['content-type'] ?? '', /text\/html/, `/r/${room}`);
    }
  });

  it('answers 400 {"error":"bad_room"} for an invalid room name', async () => {
    for (const path of ['/r/a.b', `/r/${'a'.repeat(65)}`, '/r/%20', '/r/a%20b', '/r/caf%C3%A9']) {
      assertJsonBody(await request(server, path), 400, { error: 'bad_room' });
    }
  });
});

describe('GET /api/rooms/<room>/ws', () => {
  it('answers 400 {"error":"bad_room"} to an upgrade for an invalid room name', async () => {
    for (const room of ['a.b', 'a'.repeat(65), '%20', 'caf%C3%A9']) {
      const err = await openSocket(roomUrl(server, room)).then(
        (c) => { c.close(); return assert.fail(`upgrade to room ${room} was accepted`); },
        (e) => e,
      );
      assert.equal(err.status, 400, `room ${room}: ${err.message}`);
      assert.deepEqual(JSON.parse(err.body), { error: 'bad_room' }, `room ${room}`);
    }
  });

  it('answers 426 without Upgrade: websocket', async () => {
    const res = await request(server, `/api/rooms/${roomName('plain')}/ws`);
    assert.equal(res.status, 426, summary(res));
  });

  it('accepts an upgrade for a valid room name (64 characters included)', async () => {
    const c = await connect(server, 'W'.repeat(64));
    const welcome = await c.join('Ann');
    assert.equal(welcome.room, 'W'.repeat(64));
    await c.close();
  });
});

describe('Origin header', () => {
  it('answers 403 to a foreign Origin', async () => {
    for (const [method, path] of [['GET', '/api/health'], ['POST', '/api/rooms'], ['GET', '/api/rooms'],
      ['GET', '/api/ice-servers']]) {
      const res = await request(server, path, { method, headers: { Origin: FOREIGN } });
      assert.equal(res.status, 403, `${method} ${path}: ${summary(res)}`);
    }
  });

  it('answers 403 to a WebSocket upgrade from a foreign Origin', async () => {
    const err = await openSocket(roomUrl(server, roomName('evil')), { origin: FOREIGN }).then(
      (c) => { c.close(); return assert.fail('upgrade from a foreign origin was accepted'); },
      (e) => e,
    );
    assert.equal(err.status, 403, err.message);
  });

  it("accepts the request's own origin", async () => {
    assertJsonBody(await request(server, '/api/health', { headers: { Origin: server.url } }), 200, { ok: true });
    const res = await request(server, '/api/rooms', { method: 'POST', headers: { Origin: server.url } });
    assert.equal(res.status, 201, summary(res));
    const c = await openSocket(roomUrl(server, roomName('own')), { origin: server.url });
    await c.join('Ann');
    await c.close();
  });

  it('accepts every origin listed in ALLOWED_ORIGINS', async () => {
    for (const origin of ALLOWED) {
      assertJsonBody(await request(server, '/api/health', { headers: { Origin: origin } }), 200, { ok: true });
      const res = await request(server, '/api/rooms', { method: 'POST', headers: { Origin: origin } });
      assert.equal(res.status, 201, `${origin}: ${summary(res)}`);
      const c = await openSocket(roomUrl(server, roomName('allowed')), { origin });
      const welcome = await c.join('Ann');
      assert.equal(welcome.type, 'welcome');
      await c.close();
    }
  });

  it('accepts a request without Origin', async () => {
    assertJsonBody(await request(server, '/api/health'), 200, { ok: true });
  });
});

describe('unknown /api paths', () => {
  it('answer 404 {"error":"not_found"}', async () => {
    for (const path of ['/api/x', '/api/nope/deeper', '/api/rooms/abc', '/api/rooms/abc/ws/more', '/api/']) {
      assertJsonBody(await request(server, path), 404, { error: 'not_found' });
    }
  });
});
