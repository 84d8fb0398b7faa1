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

function setToggle(button, on) {
  button.setAttribute("aria-pressed", String(on));
  button.querySelector(".toggle-state").textContent = on ? "On" : "Off";
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
    window.interviewdayDeviceCheck = { tracks, problems: opened.problems };
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
