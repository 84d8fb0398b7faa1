// One participant's live connection: the join token, the socket.io link to `/live`, and one
// RTCPeerConnection for the whole day (docs/protocol.md, "Live rooms (native video)").
//
// The offer is made once: own audio + video (sendonly), then K recvonly audio+video pairs,
// the fixed slots where other people appear. Moves between rooms only change what feeds each
// slot (`layout`), never the peer connection. A new peer connection is built only when the
// old one cannot carry media any more: the socket reconnected (the server dropped our media
// with the socket), ICE/DTLS failed, or the server said `media_failed`.
//
// Events (CustomEvent.detail): "status" {state: connecting|connected|reconnecting|left|fatal,
// message}, "room" {name, roomKey, peers: Map}, "moved" {name}, "layout" {layout},
// "slots" {slots: [{index, audioMid, videoMid, audioTrack, videoTrack}]}, "pc" {pc},
// "timetrack" (the server's `timetrack` payload as it came), "self" {peer} (our own state as
// the server sees it, with our link's quality), "downlink" {state: full|reduced|audio_only,
// estimateKbps} (what the server's congestion control lets through to us), "speaker"
// {participantId (or null), reset} (a meeting's active speaker; `reset` when a move to another
// room made the last one meaningless). "status" fatal also when the server says `replaced`
// (this person joined again elsewhere).
import { io } from "socket.io-client";

import { ClockOffset } from "./clock.js";
import { withStartBitrate } from "./sdp.js";
import { START_KBPS, fitEncodings, initialEncodings } from "./simulcast.js";

const HEARTBEAT_MS = 2000;
const GATHER_LIMIT_MS = 3000;
const JOIN_TIMEOUT_MS = 15000;
const DISCONNECTED_GRACE_MS = 6000;
const RETRY_MS = [500, 1000, 2000, 4000, 8000];
const DOWNLINK_STATES = new Set(["full", "reduced", "audio_only"]);

export class JoinRefused extends Error {
  constructor(status, error) {
    super((error && error.message) || `The server refused to let you join (${status}).`);
    this.status = status;
    this.code = (error && error.code) || "refused";
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// The socket goes to the node named in the join answer (scale-out); a wildcard bind address
// is not something a browser can reach, so that one means "this page's server".
function socketUrl(answer) {
  const base = new URL(answer.url || window.location.origin, window.location.href);
  if (base.hostname === "0.0.0.0") return new URL(answer.namespace, window.location.origin).href;
  return new URL(answer.namespace, base).href;
}

function waitForGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", check);
      window.clearTimeout(timer);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    // On loopback gathering completes at once; a slow STUN/TURN server must not hold us up.
    const timer = window.setTimeout(done, GATHER_LIMIT_MS);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export class LiveConnection extends EventTarget {
  constructor({ joinUrl, joinBody = "{}", scope, slots }) {
    super();
    this.joinUrl = joinUrl;
    this.joinBody = joinBody;
    this.scope = scope;
    this.slotCount = slots;
    this.answer = null;
    this.socket = null;
    this.pc = null;
    this.generation = 0;
    this.participantId = null;
    this.room = { name: "", roomKey: "", peers: new Map() };
    this.layout = {};
    this.slots = [];
    this.clock = new ClockOffset();
    this.tracks = { audio: null, video: null };
    this.mediaState = { audio: true, video: true, screen: false };
    this.hand = false;
    this.downlink = "full";
    this.speaker = null;
    this.left = false;
    this.failures = 0;
    this._heartbeat = null;
    this._retryTimer = null;
    this._disconnectedTimer = null;
    this._firstAnswer = null;
  }

  _fire(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _status(state, message = "") {
    this.state = state;
    this._fire("status", { state, message });
  }

  // Asks the server for a join token (and our role, room and mode). Throws JoinRefused.
  async fetchJoin() {
    const response = await fetch(this.joinUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: this.joinBody,
    });
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    if (!response.ok) throw new JoinRefused(response.status, body && body.error);
    return body;
  }

  // The first join answer: the caller decides (external link? observer?) before `connect`.
  async prepare() {
    this.answer = await this.fetchJoin();
    this._firstAnswer = this.answer;
    this.participantId = this.answer.participant_id;
    this.room.name = this.answer.room_name;
    this.room.roomKey = this.answer.room_key;
    return this.answer;
  }

  connect({ audio = null, video = null } = {}) {
    this.tracks = { audio, video };
    this._status("connecting", "Connecting…");
    const socket = io(socketUrl(this.answer), {
      transports: ["websocket"],
      // Any node relays the socket to the node that owns this session (docs/protocol.md).
      query: this.scope ? { scope: this.scope } : {},
      reconnectionDelay: 500,
      reconnectionDelayMax: 5000,
      // Every (re)connection presents a fresh token: they are valid for 10 minutes.
      auth: (callback) => this._auth(callback),
    });
    this.socket = socket;
    socket.on("connect", () => {
      this.failures = 0;
      this._startMedia().catch((error) => this._restartMedia(String(error)));
    });
    socket.on("disconnect", (reason) => {
      if (this.left) return;
      this._status("reconnecting", "Reconnecting…");
      if (reason === "io server disconnect") this._retrySocket();
    });
    socket.on("connect_error", (error) => {
      if (this.left) return;
      const code = error && error.data && error.data.code;
      if (code === "wrong_session") {
        this._fatal(error.message || "This join link is for another session.");
        return;
      }
      this._status("reconnecting", "Reconnecting…");
      // A refusal by the server is final for socket.io; network failures retry by themselves.
      if (!socket.active) this._retrySocket();
    });
    socket.on("layout", (layout) => this._applyLayout(layout));
    socket.on("peer", (peer) => this._applyPeer(peer));
    socket.on("peer_left", ({ participant_id: id }) => {
      if (this.room.peers.delete(id)) this._fireRoom();
    });
    socket.on("moved", (room) => {
      // The old room's speaker means nothing here; the new room says its own on the next change.
      this._applySpeaker(null, true);
      this._applyRoom(room);
      this._fire("moved", { name: room.name, roomKey: room.room_key, at: performance.now() });
    });
    socket.on("media_failed", () => this._restartMedia("the server lost our media"));
    // We joined again from another tab or device: that one has the room now; this one stops
    // rather than taking it back (two tabs would otherwise take turns).
    socket.on("replaced", (data) => this._fatal((data && data.message) || "You joined from another window."));
    // The day on the clock (docs/protocol.md, "TimeTrack"): passed on for the timer and banners.
    socket.on("timetrack", (payload) => this._fire("timetrack", payload || {}));
    socket.on("downlink", (data) => this._applyDownlink(data && data.state, data && data.estimate_kbps));
    socket.on("speaker", (data) => this._applySpeaker(data && data.participant_id));
    this._heartbeat = window.setInterval(() => this._sendHeartbeat(), HEARTBEAT_MS);
  }

  _auth(callback) {
    const first = this._firstAnswer;
    this._firstAnswer = null;
    (first ? Promise.resolve(first) : this.fetchJoin())
      .then((answer) => {
        this.answer = answer;
        callback({ token: answer.token, scope: this.scope });
      })
      .catch((error) => {
        if (error instanceof JoinRefused && error.status >= 400 && error.status < 500 && error.status !== 429) {
          this._fatal(error.message);
        }
        callback({}); // refused as `no_token`; `connect_error` schedules the next try
      });
  }

  _retrySocket() {
    window.clearTimeout(this._retryTimer);
    // Jitter: when a server goes away, its participants do not all come back in one instant.
    const delay = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)] * (0.5 + Math.random());
    this.failures += 1;
    this._retryTimer = window.setTimeout(() => {
      if (!this.left && this.socket && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  _fatal(message) {
    this.left = true;
    this._stopTimers();
    if (this.socket) this.socket.disconnect();
    this._status("fatal", message);
  }

  _emit(event, data, timeoutMs = 5000) {
    return new Promise((resolve) => {
      this.socket.timeout(timeoutMs).emit(event, data, (error, ack) => {
        resolve(error ? { ok: false, error: { code: "timeout", message: `${event}: no answer` } } : ack);
      });
    });
  }

  // --- the peer connection ---------------------------------------------------------------

  async _startMedia() {
    const generation = ++this.generation;
    window.clearTimeout(this._disconnectedTimer);
    if (this.pc) this.pc.close();
    const pc = new RTCPeerConnection({
      bundlePolicy: "max-bundle",
      iceServers: (this.answer && this.answer.ice_servers) || [],
    });
    this.pc = pc;
    this._fire("pc", { pc });
    pc.addTransceiver(this.tracks.audio || "audio", { direction: "sendonly" });
    pc.addTransceiver(this.tracks.video || "video", {
      direction: "sendonly",
      sendEncodings: initialEncodings(),
    });
    for (let i = 0; i < this.slotCount; i += 1) {
      pc.addTransceiver("audio", { direction: "recvonly" });
      pc.addTransceiver("video", { direction: "recvonly" });
    }
    const watch = () => this._watchPc(pc, generation);
    pc.addEventListener("connectionstatechange", watch);
    pc.addEventListener("iceconnectionstatechange", watch);

    await pc.setLocalDescription(await pc.createOffer());
    await waitForGathering(pc);
    if (generation !== this.generation) return;
    const sentAt = Date.now();
    const started = performance.now();
    const ack = await this._emit(
      "join",
      { offer: pc.localDescription.sdp, slots: this.slotCount },
      JOIN_TIMEOUT_MS,
    );
    const rtt = performance.now() - started;
    if (generation !== this.generation || this.left) return;
    if (!ack || !ack.ok) {
      // The socket went away meanwhile (its `connect` starts over) or the server failed.
      if (this.socket.connected) this._restartMedia((ack && ack.error && ack.error.message) || "join failed");
      return;
    }
    // Room and layout first, before anything awaits: `peer` and `layout` events that arrive
    // after the ack are newer than its snapshot and must not be overwritten by it.
    this.participantId = ack.participant_id;
    this.clock.add(sentAt, rtt, ack.server_time);
    this._applyRoom(ack.room);
    this._applyLayout(ack.layout || {});
    // A meeting's speaker as it stands (the `speaker` event says only changes).
    this._applySpeaker(ack.speaker, true);
    // A new peer connection starts a new congestion control at full quality; it says so
    // (`downlink`) as soon as it sends us less.
    this._applyDownlink("full", null);
    const videoMid = pc.getTransceivers()[1].mid;
    await pc.setRemoteDescription({ type: "answer", sdp: withStartBitrate(ack.answer, videoMid, START_KBPS) });
    if (generation !== this.generation) return;
    const transceivers = pc.getTransceivers();
    fitEncodings(transceivers[1].sender, this.tracks.video).catch(() => {});
    this.slots = [];
    for (let i = 0; i < this.slotCount; i += 1) {
      const audio = transceivers[2 + 2 * i];
      const video = transceivers[3 + 2 * i];
      this.slots.push({
        index: i,
        audioMid: audio.mid,
        videoMid: video.mid,
        audioTrack: audio.receiver.track,
        videoTrack: video.receiver.track,
      });
    }
    this._fire("slots", { slots: this.slots });
    // The server starts everyone unmuted: tell it how we really are.
    this._emit("media", { ...this.mediaState });
    if (this.hand) this._emit("hand", { raised: true });
  }

  _watchPc(pc, generation) {
    if (generation !== this.generation || this.left) return;
    const states = [pc.connectionState, pc.iceConnectionState];
    if (states.includes("failed")) {
      this._restartMedia("the connection failed");
    } else if (pc.connectionState === "connected") {
      window.clearTimeout(this._disconnectedTimer);
      this._disconnectedTimer = null;
      this.failures = 0;
      this._status("connected", "Connected");
    } else if (states.includes("disconnected")) {
      // Usually a blip that heals by itself; a quiet toast, and a new connection if it lasts.
      this._status("reconnecting", "Reconnecting…");
      if (!this._disconnectedTimer) {
        this._disconnectedTimer = window.setTimeout(() => {
          this._disconnectedTimer = null;
          if (generation === this.generation && pc.connectionState !== "connected") {
            this._restartMedia("the connection did not come back");
          }
        }, DISCONNECTED_GRACE_MS);
      }
    }
  }

  _restartMedia(reason) {
    if (this.left || !this.socket || !this.socket.connected) return;
    this._status("reconnecting", "Reconnecting…");
    const generation = ++this.generation; // the old connection's events are ignored from now
    const delay = RETRY_MS[Math.min(this.failures, RETRY_MS.length - 1)];
    this.failures += 1;
    this.lastRestartReason = reason;
    window.setTimeout(() => {
      if (generation === this.generation && !this.left && this.socket.connected) {
        this._startMedia().catch((error) => this._restartMedia(String(error)));
      }
    }, delay);
  }

  // --- room state --------------------------------------------------------------------------

  _applyRoom(room) {
    if (!room) return;
    this.room.name = room.name;
    this.room.roomKey = room.room_key;
    this.room.peers = new Map();
    for (const peer of room.peers || []) {
      if (peer.participant_id !== this.participantId && peer.connected !== false) {
        this.room.peers.set(peer.participant_id, peer);
      }
    }
    this._fireRoom();
  }

  _applyPeer(peer) {
    if (!peer) return;
    if (peer.participant_id === this.participantId) {
      // How the server sees us (quality of our own link): for the self-view.
      this.self = peer;
      this._fire("self", { peer });
      return;
    }
    if (peer.connected === false) this.room.peers.delete(peer.participant_id);
    else this.room.peers.set(peer.participant_id, peer);
    this._fireRoom();
  }

  _applyDownlink(state, estimateKbps) {
    if (!DOWNLINK_STATES.has(state)) return;
    const changed = state !== this.downlink;
    this.downlink = state;
    if (changed) this._fire("downlink", { state, estimateKbps: Number.isFinite(estimateKbps) ? estimateKbps : null });
  }

  // Sent only on a change, but a repeat must not move anything either.
  _applySpeaker(participantId, reset = false) {
    const speaker = typeof participantId === "string" && participantId ? participantId : null;
    if (speaker === this.speaker && !reset) return;
    this.speaker = speaker;
    this._fire("speaker", { participantId: speaker, reset });
  }

  _fireRoom() {
    this._fire("room", { name: this.room.name, roomKey: this.room.roomKey, peers: this.room.peers });
  }

  _applyLayout(layout) {
    this.layout = { ...layout };
    this._fire("layout", { layout: this.layout });
  }

  _sendHeartbeat() {
    if (!this.socket || !this.socket.connected) return;
    const sentAt = Date.now();
    const started = performance.now();
    this.socket.timeout(HEARTBEAT_MS * 2).emit("heartbeat", { t: sentAt }, (error, ack) => {
      if (error || !ack || !ack.ok) return;
      this.clock.add(sentAt, performance.now() - started, ack.server_time);
    });
  }

  // --- what the person does ------------------------------------------------------------------

  setMedia(state) {
    this.mediaState = { ...this.mediaState, ...state };
    if (this.socket && this.socket.connected) this._emit("media", { ...this.mediaState });
  }

  setHand(raised) {
    this.hand = raised;
    if (this.socket && this.socket.connected) this._emit("hand", { raised });
  }

  // Swaps what we send without renegotiating (device change, camera off, screen sharing).
  async replaceTrack(kind, track) {
    this.tracks[kind] = track;
    if (!this.pc) return;
    const sender = this.pc.getTransceivers()[kind === "audio" ? 0 : 1].sender;
    await sender.replaceTrack(track);
    if (kind === "video" && this.pc.currentRemoteDescription) await fitEncodings(sender, track);
  }

  sender(kind) {
    return this.pc ? this.pc.getTransceivers()[kind === "audio" ? 0 : 1].sender : null;
  }

  // "Leave" pressed: the server forgets where we were.
  leave() {
    if (this.left) return;
    if (this.socket && this.socket.connected) this.socket.emit("leave");
    this.close();
    this._status("left", "You left the room");
  }

  // The page goes away (reload, closed tab): without `leave`, so the server keeps our room
  // and a reload lands where the day had moved us, not in the first room of the token.
  close() {
    this.left = true;
    this._stopTimers();
    if (this.socket) this.socket.disconnect();
    if (this.pc) this.pc.close();
  }

  _stopTimers() {
    window.clearInterval(this._heartbeat);
    window.clearTimeout(this._retryTimer);
    window.clearTimeout(this._disconnectedTimer);
  }
}
