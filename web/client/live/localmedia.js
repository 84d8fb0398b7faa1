// What this person sends: microphone, camera and screen, and their on/off state. Every change
// goes to the connection without renegotiating (`replaceTrack` on the fixed senders) and to the
// server (`media`). Fires "change" after every change and "problem" {message} when a device
// cannot be opened.
import { explainProblem, openCamera, openDevices, openMicrophone } from "./media.js";
import { savePrefs } from "./prefs.js";

export class LocalMedia extends EventTarget {
  constructor(connection, prefs) {
    super();
    this.connection = connection;
    this.prefs = prefs;
    this.tracks = { audio: null, video: null };
    this.micOn = prefs.micOn;
    this.camOn = prefs.camOn;
    this.sharing = null;
    this.disabled = false;
  }

  audioOn() { return Boolean(!this.disabled && this.micOn && this.tracks.audio); }
  videoOn() { return Boolean(!this.disabled && this.camOn && this.tracks.video); }

  // The track the video sender should carry now.
  outgoingVideo() { return this.sharing || (this.videoOn() ? this.tracks.video : null); }

  state() { return { audio: this.audioOn(), video: this.videoOn(), screen: Boolean(this.sharing) }; }

  _changed() {
    this.dispatchEvent(new CustomEvent("change"));
  }

  _problem(kind, error) {
    this.dispatchEvent(new CustomEvent("problem", { detail: { message: explainProblem({ kind, error }) } }));
  }

  // A device unplugged (or taken by another app) ends its track: say so, show it as off.
  _watch(track) {
    if (!track) return track;
    track.addEventListener("ended", () => {
      const kind = track.kind === "audio" ? "audio" : "video";
      if (this.tracks[kind] !== track) return; // replaced or turned off on purpose
      this.tracks[kind] = null;
      const what = kind === "audio" ? "microphone" : "camera";
      this.connection.replaceTrack(kind, kind === "audio" ? null : this.outgoingVideo());
      this.connection.setMedia({ audio: this.audioOn(), video: this.videoOn() });
      this.dispatchEvent(new CustomEvent("problem", {
        detail: { message: `Your ${what} stopped (unplugged?). Choose another one in Devices.` },
      }));
      this._changed();
    });
    return track;
  }

  // Observers send nothing: no devices are opened at all.
  disable() {
    this.disabled = true;
    this.micOn = false;
    this.camOn = false;
    this._changed();
  }

  // Opens the remembered devices; returns sentences for the person (problems, fallbacks).
  async open() {
    // The microphone opens even when muted: unmuting is instant and we can say "you are muted".
    const opened = await openDevices({ micId: this.prefs.micId, camId: this.prefs.camId, audio: true, video: this.camOn });
    this.tracks = { audio: this._watch(opened.audio), video: this._watch(opened.video) };
    if (this.tracks.audio) this.tracks.audio.enabled = this.micOn;
    const notes = opened.problems.map(explainProblem);
    for (const kind of opened.fellBack) {
      const track = this.tracks[kind];
      const what = kind === "audio" ? "microphone" : "camera";
      notes.push(`Your saved ${what} is not connected; using ${(track && track.label) || "the default one"}.`);
    }
    this._changed();
    return notes;
  }

  async toggleMic() {
    if (this.disabled) return;
    if (!this.tracks.audio) {
      try {
        this.tracks.audio = this._watch(await openMicrophone(this.prefs.micId));
      } catch (error) {
        this._problem("audio", error);
        return;
      }
      await this.connection.replaceTrack("audio", this.tracks.audio);
      this.micOn = true;
    } else {
      this.micOn = !this.micOn;
    }
    this.tracks.audio.enabled = this.micOn;
    this.connection.setMedia({ audio: this.audioOn() });
    this._changed();
  }

  async toggleCamera() {
    if (this.disabled) return;
    if (this.camOn && this.tracks.video) {
      // Off means off: the camera light goes out and nothing is sent.
      this.camOn = false;
      this.tracks.video.stop();
      this.tracks.video = null;
    } else {
      try {
        this.tracks.video = this._watch(await openCamera(this.prefs.camId));
      } catch (error) {
        this._problem("video", error);
        return;
      }
      this.camOn = true;
    }
    await this.connection.replaceTrack("video", this.outgoingVideo());
    this.connection.setMedia({ video: this.videoOn() });
    this._changed();
  }

  async startSharing() {
    if (this.disabled || this.sharing) return;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
    } catch {
      return; // the person closed the picker
    }
    const track = stream.getVideoTracks()[0];
    if ("contentHint" in track) track.contentHint = "detail";
    track.addEventListener("ended", () => this.stopSharing()); // the browser's own "Stop sharing"
    this.sharing = track;
    // Same sender, another track: no renegotiation; everyone's slots stay as they are.
    await this.connection.replaceTrack("video", track);
    this.connection.setMedia({ screen: true });
    this._changed();
  }

  async stopSharing() {
    if (!this.sharing) return;
    const track = this.sharing;
    this.sharing = null;
    track.stop();
    await this.connection.replaceTrack("video", this.outgoingVideo());
    this.connection.setMedia({ screen: false, video: this.videoOn() });
    this._changed();
  }

  async switchMicrophone(micId) {
    this.prefs = savePrefs({ micId });
    try {
      const track = await openMicrophone(micId);
      track.enabled = this.micOn;
      const old = this.tracks.audio;
      this.tracks.audio = this._watch(track);
      await this.connection.replaceTrack("audio", track);
      if (old) old.stop();
      this._changed();
    } catch (error) {
      this._problem("audio", error);
    }
  }

  async switchCamera(camId) {
    this.prefs = savePrefs({ camId });
    if (!this.camOn) return;
    try {
      const track = await openCamera(camId);
      const old = this.tracks.video;
      this.tracks.video = this._watch(track);
      await this.connection.replaceTrack("video", this.outgoingVideo());
      if (old) old.stop();
      this._changed();
    } catch (error) {
      this._problem("video", error);
    }
  }

  stop() {
    for (const track of [this.tracks.audio, this.tracks.video, this.sharing]) if (track) track.stop();
  }
}
