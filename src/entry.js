// The module the runtime loads. Everything is in the Rust build; this file
// re-exports it and gives the Room's frames a faster way in. Why and how:
// "The class the runtime calls" in src/room.rs (comments here ship).
import { DurableObject } from 'cloudflare:workers';
import worker, { RoomObject as WrappedRoom, LobbyObject } from '../build/index.js';

/** The Rust methods themselves (the wrapper only traps construction). */
const { webSocketMessage, webSocketText } = WrappedRoom.prototype;

/** Text frames up to this many UTF-16 units go to `webSocketText`. */
const SHORT_FRAME_UNITS = WrappedRoom.shortFrameUnits();

/** worker-build's record of the WebAssembly instance: crashed, and which one. */
const wasmState = globalThis.__worker_init_state ?? { criticalError: false, instanceId: 0 };

/** The text frame being handled and its socket, while Rust handles it. */
let frameInHand;
let senderInHand;

/** `Effect::Forward` for an ASCII frame: head + units start..end + `}`. */
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

  /** The Rust room without the Proxy, read through it once per instance. */
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
        const peer = ws.__noomPeer;
        if (peer !== undefined && message.length <= SHORT_FRAME_UNITS) {
          // `false`: a peer new to the room, which needs the socket.
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
