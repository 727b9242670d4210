// Room names, invite links and the display name: the rules the server checks,
// checked here first so people get an explanation before leaving the page.

export const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;
export const NAME_MAX = 32;
const NAME_KEY = 'noom.name';
const RECENT_KEY = 'noom.recent';
const RECENT_MAX = 5;
// C0 and C1 control characters, which the server refuses in names.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

export function isValidRoomName(room) {
  return ROOM_NAME.test(room);
}

/** A meeting page's path; `isPublic` asks for the room to be listed if this visit opens it. */
export function roomPath(room, isPublic = false) {
  return `/r/${encodeURIComponent(room)}${isPublic ? '?public=1' : ''}`;
}

/** The tab's title: the room, after the count of chat messages not yet seen. */
export function meetingTitle(room, unread = 0) {
  const count = unread > 99 ? '99+' : String(unread);
  return `${unread > 0 ? `(${count}) ` : ''}${room} · Noom`;
}

/** The room in a meeting page's path `/r/<room>`, or null. */
export function roomFromPath(pathname = window.location.pathname) {
  const match = pathname.match(/^\/r\/([^/]+)\/?$/);
  if (!match) return null;
  try { return decodeURIComponent(match[1]); } catch { return null; }
}

/**
 * A text's length as the contract counts it: Unicode scalar values, so an
 * emoji is one character (JavaScript's `length` counts it as two).
 */
export function charCount(text) {
  return [...text].length;
}

/** Why a display name is refused, or null when it is fine. */
export function nameProblem(name) {
  const trimmed = String(name ?? '').trim();
  if (!trimmed) return 'Enter your name.';
  if (charCount(trimmed) > NAME_MAX) return `Names are at most ${NAME_MAX} characters.`;
  if (CONTROL.test(trimmed)) return 'Names cannot contain control characters.';
  return null;
}

/** What the pre-join screen says of who is in the meeting ("Ann and Bob are"), from a `peek` answer. */
export function presenceText(peers, maxPeers) {
  const names = peers.map((peer) => String(peer?.name ?? 'Someone'));
  if (names.length === 0) return 'No one else is here yet.';
  const who = names.length === 1 ? `${names[0]} is`
    : names.length <= 3 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are`
      : `${names.slice(0, 2).join(', ')} and ${names.length - 2} others are`;
  const full = Number.isInteger(maxPeers) && names.length >= maxPeers
    ? ` It is full (${maxPeers} people): you can join when someone leaves.` : '';
  return `${who} in this meeting.${full}`;
}

export function loadName() {
  try { return localStorage.getItem(NAME_KEY) ?? ''; } catch { return ''; }
}

export function saveName(name) {
  try { localStorage.setItem(NAME_KEY, String(name).trim()); } catch { /* private mode */ }
}

/**
 * The recent-meetings list with `entry` ({room, public, at}) in front: each
 * room once, at its latest visit, at most `max` long.
 */
export function withRecent(list, entry, max = RECENT_MAX) {
  return [entry, ...list.filter((e) => e.room !== entry.room)].slice(0, max);
}

/** Meetings joined or made on this browser lately, newest first. Kept here only, never sent. */
export function recentMeetings() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(list)
      ? list.filter((e) => typeof e?.room === 'string' && isValidRoomName(e.room) && Number.isFinite(e.at))
      : [];
  } catch {
    return [];
  }
}

/** Notes `room` (with `?public=1` or not) as joined or made here just now. */
export function rememberMeeting(room, isPublic, at = Date.now()) {
  keepRecent(withRecent(recentMeetings(), { room, public: Boolean(isPublic), at }));
}

export function keepRecent(list) {
  try { localStorage.setItem(RECENT_KEY, JSON.stringify(list)); } catch { /* private mode */ }
}
