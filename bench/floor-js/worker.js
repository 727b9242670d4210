// The least a relay can do in this runtime: a socket's first text frame marks
// it joined (kept in its attachment, so it survives hibernation); every later
// frame goes out, as it came, to the room's other sockets. No parsing, no
// checks, no storage. This is *not* an implementation of Noom's contract: it
// marks the physical limit that Noom and the baseline are measured against.
import { DurableObject } from 'cloudflare:workers';

export class FloorRoom extends DurableObject {
  async fetch() {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  webSocketMessage(ws, message) {
    if (ws.deserializeAttachment() === null) {
      ws.serializeAttachment(true);
      return;
    }
    for (const other of this.ctx.getWebSockets()) {
      if (other !== ws) other.send(message);
    }
  }

  webSocketClose(ws) {
    ws.close(1000, 'closed');
  }
}

export default {
  fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === '/api/health') return Response.json({ ok: true });
    const match = /^\/api\/rooms\/([^/]+)\/ws$/.exec(pathname);
    if (match) return env.ROOM.getByName(match[1]).fetch(request);
    return new Response('not found', { status: 404 });
  },
};
