// The pre-join screen: camera preview, mic level, device pickers, name, Join.
//
// Its tracks go to the meeting as they are: the camera does not blink between screens.

import { el, byId, show } from './dom.js';
import {
  openLocalMedia, openTrack, listDevices, watchLevel, describeMediaError, mediaUnavailableReason, rememberDevice,
  rememberedDevices, playChime,
} from './media.js';
import { nameProblem, presenceText, saveName } from './names.js';
import { fillDeviceSelect, setToggle } from './ui.js';

/**
 * Shows the pre-join screen until the person presses Join; resolves to
 * {name, audio, video (tracks or null), micOn, camOn}. `watchRoom(onPeek)`
 * tells who is in the room (`{peers, maxPeers}`) as that changes, until the
 * stop it returns is called.
 */
export function runPrejoin({ room, name, error, watchRoom = () => () => {} }) {
  const ui = {
    section: byId('prejoin'),
    preview: byId('preview'),
    previewOff: byId('preview-off'),
    micButton: byId('pre-mic'),
    camButton: byId('pre-cam'),
    level: byId('pre-level'),
    form: byId('prejoin-form'),
    name: byId('pre-name'),
    camera: byId('pre-camera'),
    microphone: byId('pre-microphone'),
    speaker: byId('pre-speaker'),
    messages: byId('media-messages'),
    error: byId('prejoin-error'),
    join: byId('join'),
    who: byId('prejoin-who'),
  };
  const pre = { audio: null, video: null, micOn: true, camOn: true, errors: {}, stopLevel: () => {}, joined: false };

  byId('prejoin-room').textContent = `Meeting: ${room}`;
  show(ui.who, false);
  const stopWatching = watchRoom(({ peers, maxPeers }) => {
    ui.who.textContent = presenceText(peers, maxPeers);
    show(ui.who, true);
  });
  ui.name.value = name;
  showError(error);
  show(ui.section, true);

  function showError(message) {
    ui.error.textContent = message ?? '';
    show(ui.error, Boolean(message));
  }

  function renderMessages() {
    const lines = [...new Set(Object.values(pre.errors).filter(Boolean))];
    if (lines.length && !pre.audio && !pre.video && !lines.some((l) => l.includes('still join'))) {
      lines.push('You can still join to listen and chat.');
    }
    ui.messages.replaceChildren(...lines.map((text) => el('li', { text })));
  }

  function renderPreview() {
    const showVideo = Boolean(pre.video && pre.camOn);
    ui.preview.srcObject = showVideo ? new MediaStream([pre.video]) : null;
    if (showVideo) ui.preview.play().catch(() => {});
    show(ui.previewOff, !showVideo);
    ui.previewOff.textContent = pre.video || !pre.errors.video ? 'Camera is off' : 'No camera';
    setToggle(ui.micButton, {
      on: Boolean(pre.audio && pre.micOn),
      iconName: pre.audio && pre.micOn ? 'mic' : 'micOff',
      label: pre.audio && pre.micOn ? 'Turn off microphone' : 'Turn on microphone',
    });
    setToggle(ui.camButton, {
      on: showVideo,
      iconName: showVideo ? 'cam' : 'camOff',
      label: showVideo ? 'Turn off camera' : 'Turn on camera',
    });
  }

  function watchMic() {
    pre.stopLevel();
    pre.stopLevel = watchLevel(pre.audio, (level) => ui.level.style.setProperty('--level', level.toFixed(2)));
  }

  async function refreshDevices() {
    const devices = await listDevices();
    fillDeviceSelect(ui.camera, devices.video, pre.video?.getSettings().deviceId);
    fillDeviceSelect(ui.microphone, devices.audio, pre.audio?.getSettings().deviceId);
    // The meeting plays on the remembered speaker. No choice (Safari): Test plays the default.
    show(ui.speaker, devices.speaker.length > 0);
    fillDeviceSelect(ui.speaker, devices.speaker, rememberedDevices().speaker || 'default');
  }

  async function reopen(kind, deviceId) {
    const label = kind === 'audio' ? 'microphone' : 'camera';
    try {
      const track = await openTrack(kind, deviceId || undefined);
      pre[kind]?.stop();
      pre[kind] = track;
      watchEnded(kind);
      delete pre.errors[kind];
      if (kind === 'audio') { track.enabled = pre.micOn; watchMic(); }
    } catch (err) {
      pre.errors[kind] = describeMediaError(err, label);
    }
    renderMessages();
    renderPreview();
  }

  /** A device unplugged here gives way to the default one, as in the meeting. */
  function watchEnded(kind) {
    const track = pre[kind];
    track?.addEventListener('ended', () => { if (pre[kind] === track && !pre.joined) reopen(kind).then(refreshDevices); });
  }

  async function start() {
    const unavailable = mediaUnavailableReason();
    if (unavailable) {
      pre.errors.video = unavailable;
    } else {
      const media = await openLocalMedia({ audio: true, video: true });
      pre.audio = media.audio;
      pre.video = media.video;
      pre.errors = media.errors;
      watchEnded('audio');
      watchEnded('video');
      if (pre.audio) watchMic();
      await refreshDevices();
    }
    renderMessages();
    renderPreview();
  }

  ui.micButton.onclick = async () => {
    if (!pre.audio) { pre.micOn = true; await reopen('audio', ui.microphone.value); return; }
    pre.micOn = !pre.micOn;
    pre.audio.enabled = pre.micOn;
    renderPreview();
  };
  ui.camButton.onclick = async () => {
    if (pre.video && pre.camOn) {
      pre.camOn = false;
      pre.video.stop();
      pre.video = null;
      renderPreview();
      return;
    }
    pre.camOn = true;
    await reopen('video', ui.camera.value);
  };
  ui.camera.onchange = () => {
    rememberDevice('video', ui.camera.value);
    if (pre.camOn) reopen('video', ui.camera.value);
  };
  ui.microphone.onchange = () => {
    rememberDevice('audio', ui.microphone.value);
    reopen('audio', ui.microphone.value);
  };

  navigator.mediaDevices?.addEventListener?.('devicechange', refreshDevices);
  ui.speaker.onchange = () => rememberDevice('speaker', ui.speaker.value);
  byId('pre-test').onclick = () => playChime(ui.speaker.value);

  renderPreview();
  const starting = start();

  return new Promise((resolve) => {
    ui.form.onsubmit = async (event) => {
      event.preventDefault();
      ui.join.disabled = true;
      await starting;
      ui.join.disabled = false;
      const problem = nameProblem(ui.name.value);
      if (problem) { showError(problem); ui.name.focus(); return; }
      const chosenName = ui.name.value.trim();
      saveName(chosenName);
      stopWatching();
      pre.joined = true;
      navigator.mediaDevices?.removeEventListener?.('devicechange', refreshDevices);
      pre.stopLevel();
      ui.preview.srcObject = null;
      show(ui.section, false);
      resolve({
        name: chosenName,
        audio: pre.audio,
        video: pre.video && pre.camOn ? pre.video : null,
        micOn: pre.micOn,
        camOn: Boolean(pre.video && pre.camOn),
      });
    };
  });
}
