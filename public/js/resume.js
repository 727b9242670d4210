// Keeping a call's media through a signaling reconnect (docs/protocol.md has
// the story). Peer connections outlive a dropped socket, but the new socket
// has a new id. Each link has a random key; a reconnected page parks its
// connected links and asks each peer in its `welcome` whether one is theirs,
// with proofs (a hash of key and addressee); the holder moves the link to the
// new id. A proven link not taken back was an old socket's (a ghost): it goes.

const MAX_PROOFS = 32; // a room holds at most 8 people
/** How long a parked link waits to be claimed: a server restart and a few reconnect tries. */
const PARK_MS = 15_000;
/** How long a claim waits for its answer before linking afresh. */
export const CLAIM_WAIT_MS = 3_000;

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');

/** A fresh link key: 128 random bits. */
export const newLinkKey = () => hex(crypto.getRandomValues(new Uint8Array(16)));

/**
 * The proof of holding link `key`, made for peer `to`: 128 bits of SHA-256.
 * Null without `crypto.subtle` (a page not on https or localhost).
 */
export async function claimProof(key, to) {
  if (!globalThis.crypto?.subtle) return null;
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`noom-link:${key}:${to}`));
  return hex(new Uint8Array(digest).slice(0, 16));
}

const isToken = (value) => typeof value === 'string' && value.length > 0 && value.length <= 64;
const tokens = (list) => (Array.isArray(list) ? list.slice(0, MAX_PROOFS).filter(isToken) : []);

/**
 * `signal` data as a link message, or null for anything else (an offer, a
 * candidate, a reaction) or anything malformed.
 * @returns {{link: string} | {resume: string[]} | {resumed: string|null, mine: string[]} | {bye: true} | null}
 */
export function linkSignalIn(data) {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  if ('link' in data) return isToken(data.link) ? { link: data.link } : null;
  if ('resume' in data) return Array.isArray(data.resume) ? { resume: tokens(data.resume) } : null;
  if ('resumed' in data) return { resumed: isToken(data.resumed) ? data.resumed : null, mine: tokens(data.mine) };
  return data.bye === true ? { bye: true } : null;
}

/**
 * The link-keeping half of a meeting. The meeting owns the peers ({id, info,
 * link}) and what a move or a departure means; this sets each peer's `key`,
 * `parked` (the timer ending a parked link, or 0) and `leaving`.
 * `peers`: the meeting's, by id, read only; `selfId()`; `signal(to, data)`;
 * `connect(info)`: a new link, this side offering; `move(peer, info)`: the
 * link now belongs to `info.id`; `drop(peer)`: remove it quietly;
 * `expired(peer)`: nobody claimed a parked link, the person left;
 * `replace(peer)`: the other side started over, a new peer in its place.
 */
export function createLinkKeeper({ peers, selfId, signal, connect, move, drop, expired, replace }) {
  /** Our open claims: peer id → {info, proofs: proof → parked peer or null, timer} */
  const claims = new Map();
  /** For PARK_MS after our reconnect: links we kept, and keys of those we could not (→ old peer id). */
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

  /** Drops the link with `id` (or our claim to it): an old socket of `from`. */
  function dropGhost(id, from) {
    if (id === from) return;
    const ghost = peers.get(id);
    if (ghost) {
      unpark(ghost);
      drop(ghost);
    }
    forget(id);
  }

  /** Our old keys proven for `to`: proof → the parked peer, or null for a retired key. */
  async function ourProofs(to) {
    const proofs = new Map();
    for (const peer of [...ours.parked]) {
      if (peers.get(peer.id) === peer) proofs.set(await claimProof(peer.key, to), peer);
    }
    for (const key of ours.retired.keys()) proofs.set(await claimProof(key, to), null);
    proofs.delete(null);
    return proofs;
  }

  /** What `proofs`, made for us by `from`, name: our links (`peer`) and retired keys (`id`). */
  async function named(proofs, from) {
    const me = selfId();
    const found = [];
    for (const peer of [...peers.values()]) {
      const proof = peer.key && peer.id !== from ? await claimProof(peer.key, me) : null;
      if (proofs.includes(proof)) found.push({ peer, proof });
    }
    for (const [key, id] of ours.retired) {
      if (proofs.includes(await claimProof(key, me))) found.push({ id });
    }
    return found;
  }

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

  /** Our claim was answered (`proof` null: nothing to take back) or timed out. */
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
    if (peers.has(id)) dropGhost(id); // a parked link under the same id: not theirs to keep
    connect(pending.info);
  }

  /** A reconnected page asks whether we hold its link; answers either way. */
  async function answer(from, proofs) {
    const me = selfId();
    const found = await named(proofs, from);
    const mine = await ourProofs(from);
    if (selfId() !== me) return;
    let taken = null;
    for (const { peer, id, proof } of found) {
      if (!peer) {
        dropGhost(id, from);
      } else if (peers.get(peer.id) === peer) {
        // Its `left` may not have come yet. Not if the claimer gave up
        // waiting and keyed a new link, or if it lost its media: then it goes.
        if (!taken && keeper.isCarryingMedia(peer) && !peers.get(from)?.key) {
          unpark(peer);
          taken = proof;
          move(peer, { ...(peers.get(from)?.info ?? { name: peer.info.name }), id: from });
        } else {
          dropGhost(peer.id, from);
        }
      }
    }
    signal(from, { resumed: taken, ...(mine.size ? { mine: [...mine.keys()] } : {}) });
  }

  /** The answerer's own old keys: our links with its old socket go. */
  async function dropGhostsOf(from, mine) {
    const me = selfId();
    const found = await named(mine, from);
    if (selfId() !== me) return;
    for (const { peer, id } of found) {
      if (!peer) dropGhost(id, from);
      else if (peers.get(peer.id) === peer) dropGhost(peer.id, from);
    }
  }

  const keeper = {
    /** A link this side offers gets its key, sent ahead of the offer. */
    keyNewLink(peer) {
      peer.key = newLinkKey();
      signal(peer.id, { link: peer.key });
    },

    isCarryingMedia(peer) {
      return Boolean(peer.key) && !peer.leaving && peer.link.pc.connectionState === 'connected';
    },

    /** Keeps a link up while its other end (or this side) gets a new socket. */
    park(peer) {
      clearTimeout(peer.parked);
      peer.parked = setTimeout(() => expired(peer), PARK_MS);
    },

    /**
     * Our new `welcome`: each peer in it is asked about our old links
     * (`parked`, or `retired`: key → old peer id), or linked afresh if none.
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

    /** The `info` of an open claim to `id`, to keep up to date meanwhile. */
    claimedInfo: (id) => claims.get(id)?.info ?? null,

    /** `id` left: a claim to it will not be answered. */
    forget,

    stop() {
      for (const id of [...claims.keys()]) forget(id);
      clearTimeout(oursTimer);
    },

    /** A message from `linkSignalIn`, sent by `from`. */
    onSignal(from, message) {
      if ('resume' in message) {
        answer(from, message.resume);
      } else if ('resumed' in message) {
        settle(from, message.resumed);
        if (message.mine?.length) dropGhostsOf(from, message.mine);
      } else {
        const peer = peers.get(from);
        if (!peer) return;
        if (message.bye) peer.leaving = true;
        // A new key for a link we have: the other side started over, so do we.
        else if (peer.key && peer.key !== message.link) replace(peer).key = message.link;
        else peer.key = message.link;
      }
    },
  };
  return keeper;
}
