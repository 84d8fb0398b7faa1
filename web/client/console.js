// The coordinator's console: the day's grid, presence and commands, live over socket.io.
import { io } from "socket.io-client";
import { el } from "./live/dom.js";

const root = document.getElementById("console");
const sessionId = root.dataset.session;
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const grid = document.getElementById("console-grid");
const statusLine = document.getElementById("console-status");
const alertBox = document.getElementById("console-alert");
const menu = document.getElementById("applicant-menu");
const model = { day: null, presence: new Map(), scores: [], names: {}, offsetMs: 0, search: "", filter: "all", loadedRound: null };
// Scores arrive without an event: the console asks again this often (and at every new round).
const SCORES_REFRESH_MS = 20000;
let selected = null;
let drawQueued = false;

async function api(path, options = {}) {
  const response = await fetch(`/api/v1${path}`, {
    ...options,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, ...(options.headers || {}) },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

function serverNow() { return (Date.now() + model.offsetMs) / 1000; }

function fmt(seconds) {
  if (seconds == null || !isFinite(seconds)) return "--:--";
  const s = Math.max(0, Math.round(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function currentPhase(day) {
  const now = serverNow();
  return day.timeline.find((p) => p.start <= now && now < p.end) || null;
}

function roomStatus(day, roomId, round) {
  const slot = day.slots.find((s) => s.room_id === roomId && s.round === round);
  return slot ? slot.status : "empty";
}

function personDot(kind, id) {
  const member = [...model.presence.values()].find((m) => m.person_kind === kind && m.person_id === id);
  if (!member || !member.connected) {
    const seen = member && member.last_seen ? ` (last seen ${new Date(member.last_seen * 1000).toLocaleTimeString()})` : "";
    return el("span", { class: "dot absent", role: "img", "aria-label": `absent${seen}` });
  }
  return el("span", { class: `dot ${member.quality}`, role: "img", "aria-label": `connected, ${member.quality}` });
}

// A score is owed once an interview is over: its interview phase has ended (the timeline follows
// skips, extensions and an early end, which drops the rounds that never happened). No-shows owe
// nothing.
function interviewOver(day, round) {
  const phase = day.timeline.find((p) => p.kind === "interview" && p.round === round);
  return Boolean(day.started && phase && phase.end != null && phase.end <= serverNow());
}

function submitted(applicantId, interviewerId) {
  return model.scores.some((s) => s.applicant_id === applicantId && s.interviewer_id === interviewerId && s.status === "submitted");
}

// Per room, over every round so far: how many scores are in, how many are owed, and who still
// owes which (interviewer → the rounds and applicants they have not scored yet).
function roomScores(day, room) {
  const owing = new Map();
  let owed = 0;
  let done = 0;
  for (const slot of day.slots) {
    if (slot.room_id !== room.id || slot.status === "no_show" || !interviewOver(day, slot.round)) continue;
    for (const interviewer of room.interviewer_ids) {
      owed += 1;
      if (submitted(slot.applicant_id, interviewer)) { done += 1; continue; }
      if (!owing.has(interviewer)) owing.set(interviewer, []);
      owing.get(interviewer).push(slot);
    }
  }
  return { owed, done, owing };
}

function scoresCell(day, room) {
  const { owed, done, owing } = roomScores(day, room);
  if (!owed) return el("td", { class: "scores", "data-owed": 0, "data-submitted": 0 }, el("span", { class: "muted" }, "—"));
  const lines = [...owing].map(([interviewer, slots]) => {
    const name = model.names[interviewer] || "Interviewer";
    return el("li", { title: slots.map((s) => `R${s.round}: ${s.name}`).join(", ") },
      `${name} owes ${slots.map((s) => `R${s.round}`).join(", ")}`);
  });
  return el("td", { class: `scores ${lines.length ? "owing" : "all-in"}`, "data-owed": owed, "data-submitted": done },
    el("span", { class: "scores-count" }, `${done}/${owed}`, el("span", { class: "sr-only" }, " submitted")),
    lines.length ? el("ul", { class: "owing-list" }, lines) : null);
}

function draw() {
  drawQueued = false;
  const day = model.day;
  if (!day) return;
  const phase = currentPhase(day);
  const round = phase && phase.round;
  const label = day.ended ? "Day over" : !day.started ? "Not started" : day.paused ? "Paused" :
    phase ? `${phase.kind[0].toUpperCase()}${phase.kind.slice(1)}${phase.round ? " · round " + phase.round : ""}` : "Before the day";
  document.getElementById("phase-label").textContent = label;
  // Only the commands that make sense now are offered.
  const show = { start: !day.started, pause: day.started && !day.paused && !day.ended,
    resume: day.paused && !day.ended, extend: day.started && !day.ended,
    skip: day.started && !day.ended, end: day.started && !day.ended };
  for (const [name, visible] of Object.entries(show)) {
    const button = root.querySelector(`[data-command="${name}"]`);
    if (button) button.hidden = !visible;
  }
  const left = phase ? phase.end - serverNow() : null;
  const overtime = day.phase.overtime > 0;
  document.getElementById("time-left").textContent = overtime ? `+${fmt(day.phase.overtime)}` : fmt(left);
  document.querySelector(".clock").classList.toggle("overtime", overtime);

  const rounds = Array.from({ length: day.rounds }, (_, i) => i + 1);
  const currentClass = (r) => (r === round ? "current" : "");
  const head = el("thead", {}, el("tr", {},
    el("th", { scope: "col" }, "Room"), el("th", { scope: "col" }, "Interviewers"),
    rounds.map((r) => el("th", { scope: "col", class: currentClass(r) }, `R${r}`)),
    el("th", { scope: "col", title: "Scores submitted of those owed for the interviews over so far" }, "Scores")));
  const body = el("tbody");
  for (const room of day.rooms) {
    const status = round ? roomStatus(day, room.id, round) : "empty";
    const current = day.slots.find((s) => s.room_id === room.id && s.round === round);
    const rowOvertime = overtime && current;
    const show = model.filter === "all" || (model.filter === "overtime" ? rowOvertime : status === model.filter ||
      (model.filter === "waiting" && status === "pending"));
    const observe = `/live/sessions/${encodeURIComponent(sessionId)}?room=${encodeURIComponent(room.id)}`;
    const row = el("tr", { class: `${show ? "" : "hidden-row"} ${rowOvertime ? "overtime-row" : ""}`, "data-room": room.id },
      el("th", { scope: "row" }, el("a", { href: observe, target: "_blank", rel: "noopener", title: "Join as an observer" }, room.name)),
      el("td", {}, room.interviewer_ids.map((i, index) => [index ? ", " : null, personDot("staff", i), model.names[i] || "Interviewer"])));
    for (const r of rounds) {
      const slot = day.slots.find((s) => s.room_id === room.id && s.round === r);
      if (!slot) { row.append(el("td", { class: currentClass(r) }, "—")); continue; }
      const match = model.search && slot.name.toLowerCase().includes(model.search);
      row.append(el("td", { tabindex: "0", class: `cell ${slot.status} ${currentClass(r)} ${match ? "match" : ""}`, "data-applicant": slot.applicant_id, "data-name": slot.name },
        r === round ? personDot("applicant", slot.applicant_id) : null, slot.name));
    }
    row.append(scoresCell(day, room));
    body.append(row);
  }
  grid.replaceChildren(el("caption", { class: "sr-only" }, "Rooms and rounds"), head, body);
  drawTimeline(day);
}

function drawTimeline(day) {
  const line = document.getElementById("timeline");
  const parts = day.timeline.filter((p) => isFinite(p.start) && isFinite(p.end));
  if (!parts.length) { line.replaceChildren(); return; }
  const start = parts[0].start;
  const span = parts[parts.length - 1].end - start || 1;
  // Positions go through element.style (CSSOM), which the style-src policy allows.
  const placed = (node, left, width) => {
    node.style.left = `${left}%`;
    if (width != null) node.style.width = `${width}%`;
    return node;
  };
  line.replaceChildren(
    ...parts.map((p) => placed(el("div", { class: `seg seg-${p.kind}` }, p.kind === "interview" ? `R${p.round}` : ""),
      (100 * (p.start - start)) / span, (100 * (p.end - p.start)) / span)),
    placed(el("div", { class: "now" }), Math.min(100, Math.max(0, (100 * (serverNow() - start)) / span))));
}

function queueDraw() {
  if (!drawQueued) { drawQueued = true; requestAnimationFrame(draw); }
}

async function command(kind, args = {}) {
  alertBox.hidden = true;
  try {
    const result = await api(`/sessions/${sessionId}/day/commands`, {
      method: "POST", body: JSON.stringify({ kind, args, command_id: crypto.randomUUID() }),
    });
    if (!result.ok) throw new Error(result.error.message);
    model.day = result.day;
    statusLine.textContent = `${kind.replace("_", " ")} done`;
    queueDraw();
  } catch (error) {
    alertBox.textContent = error.message;
    alertBox.hidden = false;
  }
}

async function load() {
  const state = await api(`/sessions/${sessionId}/day`);
  model.day = state.day;
  model.loadedRound = roundKey(state.day);
  model.scores = state.scores;
  model.names = state.names;
  model.offsetMs = state.day.now * 1000 - Date.now();
  for (const member of state.presence) model.presence.set(member.participant_id, member);
  const target = document.getElementById("broadcast-target");
  // load() runs again at every round, after score prompts and no-shows and every few seconds:
  // the room options are replaced, not added, and only when the rooms changed (so a list the
  // coordinator has open stays put).
  const rooms = state.day.rooms.map((room) => [`room:${room.id}`, room.name]);
  const listed = [...target.options].filter((o) => o.value.startsWith("room:")).map((o) => [o.value, o.text]);
  if (JSON.stringify(rooms) !== JSON.stringify(listed)) {
    const chosen = target.value;
    for (const option of [...target.options]) if (option.value.startsWith("room:")) option.remove();
    for (const [value, name] of rooms) target.append(new Option(name, value, false, chosen === value));
  }
  queueDraw();
}

// Which round (and phase) a snapshot is in: a change means scores became owed.
function roundKey(day) { return `${day.phase.kind}:${day.phase.round}:${day.ended}`; }

function connect() {
  const socket = io("/live", {
    transports: ["websocket"],
    query: { scope: sessionId },
    auth: async (callback) => {
      try {
        const join = await api(`/sessions/${sessionId}/join`, { method: "POST", body: "{}" });
        callback({ token: join.token, scope: sessionId });
      } catch { callback({}); }
    },
  });
  socket.on("timetrack", (event) => {
    if (event.type === "clock") { model.day = event.day; model.offsetMs = event.day.now * 1000 - Date.now(); }
    const newRound = event.type === "clock" && roundKey(event.day) !== model.loadedRound;
    if (newRound || event.type === "score_prompt" || event.type === "no_show") load();
    if (["knock", "time_up", "broadcast", "paused", "resumed", "extended"].includes(event.type)) {
      statusLine.textContent = event.type === "broadcast" ? `Broadcast sent: ${event.message}` : event.type.replace("_", " ");
    }
    queueDraw();
  });
  socket.on("presence", (member) => { model.presence.set(member.participant_id, member); queueDraw(); });
  setInterval(() => socket.connected && socket.emit("heartbeat", { t: Date.now() }, (ack) => {
    if (ack && ack.ok) model.offsetMs = ack.server_time - (ack.t + (Date.now() - ack.t) / 2);
  }), 5000);
}

// The date in a time zone as YYYY-MM-DD (the browser's own zone if the session's is unknown).
function dateIn(timeZone, seconds) {
  const options = { year: "numeric", month: "2-digit", day: "2-digit" };
  let format;
  try { format = new Intl.DateTimeFormat("en-US", { ...options, timeZone }); } catch { format = new Intl.DateTimeFormat("en-US", options); }
  const parts = Object.fromEntries(format.formatToParts(new Date(seconds * 1000)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

// Starting a day on another date than the session's (in the session's time zone, by the
// server's clock) is almost always a mistake: it moves everyone's clock at once.
function startQuestion() {
  const { date, timezone } = root.dataset;
  if (!date) return null;
  const today = dateIn(timezone, serverNow());
  if (today === date) return null;
  const when = date > today ? "a later day" : "an earlier day";
  return `This session is dated ${date}, ${when} than today (${today}, ${timezone}). Start the day now anyway? Everyone's clock starts at once.`;
}

root.querySelectorAll("[data-command]").forEach((button) => button.addEventListener("click", () => {
  const question = button.dataset.command === "start" ? startQuestion() : button.dataset.confirm;
  if (question && !confirm(question)) return;
  const args = button.dataset.minutes ? { minutes: Number(button.dataset.minutes) } : {};
  command(button.dataset.command, args);
}));

document.getElementById("console-search").addEventListener("input", (e) => { model.search = e.target.value.trim().toLowerCase(); queueDraw(); });
document.getElementById("console-filter").addEventListener("change", (e) => { model.filter = e.target.value; queueDraw(); });

function openMenu(cell) {
  selected = cell.dataset.applicant;
  document.getElementById("menu-title").textContent = cell.dataset.name;
  menu.showModal();
}
grid.addEventListener("click", (e) => { const cell = e.target.closest("td.cell"); if (cell) openMenu(cell); });
grid.addEventListener("keydown", (e) => {
  const cell = e.target.closest("td.cell");
  if (cell && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); openMenu(cell); }
});
menu.addEventListener("click", (e) => {
  const button = e.target.closest("[data-action]");
  if (!button) return;
  const action = button.dataset.action;
  menu.close();
  if (action === "close") return;
  if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
  if (action === "chat") {
    const message = prompt("Message to this applicant");
    if (message) command("chat", { target: "applicant", applicant_id: selected, message });
    return;
  }
  command(action, { applicant_id: selected });
});

document.getElementById("broadcast-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const target = document.getElementById("broadcast-target").value;
  const message = document.getElementById("broadcast-message").value;
  const args = target === "all" ? { target: "all", message } : { target: "room", room_id: target.split(":")[1], message };
  command("broadcast", args);
  document.getElementById("broadcast-message").value = "";
});

setInterval(queueDraw, 1000);
setInterval(() => { if (model.day && !document.hidden) load().catch(() => {}); }, SCORES_REFRESH_MS);
load().then(connect).catch((error) => { alertBox.textContent = error.message; alertBox.hidden = false; });
