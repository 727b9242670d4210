// The lobby at `/`: start a meeting, join one by code or name, go back to a
// recent one, see public rooms.

import { el, byId, show } from './dom.js';
import { roomPath, nameProblem, loadName, saveName, recentMeetings, rememberMeeting, keepRecent } from './names.js';
import { parseRoomInput } from './join.js';
import { canShareSheet, inviteLink, shareInvite } from './invite.js';

const REFRESH_MS = 5000;

const lobby = {
  name: byId('name'),
  newMeeting: byId('new-meeting'),
  later: byId('later'),
  laterBox: byId('later-box'),
  laterLink: byId('later-link'),
  laterStatus: byId('later-status'),
  laterRoom: null,
  joinForm: byId('join-form'),
  joinRoom: byId('join-room'),
  isPublic: byId('public'),
  error: byId('lobby-error'),
  list: byId('public-list'),
  empty: byId('public-empty'),
  recent: byId('recent'),
  recentList: byId('recent-list'),
  refreshTimer: 0,
  refreshing: null,
};

function showError(message) {
  lobby.error.textContent = message ?? '';
  show(lobby.error, Boolean(message));
}

/** Remembers the name if it is valid; a missing name is asked again on the room page. */
function rememberName() {
  const name = lobby.name.value.trim();
  if (name && !nameProblem(name)) saveName(name);
  return name;
}

function meetingUrl(room) {
  return roomPath(room, lobby.isPublic.checked);
}

/**
 * A new meeting's code from the server (random, unguessable), or null with
 * the reason shown. `button` is disabled meanwhile, and stays so on success
 * (a second click while the page leaves would make a second meeting).
 */
async function newRoom(button) {
  showError(null);
  const name = rememberName();
  if (name && nameProblem(name)) { showError(nameProblem(name)); return null; }
  button.disabled = true;
  try {
    const res = await fetch('/api/rooms', { method: 'POST' });
    if (!res.ok) throw new Error(`the server answered ${res.status}`);
    const { room } = await res.json();
    return room;
  } catch (err) {
    showError(`Could not create a meeting: ${err.message}. Check your connection and try again.`);
    button.disabled = false;
    return null;
  }
}

async function createMeeting() {
  const room = await newRoom(lobby.newMeeting);
  if (room) window.location.assign(meetingUrl(room));
}

/**
 * A meeting for later: its link to pass on now, for everyone to open when
 * it is time. A room needs nothing made in advance, so this only picks the
 * code; it goes in the recent list, where the link is one click away then.
 */
async function createForLater() {
  const room = await newRoom(lobby.later);
  if (!room) return;
  lobby.later.disabled = false; // another one, if wanted
  lobby.laterRoom = room;
  rememberMeeting(room, lobby.isPublic.checked);
  renderRecent();
  lobby.laterLink.href = meetingUrl(room);
  lobby.laterLink.textContent = inviteLink(room);
  lobby.laterStatus.textContent = '';
  show(lobby.laterBox, true);
}

function copyLaterLink() {
  shareInvite(lobby.laterRoom, (message) => { lobby.laterStatus.textContent = message; });
}

function joinMeeting(event) {
  event.preventDefault();
  const parsed = parseRoomInput(lobby.joinRoom.value);
  if (parsed.error) {
    showError(parsed.error);
    lobby.joinRoom.focus();
    return;
  }
  const name = rememberName();
  if (name && nameProblem(name)) { showError(nameProblem(name)); return; }
  window.location.assign(meetingUrl(parsed.room));
}

/** One row of a room list: the room's name as a link to `href`, `detail` beside it, then `extra`. */
function roomItem(room, href, detail, extra) {
  return el('li', { class: 'room-item', dataset: { room } },
    el('a', { href, class: 'room-link' }, el('span', { class: 'room-name', text: room }), detail), extra);
}

function renderRooms(rooms) {
  const items = rooms.map(({ room, peers }) => roomItem(room, roomPath(room), el('span', {
    class: 'room-count',
    'data-testid': 'room-count',
    'aria-label': `${peers} ${peers === 1 ? 'person' : 'people'}`,
    text: String(peers),
  })));
  lobby.list.replaceChildren(...items);
  show(lobby.empty, items.length === 0);
}

/** When a recent meeting was: the time if today, else the day. */
function formatWhen(at, now = new Date()) {
  const date = new Date(at);
  return date.toDateString() === now.toDateString()
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString([], { day: 'numeric', month: 'short' });
}

/** The meetings this browser joined or created lately (from localStorage; nothing asks the server). */
function renderRecent() {
  const items = recentMeetings().map(({ room, public: isPublic, at }) => roomItem(room, roomPath(room, isPublic),
    el('time', { class: 'room-when', datetime: new Date(at).toISOString(), text: formatWhen(at) }),
    el('button', {
      class: 'room-forget',
      type: 'button',
      title: 'Remove from this list',
      'aria-label': `Remove ${room} from your recent meetings`,
      'data-testid': 'forget-recent',
      text: '×',
      on: { click: () => forgetMeeting(room) },
    })));
  lobby.recentList.replaceChildren(...items);
  show(lobby.recent, items.length > 0);
}

/**
 * Takes `room` off the recent meetings (a shared computer, a meeting that
 * is over). Focus moves to the next row's button, so a keyboard can clear
 * the list one press after another, or to the Join box when it is empty.
 */
function forgetMeeting(room) {
  const list = recentMeetings();
  const index = list.findIndex((e) => e.room === room);
  keepRecent(list.filter((e) => e.room !== room));
  renderRecent();
  const buttons = lobby.recentList.querySelectorAll('.room-forget');
  (buttons[Math.min(index, buttons.length - 1)] ?? lobby.joinRoom).focus();
}

async function refreshRooms() {
  if (lobby.refreshing) return lobby.refreshing;
  lobby.refreshing = (async () => {
    try {
      const res = await fetch('/api/rooms', { cache: 'no-store' });
      if (!res.ok) return;
      const body = await res.json();
      renderRooms(Array.isArray(body.rooms) ? body.rooms : []);
    } catch { /* keep the last list; try again on the next tick */ }
  })();
  try { await lobby.refreshing; } finally { lobby.refreshing = null; }
}

// The list refreshes every few seconds while the tab is visible, and at once
// when it becomes visible again.
function scheduleRefresh() {
  clearInterval(lobby.refreshTimer);
  lobby.refreshTimer = 0;
  if (document.hidden) return;
  refreshRooms();
  lobby.refreshTimer = setInterval(refreshRooms, REFRESH_MS);
}

lobby.name.value = loadName();
renderRecent();
lobby.name.addEventListener('change', rememberName);
lobby.newMeeting.addEventListener('click', createMeeting);
lobby.later.addEventListener('click', createForLater);
byId('later-copy').addEventListener('click', copyLaterLink);
if (canShareSheet()) byId('later-copy').textContent = 'Share'; // a phone's share sheet, as in the meeting
lobby.joinForm.addEventListener('submit', joinMeeting);
lobby.joinRoom.addEventListener('input', () => showError(null));
document.addEventListener('visibilitychange', scheduleRefresh);
scheduleRefresh();

// Back from a meeting, the browser may show this page as it was left (the
// back/forward cache, in every browser now): "New meeting", disabled as the
// page left, works again, and the name and the lists catch up with the meeting.
window.addEventListener('pageshow', (event) => {
  if (!event.persisted) return;
  lobby.newMeeting.disabled = false;
  lobby.name.value = loadName() || lobby.name.value;
  renderRecent();
  scheduleRefresh();
});
