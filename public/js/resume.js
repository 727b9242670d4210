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
