// The room page (interview rooms and meeting rooms): local devices, the live connection, the
// stage, the controls and their shortcuts. Reads its settings from #live-room's data-* (see
// web/templates/live/room.html); exposes `window.interviewday` for later modules and tests:
// {pc, participantId, room, clockOffsetMs, layout, serverNow(), showBanner(text), connection}.
import { LiveConnection } from "./live/connection.js";
import { explainProblem, fillSelect, levelMeter, listDevices, openCamera, openDevices, openMicrophone, trackDeviceId } from "./live/media.js";
import { loadPrefs, savePrefs } from "./live/prefs.js";
import { Stage } from "./live/stage.js";

const $ = (id) => document.getElementById(id);
const BANNER_MS = 4000;

function setText(node, text) {
  // Live regions announce every change: only touch them when the words change.
  if (node && node.textContent !== text) node.textContent = text;
}

function setToggle(button, pressed, label) {
  if (!button) return;
  button.setAttribute("aria-pressed", String(pressed));
  setText(button.querySelector(".toggle-state"), label);
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
    this.prefs = loadPrefs();
    this.tracks = { audio: null, video: null };
    this.micOn = this.prefs.micOn;
    this.camOn = this.prefs.camOn;
    this.sharing = null;
    this.hand = false;
    this.bannerTimer = null;
    this.connection = new LiveConnection({
      joinUrl: data.joinUrl,
      joinBody: data.joinBody,
      scope: data.scope,
      slots: Number(data.slots) || 3,
    });
    this.stage = new Stage($("stage"), () => { $("enable-sound").hidden = false; });
    this.stage.speakerId = this.prefs.speakerId;
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
      serverNow: () => connection.clock.serverNow(),
      showBanner: (text, ms) => page.showBanner(text, ms),
      connection,
      stage: this.stage,
    };
  }

  async start() {
    let answer;
    try {
      answer = await this.connection.prepare();
    } catch (error) {
      this._fatal(error.message || "You cannot join this room right now.");
      return;
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
      this.micOn = false;
      this.camOn = false;
      for (const id of ["ctl-mic", "ctl-cam"]) $(id).disabled = true;
      this._badge("Observing");
    } else {
      await this._openDevices();
    }
    this.connection.mediaState = { audio: this._audioOn(), video: this._videoOn(), screen: false };
    this._renderControls();
    this.connection.connect(this.tracks);
  }

  _audioOn() { return Boolean(this.micOn && this.tracks.audio); }
  _videoOn() { return Boolean(this.camOn && this.tracks.video); }

  async _openDevices() {
    // The microphone opens even when muted: unmuting is instant and we can say "you are muted".
    const opened = await openDevices({ micId: this.prefs.micId, camId: this.prefs.camId, audio: true, video: this.camOn });
    this.tracks = { audio: opened.audio, video: opened.video };
    if (this.tracks.audio) this.tracks.audio.enabled = this.micOn;
    this._showSelf();
    this._watchMutedSpeech();
    const notes = opened.problems.map(explainProblem);
    for (const kind of opened.fellBack) {
      const label = kind === "audio" ? this.tracks.audio && this.tracks.audio.label : this.tracks.video && this.tracks.video.label;
      notes.push(`Your saved ${kind === "audio" ? "microphone" : "camera"} is not connected; using ${label || "the default one"}.`);
    }
    if (notes.length) this.showBanner(notes.join(" "), 12000);
  }

  _showSelf() {
    const video = this.sharing || (this.camOn ? this.tracks.video : null);
    $("self-video").srcObject = video ? new MediaStream([video]) : null;
    $("self-video").classList.toggle("mirrored", !this.sharing);
    $("self-camera-off").hidden = Boolean(video);
  }

  _watchMutedSpeech() {
    if (this.meter) this.meter.stop();
    this.meter = null;
    if (!this.tracks.audio) return;
    let loud = 0;
    this.meter = levelMeter(this.tracks.audio, (level) => {
      loud = !this.micOn && level > 0.12 ? loud + 1 : 0;
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
    connection.addEventListener("room", () => this._renderRoom());
    connection.addEventListener("timetrack", (event) => this._onTimetrack(event.detail));
    connection.addEventListener("moved", (event) => {
      this.lastMove = event.detail;
      this.showBanner(`Moving you to ${event.detail.name}`);
    });
  }

  // The banners of the day; the countdown itself belongs to the timer module.
  _onTimetrack(payload) {
    if (payload.type === "moving" && payload.room_name) {
      const seconds = Math.max(0, Math.round(payload.in_seconds || 0));
      this.showBanner(`Moving you to ${payload.room_name} in ${seconds} s`, (seconds + 2) * 1000);
    } else if ((payload.type === "broadcast" || payload.type === "chat") && payload.message) {
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
    if (!visible) {
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
    if (answer.external_url) {
      const link = document.createElement("a");
      link.className = "btn btn-primary";
      link.id = "external-join";
      link.href = answer.external_url;
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
    setToggle($("ctl-mic"), this._audioOn(), this._audioOn() ? "Mic on" : "Muted");
    setToggle($("ctl-cam"), this._videoOn(), this._videoOn() ? "Camera on" : "Camera off");
    $("ctl-mic").classList.toggle("is-off", !this._audioOn());
    $("ctl-cam").classList.toggle("is-off", !this._videoOn());
    $("self-muted").hidden = this._audioOn() || this.role === "observer";
    this.root.classList.toggle("is-muted", !this._audioOn());
    setToggle($("ctl-hand"), this.hand, this.hand ? "Lower hand" : "Raise hand");
    setToggle($("ctl-share"), Boolean(this.sharing), this.sharing ? "Stop sharing" : "Share screen");
  }

  _bindControls() {
    $("ctl-mic").addEventListener("click", () => this.toggleMic());
    $("ctl-cam").addEventListener("click", () => this.toggleCamera());
    if ($("ctl-hand")) $("ctl-hand").addEventListener("click", () => this.toggleHand());
    if ($("ctl-share")) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getDisplayMedia) $("ctl-share").hidden = true;
      $("ctl-share").addEventListener("click", () => (this.sharing ? this.stopSharing() : this.startSharing()));
    }
    $("ctl-devices").addEventListener("click", () => this.openDevicesDialog());
    $("ctl-help").addEventListener("click", () => $("help-dialog").showModal());
    $("ctl-leave").addEventListener("click", () => this.leave());
    $("live-notice-dismiss").addEventListener("click", () => { $("live-notice").hidden = true; });
    $("enable-sound").addEventListener("click", async () => {
      await this.stage.retryAudio();
      $("enable-sound").hidden = true;
    });
    $("dev-mic").addEventListener("change", (event) => this.switchMicrophone(event.target.value));
    $("dev-cam").addEventListener("change", (event) => this.switchCamera(event.target.value));
    $("dev-speaker").addEventListener("change", (event) => {
      this.prefs = savePrefs({ speakerId: event.target.value });
      this.stage.setSpeaker(event.target.value);
    });
    document.addEventListener("keydown", (event) => this._shortcut(event));
    window.addEventListener("pagehide", () => this.connection.leave());
  }

  _shortcut(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (isTyping(event.target) || this.root.classList.contains("is-ended")) return;
    if (document.querySelector("dialog[open]")) return;
    const key = event.key;
    if (key === "m" || key === "M") this.toggleMic();
    else if (key === "v" || key === "V") this.toggleCamera();
    else if (key === "?") $("shortcuts-dialog").showModal();
    else return;
    event.preventDefault();
  }

  async toggleMic() {
    if (this.role === "observer") return;
    if (!this.tracks.audio) {
      try {
        this.tracks.audio = await openMicrophone(this.prefs.micId);
        await this.connection.replaceTrack("audio", this.tracks.audio);
        this._watchMutedSpeech();
        this.micOn = true;
      } catch (error) {
        this.showBanner(explainProblem({ kind: "audio", error }), 10000);
        return;
      }
    } else {
      this.micOn = !this.micOn;
    }
    this.tracks.audio.enabled = this.micOn;
    this.connection.setMedia({ audio: this._audioOn() });
    this._renderControls();
  }

  async toggleCamera() {
    if (this.role === "observer") return;
    if (this.camOn && this.tracks.video) {
      // Off means off: the camera light goes out, nothing is sent.
      this.camOn = false;
      this.tracks.video.stop();
      this.tracks.video = null;
      if (!this.sharing) await this.connection.replaceTrack("video", null);
    } else {
      try {
        this.tracks.video = await openCamera(this.prefs.camId);
      } catch (error) {
        this.showBanner(explainProblem({ kind: "video", error }), 10000);
        return;
      }
      this.camOn = true;
      if (!this.sharing) await this.connection.replaceTrack("video", this.tracks.video);
    }
    this.connection.setMedia({ video: this._videoOn() });
    this._showSelf();
    this._renderControls();
  }

  toggleHand() {
    this.hand = !this.hand;
    this.connection.setHand(this.hand);
    $("self-view").classList.toggle("is-hand", this.hand);
    this._renderControls();
  }

  async startSharing() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    } catch {
      return; // the person cancelled the picker
    }
    const track = stream.getVideoTracks()[0];
    if ("contentHint" in track) track.contentHint = "detail";
    track.addEventListener("ended", () => this.stopSharing());
    this.sharing = track;
    // Same sender, new track: no renegotiation, the slots of everyone else stay as they are.
    await this.connection.replaceTrack("video", track);
    this.connection.setMedia({ screen: true });
    this._showSelf();
    this._renderControls();
  }

  async stopSharing() {
    if (!this.sharing) return;
    const track = this.sharing;
    this.sharing = null;
    track.stop();
    await this.connection.replaceTrack("video", this._videoOn() ? this.tracks.video : null);
    this.connection.setMedia({ screen: false, video: this._videoOn() });
    this._showSelf();
    this._renderControls();
  }

  async openDevicesDialog() {
    const devices = await listDevices();
    fillSelect($("dev-mic"), devices, "audioinput", trackDeviceId(this.tracks.audio) || this.prefs.micId, "Default microphone");
    fillSelect($("dev-cam"), devices, "videoinput", trackDeviceId(this.tracks.video) || this.prefs.camId, "Default camera");
    fillSelect($("dev-speaker"), devices, "audiooutput", this.prefs.speakerId, "Default speakers");
    $("dev-speaker").disabled = typeof HTMLMediaElement.prototype.setSinkId !== "function";
    setText($("dev-mic-name"), this.tracks.audio ? this.tracks.audio.label || "Default microphone" : "none");
    $("devices-dialog").showModal();
  }

  async switchMicrophone(micId) {
    this.prefs = savePrefs({ micId });
    try {
      const track = await openMicrophone(micId);
      track.enabled = this.micOn;
      const old = this.tracks.audio;
      this.tracks.audio = track;
      await this.connection.replaceTrack("audio", track);
      if (old) old.stop();
      this._watchMutedSpeech();
      setText($("dev-mic-name"), track.label || "Default microphone");
    } catch (error) {
      this.showBanner(explainProblem({ kind: "audio", error }), 10000);
    }
  }

  async switchCamera(camId) {
    this.prefs = savePrefs({ camId });
    if (!this.camOn) return;
    try {
      const track = await openCamera(camId);
      const old = this.tracks.video;
      this.tracks.video = track;
      if (!this.sharing) await this.connection.replaceTrack("video", track);
      if (old) old.stop();
      this._showSelf();
    } catch (error) {
      this.showBanner(explainProblem({ kind: "video", error }), 10000);
    }
  }

  _stopLocal() {
    if (this.meter) this.meter.stop();
    for (const track of [this.tracks.audio, this.tracks.video, this.sharing]) if (track) track.stop();
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
