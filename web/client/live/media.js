// Local devices: opening the microphone and camera the person chose, listing devices, a level
// meter, a test sound. Shared by the device check and the room.

// 4:3 (a face, not a landscape), and large enough for three simulcast layers: Chromium encodes
// three only from 960×540 pixels up (simulcast.js).
export const VIDEO_CONSTRAINTS = { width: { ideal: 960 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };

function audioConstraints(deviceId) {
  return deviceId ? { deviceId: { exact: deviceId } } : true;
}

function videoConstraints(deviceId) {
  return deviceId ? { ...VIDEO_CONSTRAINTS, deviceId: { exact: deviceId } } : VIDEO_CONSTRAINTS;
}

const MISSING = new Set(["NotFoundError", "OverconstrainedError", "DevicesNotFoundError"]);

async function openOne(kind, deviceId) {
  // A remembered device that is gone falls back to the default one; the caller names it.
  const make = (id) => (kind === "audio" ? { audio: audioConstraints(id) } : { video: videoConstraints(id) });
  try {
    const stream = await navigator.mediaDevices.getUserMedia(make(deviceId));
    return { track: stream.getTracks()[0], fellBack: false };
  } catch (error) {
    if (deviceId && MISSING.has(error.name)) {
      const stream = await navigator.mediaDevices.getUserMedia(make(""));
      return { track: stream.getTracks()[0], fellBack: true };
    }
    throw error;
  }
}

// Opens what is wanted; never throws. Returns {audio, video, problems: [{kind, error}], fellBack}.
export async function openDevices({ micId = "", camId = "", audio = true, video = true } = {}) {
  const result = { audio: null, video: null, problems: [], fellBack: [] };
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    result.problems.push({ kind: "both", error: { name: "NotSupportedError" } });
    return result;
  }
  if (audio && video && !micId && !camId) {
    // One request, so the browser asks for permission once.
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: VIDEO_CONSTRAINTS });
      result.audio = stream.getAudioTracks()[0] || null;
      result.video = stream.getVideoTracks()[0] || null;
      return result;
    } catch (error) {
      if (error.name === "NotAllowedError" || error.name === "SecurityError") {
        result.problems.push({ kind: "both", error });
        return result;
      }
      // One of the two is missing or busy: find out which, one at a time.
    }
  }
  for (const [kind, wanted, id] of [["audio", audio, micId], ["video", video, camId]]) {
    if (!wanted) continue;
    try {
      const opened = await openOne(kind, id);
      result[kind] = opened.track;
      if (opened.fellBack) result.fellBack.push(kind);
    } catch (error) {
      result.problems.push({ kind, error });
    }
  }
  return result;
}

export async function openCamera(camId) {
  return (await openOne("video", camId)).track;
}

export async function openMicrophone(micId) {
  return (await openOne("audio", micId)).track;
}

export async function listDevices() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return [];
  try {
    return await navigator.mediaDevices.enumerateDevices();
  } catch {
    return [];
  }
}

// Fills a <select> with the devices of one kind; keeps `selectedId` selected when present.
export function fillSelect(select, devices, kind, selectedId, defaultLabel) {
  const ofKind = devices.filter((d) => d.kind === kind && d.deviceId !== "default");
  select.replaceChildren();
  const first = new Option(defaultLabel, "");
  select.append(first);
  ofKind.forEach((device, index) => {
    select.append(new Option(device.label || `${defaultLabel.replace("Default ", "")} ${index + 1}`, device.deviceId));
  });
  select.value = ofKind.some((d) => d.deviceId === selectedId) ? selectedId : "";
}

export function trackDeviceId(track) {
  return track ? track.getSettings().deviceId || "" : "";
}

// What the person should read when a device cannot be opened.
export function explainProblem(problem) {
  const name = problem.error && problem.error.name;
  const what = { audio: "microphone", video: "camera", both: "camera and microphone" }[problem.kind];
  if (name === "NotAllowedError" || name === "SecurityError") {
    return (
      `Your browser blocked the ${what}. Click the camera or lock icon at the left of the address bar, ` +
      `choose Allow for Camera and Microphone, then reload this page. ` +
      `On a Mac, also check System Settings → Privacy & Security → Camera and Microphone.`
    );
  }
  if (name === "NotFoundError" || name === "OverconstrainedError") {
    return `No ${what} found. Connect one and press Try again; you can still join without it.`;
  }
  if (name === "NotReadableError" || name === "AbortError") {
    return `Your ${what} is busy: close other apps that use it (Zoom, Teams, another tab), then press Try again.`;
  }
  if (name === "NotSupportedError") {
    return "This browser cannot use a camera here. Use a current Chrome, Edge, Firefox or Safari.";
  }
  return `The ${what} could not be started (${name || "unknown error"}). Press Try again.`;
}

// A live level (0..1) for an audio track; `stop()` releases it. Uses its own clone of the
// track, so the meter keeps working while the microphone is muted (to say "you are muted").
export function levelMeter(track, onLevel, intervalMs = 100) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context || !track) return { stop() {} };
  const clone = track.clone();
  clone.enabled = true;
  const context = new Context();
  const source = context.createMediaStreamSource(new MediaStream([clone]));
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const resume = () => context.resume().catch(() => {});
  document.addEventListener("pointerdown", resume, { once: true });
  document.addEventListener("keydown", resume, { once: true });
  resume();
  const timer = window.setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const rms = Math.sqrt(sum / samples.length);
    onLevel(Math.min(1, rms * 4));
  }, intervalMs);
  return {
    stop() {
      window.clearInterval(timer);
      clone.stop();
      context.close().catch(() => {});
    },
  };
}

// A short two-note chime as a WAV blob URL, so it plays through the chosen speakers.
export function chimeUrl() {
  const rate = 22050;
  const notes = [[660, 0.25], [880, 0.35]];
  const total = notes.reduce((n, [, d]) => n + Math.round(d * rate), 0);
  const buffer = new ArrayBuffer(44 + total * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + total * 2, true); text(8, "WAVE"); text(12, "fmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, rate, true); view.setUint32(28, rate * 2, true); view.setUint16(32, 2, true);
  view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, total * 2, true);
  let offset = 44;
  for (const [frequency, seconds] of notes) {
    const count = Math.round(seconds * rate);
    for (let i = 0; i < count; i += 1) {
      const fade = Math.min(1, i / 400, (count - i) / 2000);
      const value = Math.sin((2 * Math.PI * frequency * i) / rate) * 0.4 * fade;
      view.setInt16(offset, value * 0x7fff, true);
      offset += 2;
    }
  }
  return URL.createObjectURL(new Blob([buffer], { type: "audio/wav" }));
}

export async function setSpeaker(element, speakerId) {
  if (typeof element.setSinkId !== "function") return false;
  try {
    await element.setSinkId(speakerId || "");
    return true;
  } catch {
    return false;
  }
}
