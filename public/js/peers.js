// One RTCPeerConnection per remote peer, negotiated with "perfect negotiation".
//
// The newcomer offers first: `start()` for each peer in `welcome.peers` adds
// the transceivers and `negotiationneeded` sends the offer; the others answer.
// (When everyone offered at once, some pairs never left ICE state "new".)
// Later renegotiation (ICE restart) may come from either side; the polite and
// impolite roles settle collisions. Both transceivers are `sendrecv` from the
// start, even with no track, so camera, device or screen changes are a
// `replaceTrack` with no renegotiation.

const KINDS = ['audio', 'video'];

/**
 * What one outgoing video stream may use. In a mesh everyone uploads a copy
 * per other person, so a bigger call sends each smaller and slower (upload
 * and encoding stay about flat). A shared screen keeps its resolution, so
 * text stays readable, and trades frame rate instead.
 * @param {number} remotePeers  how many others are in the call
 * @param {boolean} screen  whether the video sender carries a shared screen
 */
export function videoLimitsFor(remotePeers, screen) {
  if (screen) return { maxBitrate: 1_500_000, maxFramerate: 15, scaleResolutionDownBy: 1 };
  if (remotePeers <= 1) return { maxBitrate: 1_200_000, maxFramerate: 30, scaleResolutionDownBy: 1 };
  if (remotePeers <= 3) return { maxBitrate: 600_000, maxFramerate: 24, scaleResolutionDownBy: 1.5 };
  return { maxBitrate: 300_000, maxFramerate: 15, scaleResolutionDownBy: 2 };
}

// ---- ICE servers ----
//
// From the Worker: STUN, and short-lived TURN credentials when set up. With
// none (a failed fetch), calls work wherever a direct path exists.

/** The ICE servers from the Worker; none when the request fails. */
async function fetchIceServers() {
  try {
    const res = await fetch('/api/ice-servers', { cache: 'no-store', signal: AbortSignal.timeout(5000) });
    const body = await res.json();
    return Array.isArray(body.iceServers) ? body.iceServers : [];
  } catch {
    return [];
  }
}

let iceServersAhead = null;

/**
 * Starts fetching the ICE servers now, while the page opens the camera, so
 * joining does not wait for one more round trip afterwards.
 */
export function prefetchIceServers() {
  iceServersAhead ??= fetchIceServers();
}

/** The ICE servers (STUN, and TURN when the operator set it up), fetched ahead or now. */
export function takeIceServers() {
  const servers = iceServersAhead ?? fetchIceServers();
  iceServersAhead = null;
  return servers;
}

/** The peer with the smaller id is polite: it yields when both offer at once. */
export function isPolite(selfId, peerId) {
  return selfId < peerId;
}

/**
 * @param {object} opts
 * @param {string} opts.selfId
 * @param {string} opts.peerId
 * @param {RTCIceServer[]} opts.iceServers
 * @param {() => {audio: MediaStreamTrack|null, video: MediaStreamTrack|null}} opts.localTracks
 * @param {(data: object) => void} opts.sendSignal  sends `{"type":"signal","to":peerId,data}`
 * @param {(stream: MediaStream, track: MediaStreamTrack) => void} opts.onTrack
 * @param {(state: RTCPeerConnectionState) => void} opts.onConnectionState
 */
export function createPeerLink({ selfId, peerId, iceServers, localTracks, sendSignal, onTrack, onConnectionState }) {
  const pc = new RTCPeerConnection({ iceServers });
  const polite = isPolite(selfId, peerId);
  const senders = { audio: null, video: null };
  const remoteStream = new MediaStream();
  const pendingCandidates = [];
  let makingOffer = false;
  let ignoreOffer = false;
  let closed = false;
  /** The latest `videoLimitsFor` answer, applied once the video sender exists. */
  let videoLimits = null;
  // Signals are handled one after another, in the order the server relayed them.
  let signalQueue = Promise.resolve();

  pc.onnegotiationneeded = async () => {
    try {
      makingOffer = true;
      await pc.setLocalDescription();
      sendSignal({ description: pc.localDescription.toJSON() });
    } catch (err) {
      console.warn('noom: offer failed', peerId, err);
    } finally {
      makingOffer = false;
    }
  };

  pc.onicecandidate = ({ candidate }) => {
    if (candidate) sendSignal({ candidate: candidate.toJSON() });
  };

  pc.oniceconnectionstatechange = () => {
    if (pc.iceConnectionState === 'failed') pc.restartIce();
  };

  pc.onconnectionstatechange = () => onConnectionState(pc.connectionState);

  pc.ontrack = ({ track }) => {
    for (const old of remoteStream.getTracks()) {
      if (old.kind === track.kind && old !== track) remoteStream.removeTrack(old);
    }
    if (!remoteStream.getTracks().includes(track)) remoteStream.addTrack(track);
    onTrack(remoteStream, track);
  };

  /**
   * Gives each kind one sending transceiver: a new one, or one the remote offer
   * created (both tracks handed over at once: an answer waits for this).
   */
  async function attachLocalTracks() {
    const tracks = localTracks();
    const replacing = [];
    for (const kind of KINDS) {
      if (senders[kind]) continue;
      const offered = pc.getTransceivers().find((t) => t.receiver.track.kind === kind && !t.stopped);
      if (offered) {
        offered.direction = 'sendrecv';
        replacing.push(offered.sender.replaceTrack(tracks[kind]));
        senders[kind] = offered.sender;
      } else {
        const transceiver = pc.addTransceiver(tracks[kind] ?? kind, { direction: 'sendrecv' });
        senders[kind] = transceiver.sender;
      }
    }
    await Promise.all(replacing);
  }

  /** Puts `videoLimits` on the video sender's encoding, if it changed. */
  async function applyVideoLimits() {
    const sender = senders.video;
    if (closed || !sender || !videoLimits) return;
    try {
      const params = sender.getParameters();
      const [encoding] = params.encodings ?? [];
      if (!encoding) return; // not negotiated yet: applied again when it is
      if (Object.entries(videoLimits).every(([key, value]) => encoding[key] === value)) return;
      Object.assign(encoding, videoLimits);
      await sender.setParameters(params);
    } catch (err) {
      console.warn('noom: video limits', err);
    }
  }

  async function flushCandidates() {
    while (pendingCandidates.length && pc.remoteDescription) {
      const candidate = pendingCandidates.shift();
      try { await pc.addIceCandidate(candidate); } catch (err) { console.warn('noom: candidate', err); }
    }
  }

  async function handleSignal({ description, candidate }) {
    if (closed) return;
    try {
      if (description) {
        const offerCollision = description.type === 'offer' &&
          (makingOffer || pc.signalingState !== 'stable');
        ignoreOffer = !polite && offerCollision;
        if (ignoreOffer) return;
        await pc.setRemoteDescription(description);
        if (description.type === 'offer') {
          await attachLocalTracks();
          await pc.setLocalDescription();
          sendSignal({ description: pc.localDescription.toJSON() });
        }
        // Limits need a negotiated sender; they never hold up the answer.
        await applyVideoLimits();
        await flushCandidates();
      } else if (candidate) {
        if (!pc.remoteDescription) {
          pendingCandidates.push(candidate);
          return;
        }
        try {
          await pc.addIceCandidate(candidate);
        } catch (err) {
          if (!ignoreOffer) throw err;
        }
      }
    } catch (err) {
      console.warn('noom: signal from', peerId, err);
    }
  }

  return {
    peerId,
    pc,
    polite,
    remoteStream,

    /** The newcomer's side: add transceivers, which fires `negotiationneeded` and the offer. */
    async start() {
      await attachLocalTracks();
      await applyVideoLimits();
    },

    /** Handles `data` from a `signal` frame sent by this peer. */
    handleSignal(data) {
      signalQueue = signalQueue.then(() => handleSignal(data ?? {}));
      return signalQueue;
    },

    /** Swaps the outgoing track of one kind (null sends nothing); never renegotiates. */
    async replaceTrack(kind, track) {
      if (closed || !senders[kind]) return;
      try { await senders[kind].replaceTrack(track); } catch (err) { console.warn('noom: replaceTrack', err); }
    },

    /** Sets the outgoing video's limits (see `videoLimitsFor`); never renegotiates. */
    setVideoLimits(limits) {
      videoLimits = limits;
      return applyVideoLimits();
    },

    /** The video sender's current encoding parameters (for tests and debugging). */
    videoEncoding() {
      return senders.video?.getParameters().encodings?.[0] ?? null;
    },

    /** The sender of one kind, once there is one (for levels and stats). */
    sender(kind) {
      return senders[kind];
    },

    /** The receiver of one kind, for levels and stats. */
    receiver(kind) {
      return pc.getReceivers().find((r) => r.track.kind === kind) ?? null;
    },

    close() {
      if (closed) return;
      closed = true;
      pc.onnegotiationneeded = pc.onicecandidate = pc.ontrack = null;
      pc.oniceconnectionstatechange = pc.onconnectionstatechange = null;
      for (const track of remoteStream.getTracks()) remoteStream.removeTrack(track);
      pc.close();
    },
  };
}
