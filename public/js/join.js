// The lobby's Join box: what someone typed, read as a room. Only the lobby
// loads this; the meeting page reads its room from the URL (names.js).

import { isValidRoomName } from './names.js';

/**
 * A meeting code as people type it back: in any case, with spaces for the
 * dashes ("Abc defg hij"). Codes are lower case and room names
 * case-sensitive, so a phone's capital first letter would open another room.
 */
const TYPED_CODE = /^([a-z]{3})[\s-]+([a-z]{4})[\s-]+([a-z]{3})$/i;

/**
 * Reads what someone typed in "Join": a code (typed loosely, as above), a
 * room name (its case kept) or a whole invite link (taken as it is).
 * @returns {{room: string}|{error: string}}
 */
export function parseRoomInput(input) {
  let text = String(input ?? '').trim();
  if (!text) return { error: 'Type a meeting code or room name.' };
  const fromLink = text.match(/\/r\/([^/?#\s]+)/);
  const code = text.match(TYPED_CODE);
  if (fromLink) {
    try { text = decodeURIComponent(fromLink[1]); } catch { text = fromLink[1]; }
  } else if (code) {
    text = `${code[1]}-${code[2]}-${code[3]}`.toLowerCase();
  }
  if (text.length > 64) return { error: 'Room names are at most 64 characters.' };
  if (!isValidRoomName(text)) {
    return { error: 'Room names use only letters, digits, "-" and "_" (no spaces).' };
  }
  return { room: text };
}
