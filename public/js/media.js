// Local media: camera, microphone, screen, device lists and audio levels.
//
// Every function returns plain tracks; who sends them where is peers.js's job.
// Errors are turned into sentences a person can act on ("allow the camera in
// the site settings") instead of DOMException names.

/** Why media cannot work on this page at all, or null when it can. */
export function mediaUnavailableReason() {
  if (!window.isSecureContext) {
    return 'Camera and microphone only work on a secure page (https:// or localhost). You can still join to listen and chat.';
  }
  if (!navigator.mediaDevices?.getUserMedia) {
    return 'This browser does not give pages access to a camera or microphone. You can still join to listen and chat.';
  }
  return null;
}

/** A sentence explaining a getUserMedia failure for `kind` ("camera" or "microphone"). */
export function describeMediaError(err, kind) {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return `Access to the ${kind} was denied. Allow it in the browser's site settings (the icon left of the address), then try again.`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${kind} was found. Plug one in, or join without it.`;
    case 'NotReadableError':
    case 'AbortError':
      return `The ${kind} could not start; another app may be using it.`;
    default:
      return `The ${kind} is not available (${err?.message || err?.name || 'unknown error'}).`;
  }
}

const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
const VIDEO_CONSTRAINTS = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24, max: 30 } };

function constraintsFor(kind, deviceId) {
  const base = kind === 'audio' ? AUDIO_CONSTRAINTS : VIDEO_CONSTRAINTS;
  return deviceId ? { ...base, deviceId: { exact: deviceId } } : base;
}

/** One track of `kind` ('audio'|'video') from the device `deviceId` (or the default). */
export async function openTrack(kind, deviceId) {
  const stream = await navigator.mediaDevices.getUserMedia({ [kind]: constraintsFor(kind, deviceId) });
  return stream.getTracks()[0];
}

/**
 * One track from the device `deviceId` if it is still there, else from the
 * default. (Asking with `deviceId: {ideal}` instead is not enough: Chromium
 * may answer it with the default device.)
 */
async function openPreferredTrack(kind, deviceId) {
  if (deviceId) {
    try {
      return await openTrack(kind, deviceId);
    } catch (err) {
      if (err?.name === 'NotAllowedError') throw err;
    }
  }
  return openTrack(kind);
}

// ---- remembered choices ----
//
// The camera, microphone and speaker picked last start the next meeting
// (a headset, an external camera). Device ids are per site and last while
// the site keeps its permission.

const DEVICES_KEY = 'noom.devices';

/** @returns {{audio?: string, video?: string, speaker?: string}} */
export function rememberedDevices() {
  try {
    const saved = JSON.parse(localStorage.getItem(DEVICES_KEY) ?? '{}');
    const id = (kind) => (typeof saved?.[kind] === 'string' && saved[kind] ? saved[kind] : undefined);
    return { audio: id('audio'), video: id('video'), speaker: id('speaker') };
  } catch {
    return {};
  }
}

/** Remembers the device picked for `kind` ('audio'|'video'|'speaker'). */
export function rememberDevice(kind, deviceId) {
  try {
    localStorage.setItem(DEVICES_KEY, JSON.stringify({ ...rememberedDevices(), [kind]: deviceId || undefined }));
  } catch { /* private mode: nothing remembered */ }
}

/**
 * Asks for the microphone and camera wanted, together when possible (one permission
 * prompt), one by one when that fails, so a missing camera still leaves the mic.
 * Prefers the devices picked last time; any other will do if those are gone.
 * @returns {Promise<{audio: MediaStreamTrack|null, video: MediaStreamTrack|null, errors: {audio?: string, video?: string}}>}
 */
export async function openLocalMedia({ audio = true, video = true } = {}) {
  const result = { audio: null, video: null, errors: {} };
  const { audio: audioDeviceId, video: videoDeviceId } = rememberedDevices();
  const unavailable = mediaUnavailableReason();
  if (unavailable) {
    if (audio) result.errors.audio = unavailable;
    if (video) result.errors.video = unavailable;
    return result;
  }
  if (audio && video) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: constraintsFor('audio', audioDeviceId),
        video: constraintsFor('video', videoDeviceId),
      });
      result.audio = stream.getAudioTracks()[0] ?? null;
      result.video = stream.getVideoTracks()[0] ?? null;
      return result;
    } catch (err) {
      if (err?.name === 'NotAllowedError') {
        result.errors.audio = describeMediaError(err, 'microphone');
        result.errors.video = describeMediaError(err, 'camera');
        return result;
      }
    }
  }
  const wanted = [];
  if (audio) wanted.push(['audio', audioDeviceId, 'microphone']);
  if (video) wanted.push(['video', videoDeviceId, 'camera']);
  for (const [kind, deviceId, label] of wanted) {
    try {
      result[kind] = await openPreferredTrack(kind, deviceId);
    } catch (err) {
      result.errors[kind] = describeMediaError(err, label);
    }
  }
  return result;
}

/** The cameras, microphones and speakers (if it can choose one) this page may use; none when it cannot tell. */
export async function listDevices() {
  const devices = await navigator.mediaDevices?.enumerateDevices?.().catch(() => null) ?? [];
  const pick = (kind, noun) => devices
    .filter((d) => d.kind === kind && d.deviceId)
    .map((d, i) => ({ id: d.deviceId, label: d.label || `${noun} ${i + 1}` }));
  return { audio: pick('audioinput', 'Microphone'), video: pick('videoinput', 'Camera'), speaker: canChooseSpeaker() ? pick('audiooutput', 'Speaker') : [] };
}

/** Whether this browser can play sound on a chosen output (`setSinkId`; not Safari). */
export function canChooseSpeaker() {
  return typeof HTMLMediaElement.prototype.setSinkId === 'function';
}

/** Asks which screen, window or tab to share; resolves to its video track. */
export async function openScreen() {
  const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
  return stream.getVideoTracks()[0];
}

// ---- audio levels ----
//
// One timer reads every meter ten times a second. A level comes from:
// someone else's RTP packets (the loudness header, RFC 6464, via
// `getSynchronizationSources()`); your audio sender's `media-source` stats in
// a call; else a Web Audio analyser (pre-join, alone, or a copy of a muted
// microphone, see `watchTalking`). A running AudioContext keeps an audio
// thread busy (bench/notes.md), so it exists only while an analyser does,
// resumed on the first click or key (browsers start it suspended).

const levels = { context: null, analysers: 0, gestureHooked: false, meters: new Set(), timer: 0 };

/** About ten readings a second, unevenly, not to keep missing a sound in step with the timer. */
const nextTickMs = () => 70 + Math.random() * 60;

/** Loudness 0..1 from an RMS level relative to full scale (speech sits near 0.05-0.2). */
const loudness = (rms) => Math.min(1, rms * 4);

function audioContext() {
  if (!levels.context) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    levels.context = new Context();
  }
  if (!levels.gestureHooked) {
    levels.gestureHooked = true;
    const resume = () => { levels.context?.resume().catch(() => {}); };
    window.addEventListener('pointerdown', resume, { capture: true });
    window.addEventListener('keydown', resume, { capture: true });
  }
  return levels.context;
}

function tick() {
  levels.timer = setTimeout(tick, nextTickMs());
  for (const meter of levels.meters) {
    if (meter.reading) continue; // a stats read still out: skip a beat, never pile up
    const level = meter.read();
    if (typeof level === 'number') {
      meter.onLevel(level);
      continue;
    }
    meter.reading = true;
    level.then((value) => { if (levels.meters.has(meter)) meter.onLevel(value); }, () => {})
      .finally(() => { meter.reading = false; });
  }
}

/**
 * Puts `read` (a level 0..1, or a promise of one) on the shared timer and hands
 * each reading to `onLevel`. Returns a stop function (safe to call twice).
 */
function addMeter(read, onLevel) {
  const meter = { read, onLevel, reading: false };
  levels.meters.add(meter);
  if (!levels.timer) levels.timer = setTimeout(tick, nextTickMs());
  return () => {
    if (!levels.meters.delete(meter)) return false;
    if (levels.meters.size === 0) {
      clearTimeout(levels.timer);
      levels.timer = 0;
    }
    return true;
  };
}

/**
 * Calls `onLevel(0..1)` about ten times a second with the loudness of a local
 * `track`, measured by a Web Audio analyser.
 * @returns {() => void} stops the meter
 */
export function watchLevel(track, onLevel) {
  const context = track ? audioContext() : null;
  if (!context) return () => {};
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  levels.analysers += 1;
  const samples = new Uint8Array(analyser.fftSize);
  const stopMeter = addMeter(() => {
    analyser.getByteTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += (s - 128) * (s - 128);
    return track.enabled ? loudness(Math.sqrt(sum / samples.length) / 128) : 0;
  }, onLevel);
  return () => {
    if (!stopMeter()) return;
    source.disconnect();
    levels.analysers -= 1;
    if (levels.analysers === 0 && levels.context) {
      levels.context.close().catch(() => {});
      levels.context = null;
    }
  };
}

/**
 * Calls `onLevel(0..1)` about ten times a second with the loudness of what
 * `receiver` (an audio RTCRtpReceiver) is receiving, from the packets' own
 * level headers. Silence when nothing arrived lately.
 * @returns {() => void} stops the meter
 */
export function watchReceiverLevel(receiver, onLevel) {
  if (!receiver?.getSynchronizationSources) return () => {};
  return addMeter(() => {
    const [source] = receiver.getSynchronizationSources();
    return loudness(source?.audioLevel ?? 0);
  }, onLevel);
}

/**
 * Calls `onLevel(0..1)` about ten times a second with the loudness of what an
 * audio sender is sending, from its `media-source` stats. `sender` is a
 * function, so a sender that does not exist yet (an answer still to come)
 * reads as silence until it does.
 * @param {() => RTCRtpSender|null} sender
 * @returns {() => void} stops the meter
 */
export function watchSenderLevel(sender, onLevel) {
  return addMeter(async () => {
    const current = sender();
    if (!current?.track) return 0;
    for (const report of (await current.getStats()).values()) {
      // A peak level (held, then decaying), about four times speech's RMS.
      if (report.type === 'media-source' && report.kind === 'audio') return loudness((report.audioLevel ?? 0) / 4);
    }
    return 0;
  }, onLevel);
}

/**
 * Tells talking from other sounds, one level reading at a time: loud in at
 * least `needed` of the last `span` readings (6 of about 2 seconds' worth).
 * Talking keeps coming back; a cough, a click or a door is one or two loud
 * readings. After saying "talking" it starts counting afresh.
 * @returns {(level: number) => boolean}
 */
export function talkDetector({ threshold = 0.08, span = 20, needed = 6 } = {}) {
  let recent = [];
  return (level) => {
    recent.push(level > threshold);
    if (recent.length > span) recent.shift();
    if (recent.filter(Boolean).length < needed) return false;
    recent = [];
    return true;
  };
}

/**
 * Calls `onTalk()` when someone talks into the microphone `track` while it is
 * off (disabled, so it sends silence): listens on a copy of it that stays on,
 * here in the page only. While this runs an AudioContext does, so it runs only
 * while the microphone is off.
 * @returns {() => void} stops listening
 */
export function watchTalking(track, onTalk) {
  const copy = track.clone();
  copy.enabled = true;
  const isTalking = talkDetector();
  const stopLevel = watchLevel(copy, (level) => { if (isTalking(level)) onTalk(); });
  return () => {
    stopLevel();
    copy.stop();
  };
}

/** A soft two-note chime on the speaker `sinkId`, from an AudioContext of its own for a moment. */
export function playChime(sinkId) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  const context = new Context();
  if (sinkId) context.setSinkId?.(sinkId).catch(() => {});
  const gain = context.createGain();
  gain.connect(context.destination);
  const t = context.currentTime;
  gain.gain.setValueAtTime(0.0001, t);
  gain.gain.exponentialRampToValueAtTime(0.2, t + 0.03);
  gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.6);
  [660, 880].forEach((hz, i) => {
    const tone = context.createOscillator();
    tone.frequency.value = hz;
    tone.connect(gain);
    tone.start(t + i * 0.15);
    tone.stop(t + 0.6);
  });
  setTimeout(() => context.close().catch(() => {}), 800);
}
