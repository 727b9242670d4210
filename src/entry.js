// The module the runtime loads (`main` in wrangler.toml). Everything Noom does
// is in the Rust build, `build/index.js` (worker-build's output: the
// WebAssembly module and its glue); this file re-exports it and gives the
// runtime one plain class of its own, for the Room Durable Object's frames.
//
// Why: worker-build exports every Rust class wrapped in a Proxy, so it can
// reset the WebAssembly instance after a crash. Each time the runtime looks up
// a handler on such an object, the Proxy builds a new Proxy around that method
// (an object, a closure and a trap call). A room is called once per WebSocket
// frame, so that was paid on every frame (see BENCHMARKS.md). Here
// `webSocketMessage` calls the Rust method directly; the crash recovery stays:
// - the room is still constructed through worker-build's wrapper, which
//   rebuilds it on a fresh WebAssembly instance after a reset;
// - a frame that meets a crashed instance goes through the wrapper's own
//   handler, which resets the instance first;
// - a frame that crashes the instance marks it as crashed, as that handler would.
// Every other event (the upgrade, closes, errors, the alarm) is rare and goes
// through the wrapper unchanged.
//
// Short text frames, most of them, go to `webSocketText` with the frame, the
// peer id and the time as arguments, so the Rust code need not call back out
// for each (see that method in src/room.rs).
import { DurableObject } from 'cloudflare:workers';
import worker, { RoomObject as WrappedRoom, LobbyObject } from '../build/index.js';

/** The Rust methods themselves (the wrapper only traps construction of the class). */
const { webSocketMessage, webSocketText } = WrappedRoom.prototype;

/** Text frames up to this many UTF-16 units go to `webSocketText`. */
const SHORT_FRAME_UNITS = WrappedRoom.shortFrameUnits();

/** worker-build's record of a crashed instance (set by the `worker` crate's glue). */
const wasmState = globalThis.__worker_init_state ?? { criticalError: false };

export class RoomObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.room = new WrappedRoom(ctx, env);
  }

  webSocketMessage(ws, message) {
    if (wasmState.criticalError) return this.room.webSocketMessage(ws, message);
    try {
      // Most frames are short text: hand over the frame, the peer id Rust
      // wrote on the socket, and the time in one call, instead of Rust asking
      // for each across the boundary (see `webSocketText` in src/room.rs).
      if (typeof message === 'string' && message.length <= SHORT_FRAME_UNITS) {
        return webSocketText.call(this.room, ws, message, ws.__noomPeer, Date.now());
      }
      return webSocketMessage.call(this.room, ws, message);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) wasmState.criticalError = true;
      throw e;
    }
  }

  fetch(request) {
    return this.room.fetch(request);
  }

  webSocketClose(ws, code, reason, wasClean) {
    return this.room.webSocketClose(ws, code, reason, wasClean);
  }

  webSocketError(ws, error) {
    return this.room.webSocketError(ws, error);
  }

  alarm() {
    return this.room.alarm();
  }
}

export { LobbyObject };
export default worker;
