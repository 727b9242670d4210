// The module the runtime loads (`main` in wrangler.toml). Everything Noom does
// is in the Rust build, `build/index.js` (worker-build's output: the
// WebAssembly module and its glue); this file re-exports it and gives the
// runtime one plain class of its own, for the Room Durable Object's frames.
//
// Why: worker-build exports every Rust class wrapped in a Proxy, so it can
// reset the WebAssembly instance after a crash. Each time the runtime looks up
// a handler on such an object, the Proxy builds a new Proxy around that method
// (an object, a closure and a trap call), and every field the glue reads on
// the object goes through a trap too. A room is called once per WebSocket
// frame, so that was paid on every frame (see BENCHMARKS.md). Here
// `webSocketMessage` calls the Rust methods directly, on a plain handle that
// carries the two fields the glue reads; the crash recovery stays:
// - the room is still constructed through worker-build's wrapper, which
//   rebuilds it on a fresh WebAssembly instance after a reset, and the handle
//   is read again through the wrapper whenever the instance has changed;
// - a frame that meets a crashed instance goes through the wrapper's own
//   handler, which resets the instance first;
// - a frame that crashes the instance marks it as crashed, as that handler would.
// Every other event (the upgrade, closes, errors, the alarm) is rare and goes
// through the wrapper unchanged.
//
// Short text frames, most of them, go to `webSocketText` with the frame, the
// peer id and the time as arguments, so the Rust code need not call back out
// for each (see that method in src/room.rs). While Rust handles a text frame,
// this module holds the frame and its socket for `__noomForwardSignal`, which
// relays a signal by slicing the frame as the runtime delivered it.
import { DurableObject } from 'cloudflare:workers';
import worker, { RoomObject as WrappedRoom, LobbyObject } from '../build/index.js';

/** The Rust methods themselves (the wrapper only traps construction of the class). */
const { webSocketMessage, webSocketText } = WrappedRoom.prototype;

/** Text frames up to this many UTF-16 units go to `webSocketText`. */
const SHORT_FRAME_UNITS = WrappedRoom.shortFrameUnits();

/** worker-build's record of the WebAssembly instance: crashed, and which one it is. */
const wasmState = globalThis.__worker_init_state ?? { criticalError: false, instanceId: 0 };

/** The text frame being handled and the socket it came from, while Rust handles it. */
let frameInHand;
let senderInHand;

/**
 * Sends `to` the signal in hand: the head Rust wrote on the sender's socket
 * (`{"type":"signal","from":"<id>","data":`), UTF-16 units `start..end` of the
 * frame (its `data`, as the sender wrote it), and `}`. Called from Rust for
 * `Effect::Forward`, only for an ASCII frame; false if nothing is in hand.
 */
globalThis.__noomForwardSignal = (to, start, end) => {
  const head = senderInHand?.__noomSignalHead;
  if (head === undefined || frameInHand === undefined) return false;
  to.send(head + frameInHand.slice(start, end) + '}');
  return true;
};

export class RoomObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.room = new WrappedRoom(ctx, env);
    this.handleOf = -1;
    this.handle = null;
  }

  /**
   * The Rust room without the Proxy: the glue's methods only read
   * `__wbg_ptr` and `__wbg_inst` on `this`. Read again through the wrapper
   * (which rebuilds the room first) whenever the WebAssembly instance changed.
   */
  rustRoom() {
    if (this.handleOf !== wasmState.instanceId) {
      this.handle = { __wbg_ptr: this.room.__wbg_ptr, __wbg_inst: this.room.__wbg_inst };
      this.handleOf = wasmState.instanceId;
    }
    return this.handle;
  }

  webSocketMessage(ws, message) {
    if (wasmState.criticalError) return this.room.webSocketMessage(ws, message);
    try {
      if (typeof message === 'string') {
        frameInHand = message;
        senderInHand = ws;
        // Most frames are short text from a socket whose peer id Rust wrote
        // on it: hand over the frame, the id and the time in one call.
        // `false` means Rust needs the socket itself (see `webSocketText`).
        const peer = ws.__noomPeer;
        if (peer !== undefined && message.length <= SHORT_FRAME_UNITS) {
          const handled = webSocketText.call(this.rustRoom(), message, peer, Date.now());
          if (handled !== false) return handled;
        }
      }
      return webSocketMessage.call(this.rustRoom(), ws, message);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) wasmState.criticalError = true;
      throw e;
    } finally {
      frameInHand = undefined;
      senderInHand = undefined;
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
