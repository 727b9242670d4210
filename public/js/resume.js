// Keeping a call's media through a signaling reconnect.
//
// Media flows browser to browser; the server only introduced the two ends. When
// one end's socket drops (a network blip, a deploy restarting the server), its
// peer connections are usually still carrying sound and video. The server sees
// the new socket as a new peer with a new id, so without more, both ends would
// tear the connection down and negotiate a new one: a second or two of frozen
// video for everyone, on every reconnect.
//
// Instead each link gets a random key, sent by the side that makes the first
// offer (`{link}`), so only the two ends and the server know it. A page that
// reconnects keeps its links that are still connected ("parked") and asks each
// peer in the new `welcome` whether one of them is theirs (`{resume}`); a peer
// that holds a link with one of those keys moves it to the newcomer's new id
// and says so (`{resumed}`), and both carry on with the same connection. The
// claim carries proofs, not keys: a hash of the key and the addressee's id, so
// a claim sent to everyone tells nobody a key they could claim a link with.
// A peer whose `left` arrives while its link still carries media is parked the
// same way, for a while, in case it comes back; `{bye}` says it will not.

/** At most this many proofs are read from one claim (a room holds at most 8 people). */
const MAX_PROOFS = 32;
const MAX_TOKEN_LENGTH = 64;

/** A fresh link key: 128 random bits, as hex. */
export function newLinkKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The proof that one holds link `key`, made for the peer `to`: the first 128
 * bits of SHA-256 over both, as hex. Null where the browser has no
 * `crypto.subtle` (a page not served over https or from localhost).
 */
export async function claimProof(key, to) {
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`noom-link:${key}:${to}`));
  return [...new Uint8Array(digest).slice(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const isToken = (value) => typeof value === 'string' && value.length > 0 && value.length <= MAX_TOKEN_LENGTH;

/**
 * Reads `signal` data as a link message, or null when it is something else
 * (an offer, a candidate, a reaction) or malformed: another page's data is
 * never trusted to have the right shape.
 * @returns {{link: string} | {resume: string[]} | {resumed: string|null} | {bye: true} | null}
 */
export function linkSignalIn(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  if ('link' in data) return isToken(data.link) ? { link: data.link } : null;
  if ('resume' in data) {
    return Array.isArray(data.resume) ? { resume: data.resume.slice(0, MAX_PROOFS).filter(isToken) } : null;
  }
  if ('resumed' in data) return { resumed: isToken(data.resumed) ? data.resumed : null };
  if (data.bye === true) return { bye: true };
  return null;
}

/**
 * How long a link whose other end lost its socket (or whose own socket came
 * back) stays up waiting to be claimed back: long enough for a server restart
 * and the reconnect backoff's first steps.
 */
const PARK_MS = 15_000;

/** How long a reconnected page waits for a peer to answer its claim before linking afresh. */
const CLAIM_WAIT_MS = 3_000;

/**
 * The link-keeping half of a meeting: keys, parked links, claims and their
 * answers. The meeting owns the peers (objects with `id`, `info`, `link`) and
 * what a move or a departure means for the call; this sets each peer's `key`,
 * `parked` (the timer that ends a parked link, or 0) and `leaving`.
 * @param {object} opts
 * @param {Map<string, object>} opts.peers  the meeting's peers by id, read only
 * @param {() => string|null} opts.selfId
 * @param {(to: string, data: object) => void} opts.signal  sends `signal` data to a peer
 * @param {(info: object) => void} opts.connect  a new link to `info`, this side offering
 * @param {(peer: object, info: object) => void} opts.move  the link now belongs to `info.id`
 * @param {(peer: object) => void} opts.drop  a parked link that was not theirs: remove it quietly
 * @param {(peer: object) => void} opts.expired  nobody claimed a parked link: that person has left
 * @param {(peer: object) => object} opts.replace  the other side started a new link: a new peer in
 *   place of `peer`, waiting for its offer
 */
export function createLinkKeeper({ peers, selfId, signal, connect, move, drop, expired, replace }) {
  /** Peers asked to take back a parked link: id → {info, proofs: proof → peer, timer} */
  const claims = new Map();

  function unpark(peer) {
    clearTimeout(peer.parked);
    peer.parked = 0;
  }

  function forget(id) {
    clearTimeout(claims.get(id)?.timer);
    claims.delete(id);
  }

  /** After our reconnect: asks `info` whether one of `parked` is its link. */
  async function claim(info, parked) {
    const me = selfId();
    const proofs = new Map();
    for (const peer of parked) {
      const proof = await claimProof(peer.key, info.id);
      if (proof) proofs.set(proof, peer);
    }
    if (selfId() !== me) return; // another welcome (or the end) came meanwhile
    if (!proofs.size) {
      connect(info);
      return;
    }
    forget(info.id);
    claims.set(info.id, { info, proofs, timer: setTimeout(() => settle(info.id, null), CLAIM_WAIT_MS) });
    signal(info.id, { resume: [...proofs.keys()] });
  }

  /** A claim was answered (`proof` null: not theirs) or timed out. */
  function settle(id, proof) {
    const pending = claims.get(id);
    if (!pending) return;
    forget(id);
    const peer = proof === null ? null : pending.proofs.get(proof);
    if (peer?.parked && peers.get(peer.id) === peer) {
      unpark(peer);
      move(peer, pending.info);
      return;
    }
    // Nothing to take back. A parked link under the same id was not theirs to keep.
    const stale = peers.get(id);
    if (stale) {
      unpark(stale);
      drop(stale);
    }
    connect(pending.info);
  }

  /** Another page reconnected and asks whether we hold its link; answers either way. */
  async function answer(from, proofs) {
    const me = selfId();
    let found = null;
    for (const peer of [...peers.values()]) {
      if (peer.id === from || !keeper.isCarryingMedia(peer)) continue;
      const proof = await claimProof(peer.key, me);
      if (proof && proofs.includes(proof)) {
        found = { peer, proof };
        break;
      }
    }
    if (selfId() !== me) return;
    // The link need not be parked: its `left` may not have come yet (the
    // server had not noticed the old socket go). Too late if the claimer gave
    // up waiting and has keyed a new link meanwhile: then the old one goes.
    const held = found && peers.get(found.peer.id) === found.peer;
    const taken = held && !peers.get(from)?.key;
    if (held) unpark(found.peer);
    if (held && !taken) drop(found.peer);
    if (taken) {
      const known = peers.get(from)?.info ?? { name: found.peer.info.name };
      move(found.peer, { ...known, id: from });
    }
    signal(from, { resumed: taken ? found.proof : null });
  }

  const keeper = {
    /** A link this side offers gets its key, sent ahead of the offer. */
    keyNewLink(peer) {
      peer.key = newLinkKey();
      signal(peer.id, { link: peer.key });
    },

    /** Whether a peer's link still carries media and could be claimed back. */
    isCarryingMedia(peer) {
      return Boolean(peer.key) && !peer.leaving && peer.link.pc.connectionState === 'connected';
    },

    /** Keeps a link up while its other end (or this side) gets a new socket. */
    park(peer) {
      clearTimeout(peer.parked);
      peer.parked = setTimeout(() => expired(peer), PARK_MS);
    },

    /**
     * Our new `welcome`: each peer in it is asked whether one of our parked
     * links is theirs, or linked afresh when none is parked.
     */
    rejoined(infos, parked) {
      for (const id of [...claims.keys()]) forget(id);
      for (const info of infos) {
        if (parked.length) claim(info, parked);
        else connect(info);
      }
    },

    /** Our claim to `id` is still open: its `info`, to keep up to date meanwhile. */
    claimedInfo(id) {
      return claims.get(id)?.info ?? null;
    },

    /** `id` left: a claim to it will not be answered. */
    forget,

    /** The meeting ended: no timers left behind. */
    stop() {
      for (const id of [...claims.keys()]) forget(id);
    },

    /** A `{link}`, `{resume}`, `{resumed}` or `{bye}` from another page (see `linkSignalIn`). */
    onSignal(from, message) {
      if ('resume' in message) {
        answer(from, message.resume);
      } else if ('resumed' in message) {
        settle(from, message.resumed);
      } else {
        const peer = peers.get(from);
        if (!peer) return;
        if (message.bye) {
          peer.leaving = true;
        } else if (peer.key && peer.key !== message.link) {
          // A new key for a link we already have: the other side started over
          // (it stopped waiting for our answer to its claim). So do we.
          replace(peer).key = message.link;
        } else {
          peer.key = message.link;
        }
      }
    },
  };
  return keeper;
}
