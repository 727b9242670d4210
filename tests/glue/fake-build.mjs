// A stand-in for the Rust build (build/index.js) as src/entry.js sees it: the
// instance state worker-build keeps on globalThis, and a room that numbers its
// sockets the way src/room.rs does (`RoomInner::peer_id`, `SocketNumbers`):
// a socket without a peer mark gets marked and numbered on its first frame
// down the slow path; the numbers live in the instance and start at 0.
const state = { criticalError: false, instanceId: 1 };
globalThis.__worker_init_state = state;

/** Every frame the room handled: which peer it was credited to, and by which path. */
export const handled = [];

let instance;
function freshInstance() {
  instance = { numbers: new Map(), next: 0, buffer: new Uint8Array(256 * 3) };
}
freshInstance();

/** What worker-build does after a crash: a new instance, with a new id. */
export function resetInstance() {
  freshInstance();
  state.instanceId += 1;
}

const decoder = new TextDecoder();

export class RoomObject {
  constructor() {
    this.__wbg_ptr = 8;
    this.__wbg_inst = state.instanceId;
  }

  static shortFrameUnits() {
    return 256;
  }

  static frameBuffer() {
    return instance.buffer;
  }

  /** The fast path: a frame already in the buffer, its sender named by number. */
  webSocketText(len, number) {
    const peer = instance.numbers.get(number);
    if (peer === undefined) return false;
    handled.push({ peer, text: decoder.decode(instance.buffer.subarray(0, len)), path: 'text' });
    return undefined;
  }

  /** The slow path: the socket itself, whose tag is its peer id. */
  webSocketMessage(ws, message) {
    if (ws.__noomPeer === undefined) {
      ws.__noomPeer = ws.tag;
      const number = instance.next++;
      instance.numbers.set(number, ws.tag);
      globalThis.__noomMarkNumber(ws, number);
    }
    handled.push({ peer: ws.__noomPeer, text: message, path: 'message' });
    return undefined;
  }

  webSocketClose() {}
  webSocketError() {}
  fetch() {}
  alarm() {}
}

export class LobbyObject {}
export default {};
