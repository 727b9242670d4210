// The meeting: one signaling socket, one peer link per other participant, the
// local tracks, the controls. This is where messages from the server turn into
// tiles and peer connections, and clicks turn into `state` frames.
// A reconnect is a new peer to the server: links still carrying media are
// claimed back (resume.js), the rest rebuilt from `welcome.peers`.

import { byId, show } from './dom.js';
import { createSignaling, roomSocketUrl } from './signaling.js';
import { createPeerLink, videoLimitsFor, takeIceServers } from './peers.js';
import {
  openTrack, openScreen, listDevices, canChooseSpeaker, rememberDevice, rememberedDevices, watchLevel, watchReceiverLevel, watchSenderLevel, watchTalking, describeMediaError, playChime,
} from './media.js';
import { createChat, previewText } from './chat.js';
import { meetingTitle, rememberMeeting } from './names.js';
import { featuredKey, handsFirst, withHand } from './spotlight.js';
import { isPushToTalk, shortcutFor } from './shortcuts.js';
import { canShareSheet, shareInvite } from './invite.js';
import { fillReactionBar, reactionIn, showReaction } from './reactions.js';
import { CLAIM_WAIT_MS, createLinkKeeper, linkSignalIn } from './resume.js';
import { createTile, layoutGrid, renderPeople, toast, fillDeviceSelect, setToggle } from './ui.js';

/** The least time between two reactions one sends (a held click is not a flood of signals). */
const REACTION_GAP_MS = 250;

/** How long "your microphone is off" shows, and the least time between two. */
const MUTED_HINT_MS = 6000;
const MUTED_HINT_AGAIN_MS = 20_000;

const STATUS_TEXT = {
  connecting: 'Connecting…',
  joining: 'Joining…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

/** The booleans of a `state` frame, those it has. */
function pickState(msg) {
  const state = {};
  for (const key of ['audio', 'video', 'screen', 'hand']) {
    if (typeof msg[key] === 'boolean') state[key] = msg[key];
  }
  return state;
}

/**
 * Joins the room and runs the call until it ends, with the tracks (or null)
 * the pre-join screen opened. `notices`: device problems to show on arrival;
 * `onEnd({reason: 'left'|'full'|'name_invalid', message?, maxPeers?})`.
 */
export async function startMeeting({ room, name, isPublic, audio, video, micOn, notices = [], onEnd }) {
  const ui = {
    section: byId('meeting'),
    grid: byId('grid'),
    side: byId('side'),
    status: byId('status'),
    count: byId('participant-count'),
    countBox: byId('count'),
    people: byId('people-list'),
    toasts: byId('toasts'),
    mute: byId('btn-mute'),
    camera: byId('btn-camera'),
    screen: byId('btn-screen'),
    hand: byId('btn-hand'),
    react: byId('btn-react'),
    reactions: byId('reactions'),
    leave: byId('btn-leave'),
    invite: byId('btn-invite'),
    chatButton: byId('btn-chat'),
    peopleButton: byId('btn-people'),
    devicesButton: byId('btn-devices'),
    cameraSelect: byId('call-camera'),
    micSelect: byId('call-microphone'),
    speakerSelect: byId('call-speaker'),
    soundBlocked: byId('sound-blocked'),
    mutedHint: byId('muted-hint'),
    alone: byId('alone'),
    aloneInvite: byId('alone-invite'),
  };

  const call = {
    room,
    name,
    selfId: null,
    /** Our id before the last reconnect: the server may list that socket until it notices it is gone. */
    previousId: null,
    /** id → peer (see addPeer) */
    peers: new Map(),
    local: { audio, video, screen: null, micOn: Boolean(audio) && micOn, hand: false },
    preferred: { audio: audio?.getSettings().deviceId, video: video?.getSettings().deviceId },
    /** The output every remote voice plays on ('' for the system's default). */
    speaker: (canChooseSpeaker() && rememberedDevices().speaker) || '',
    stopSelfLevel: () => {},
    /** What the self level is read from now: a peer (its audio sender) or the mic track. */
    selfLevelSource: null,
    selfVideoTrack: undefined,
    pushToTalk: false, // Space held
    reactedAt: -Infinity,
    /** Listening for talk while the mic is off: the track listened to, and how to stop. */
    mutedTalk: null,
    /** When "your microphone is off" last showed, and the timer that hides it. */
    mutedHintAt: -Infinity,
    mutedHintTimer: 0,
    /** The tile you pinned to the stage: a peer id, 'self', or null. */
    pinned: null,
    /** The peer who most recently started presenting (their screen takes the stage). */
    presenter: null,
    /** Who has a hand up ('self' or a peer id), in the order the hands went up. */
    handQueue: [],
    /** Notices about a peer that can stop being true ('hand:<id>', 'screen:<id>') → takes the notice back. */
    peerNotices: new Map(),
    iceServers: [],
    signaling: null,
    ended: false,
  };

  const selfTile = createTile({ id: 'self', name, self: true, onPin: () => togglePin('self') });
  ui.grid.replaceChildren(selfTile.root);

  // Chat previews on screen, taken back when the chat opens over them.
  let previews = [];
  const chat = createChat({
    log: byId('chat-log'),
    form: byId('chat-form'),
    input: byId('chat-input'),
    badge: byId('chat-badge'),
    // Read only while someone can see it: the panel open and the tab in view.
    isVisible: () => ui.side.dataset.panel === 'chat' && document.visibilityState !== 'hidden',
    // With the panel closed (a phone's usual view), a message is seen as it comes.
    onUnseen: ({ name, text }) => {
      if (ui.side.dataset.panel !== 'chat') previews = [...previews.slice(-3), toast(ui.toasts, `${name}: ${previewText(text)}`, 6000)];
    },
    onUnread: (count) => { document.title = meetingTitle(room, count); },
    send(text) {
      if (!call.selfId || !call.signaling.send({ type: 'chat', text })) {
        toast(ui.toasts, 'Not connected: the message was not sent.');
        return false;
      }
      return true;
    },
  });

  // ---- state ----

  function selfState() {
    return {
      audio: Boolean(call.local.audio && call.local.micOn),
      video: Boolean(call.local.video),
      screen: Boolean(call.local.screen),
      hand: call.local.hand,
    };
  }

  function outgoingVideo() {
    return call.local.screen ?? call.local.video ?? null;
  }

  /** `signal` data for one peer, by its id now. */
  function signalTo(id, data) {
    call.signaling.send({ type: 'signal', to: id, data });
  }

  function sendState() {
    if (call.selfId) call.signaling.send({ type: 'state', ...selfState() });
    renderSelf();
  }

  function setStatus(status) {
    ui.status.dataset.status = status;
    ui.status.textContent = STATUS_TEXT[status] ?? '';
  }

  function renderCount() {
    ui.count.textContent = String(call.peers.size + 1);
    // Once in, and nobody else there: offer the invite link where it is seen.
    show(ui.alone, Boolean(call.selfId) && !call.ended && call.peers.size === 0);
    renderLayout();
  }

  function renderLayout() {
    selfTile.setPinned(call.pinned === 'self');
    for (const [id, peer] of call.peers) peer.tile.setPinned(call.pinned === id);
    const peers = new Map([...call.peers].map(([id, peer]) => [id, peer.info]));
    const key = featuredKey({ pinned: call.pinned, presenter: call.presenter, peers });
    const featured = key === 'self' ? selfTile : call.peers.get(key)?.tile;
    layoutGrid(ui.grid, featured?.root ?? null);
  }

  function togglePin(key) {
    call.pinned = call.pinned === key ? null : key;
    renderLayout();
  }

  function renderPeopleList() {
    const people = [{ ...selfState(), name: call.name, self: true, key: 'self' }];
    for (const [id, { info }] of call.peers) people.push({ ...info, key: id });
    renderPeople(ui.people, handsFirst(people, call.handQueue));
  }

  /** Keeps `handQueue` in step with one person's hand. */
  function noteHand(key, raised) {
    call.handQueue = withHand(call.handQueue, key, raised);
  }

  function renderSelf() {
    const state = selfState();
    selfTile.setState(state);
    const track = outgoingVideo();
    if (track !== call.selfVideoTrack) {
      call.selfVideoTrack = track;
      selfTile.setVideoStream(track ? new MediaStream([track]) : null);
    }
    setToggle(ui.mute, {
      on: state.audio,
      iconName: state.audio ? 'mic' : 'micOff',
      label: state.audio ? 'Turn off microphone (Ctrl+D)' : 'Turn on microphone (Ctrl+D)',
    });
    setToggle(ui.camera, {
      on: state.video,
      iconName: state.video ? 'cam' : 'camOff',
      label: state.video ? 'Turn off camera (Ctrl+E)' : 'Turn on camera (Ctrl+E)',
    });
    setToggle(ui.screen, {
      on: state.screen,
      iconName: 'screen',
      label: state.screen ? 'Stop presenting' : 'Present your screen',
      pressed: state.screen,
    });
    setToggle(ui.hand, { on: state.hand, iconName: 'hand', label: 'Raise hand (Ctrl+Alt+H)', pressed: state.hand });
    renderPeopleList();
    watchMutedTalk(); // every change of the mic passes here
  }

  function replaceOnAllLinks(kind, track) {
    for (const { link } of call.peers.values()) link.replaceTrack(kind, track);
  }

  /** The call's size or the screen share changed: every outgoing video gets the matching limits. */
  function applyVideoLimits() {
    const limits = videoLimitsFor(call.peers.size, Boolean(call.local.screen));
    for (const { link } of call.peers.values()) link.setVideoLimits(limits);
  }

  /**
   * Your own speaking level: read from the first peer's audio sender while
   * anyone else is in the call, from an analyser on the mic when alone (see
   * media.js for why). Called whenever the peers or the mic change; it only
   * switches when the source does.
   */
  function watchSelfLevel() {
    if (call.ended || call.selfId === null) return;
    const [peer] = call.peers.values();
    const source = peer ?? call.local.audio;
    if (source === call.selfLevelSource) return;
    call.stopSelfLevel();
    call.selfLevelSource = source;
    const onLevel = (level) => selfTile.setLevel(call.local.micOn ? level : 0);
    call.stopSelfLevel = peer
      ? watchSenderLevel(() => peer.link.sender('audio'), onLevel)
      : watchLevel(call.local.audio, onLevel);
  }

  /**
   * With the microphone off (and a microphone there), listens for talk on a
   * copy of it, to say the microphone is off (see media.js). Called whenever
   * the mic changes; it only restarts when the track does.
   */
  function watchMutedTalk() {
    const track = !call.ended && call.selfId !== null && !call.local.micOn ? call.local.audio : null;
    if (call.mutedTalk?.track === track) return;
    call.mutedTalk?.stop();
    call.mutedTalk = track ? { track, stop: watchTalking(track, showMutedHint) } : null;
    if (!track) hideMutedHint();
  }

  function showMutedHint() {
    const now = performance.now();
    if (now - call.mutedHintAt < MUTED_HINT_AGAIN_MS) return;
    call.mutedHintAt = now;
    show(ui.mutedHint, true);
    clearTimeout(call.mutedHintTimer);
    call.mutedHintTimer = setTimeout(hideMutedHint, MUTED_HINT_MS);
  }

  function hideMutedHint() {
    clearTimeout(call.mutedHintTimer);
    show(ui.mutedHint, false);
  }

  // ---- peers ----

  function addPeer(info, { offer }) {
    const existing = call.peers.get(info.id);
    if (existing) {
      Object.assign(existing.info, info);
      existing.tile.setName(existing.info.name);
      existing.tile.setState(existing.info);
      noteHand(info.id, existing.info.hand);
      renderPeopleList();
      renderLayout();
      return existing;
    }
    const peer = {
      /** The peer's id now: it changes when a link is claimed back after a reconnect. */
      id: info.id,
      info: { audio: false, video: false, screen: false, hand: false, ...info },
      tile: null,
      link: null,
      stopLevel: () => {},
      send: (data) => signalTo(peer.id, data),
      // The link keeper's (resume.js): key, parked timer, said goodbye.
      key: null,
      parked: 0,
      leaving: false,
      /** Joined under a name here: its hand and screen are restated, not news. */
      returning: false,
    };
    peer.tile = createTile({ id: info.id, name: info.name, onPin: () => togglePin(peer.id) });
    if (call.speaker) peer.tile.setSpeaker(call.speaker);
    peer.tile.setState(peer.info);
    noteHand(info.id, peer.info.hand);
    peer.link = createPeerLink({
      selfId: call.selfId,
      peerId: info.id,
      iceServers: call.iceServers,
      localTracks: () => ({ audio: call.local.audio, video: outgoingVideo() }),
      sendSignal: peer.send,
      onTrack: (_stream, track) => onRemoteTrack(peer, track),
      onConnectionState: (state) => {
        peer.tile.setConnection(state);
        // Media lost its way: maybe the network went, and the socket with it (see signaling.js).
        if (state === 'disconnected' || state === 'failed') call.signaling?.probe();
        if (peer.parked && !links.isCarryingMedia(peer)) peerGone(peer);
      },
    });
    call.peers.set(info.id, peer);
    watchSelfLevel();
    ui.grid.append(peer.tile.root);
    applyVideoLimits();
    if (offer) {
      links.keyNewLink(peer);
      peer.link.start();
    }
    renderCount();
    renderPeopleList();
    return peer;
  }

  function onRemoteTrack(peer, track) {
    const stream = new MediaStream([track]);
    if (track.kind === 'video') {
      peer.tile.setVideoStream(stream);
      return;
    }
    peer.tile.setAudioStream(stream).then((played) => { if (!played) show(ui.soundBlocked, true); });
    peer.stopLevel();
    peer.stopLevel = watchReceiverLevel(peer.link.receiver('audio'), (level) => peer.tile.setLevel(peer.info.audio ? level : 0));
  }

  const peerNoticeKey = (id, key) => `${key}:${id}`;

  /**
   * Tells of a peer's hand going up or screen being shared (`key` 'hand' or
   * 'screen'), and takes the notice back if that ends while it still shows.
   * @returns {boolean} whether it has just started
   */
  function notePeerChange(id, key, now, before, message) {
    const started = now === true && !before;
    if (started || now === false) withdrawPeerNotice(id, key);
    if (started) call.peerNotices.set(peerNoticeKey(id, key), toast(ui.toasts, message));
    return started;
  }

  /** Takes back a peer's hand or presenting notice, if it is still showing. */
  function withdrawPeerNotice(id, key) {
    const noticeKey = peerNoticeKey(id, key);
    call.peerNotices.get(noticeKey)?.();
    call.peerNotices.delete(noticeKey);
  }

  function removePeer(id) {
    const peer = call.peers.get(id);
    if (!peer) return null;
    call.peers.delete(id);
    clearTimeout(peer.parked);
    if (call.pinned === id) call.pinned = null;
    noteHand(id, false);
    withdrawPeerNotice(id, 'hand');
    withdrawPeerNotice(id, 'screen');
    peer.stopLevel();
    peer.link.close();
    peer.tile.remove();
    applyVideoLimits();
    renderCount();
    renderPeopleList();
    return peer;
  }

  function removeAllPeers() {
    for (const id of [...call.peers.keys()]) removePeer(id);
  }

  // ---- links kept through reconnects (resume.js) ----

  const links = createLinkKeeper({
    peers: call.peers,
    selfId: () => (call.ended ? null : call.selfId),
    signal: signalTo,
    connect: (info) => addPeer(info, { offer: true }),
    move: moveLink,
    drop: (peer) => removePeer(peer.id),
    expired: peerGone,
    replace: (peer) => {
      const info = { ...peer.info, id: peer.id };
      removePeer(peer.id);
      return addPeer(info, { offer: false });
    },
  });

  /** A parked link nobody claimed in time (or whose media stopped): the person has left. */
  function peerGone(peer) {
    if (call.peers.get(peer.id) !== peer || !removePeer(peer.id)) return;
    watchSelfLevel();
    toast(ui.toasts, `${peer.info.name} left`);
    // With no link left to claim, whoever joined under a parked one's name is simply new.
    const peers = [...call.peers.values()];
    if (!peers.some((p) => p.parked)) for (const p of peers) p.returning = false;
  }

  /** A link claimed back: it, the pin, hand, notices and tile go to `info.id` (a link made on its `joined` goes). */
  function moveLink(peer, info) {
    const oldId = peer.id;
    const newId = info.id;
    const fresh = call.peers.get(newId);
    if (fresh && fresh !== peer) removePeer(newId);
    call.peers.delete(oldId);
    peer.id = newId;
    Object.assign(peer.info, info);
    call.peers.set(newId, peer);
    if (call.pinned === oldId) call.pinned = newId;
    if (call.presenter === oldId) call.presenter = newId;
    call.handQueue = call.handQueue.map((key) => (key === oldId ? newId : key));
    for (const key of ['hand', 'screen']) {
      const withdraw = call.peerNotices.get(peerNoticeKey(oldId, key));
      call.peerNotices.delete(peerNoticeKey(oldId, key));
      if (withdraw) call.peerNotices.set(peerNoticeKey(newId, key), withdraw);
    }
    noteHand(newId, peer.info.hand);
    peer.tile.setId(newId);
    peer.tile.setName(peer.info.name);
    peer.tile.setState(peer.info);
    peer.tile.setConnection(peer.link.pc.connectionState);
    applyVideoLimits();
    renderCount();
    renderPeopleList();
  }

  // ---- server messages ----

  function onWelcome(msg) {
    const reconnect = call.selfId !== null;
    const pinned = call.pinned;
    // Links still carrying media wait to be claimed back; the others are
    // rebuilt, their keys kept to clear ghosts of old sockets (resume.js).
    const parked = [];
    const retired = new Map();
    for (const peer of [...call.peers.values()]) {
      if (links.isCarryingMedia(peer)) {
        links.park(peer);
        parked.push(peer);
      } else {
        if (peer.key) retired.set(peer.key, peer.id);
        removePeer(peer.id);
      }
    }
    call.previousId = call.selfId;
    call.selfId = msg.id;
    selfTile.setId(msg.id);
    chat.setHistory(msg.history, msg.id);
    call.signaling.resetBackoff();
    const others = (Array.isArray(msg.peers) ? msg.peers : [])
      .filter((info) => info?.id && info.id !== msg.id && info.id !== call.previousId);
    links.rejoined(others, parked, retired);
    // The others keep their ids across our reconnect: so does a pin on one of them.
    if (pinned === 'self' || call.peers.has(pinned)) call.pinned = pinned;
    watchSelfLevel();
    // `join` carries audio and video only; the rest follows as a state frame.
    if (call.local.hand || call.local.screen) sendState();
    setStatus('connected');
    renderCount();
    renderSelf();
    if (reconnect) toast(ui.toasts, 'Reconnected');
    else rememberMeeting(call.room, isPublic); // for the lobby's recent meetings
  }

  function onServerError(msg) {
    switch (msg.code) {
      case 'name_invalid':
        end({ reason: 'name_invalid', message: msg.message || 'That name cannot be used.' });
        break;
      case 'room_full':
        end({ reason: 'full', maxPeers: msg.maxPeers });
        break;
      case 'rate_limited':
        toast(ui.toasts, 'Slow down: too many messages at once.');
        break;
      case 'text_invalid':
        toast(ui.toasts, 'That message could not be sent.');
        break;
      default:
        console.warn('noom: server error', msg.code, msg.message);
    }
  }

  function onMessage(msg) {
    switch (msg.type) {
      case 'welcome':
        onWelcome(msg);
        break;
      case 'joined':
        if (call.selfId && msg.peer?.id && msg.peer.id !== call.selfId) {
          // Someone by a name here (a parked link, or an old socket the server
          // has not seen go) is not news: their link is about to be claimed.
          const named = [...call.peers.values()].filter((p) => p.info.name === msg.peer.name);
          // Waiting alone (maybe in another tab), a chime says someone came.
          if (call.peers.size === 0) playChime(call.speaker);
          const peer = addPeer(msg.peer, { offer: false });
          peer.returning = named.length > 0;
          if (!named.some((p) => p.parked)) {
            setTimeout(() => {
              if (call.peers.get(msg.peer.id) !== peer) return;
              peer.returning = false;
              toast(ui.toasts, `${msg.peer.name} joined`);
            }, named.length ? CLAIM_WAIT_MS : 0);
          }
        }
        break;
      case 'left': {
        links.forget(msg.id); // it was the server's last sight of an old socket
        const peer = call.peers.get(msg.id);
        if (!peer) break;
        if (links.isCarryingMedia(peer)) { // maybe only its socket went: wait for it to come back
          links.park(peer);
          peer.tile.setConnection('disconnected'); // "Reconnecting…"
          break;
        }
        removePeer(msg.id);
        watchSelfLevel();
        toast(ui.toasts, `${peer.info.name} left`);
        break;
      }
      case 'chat':
        chat.add(msg);
        break;
      case 'signal':
        if (call.selfId && msg.from && msg.from !== call.selfId) {
          const linkMessage = linkSignalIn(msg.data);
          if (linkMessage) {
            links.onSignal(msg.from, linkMessage);
            break;
          }
          const reaction = reactionIn(msg.data);
          if (reaction) {
            const sender = call.peers.get(msg.from);
            if (sender) showReaction(sender.tile.root, reaction);
            break;
          }
          const peer = call.peers.get(msg.from) ?? addPeer({ id: msg.from, name: 'Guest' }, { offer: false });
          peer.link.handleSignal(msg.data);
        }
        break;
      case 'state': {
        const claimed = links.claimedInfo(msg.id);
        if (claimed) Object.assign(claimed, pickState(msg));
        const peer = call.peers.get(msg.id);
        if (!peer) break;
        // Someone back on a new socket restates their hand and screen: not news.
        if (!peer.returning) {
          if (notePeerChange(msg.id, 'screen', msg.screen, peer.info.screen, `${peer.info.name} is presenting`)) {
            call.presenter = msg.id;
          }
          notePeerChange(msg.id, 'hand', msg.hand, peer.info.hand, `${peer.info.name} raised a hand`);
        }
        Object.assign(peer.info, pickState(msg));
        peer.tile.setState(peer.info);
        noteHand(msg.id, peer.info.hand);
        renderPeopleList();
        renderLayout();
        break;
      }
      case 'error':
        onServerError(msg);
        break;
    }
  }

  function onSignalingStatus(status, detail) {
    if (status === 'open') setStatus('joining');
    else if (status === 'closed') {
      if (detail?.code === 4001) end({ reason: 'full' });
      else setStatus('closed');
    } else setStatus(status);
  }

  // ---- controls ----

  async function toggleMic() {
    if (!call.local.audio) {
      try {
        call.local.audio = await openTrack('audio', call.preferred.audio);
      } catch (err) {
        toast(ui.toasts, describeMediaError(err, 'microphone'), 6000);
        return;
      }
      call.local.micOn = true;
      watchEnded('audio', call.local.audio);
      replaceOnAllLinks('audio', call.local.audio);
      watchSelfLevel();
    } else {
      call.local.micOn = !call.local.micOn;
      call.local.audio.enabled = call.local.micOn;
    }
    sendState();
  }

  /**
   * Handles a local track of `kind` ending without us (a device unplugged,
   * the browser's own "Stop sharing"), unless it was replaced meanwhile.
   */
  function watchEnded(kind, track) {
    const onEnded = { audio: micEnded, video: cameraEnded, screen: stopScreen }[kind];
    track?.addEventListener('ended', () => { if (call.local[kind] === track) onEnded(track); });
  }

  /** The default microphone takes over from a lost one, on or off as it was. */
  async function micEnded(lost) {
    const track = await openTrack('audio').catch(() => null);
    if (call.ended || call.local.audio !== lost) { track?.stop(); return; }
    call.local.audio = track;
    if (track) track.enabled = call.local.micOn;
    watchEnded('audio', track);
    replaceOnAllLinks('audio', track);
    watchSelfLevel();
    sendState();
    refreshDevices();
    toast(ui.toasts, `Microphone disconnected.${track ? ` Now using ${track.label || 'another one'}.` : ''}`, 6000);
  }

  /** The camera went (unplugged, or taken by the system): it is off, and says so. */
  function cameraEnded() {
    if (!call.local.video) return;
    call.local.video = null;
    if (!call.local.screen) replaceOnAllLinks('video', null);
    sendState();
    toast(ui.toasts, 'Camera disconnected.', 6000);
  }

  async function startCamera() {
    let track;
    try {
      track = await openTrack('video', call.preferred.video);
    } catch (err) {
      toast(ui.toasts, describeMediaError(err, 'camera'), 6000);
      return;
    }
    if (call.ended) { track.stop(); return; }
    call.local.video?.stop();
    call.local.video = track;
    watchEnded('video', track);
    if (!call.local.screen) replaceOnAllLinks('video', track);
    sendState();
  }

  async function toggleCamera() {
    if (call.local.video) {
      // Stop the camera (its light goes off); peers keep the transceiver for later.
      const track = call.local.video;
      call.local.video = null;
      if (!call.local.screen) replaceOnAllLinks('video', null);
      track.stop();
      sendState();
    } else {
      await startCamera();
    }
  }

  function stopScreen() {
    const track = call.local.screen;
    if (!track) return;
    call.local.screen = null;
    track.stop();
    replaceOnAllLinks('video', call.local.video);
    applyVideoLimits();
    sendState();
  }

  async function toggleScreen() {
    if (call.local.screen) { stopScreen(); return; }
    let track;
    try {
      track = await openScreen();
    } catch (err) {
      if (err?.name !== 'NotAllowedError' && err?.name !== 'AbortError') {
        toast(ui.toasts, 'Screen sharing is not available in this browser.');
      }
      return;
    }
    if (call.ended) { track.stop(); return; }
    call.local.screen = track;
    watchEnded('screen', track);
    replaceOnAllLinks('video', track);
    applyVideoLimits();
    sendState();
  }

  /** Shows a reaction over your own tile and sends it to everyone else, one signal each. */
  function sendReaction(emoji) {
    const now = performance.now();
    if (!call.selfId || now - call.reactedAt < REACTION_GAP_MS) return;
    call.reactedAt = now;
    showReaction(selfTile.root, emoji);
    for (const peer of call.peers.values()) peer.send({ reaction: emoji });
  }

  function showReactionBar(open) {
    show(ui.reactions, open);
    ui.react.setAttribute('aria-expanded', String(open));
  }

  function toggleHand() {
    call.local.hand = !call.local.hand;
    noteHand('self', call.local.hand);
    sendState();
  }

  async function switchDevice(kind, deviceId) {
    call.preferred[kind] = deviceId;
    rememberDevice(kind, deviceId);
    const current = call.local[kind];
    if (!current || !deviceId || current.getSettings().deviceId === deviceId) return;
    let track;
    try {
      track = await openTrack(kind, deviceId);
    } catch (err) {
      toast(ui.toasts, describeMediaError(err, kind === 'audio' ? 'microphone' : 'camera'), 6000);
      return;
    }
    if (call.ended || call.local[kind] !== current) { track.stop(); return; }
    call.local[kind] = track;
    watchEnded(kind, track);
    if (kind === 'audio') {
      track.enabled = call.local.micOn;
      replaceOnAllLinks('audio', track);
      watchSelfLevel();
    } else if (!call.local.screen) {
      replaceOnAllLinks('video', track);
    }
    current.stop();
    renderSelf();
  }

  async function refreshDevices() {
    const devices = await listDevices();
    fillDeviceSelect(ui.cameraSelect, devices.video, call.local.video?.getSettings().deviceId ?? call.preferred.video);
    fillDeviceSelect(ui.micSelect, devices.audio, call.local.audio?.getSettings().deviceId ?? call.preferred.audio);
    show(ui.speakerSelect, devices.speaker.length > 0);
    fillDeviceSelect(ui.speakerSelect, devices.speaker, call.speaker || 'default');
  }

  /** Plays every remote voice, now and in later arrivals, on that output device. */
  function chooseSpeaker(deviceId) {
    call.speaker = deviceId;
    rememberDevice('speaker', deviceId);
    for (const { tile } of call.peers.values()) tile.setSpeaker(deviceId);
  }

  const PANEL_TITLES = { chat: 'Chat', people: 'People', devices: 'Audio and video' };
  const panelButtons = { chat: ui.chatButton, people: ui.peopleButton, devices: ui.devicesButton };

  function openPanel(name) {
    ui.side.dataset.panel = name;
    byId('side-title').textContent = PANEL_TITLES[name] ?? '';
    for (const [key, button] of Object.entries(panelButtons)) button.setAttribute('aria-pressed', String(key === name));
    if (name === 'chat') {
      chat.markRead();
      for (const hide of previews) hide();
      previews = [];
    }
    if (name === 'devices') refreshDevices();
  }

  function togglePanel(name) {
    openPanel(ui.side.dataset.panel === name ? 'none' : name);
  }

  function onKeydown(event) {
    // Hold Space to talk while the microphone is off (push to talk).
    if (isPushToTalk(event)) {
      event.preventDefault(); // not a page scroll
      if (!event.repeat && call.local.audio && !call.local.micOn) {
        call.pushToTalk = true;
        toggleMic();
      }
      return;
    }
    const action = shortcutFor(event, { panelOpen: ui.side.dataset.panel !== 'none', reactionsOpen: !ui.reactions.hidden });
    if (action === 'close-reactions') {
      showReactionBar(false);
      ui.react.focus();
      return;
    }
    if (action === 'close-panel') {
      // Focus goes back to the button that opened the panel.
      const button = panelButtons[ui.side.dataset.panel];
      openPanel('none');
      button?.focus();
      return;
    }
    if (action) event.preventDefault(); // the browser's own Ctrl+D, Ctrl+E
    if (action === 'hand') toggleHand();
    if (action === 'mic') toggleMic();
    if (action === 'camera') toggleCamera();
  }

  /** Space let go (or the window left while it was held): the microphone goes off again. */
  function releasePushToTalk(event) {
    if (!call.pushToTalk || (event.type === 'keyup' && event.code !== 'Space')) return;
    call.pushToTalk = false;
    if (call.local.micOn) toggleMic();
  }

  function enableSound() {
    for (const { tile } of call.peers.values()) tile.audio?.play().catch(() => {});
    show(ui.soundBlocked, false);
  }

  // ---- ending ----

  /** Releases everything: socket, peer connections, tracks, timers, listeners. */
  function end(outcome) {
    if (call.ended) return;
    call.ended = true;
    if (call.signaling) {
      // Leaving for good: nobody should keep our links waiting for us to come back.
      if (call.selfId) for (const peer of call.peers.values()) peer.send({ bye: true });
      call.signaling.send({ type: 'leave' });
      call.signaling.close();
    }
    removeAllPeers();
    links.stop();
    call.stopSelfLevel();
    call.selfLevelSource = null;
    watchMutedTalk();
    for (const track of [call.local.audio, call.local.video, call.local.screen]) track?.stop();
    call.local.audio = call.local.video = call.local.screen = null;
    selfTile.remove();
    window.removeEventListener('keydown', onKeydown);
    window.removeEventListener('keyup', releasePushToTalk);
    window.removeEventListener('blur', releasePushToTalk);
    window.removeEventListener('pagehide', onPagehide);
    document.removeEventListener('visibilitychange', onVisibilityChange);
    document.title = meetingTitle(call.room);
    navigator.mediaDevices?.removeEventListener?.('devicechange', refreshDevices);
    show(ui.section, false);
    show(ui.soundBlocked, false);
    show(ui.alone, false);
    setStatus('idle');
    show(ui.countBox, false);
    if (outcome) onEnd(outcome);
  }

  function onPagehide() {
    end(null);
  }

  /** Back in view with the chat open: what came meanwhile has now been seen. */
  function onVisibilityChange() {
    if (document.visibilityState === 'visible' && ui.side.dataset.panel === 'chat') chat.markRead();
  }

  // ---- wiring ----

  ui.mute.onclick = toggleMic;
  ui.camera.onclick = toggleCamera;
  ui.screen.onclick = toggleScreen;
  // Phones and tablets have no screen capture: no button that can only fail.
  show(ui.screen, typeof navigator.mediaDevices?.getDisplayMedia === 'function');
  ui.hand.onclick = toggleHand;
  ui.react.onclick = () => showReactionBar(ui.reactions.hidden);
  fillReactionBar(ui.reactions, sendReaction);
  showReactionBar(false);
  const invite = () => shareInvite(call.room, (message, ms) => toast(ui.toasts, message, ms));
  ui.invite.onclick = invite;
  ui.aloneInvite.onclick = invite;
  ui.leave.onclick = () => end({ reason: 'left' });
  ui.chatButton.onclick = () => togglePanel('chat');
  ui.peopleButton.onclick = () => togglePanel('people');
  ui.devicesButton.onclick = () => togglePanel('devices');
  byId('side-close').onclick = () => openPanel('none');
  byId('enable-sound').onclick = enableSound;
  byId('muted-hint-unmute').onclick = () => { if (!call.local.micOn) toggleMic(); };
  ui.cameraSelect.onchange = () => switchDevice('video', ui.cameraSelect.value);
  ui.micSelect.onchange = () => switchDevice('audio', ui.micSelect.value);
  ui.speakerSelect.onchange = () => chooseSpeaker(ui.speakerSelect.value);
  byId('call-test').onclick = () => playChime(call.speaker);
  setToggle(ui.leave, { on: true, iconName: 'leave', label: 'Leave the meeting' });
  setToggle(ui.react, { on: true, iconName: 'mood', label: 'Send a reaction' });
  setToggle(ui.invite, { on: true, iconName: 'link', label: canShareSheet() ? 'Share invite link' : 'Copy invite link' });
  ui.aloneInvite.textContent = ui.invite.title;
  setToggle(ui.devicesButton, { on: true, iconName: 'tune', label: 'Audio and video settings', pressed: false });
  setToggle(ui.peopleButton, { on: true, iconName: 'people', label: 'People', pressed: false });
  setToggle(ui.chatButton, { on: true, iconName: 'chat', label: 'Chat', pressed: false });
  window.addEventListener('keydown', onKeydown);
  window.addEventListener('keyup', releasePushToTalk);
  window.addEventListener('blur', releasePushToTalk);
  window.addEventListener('pagehide', onPagehide);
  document.addEventListener('visibilitychange', onVisibilityChange);
  navigator.mediaDevices?.addEventListener?.('devicechange', refreshDevices);
  watchEnded('video', call.local.video);
  watchEnded('audio', call.local.audio);
  if (call.local.audio) call.local.audio.enabled = call.local.micOn;

  openPanel(window.matchMedia('(min-width: 900px)').matches ? 'chat' : 'none');
  show(ui.section, true);
  show(ui.countBox, true);
  renderSelf();
  renderCount();
  setStatus('connecting');
  for (const notice of notices) toast(ui.toasts, notice, 8000);

  call.iceServers = await takeIceServers();
  if (call.ended) return call;

  call.signaling = createSignaling({
    url: roomSocketUrl(room),
    onOpen: () => call.signaling.send({
      type: 'join', name: call.name, public: isPublic, audio: selfState().audio, video: selfState().video,
    }),
    onMessage,
    onStatus: onSignalingStatus,
    shouldReconnect: (code) => code !== 4001,
  });

  // A handle for debugging in the console and for browser tests.
  window.__noom = {
    get signaling() { return call.signaling; },
    get selfId() { return call.selfId; },
    get peers() { return call.peers; },
    get local() { return call.local; },
    get pinned() { return call.pinned; },
    leave: () => end({ reason: 'left' }),
  };
  return call;
}
