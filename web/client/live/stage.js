// The stage: one tile per receive slot. A slot's <video> and <audio> keep their tracks for the
// life of a peer connection; what the slot shows (whose name, mute state, hand, quality) follows
// the server's `layout` and `peer` events, and who speaks its `speaker` event.
//
// Two ideas of "speaker" live here: `speakerId` is the audio output device (the Devices
// dialog), `speaking` is the person the server says is talking now (a meeting's active speaker).

const QUALITY_TEXT = { degraded: "Unstable connection", bad: "Poor connection" };
// The server's congestion control sends this person no video at all (`peer.downlink`): they
// still hear us, and whoever is on the other end should not go on showing them something.
const AUDIO_ONLY_TEXT = "Audio only (weak connection): they hear you but cannot see you";

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

// An icon from the page's sprite (web/templates/live/_icons.html).
function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS(SVG, "use");
  use.setAttribute("href", `#i-${name}`);
  svg.append(use);
  return svg;
}

function flag(className, iconName, text) {
  const item = element("li", { class: `tile-flag ${className}` });
  item.hidden = true;
  item.append(icon(iconName), element("span", { class: "flag-text" }, text));
  return item;
}

export function initials(name) {
  return (name || "?")
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => part[0].toUpperCase())
    .join("");
}

class Tile {
  constructor(index, audioHolder, onAudioBlocked) {
    this.index = index;
    this.onAudioBlocked = onAudioBlocked;
    this.root = element("figure", { class: "tile", "data-slot": String(index) });
    this.root.hidden = true;
    this.video = element("video", { autoplay: "", playsinline: "" });
    this.video.muted = true; // sound comes through the slot's <audio>
    this.off = element("div", { class: "tile-off" });
    this.off.hidden = true;
    this.avatar = element("span", { class: "tile-avatar", "aria-hidden": "true" });
    this.off.append(this.avatar, element("span", { class: "tile-off-text" }, "Camera off"));
    this.name = element("figcaption", { class: "tile-name" });
    this.flags = element("ul", { class: "tile-flags" });
    this.muted = flag("flag-muted", "mic-off", "Microphone off");
    this.hand = flag("flag-hand", "hand", "Hand raised");
    this.screen = flag("flag-screen", "screen", "Sharing screen");
    this.quality = flag("flag-quality", "signal", "");
    this.audioOnly = flag("flag-audio-only", "eye-off", AUDIO_ONLY_TEXT);
    // In words as well as the outline; part of the tile, not a live region: announcing every
    // switch of speaker would drown out everything else a screen reader has to say.
    this.speaking = flag("flag-speaking", "speaker", "Speaking");
    this.flags.append(this.speaking, this.hand, this.muted, this.screen, this.quality, this.audioOnly);
    this.root.append(this.video, this.off, this.name, this.flags);
    this.audio = element("audio", { autoplay: "", "data-slot": String(index) });
    audioHolder.append(this.audio);
    this.participantId = null;
  }

  attach(slot, speakerId) {
    this.videoMid = slot.videoMid;
    this.audioMid = slot.audioMid;
    this.video.srcObject = new MediaStream([slot.videoTrack]);
    this.audio.srcObject = new MediaStream([slot.audioTrack]);
    if (speakerId && typeof this.audio.setSinkId === "function") this.audio.setSinkId(speakerId).catch(() => {});
    this.video.play().catch(() => {});
    // Only a refusal by the autoplay policy needs a click; other rejections (a newer load
    // interrupted this one) heal by themselves.
    this.audio.play().catch((error) => {
      if (error && error.name === "NotAllowedError") this.onAudioBlocked();
    });
  }

  show(participantId, peer) {
    this.participantId = participantId;
    this.root.hidden = !participantId;
    if (!participantId) {
      this.root.removeAttribute("data-participant-id");
      return;
    }
    this.root.dataset.participantId = participantId;
    const name = (peer && peer.name) || "Joining…";
    this.name.textContent = name;
    this.root.setAttribute("aria-label", name);
    this.avatar.textContent = initials(name);
    const p = peer || {};
    this.muted.hidden = p.audio !== false;
    this.hand.hidden = !p.hand;
    this.screen.hidden = !p.screen;
    this.root.classList.toggle("is-hand", Boolean(p.hand));
    const cameraOff = p.video === false && !p.screen;
    this.off.hidden = !cameraOff;
    this.video.classList.toggle("is-hidden", cameraOff);
    const quality = QUALITY_TEXT[p.quality];
    this.quality.hidden = !quality;
    this.quality.querySelector(".flag-text").textContent = quality || "";
    this.root.dataset.quality = p.quality || "good";
    this.audioOnly.hidden = p.downlink !== "audio_only";
    this.root.dataset.downlink = p.downlink || "full";
  }

  // `speaking`: highlighted and labelled; `featured`: first and larger (meetings, live.css).
  mark(speaking, featured) {
    const isSpeaking = Boolean(this.participantId) && this.participantId === speaking;
    this.speaking.hidden = !isSpeaking;
    this.root.classList.toggle("is-speaking", isSpeaking);
    this.root.classList.toggle("is-featured", Boolean(this.participantId) && this.participantId === featured);
  }
}

export class Stage {
  constructor(stageElement, onAudioBlocked) {
    this.stage = stageElement;
    this.audioHolder = element("div", { class: "slot-audio", hidden: "" });
    document.body.append(this.audioHolder);
    this.onAudioBlocked = onAudioBlocked;
    this.tiles = [];
    this.speakerId = "";
    this.speaking = null; // who speaks now, as the server says (never ourselves: see room.js)
    // The last other person who spoke keeps the big tile while nobody (or we) speak, so the
    // stage only rearranges when someone else takes over, not at every pause or mute.
    this.featured = null;
  }

  setSlots(slots) {
    while (this.tiles.length < slots.length) {
      const tile = new Tile(this.tiles.length, this.audioHolder, this.onAudioBlocked);
      this.tiles.push(tile);
      this.stage.append(tile.root);
    }
    slots.forEach((slot, index) => this.tiles[index].attach(slot, this.speakerId));
  }

  // Shows whoever each slot carries; returns the participant ids on screen.
  update(layout, peers) {
    const shown = [];
    for (const tile of this.tiles) {
      let id = layout[tile.videoMid] || layout[tile.audioMid] || null;
      const peer = id ? peers.get(id) : null;
      if (peer && peer.observer) id = null; // a coordinator watching: sends nothing, no tile
      tile.show(id, peer);
      if (id) shown.push(id);
    }
    this.stage.dataset.count = String(shown.length);
    this._markSpeaking();
    return shown;
  }

  // A meeting's active speaker (`null`: nobody, or ourselves); `reset` forgets the featured
  // person too (we moved to another room). The same speaker again changes nothing.
  setSpeaking(participantId, reset = false) {
    if (reset) this.featured = null;
    this.speaking = participantId || null;
    if (this.speaking) this.featured = this.speaking;
    this._markSpeaking();
  }

  _markSpeaking() {
    for (const tile of this.tiles) tile.mark(this.speaking, this.featured);
    const featuredShown = this.tiles.some((tile) => tile.participantId && tile.participantId === this.featured);
    if (featuredShown) this.stage.dataset.featured = "true";
    else delete this.stage.dataset.featured;
  }

  async setSpeaker(speakerId) {
    this.speakerId = speakerId;
    await Promise.all(
      this.tiles
        .filter((tile) => typeof tile.audio.setSinkId === "function")
        .map((tile) => tile.audio.setSinkId(speakerId || "").catch(() => {})),
    );
  }

  retryAudio() {
    return Promise.all(this.tiles.map((tile) => tile.audio.play().catch(() => {})));
  }

  videoFor(participantId) {
    const tile = this.tiles.find((t) => t.participantId === participantId);
    return tile ? tile.video : null;
  }
}
