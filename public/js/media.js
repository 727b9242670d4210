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
 * Asks for the microphone and camera wanted, together when possible (one permission
 * prompt), one by one when that fails, so a missing camera still leaves the mic.
 * @returns {Promise<{audio: MediaStreamTrack|null, video: MediaStreamTrack|null, errors: {audio?: string, video?: string}}>}
 */
export async function openLocalMedia({ audio = true, video = true, audioDeviceId, videoDeviceId } = {}) {
  const result = { audio: null, video: null, errors: {} };
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
      result[kind] = await openTrack(kind, deviceId);
    } catch (err) {
      result.errors[kind] = describeMediaError(err, label);
    }
  }
  return result;
}

/** The cameras and microphones the browser lets this page see. */
export async function listDevices() {
  if (!navigator.mediaDevices?.enumerateDevices) return { audio: [], video: [] };
  const devices = await navigator.mediaDevices.enumerateDevices();
  const pick = (kind, noun) => devices
    .filter((d) => d.kind === kind && d.deviceId)
    .map((d, i) => ({ id: d.deviceId, label: d.label || `${noun} ${i + 1}` }));
  return { audio: pick('audioinput', 'Microphone'), video: pick('videoinput', 'Camera') };
}

/** Asks which screen, window or tab to share; resolves to its video track. */
export async function openScreen() {
  const stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
  return stream.getVideoTracks()[0];
}

// ---- audio levels --------------------------------------------------------
//
// One AudioContext for the page and one timer for every meter. Browsers start
// the context suspended until the person clicks or types, so it is resumed on
// the first gesture.

const levels = { context: null, meters: new Set(), timer: 0 };

function audioContext() {
  if (!levels.context) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    levels.context = new Context();
    const resume = () => { levels.context?.resume().catch(() => {}); };
    window.addEventListener('pointerdown', resume, { capture: true });
    window.addEventListener('keydown', resume, { capture: true });
  }
  return levels.context;
}

function tick() {
  for (const meter of levels.meters) meter.read();
}

/**
 * Calls `onLevel(0..1)` about ten times a second with the loudness of `track`.
 * @returns {() => void} stops the meter
 */
export function watchLevel(track, onLevel) {
  const context = audioContext();
  if (!context || !track) return () => {};
  const source = context.createMediaStreamSource(new MediaStream([track]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Uint8Array(analyser.fftSize);
  const meter = {
    read() {
      analyser.getByteTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += (s - 128) * (s - 128);
      const rms = Math.sqrt(sum / samples.length) / 128;
      onLevel(track.enabled ? Math.min(1, rms * 4) : 0);
    },
  };
  levels.meters.add(meter);
  if (!levels.timer) levels.timer = setInterval(tick, 100);
  return () => {
    levels.meters.delete(meter);
    source.disconnect();
    if (levels.meters.size === 0) {
      clearInterval(levels.timer);
      levels.timer = 0;
    }
  };
}

/** Stops a track if there is one. */
export function stopTrack(track) {
  if (track) track.stop();
}
