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

const encoder = new TextEncoder();
let frameView = null;
let frameViewOf = -1;

/** Rust's frame buffer, viewed again after the memory grew or was replaced. */
function frameBuffer() {
  if (frameViewOf !== wasmState.instanceId || frameView.byteLength === 0) {
    frameView = WrappedRoom.frameBuffer();
    frameViewOf = wasmState.instanceId;
  }
  return frameView;
}

/** The text frame being handled and its socket, while Rust handles it. */
let frameInHand;
let senderInHand;

/**
 * `Effect::Forward`: head + units start..end + `}`, if the frame in hand is
 * ASCII (its `bytes` of UTF-8 are as many as its UTF-16 units).
 */
globalThis.__noomForwardSignal = (to, start, end, bytes) => {
  const head = senderInHand?.__noomSignalHead;
  if (head === undefined || frameInHand === undefined || frameInHand.length !== bytes) return false;
  to.send(head + frameInHand.slice(start, end) + '}');
  return true;
};

/**
 * How Rust numbers a socket (`SocketNumbers` in src/room.rs): the number, and
 * the WebAssembly instance it belongs to. After a reset the new instance
 * numbers from 0 again, so a number from the old one could name another
 * socket; only a number of the current instance is passed on.
 */
globalThis.__noomMarkNumber = (ws, number) => {
  ws.__noomNumber = number;
  ws.__noomNumberOf = wasmState.instanceId;
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
        let number = ws.__noomNumber;
        if (number !== undefined && ws.__noomNumberOf !== wasmState.instanceId) {
          // Marked by an instance since replaced: drop its peer mark too, so
          // the slow path marks the socket afresh (peer, signal head, number).
          number = undefined;
          ws.__noomPeer = undefined;
        }
        if (number !== undefined && message.length <= SHORT_FRAME_UNITS) {
          const { written } = encoder.encodeInto(message, frameBuffer());
          // `false`: a socket this instance does not know, or needs in hand.
          const handled = webSocketText.call(this.rustRoom(), written, number, Date.now());
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
