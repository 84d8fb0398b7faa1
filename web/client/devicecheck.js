// The device check (UX 1): a mirrored preview, microphone and camera toggles with device menus,
// a level meter, a test sound, a status line for screen readers; choices kept per browser.
import {
  chimeUrl,
  explainProblem,
  fillSelect,
  levelMeter,
  listDevices,
  openDevices,
  setSpeaker,
  trackDeviceId,
} from "./live/media.js";
import { loadPrefs, savePrefs } from "./live/prefs.js";

const $ = (id) => document.getElementById(id);

const USE_INSTEAD = "Please use a current Chrome, Edge or Firefox on a computer.";

// Which browsers can join (docs/operations.md, "Browsers"). Unsupported: a page that is not a
// secure context (no camera at all), or a browser without what the live rooms use — one
// RTCPeerConnection with transceivers (`addTransceiver`, `RTCRtpTransceiver`), `replaceTrack`
// (mute and screen sharing without renegotiating), getUserMedia, and VP8 and Opus (the only
// codecs the server forwards). Untested: every engine but Chromium's (Chrome, Edge, …) and
// Firefox's — Safari and, on iPhone and iPad, every browser (they all run WebKit) — and any
// browser on Android (never tried). Untested browsers may join; they are told what was tested.
export function browserSupport(win = window) {
  const nav = win.navigator;
  const ua = nav.userAgent || "";
  const ios = /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && nav.maxTouchPoints > 1);
  let engine = "other";
  if (ios) engine = "webkit";
  else if (/Firefox\//.test(ua)) engine = "firefox";
  else if (/Chrom(e|ium)\//.test(ua)) engine = "chromium";
  const tested = (engine === "chromium" || engine === "firefox") && !/Android/.test(ua);
  if (!win.isSecureContext) return { supported: false, secure: false, missing: [], engine, tested };
  const missing = [];
  const Peer = win.RTCPeerConnection;
  if (typeof Peer !== "function") missing.push("RTCPeerConnection");
  if (typeof win.RTCRtpTransceiver !== "function" || (Peer && typeof Peer.prototype.addTransceiver !== "function")) {
    missing.push("RTCRtpTransceiver");
  }
  const Sender = win.RTCRtpSender;
  if (typeof Sender !== "function" || typeof Sender.prototype.replaceTrack !== "function") missing.push("replaceTrack");
  if (!nav.mediaDevices || typeof nav.mediaDevices.getUserMedia !== "function") missing.push("getUserMedia");
  if (typeof Sender === "function" && typeof Sender.getCapabilities === "function") {
    for (const [kind, codec] of [["video", "video/vp8"], ["audio", "audio/opus"]]) {
      const capabilities = Sender.getCapabilities(kind);
      if (capabilities && !capabilities.codecs.some((c) => c.mimeType.toLowerCase() === codec)) {
        missing.push(codec === "video/vp8" ? "VP8" : "Opus");
      }
    }
  }
  return { supported: missing.length === 0, secure: true, missing, engine, tested };
}

// Says what `browserSupport` found, above everything else; an unsupported browser gets no Join.
function showBrowserSupport(support) {
  const box = $("dc-browser");
  let text = "";
  if (!support.secure) {
    text = "This page was not opened over a secure (https) address, so the browser will not share a camera or microphone. Ask the organisers for the right link.";
  } else if (!support.supported) {
    // The person reads the advice first; the names are for whoever helps them.
    text = `This browser cannot join the video rooms. ${USE_INSTEAD} (Missing: ${support.missing.join(", ")}.)`;
  } else if (!support.tested) {
    text =
      "This browser has not been tested with interviewday (we test current Chrome, Edge and Firefox on computers). " +
      "It may work; if you cannot see or hear others, switch to one of those.";
  }
  box.hidden = !text;
  box.textContent = text;
  box.classList.toggle("alert-error", !support.supported);
  box.classList.toggle("alert-warn", support.supported && !support.tested);
  const join = $("dc-join");
  if (join && !support.supported) join.hidden = true;
}

// The button's name is its visible text ("Microphone on"): the state is also aria-pressed.
function setToggle(button, on) {
  button.setAttribute("aria-pressed", String(on));
  button.querySelector(".toggle-state").textContent = on ? "on" : "off";
  button.classList.toggle("is-off", !on);
}

function mountDeviceCheck() {
  const preview = $("dc-preview");
  if (!preview) return;
  const status = $("dc-status");
  const micSelect = $("dc-mic-select");
  const camSelect = $("dc-cam-select");
  const speakerSelect = $("dc-speaker-select");
  const meter = $("dc-mic-level");
  const micName = $("dc-mic-name");
  const retry = $("dc-retry");
  const support = browserSupport();
  showBrowserSupport(support);
  let prefs = loadPrefs();
  let tracks = { audio: null, video: null };
  let meterHandle = { stop() {} };
  let chime = null;

  function stopTracks() {
    meterHandle.stop();
    for (const track of Object.values(tracks)) if (track) track.stop();
    tracks = { audio: null, video: null };
  }

  async function refreshMenus() {
    const devices = await listDevices();
    fillSelect(micSelect, devices, "audioinput", trackDeviceId(tracks.audio) || prefs.micId, "Default microphone");
    fillSelect(camSelect, devices, "videoinput", trackDeviceId(tracks.video) || prefs.camId, "Default camera");
    fillSelect(speakerSelect, devices, "audiooutput", prefs.speakerId, "Default speakers");
    speakerSelect.disabled = typeof HTMLMediaElement.prototype.setSinkId !== "function";
    return devices;
  }

  async function start() {
    stopTracks();
    status.textContent = "Starting your camera and microphone…";
    const opened = await openDevices({ micId: prefs.micId, camId: prefs.camId, audio: prefs.micOn, video: prefs.camOn });
    tracks = { audio: opened.audio, video: opened.video };
    preview.srcObject = tracks.video ? new MediaStream([tracks.video]) : null;
    $("dc-preview-off").hidden = Boolean(tracks.video);
    micName.textContent = tracks.audio ? tracks.audio.label || "Default microphone" : prefs.micOn ? "none" : "microphone off";
    if (tracks.audio) meterHandle = levelMeter(tracks.audio, (level) => { meter.value = level; });
    else meter.value = 0;
    await refreshMenus();
    const messages = opened.problems.map(explainProblem);
    for (const kind of opened.fellBack) {
      messages.push(`Your saved ${kind === "audio" ? "microphone" : "camera"} is not connected; using the default one.`);
    }
    if (messages.length === 0) {
      const parts = [];
      if (tracks.audio) parts.push("microphone");
      if (tracks.video) parts.push("camera");
      messages.push(parts.length ? `Your ${parts.join(" and ")} ${parts.length > 1 ? "are" : "is"} working.` : "Camera and microphone are off.");
    }
    status.textContent = messages.join(" ");
    status.classList.toggle("is-problem", opened.problems.length > 0);
    retry.hidden = opened.problems.length === 0;
    window.interviewdayDeviceCheck = { tracks, problems: opened.problems, browser: support };
  }

  setToggle($("dc-mic-toggle"), prefs.micOn);
  setToggle($("dc-cam-toggle"), prefs.camOn);
  $("dc-mic-toggle").addEventListener("click", () => {
    prefs = savePrefs({ micOn: !prefs.micOn });
    setToggle($("dc-mic-toggle"), prefs.micOn);
    start();
  });
  $("dc-cam-toggle").addEventListener("click", () => {
    prefs = savePrefs({ camOn: !prefs.camOn });
    setToggle($("dc-cam-toggle"), prefs.camOn);
    start();
  });
  micSelect.addEventListener("change", () => { prefs = savePrefs({ micId: micSelect.value }); start(); });
  camSelect.addEventListener("change", () => { prefs = savePrefs({ camId: camSelect.value }); start(); });
  speakerSelect.addEventListener("change", () => { prefs = savePrefs({ speakerId: speakerSelect.value }); });
  retry.addEventListener("click", start);
  $("dc-test-sound").addEventListener("click", async () => {
    if (!chime) chime = new Audio(chimeUrl());
    await setSpeaker(chime, prefs.speakerId);
    chime.currentTime = 0;
    chime.play().catch(() => { status.textContent = "The test sound could not play. Check your speakers."; });
  });
  if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
    navigator.mediaDevices.addEventListener("devicechange", refreshMenus);
  }
  window.addEventListener("pagehide", stopTracks);
  start();
}

mountDeviceCheck();
