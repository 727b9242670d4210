// The meeting page at `/r/<room>`: reads the URL, runs the pre-join screen (or
// skips it with `?autojoin=1&name=...`), then the meeting, then the end screen.

import { byId, show } from './dom.js';
import { roomFromPath, roomPath, isValidRoomName, meetingTitle, nameProblem, loadName, saveName } from './names.js';
import { openLocalMedia } from './media.js';
import { runPrejoin } from './prejoin.js';
import { startMeeting } from './meeting.js';
import { prefetchIceServers } from './peers.js';
import { preconnect, roomSocketUrl, watchRoom } from './signaling.js';

const params = new URLSearchParams(window.location.search);
const room = roomFromPath();
const isPublic = params.get('public') === '1';

function showEnded(title, text, again = 'Rejoin') {
  byId('ended-title').textContent = title;
  byId('ended-text').textContent = text ?? '';
  const rejoin = byId('rejoin');
  rejoin.href = room && isValidRoomName(room) ? roomPath(room, isPublic) : '/';
  rejoin.textContent = again;
  show(rejoin, Boolean(room && isValidRoomName(room)));
  show(byId('ended'), true);
}

async function enterMeeting(choice) {
  await startMeeting({
    room,
    name: choice.name,
    isPublic,
    audio: choice.audio,
    video: choice.video,
    micOn: choice.micOn,
    notices: choice.notices ?? [],
    onEnd({ reason, message, maxPeers }) {
      if (reason === 'name_invalid') {
        prejoin(message);
      } else if (reason === 'full') {
        // The limit is the server's (MAX_PEERS), told with `room_full`.
        const size = Number.isInteger(maxPeers) ? `${maxPeers} people, as many as it holds` : 'as many people as it holds';
        showEnded('This meeting is full', `It already has ${size}.`, 'Try again');
      } else {
        showEnded('You left the meeting');
      }
    },
  });
}

async function prejoin(error) {
  const choice = await runPrejoin({
    room, name: params.get('name') ?? loadName(), error, watchRoom: (onPeek) => watchRoom(roomSocketUrl(room), onPeek),
  });
  await enterMeeting(choice);
}

async function autojoin(name) {
  saveName(name);
  const media = await openLocalMedia({ audio: true, video: true });
  const notices = [...new Set(Object.values(media.errors))];
  await enterMeeting({ name, audio: media.audio, video: media.video, micOn: true, notices });
}

function main() {
  if (!room || !isValidRoomName(room)) {
    showEnded('No such meeting', 'Meeting links look like /r/abc-defg-hij; room names use letters, digits, "-" and "_".');
    return;
  }
  byId('room-title').textContent = room;
  document.title = meetingTitle(room);
  // Both are needed the moment the user joins; get them while the camera starts.
  prefetchIceServers();
  preconnect(roomSocketUrl(room));
  const name = (params.get('name') ?? '').trim();
  if (params.get('autojoin') === '1' && name && !nameProblem(name)) {
    autojoin(name);
  } else {
    prejoin(null);
  }
  // Back/forward cache: a restored page has a closed call; start over.
  window.addEventListener('pageshow', (event) => { if (event.persisted) window.location.reload(); });
}

main();
