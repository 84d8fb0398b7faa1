// The room page (interview rooms and meeting rooms): local devices, the live connection, the
// stage, the controls and their shortcuts. Reads its settings from #live-room's data-* (see
// web/templates/live/room.html); exposes `window.interviewday` for later modules and tests:
// {pc, participantId, room, clockOffsetMs, layout, state, serverNow(), showBanner(text, ms),
//  speaker (the active speaker's participant id or null),
//  connection (LiveConnection: events status/room/layout/moved/slots/pc/timetrack/self/downlink/
//  speaker),
//  local, stage}; and fires `interviewday:room` {name, roomKey, peers, applicant} on `document`.
import { JoinRefused, LiveConnection } from "./live/connection.js";
import { LocalMedia } from "./live/localmedia.js";
import { fillSelect, levelMeter, listDevices, trackDeviceId } from "./live/media.js";
import { loadPrefs, savePrefs } from "./live/prefs.js";
import { safeUrl } from "./live/dom.js";
import { Stage } from "./live/stage.js";

const $ = (id) => document.getElementById(id);
const BANNER_MS = 4000;
// What the server's congestion control does to what we receive (`downlink`), in words; at
// full quality there is nothing to say.
const DOWNLINK_TEXT = {
  reduced: "Your connection is weak: video quality is lowered.",
  audio_only: "Your connection is too weak for video. You can still hear everyone and they can hear you.",
};

function setText(node, text) {
  // Live regions announce every change: only touch them when the words change.
  if (node && node.textContent !== text) node.textContent = text;
}

// A toggle keeps one name, the words on it ("Microphone"); its state is aria-pressed, the icon
// and the colour. A label that changed with the state would no longer be the name a screen
// reader or voice control knows the button by (WCAG 2.5.3), and "Muted, not pressed" says
// the opposite of what it means. In words, the state is on the self view ("You are muted").
function setToggle(button, pressed) {
  if (!button) return;
  button.setAttribute("aria-pressed", String(pressed));
}

function isTyping(target) {
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  return !["button", "checkbox", "radio", "range", "submit", "reset"].includes(target.type);
}

function peerSummary(peers) {
  const names = [...peers.values()].filter((p) => !p.observer).map((p) => p.name);
  return names.length ? `With ${names.join(", ")}` : "No one else is here yet";
}

class RoomPage {
  constructor(root) {
    this.root = root;
    const data = root.dataset;
    this.kind = data.kind;
    this.role = data.role;
    const prefs = loadPrefs();
    this.hand = false;
    this.bannerTimer = null;
    this.connection = new LiveConnection({
      joinUrl: data.joinUrl,
      joinBody: data.joinBody,
      scope: data.scope,
      slots: Number(data.slots) || 3,
    });
    this.stage = new Stage($("stage"), () => { $("enable-sound").hidden = false; });
    this.stage.speakerId = prefs.speakerId;
    this.local = new LocalMedia(this.connection, prefs);
    this.local.addEventListener("change", () => this._onLocalChange());
    this.local.addEventListener("problem", (event) => this.showBanner(event.detail.message, 10000));
    this._expose();
    this._bindConnection();
    this._bindControls();
  }

  _expose() {
    const page = this;
    const connection = this.connection;
    window.interviewday = {
      get pc() { return connection.pc; },
      get participantId() { return connection.participantId; },
      get room() {
        return { name: connection.room.name, roomKey: connection.room.roomKey, peers: [...connection.room.peers.values()] };
      },
      get clockOffsetMs() { return connection.clock.offsetMs; },
      get layout() { return connection.layout; },
      get state() { return connection.state; },
      get speaker() { return connection.speaker; },
      serverNow: () => connection.clock.serverNow(),
      showBanner: (text, ms) => page.showBanner(text, ms),
      connection,
      local: this.local,
      stage: this.stage,
    };
  }

  async start() {
    let answer = null;
    for (let attempt = 0; !answer; attempt += 1) {
      try {
        answer = await this.connection.prepare();
      } catch (error) {
        if (error instanceof JoinRefused) {
          this._fatal(error.message);
          return;
        }
        // The network, not a refusal: keep trying, quietly.
        this._onStatus({ state: "reconnecting", message: "Cannot reach the server. Trying again…" });
        await new Promise((resolve) => window.setTimeout(resolve, Math.min(8000, 1000 * 2 ** attempt)));
      }
    }
    if (answer.mode === "external") {
      this._external(answer);
      return;
    }
    this.role = answer.role;
    this.root.classList.add(`live-role-${answer.role}`);
    setText($("room-name"), answer.room_name);
    if (answer.role === "observer") {
      // Observers receive only: the server does not forward their uplink anyway.
      this.local.disable();
      for (const id of ["ctl-mic", "ctl-cam"]) $(id).disabled = true;
      this._badge("Observing");
    } else {
      const notes = await this.local.open();
      if (notes.length) this.showBanner(notes.join(" "), 12000);
    }
    this.connection.mediaState = this.local.state();
    this.connection.connect({ audio: this.local.tracks.audio, video: this.local.outgoingVideo() });
  }

  _onLocalChange() {
    this._showSelf();
    this._renderControls();
    this._renderDevices();
    if (this.local.tracks.audio !== this.meteredTrack) this._watchMutedSpeech();
  }

  _showSelf() {
    const video = this.local.outgoingVideo();
    const self = $("self-video");
    const current = self.srcObject && self.srcObject.getVideoTracks()[0];
    if (current !== (video || undefined)) self.srcObject = video ? new MediaStream([video]) : null;
    self.classList.toggle("mirrored", !this.local.sharing);
    $("self-camera-off").hidden = Boolean(video);
  }

  // Speaking while muted (UX pitfall 1): say so, once, for a few seconds.
  _watchMutedSpeech() {
    if (this.meter) this.meter.stop();
    this.meter = null;
    this.meteredTrack = this.local.tracks.audio;
    if (!this.meteredTrack) return;
    let loud = 0;
    this.meter = levelMeter(this.meteredTrack, (level) => {
      loud = !this.local.micOn && !this.local.disabled && level > 0.12 ? loud + 1 : 0;
      if (loud === 5) {
        const hint = $("speaking-muted");
        hint.hidden = false;
        window.clearTimeout(this.hintTimer);
        this.hintTimer = window.setTimeout(() => { hint.hidden = true; }, 4000);
      }
    }, 200);
  }

  // --- what the connection tells us -------------------------------------------------------

  _bindConnection() {
    const connection = this.connection;
    connection.addEventListener("status", (event) => this._onStatus(event.detail));
    connection.addEventListener("slots", (event) => {
      this.stage.setSlots(event.detail.slots);
      this._renderRoom();
    });
    connection.addEventListener("layout", () => this._renderRoom());
    connection.addEventListener("room", () => {
      this._announceHands();
      this._announceAudioOnly();
      this._renderRoom();
      // For the side panel (scoring): who is in the room now, without knowing the socket.
      const peers = [...connection.room.peers.values()];
      const applicant = peers.find((p) => p.role === "applicant") || null;
      document.dispatchEvent(new CustomEvent("interviewday:room", {
        detail: { name: connection.room.name, roomKey: connection.room.roomKey, peers, applicant },
      }));
    });
    connection.addEventListener("self", (event) => {
      const quality = event.detail.peer.quality;
      $("self-quality").hidden = !quality || quality === "good";
      setText($("self-quality"), quality === "bad" ? "Your connection is poor" : "Your connection is unstable");
    });
    connection.addEventListener("downlink", (event) => this._onDownlink(event.detail.state));
    connection.addEventListener("speaker", (event) => this._onSpeaker(event.detail));
    connection.addEventListener("timetrack", (event) => this._onTimetrack(event.detail));
    connection.addEventListener("moved", (event) => {
      this.lastMove = event.detail;
      this.showBanner(`You are now in ${event.detail.name}`);
    });
  }

  // A newly raised hand is said once (the tile keeps showing it).
  _announceHands() {
    const raised = new Set();
    for (const [id, peer] of this.connection.room.peers) {
      if (!peer.hand) continue;
      raised.add(id);
      if (this.hands && !this.hands.has(id)) this.showBanner(`${peer.name} raised a hand`);
    }
    this.hands = raised;
  }

  // Someone whose link became too weak for any video is said once (their tile keeps a flag):
  // whoever talks to them should know they are no longer seen.
  _announceAudioOnly() {
    const audioOnly = new Set();
    for (const [id, peer] of this.connection.room.peers) {
      if (peer.downlink !== "audio_only" || peer.observer) continue;
      audioOnly.add(id);
      if (this.audioOnlyPeers && !this.audioOnlyPeers.has(id)) {
        this.showBanner(`${peer.name} cannot see you now (weak connection). They can still hear you.`, 8000);
      }
    }
    this.audioOnlyPeers = audioOnly;
  }

  // Our own downlink: the status line says why the video got worse or stopped. Its live region
  // stays in the page (only the message inside it comes and goes) so that a screen reader
  // announces the change.
  _onDownlink(state) {
    const text = DOWNLINK_TEXT[state] || "";
    const message = $("downlink-message");
    setText(message, text);
    message.hidden = !text;
    this.root.dataset.downlink = state;
  }

  // A meeting's active speaker: their tile is outlined and says "Speaking" (and comes first,
  // larger); when it is us, our own picture says so instead and the stage stays as it was.
  _onSpeaker({ participantId, reset }) {
    const self = Boolean(participantId) && participantId === this.connection.participantId;
    this.stage.setSpeaking(self ? null : participantId, reset);
    $("self-view").classList.toggle("is-speaking", self);
    $("self-speaking").hidden = !self;
  }

  // Messages of the day; the move notice and its countdown belong to the day module (day.js).
  _onTimetrack(payload) {
    if ((payload.type === "broadcast" || payload.type === "chat") && payload.message) {
      setText($("live-notice-from"), payload.from ? `${payload.from}:` : "Message:");
      setText($("live-notice-text"), payload.message);
      $("live-notice").hidden = false;
    }
  }

  _onStatus({ state, message }) {
    if (state === this.lastState && state !== "reconnecting") return; // announce changes only
    this.lastState = state;
    const toast = $("connection-status");
    toast.dataset.state = state;
    if (state === "fatal") {
      this._fatal(message);
      return;
    }
    if (state === "connected") {
      const wasTrouble = this.trouble;
      this.trouble = false;
      setText(toast, wasTrouble ? "Reconnected" : "Connected");
      window.clearTimeout(this.toastTimer);
      this.toastTimer = window.setTimeout(() => toast.classList.add("is-quiet"), wasTrouble ? 2500 : 1500);
      return;
    }
    if (state === "reconnecting") this.trouble = true;
    window.clearTimeout(this.toastTimer);
    toast.classList.remove("is-quiet");
    setText(toast, message);
  }

  _renderRoom() {
    const room = this.connection.room;
    setText($("room-name"), room.name);
    const shown = this.stage.update(this.connection.layout, room.peers);
    const visible = shown.length > 0;
    setText($("room-peers"), peerSummary(room.peers));
    const waiting = $("waiting");
    let text = "";
    // In one's own waiting room (the review, or before the day) day.js says what comes next.
    const ownWaitingRoom = (room.roomKey || "").includes(":waiting:");
    if (!visible && !ownWaitingRoom) {
      if (this.role === "applicant") text = "Your interviewer will let you in shortly.";
      else if (this.role === "interviewer") text = "Waiting for the applicant.";
      else text = "You are the only one here so far.";
    }
    waiting.hidden = !text;
    setText(waiting, text);
    if (this.role === "interviewer") {
      const applicantHere = [...room.peers.values()].some((p) => p.role === "applicant");
      this._badge(applicantHere ? "Applicant joined" : "Waiting for applicant");
    }
  }

  _badge(text) {
    const badge = $("room-badge");
    badge.hidden = !text;
    setText(badge, text);
  }

  showBanner(text, ms = BANNER_MS) {
    const banner = $("live-banner");
    setText(banner, text);
    banner.hidden = false;
    window.clearTimeout(this.bannerTimer);
    this.bannerTimer = window.setTimeout(() => { banner.hidden = true; }, ms);
  }

  _fatal(message) {
    if (this.connection) this.connection.left = true;
    this._stopLocal();
    $("fatal-message").textContent = message;
    $("fatal-view").hidden = false;
    this.root.classList.add("is-ended");
  }

  _external(answer) {
    this.connection.left = true;
    const view = $("fatal-view");
    $("fatal-title").textContent = answer.room_name;
    const message = $("fatal-message");
    message.removeAttribute("role");
    message.replaceChildren();
    // Only http(s) links become a button: a javascript: or data: URL from a form field is refused.
    const external = safeUrl(answer.external_url);
    if (external) {
      const link = document.createElement("a");
      link.className = "btn btn-primary";
      link.id = "external-join";
      link.href = external;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      link.textContent = "Join the meeting";
      message.append("This meeting takes place in an outside app. ", link);
    } else {
      message.textContent = "The meeting link for this room has not been added yet.";
    }
    view.hidden = false;
    this.root.classList.add("is-ended");
  }

  // --- controls --------------------------------------------------------------------------------

  _renderControls() {
    const audio = this.local.audioOn();
    const video = this.local.videoOn();
    const sharing = Boolean(this.local.sharing);
    setToggle($("ctl-mic"), audio);
    setToggle($("ctl-cam"), video);
    $("ctl-mic").classList.toggle("is-off", !audio);
    $("ctl-cam").classList.toggle("is-off", !video);
    $("self-muted").hidden = audio || this.local.disabled;
    this.root.classList.toggle("is-muted", !audio);
    setToggle($("ctl-hand"), this.hand);
    setToggle($("ctl-share"), sharing);
  }

  _bindControls() {
    $("ctl-mic").addEventListener("click", () => this.local.toggleMic());
    $("ctl-cam").addEventListener("click", () => this.local.toggleCamera());
    if ($("ctl-hand")) $("ctl-hand").addEventListener("click", () => this.toggleHand());
    if ($("ctl-share")) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) $("ctl-share").hidden = true;
      $("ctl-share").addEventListener("click", () => (this.local.sharing ? this.local.stopSharing() : this.local.startSharing()));
    }
    $("ctl-devices").addEventListener("click", () => this.openDevicesDialog());
    $("ctl-help").addEventListener("click", () => $("help-dialog").showModal());
    $("ctl-leave").addEventListener("click", () => this.leave());
    $("live-notice-dismiss").addEventListener("click", () => { $("live-notice").hidden = true; });
    $("enable-sound").addEventListener("click", async () => {
      await this.stage.retryAudio();
      $("enable-sound").hidden = true;
    });
    $("dev-mic").addEventListener("change", (event) => this.local.switchMicrophone(event.target.value));
    $("dev-cam").addEventListener("change", (event) => this.local.switchCamera(event.target.value));
    $("dev-speaker").addEventListener("change", (event) => {
      this.local.prefs = savePrefs({ speakerId: event.target.value });
      this.stage.setSpeaker(event.target.value);
    });
    document.addEventListener("keydown", (event) => this._shortcut(event));
    window.addEventListener("pagehide", () => this.connection.close());
  }

  _shortcut(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target) || this.root.classList.contains("is-ended")) return;
    if (document.querySelector("dialog[open]")) return;
    const key = event.key;
    if (key === "m" || key === "M") this.local.toggleMic();
    else if (key === "v" || key === "V") this.local.toggleCamera();
    else if (key === "?") $("shortcuts-dialog").showModal();
    else return;
    event.preventDefault();
  }

  toggleHand() {
    this.hand = !this.hand;
    this.connection.setHand(this.hand);
    $("self-view").classList.toggle("is-hand", this.hand);
    this._renderControls();
  }

  async openDevicesDialog() {
    const devices = await listDevices();
    const { tracks, prefs } = this.local;
    fillSelect($("dev-mic"), devices, "audioinput", trackDeviceId(tracks.audio) || prefs.micId, "Default microphone");
    fillSelect($("dev-cam"), devices, "videoinput", trackDeviceId(tracks.video) || prefs.camId, "Default camera");
    fillSelect($("dev-speaker"), devices, "audiooutput", prefs.speakerId, "Default speakers");
    $("dev-speaker").disabled = typeof HTMLMediaElement.prototype.setSinkId !== "function";
    this._renderDevices();
    $("devices-dialog").showModal();
  }

  _renderDevices() {
    const audio = this.local.tracks.audio;
    setText($("dev-mic-name"), audio ? audio.label || "Default microphone" : "none");
  }

  _stopLocal() {
    if (this.meter) this.meter.stop();
    this.local.stop();
  }

  leave() {
    this.connection.leave();
    this._stopLocal();
    $("left-view").hidden = false;
    this.root.classList.add("is-ended");
    $("left-view").querySelector("a").focus();
  }
}

const root = document.getElementById("live-room");
if (root) {
  const page = new RoomPage(root);
  page.start();
}
