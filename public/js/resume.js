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
 * @returns {{link: string} | {resume: string[]} | {resumed: string|null, mine: string[]} | {bye: true} | null}
 */
export function linkSignalIn(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  if ('link' in data) return isToken(data.link) ? { link: data.link } : null;
  if ('resume' in data) {
    return Array.isArray(data.resume) ? { resume: data.resume.slice(0, MAX_PROOFS).filter(isToken) } : null;
  }
  if ('resumed' in data) {
    const mine = Array.isArray(data.mine) ? data.mine.slice(0, MAX_PROOFS).filter(isToken) : [];
    return { resumed: isToken(data.resumed) ? data.resumed : null, mine };
  }
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
 *
 * A claim also clears away ghosts: the server may still list the claimer's old
 * socket for a while (it has not noticed it is gone), and a link with that old
 * id will never work again. Whoever holds a link (or a key it retired) that a
 * claim proves is the claimer's old one drops it, and an answer carries the
 * answerer's own old keys (`mine`) so the claimer can do the same.
 * @param {object} opts
 * @param {Map<string, object>} opts.peers  the meeting's peers by id, read only
 * @param {() => string|null} opts.selfId
 * @param {(to: string, data: object) => void} opts.signal  sends `signal` data to a peer
 * @param {(info: object) => void} opts.connect  a new link to `info`, this side offering
 * @param {(peer: object, info: object) => void} opts.move  the link now belongs to `info.id`
 * @param {(peer: object) => void} opts.drop  a link that will not be used again: remove it quietly
 * @param {(peer: object) => void} opts.expired  nobody claimed a parked link: that person has left
 * @param {(peer: object) => object} opts.replace  the other side started a new link: a new peer in
 *   place of `peer`, waiting for its offer
 */
export function createLinkKeeper({ peers, selfId, signal, connect, move, drop, expired, replace }) {
  /** Peers asked to take back a parked link: id → {info, proofs: proof → parked peer or null, timer} */
  const claims = new Map();
  /**
   * Since our last reconnect, for PARK_MS: the links we kept (parked), and
   * the keys of those we could not keep, each with the old id of its peer.
   */
  let ours = { parked: new Set(), retired: new Map() };
  let oursTimer = 0;

  function unpark(peer) {
    clearTimeout(peer.parked);
    peer.parked = 0;
    ours.parked.delete(peer);
  }

  function forget(id) {
    clearTimeout(claims.get(id)?.timer);
    claims.delete(id);
  }

  function remove(peer) {
    unpark(peer);
    forget(peer.id);
    drop(peer);
  }

  /** Our old keys, each proven for `to`: proof → the parked peer, or null for a retired key. */
  async function ourProofs(to) {
    const proofs = new Map();
    for (const peer of [...ours.parked]) {
      const proof = peers.get(peer.id) === peer ? await claimProof(peer.key, to) : null;
      if (proof) proofs.set(proof, peer);
    }
    for (const key of ours.retired.keys()) {
      const proof = await claimProof(key, to);
      if (proof) proofs.set(proof, null);
    }
    return proofs;
  }

  /**
   * The links (`peer`) and retired keys (`id`, the old peer id) that `proofs`,
   * made for us by `from`, name; never the link with `from` itself.
   */
  async function named(proofs, from) {
    const me = selfId();
    const found = [];
    for (const peer of [...peers.values()]) {
      const proof = peer.key && peer.id !== from ? await claimProof(peer.key, me) : null;
      if (proof && proofs.includes(proof)) found.push({ peer, proof });
    }
    for (const [key, id] of ours.retired) {
      const proof = await claimProof(key, me);
      if (proof && proofs.includes(proof)) found.push({ id, proof });
    }
    return found;
  }

  /** Drops the link with `id`, or stops waiting on it: it is `from`'s old socket. */
  function dropGhost(id, from) {
    if (id === from) return;
    const ghost = peers.get(id);
    if (ghost) remove(ghost);
    else forget(id);
  }

  /** After our reconnect: asks `info` whether one of our old links is its. */
  async function claim(info) {
    const me = selfId();
    const proofs = await ourProofs(info.id);
    if (selfId() !== me) return; // another welcome (or the end) came meanwhile
    if (!proofs.size) {
      connect(info);
      return;
    }
    forget(info.id);
    claims.set(info.id, { info, proofs, timer: setTimeout(() => settle(info.id, null), CLAIM_WAIT_MS) });
    signal(info.id, { resume: [...proofs.keys()] });
  }

  /** A claim was answered (`proof` null: not theirs to keep) or timed out. */
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
    if (stale) remove(stale);
    connect(pending.info);
  }

  /** The answerer's own old keys (`mine`): links we hold with its old socket go. */
  async function dropGhostsOf(from, mine) {
    const me = selfId();
    const found = await named(mine, from);
    if (selfId() !== me) return;
    for (const { peer, id } of found) {
      if (!peer) dropGhost(id, from);
      else if (peers.get(peer.id) === peer) dropGhost(peer.id, from);
    }
  }

  /** Another page reconnected and asks whether we hold its link; answers either way. */
  async function answer(from, proofs) {
    const me = selfId();
    const found = await named(proofs, from);
    const mine = await ourProofs(from);
    if (selfId() !== me) return;
    let taken = null;
    for (const { peer, id, proof } of found) {
      if (!peer) {
        dropGhost(id, from);
      } else if (peers.get(peer.id) === peer && peer.id !== from) {
        // The link need not be parked: its `left` may not have come yet (the
        // server had not noticed the old socket go). Too late if the claimer
        // gave up waiting and has keyed a new link meanwhile; and a link that
        // lost its media will not work again: either way it goes.
        if (!taken && keeper.isCarryingMedia(peer) && !peers.get(from)?.key) {
          unpark(peer);
          taken = proof;
          const known = peers.get(from)?.info ?? { name: peer.info.name };
          move(peer, { ...known, id: from });
        } else {
          dropGhost(peer.id, from);
        }
      }
    }
    signal(from, { resumed: taken, ...(mine.size ? { mine: [...mine.keys()] } : {}) });
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
     * Our new `welcome`: each peer in it is asked whether one of our old links
     * (`parked`, still carrying media, or `retired`: key → old peer id, links
     * that were not) is theirs, or linked afresh when we have none.
     */
    rejoined(infos, parked, retired) {
      for (const id of [...claims.keys()]) forget(id);
      ours = { parked: new Set(parked), retired };
      clearTimeout(oursTimer);
      oursTimer = setTimeout(() => { ours = { parked: new Set(), retired: new Map() }; }, PARK_MS);
      for (const info of infos) {
        if (parked.length || retired.size) claim(info);
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
      clearTimeout(oursTimer);
    },

    /** A `{link}`, `{resume}`, `{resumed}` or `{bye}` from another page (see `linkSignalIn`). */
    onSignal(from, message) {
      if ('resume' in message) {
        answer(from, message.resume);
      } else if ('resumed' in message) {
        settle(from, message.resumed);
        if (message.mine?.length) dropGhostsOf(from, message.mine);
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
