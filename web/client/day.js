// The day on the room page: the countdown (role="timer", announced only at thresholds), what
// comes next, the applicant's itinerary strip with a now-line, the knock chime, scoring prompts
// and, for interviewers, the scoring panel of the applicant in the room (< and > step through
// the day). Works on top of room.js through window.interviewday.
import { el, safeUrl } from "./live/dom.js";

const $ = (id) => document.getElementById(id);
const THRESHOLDS = [120, 60, 0];

function fmt(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

// "1:23": the waiting applicant's countdown, as people say it.
function short(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function chime() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.8);
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.8);
  } catch { /* no audio device: the banner says it */ }
}

class DayView {
  constructor(root, live) {
    this.root = root;
    this.live = live;
    this.sessionId = root.dataset.scope;
    this.role = root.dataset.role;
    this.day = null;
    this.roomId = null;
    this.announced = new Set();
    this.viewing = null; // the applicant whose scoring panel is open
    this.autoRound = undefined; // the round whose applicant the panel last opened by itself
    this.present = null; // the applicant on video in this room now
    this.moving = null; // {name, at}: the move the applicant was told of, counted down
    this.clock = $("room-clock");
    this.clock.hidden = false;
    this.clock.replaceChildren(
      el("span", { class: "clock-label", id: "clock-label" }, "Waiting for the day to start"), " ",
      el("strong", { class: "clock-time", id: "clock-time" }), el("span", { class: "clock-next", id: "clock-next" }));
    this.polite = document.createElement("p");
    this.polite.className = "sr-only";
    this.polite.setAttribute("aria-live", "polite");
    root.appendChild(this.polite);
    live.connection.addEventListener("timetrack", (event) => this.onEvent(event.detail));
    live.connection.addEventListener("moved", () => { this.moving = null; this.render(); });
    document.addEventListener("interviewday:room", (event) => this.onRoom(event.detail));
    this.load();
    setInterval(() => this.tick(), 250);
  }

  async load() {
    const response = await fetch(`/api/v1/sessions/${this.sessionId}/my-day`, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const body = await response.json();
    this.roomId = body.room_id;
    if (body.day) this.setDay(body.day);
  }

  setDay(day) {
    this.day = day;
    // The snapshot says what time it is on the server; heartbeats measure it more finely, so
    // they win when the two agree within a second (they differ only right after a jump).
    const fromSnapshot = day.now * 1000 - Date.now();
    const fromHeartbeat = this.live.clockOffsetMs;
    this.offsetMs = Math.abs(fromSnapshot - fromHeartbeat) < 1000 ? fromHeartbeat : fromSnapshot;
    this.render();
  }

  serverNow() {
    return Date.now() + (this.offsetMs ?? this.live.clockOffsetMs);
  }

  onEvent(payload) {
    if (payload.type === "clock") this.setDay(payload.day);
    if (payload.type === "review") this.review = payload;
    if (payload.type === "moving" && payload.room_name) {
      const at = payload.at ?? this.serverNow() / 1000 + (payload.in_seconds || 0);
      this.moving = { name: payload.room_name, at };
      this.tickMoving();
    }
    if (payload.type === "knock") {
      if (this.role === "interviewer") chime();
      this.live.showBanner(`${Math.round(payload.seconds_left / 60)} minutes left in this interview`, 6000);
    }
    if (payload.type === "time_up") {
      if (this.role === "interviewer") chime();
      this.live.showBanner("Time is up for this interview", 6000);
    }
    if (payload.type === "score_prompt") this.prompt(payload);
    if (payload.type === "go_to" && safeUrl(payload.url)) {
      this.live.showBanner(`Next: ${payload.room_name}`, 15000);
      this.showLink(payload.room_name, payload.url);
    }
    if (payload.type === "paused") this.live.showBanner("The day is paused", 5000);
    if (payload.type === "resumed") this.live.showBanner("The day goes on", 4000);
    if (payload.type === "extended") this.live.showBanner(`This round was extended by ${payload.minutes} minutes`, 5000);
  }

  // The interviewer's panel follows the applicant actually on video; with nobody there, the
  // one expected this round (never one marked absent).
  onRoom(detail) {
    const peer = detail && detail.applicant;
    const id = peer && peer.participant_id ? peer.participant_id.split("/applicant:")[1] || null : null;
    if (id === this.present) return;
    this.present = id;
    if (id && this.role === "interviewer" && id !== this.viewing) this.openPanel(id);
  }

  autoPanel(round) {
    if (this.present || this.autoRound === round) return;
    const slot = this.current(round || 1);
    if (!slot || slot.status === "no_show") return;
    this.autoRound = round;
    if (slot.applicant_id !== this.viewing) this.openPanel(slot.applicant_id);
  }

  // "Moving you to Room 2 in 7 s", counted down to the move.
  tickMoving() {
    if (!this.moving) return;
    const left = Math.ceil(this.moving.at - this.serverNow() / 1000);
    if (left <= 0) { this.moving = null; return; }
    const text = `Moving you to ${this.moving.name} in ${left} s`;
    const banner = $("live-banner");
    if (!banner || banner.hidden || banner.textContent !== text) this.live.showBanner(text, 2500);
  }

  // Where the applicant goes next and in how long, while they wait (review, break, before).
  nextUp(phase, now) {
    if (this.role !== "applicant" || !this.day || !this.day.started || this.day.ended) return null;
    if (phase && phase.kind === "interview") return null;
    const after = phase && phase.round ? phase.round : 0;
    const interviews = this.day.timeline.filter((p) => p.kind === "interview" && p.round > after);
    const upcoming = interviews.find((p) => this.current(p.round));
    if (!upcoming) return after ? { text: "Your interviews are over. Thank you!" } : null;
    const slot = this.current(upcoming.round);
    const at = this.day.paused ? upcoming.start - this.day.now + now : upcoming.start;
    return { text: `Next: ${this.roomName(slot.room_id)} in ${short(at - now)}`, slot };
  }

  renderNextUp(phase, now) {
    const next = this.nextUp(phase, now);
    let box = $("next-up");
    if (!next) { if (box) box.hidden = true; return; }
    if (!box) {
      box = el("section", { id: "next-up", class: "next-up", "aria-label": "While you wait" },
        el("p", { class: "next-up-why", id: "next-up-why" }),
        el("p", { class: "next-up-text", id: "next-up-text", role: "timer" }));
      $("main").prepend(box);
    }
    box.hidden = false;
    const why = phase && phase.kind === "review"
      ? "Your interviewer is writing their notes. Please wait here."
      : phase && phase.kind === "break" ? "Break." : "";
    if ($("next-up-why").textContent !== why) $("next-up-why").textContent = why;
    if ($("next-up-text").textContent !== next.text) $("next-up-text").textContent = next.text;
    const room = next.slot && this.day.rooms.find((r) => r.id === next.slot.room_id);
    const url = room && safeUrl(room.external_url);
    if (url) this.showLink(room.name, url);
  }

  prompt(payload) {
    const note = $("score-prompt") || document.createElement("p");
    note.id = "score-prompt";
    note.className = "score-prompt";
    note.setAttribute("role", "status");
    note.replaceChildren(`${payload.reminder ? "Reminder: score" : "Please score"} `, el("strong", {}, payload.applicant_name));
    const form = safeUrl(payload.url);
    if (form) note.append(" ", el("a", { href: form, target: "_blank", rel: "noopener" }, "Open the form"));
    this.root.querySelector(".live-head").after(note);
    this.openPanel(payload.applicant_id);
  }

  showLink(name, url) {
    let link = $("external-next");
    if (!link) {
      link = document.createElement("a");
      link.id = "external-next";
      link.className = "btn btn-primary";
      link.target = "_blank";
      link.rel = "noopener";
      this.root.querySelector(".live-head").appendChild(link);
    }
    link.href = safeUrl(url);
    link.textContent = `Join ${name}`;
  }

  phase() {
    if (!this.day) return null;
    const now = this.serverNow() / 1000;
    return this.day.timeline.find((p) => p.start <= now && now < p.end) || null;
  }

  myRoomId() {
    const key = this.live.room.roomKey || "";
    return this.roomId || key.split(":")[1] || null;
  }

  current(roundNumber) {
    const slots = this.day ? this.day.slots : [];
    if (this.role === "applicant") return slots.find((s) => s.round === roundNumber) || null;
    return slots.find((s) => s.round === roundNumber && s.room_id === this.myRoomId()) || null;
  }

  roomName(id) {
    const room = this.day && this.day.rooms.find((r) => r.id === id);
    return room ? room.name : "";
  }

  tick() {
    this.tickMoving();
    if (!this.day) return;
    const label = $("clock-label");
    const time = $("clock-time");
    const now = this.serverNow() / 1000;
    const phase = this.phase();
    this.renderNextUp(phase, now);
    if (!this.day.started) { label.textContent = "The day has not started"; time.textContent = ""; return; }
    if (this.day.ended) { label.textContent = "The day is over"; time.textContent = ""; return; }
    if (!phase) { label.textContent = ""; time.textContent = ""; return; }
    const left = this.day.paused ? this.day.phase.remaining : phase.end - now;
    const names = { interview: "Remaining", review: "Review", break: "Break", welcome: "Welcome", closing: "Closing" };
    label.textContent = `${this.day.paused ? "Paused · " : ""}${names[phase.kind] || ""}${phase.round ? ` · round ${phase.round}` : ""}`;
    time.textContent = fmt(left);
    this.clock.classList.toggle("clock-low", phase.kind === "interview" && left <= 120);
    if (phase.kind === "interview") {
      for (const mark of THRESHOLDS) {
        const key = `${phase.round}:${mark}`;
        if (left <= mark + 0.5 && left > mark - 5 && !this.announced.has(key)) {
          this.announced.add(key);
          this.polite.textContent = mark ? `${mark / 60} minute${mark > 60 ? "s" : ""} left` : "Time is up";
        }
      }
    }
    this.renderStrip(now);
  }

  render() {
    if (!this.day) return;
    const phase = this.phase();
    const round = phase && phase.round;
    const next = round ? this.current(round + 1) : this.current(1);
    const nextText = !next ? "" : this.role === "applicant" ? `Up next: ${this.roomName(next.room_id)}` : `Up next: ${next.name}`;
    $("clock-next").textContent = nextText;
    if (this.role === "interviewer") {
      this.autoPanel(round || null);
      this.renderControls();
    }
    this.tick();
  }

  renderStrip(now) {
    if (this.role !== "applicant") return;
    let strip = $("day-strip");
    if (!strip) {
      strip = document.createElement("ol");
      strip.id = "day-strip";
      strip.className = "day-strip";
      strip.setAttribute("aria-label", "Your day");
      this.root.querySelector(".live-head").after(strip);
    }
    const rounds = this.day.timeline.filter((p) => p.kind === "interview");
    const items = rounds.map((p) => {
      const slot = this.current(p.round);
      const state = now >= p.end ? "done" : now >= p.start ? "now" : "later";
      const at = new Date(p.start * 1000 - (this.offsetMs ?? this.live.clockOffsetMs)).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      return { state, at, place: slot ? this.roomName(slot.room_id) : "Break" };
    });
    // Rebuilt only when something shown changed, so screen readers are not re-read every tick.
    const shown = JSON.stringify(items);
    if (strip.dataset.shown === shown) return;
    strip.dataset.shown = shown;
    strip.replaceChildren(...items.map(({ state, at, place }) =>
      el("li", { class: `strip-${state}`, "aria-current": state === "now" ? "step" : null }, el("span", {}, at), ` ${place}`)));
  }

  manualStatus() {
    // Manual mode (as Liaison has it): the interviewer lets the applicant in and ends the
    // interview; the server moves the applicant and prompts for scores.
    // Returns the slot's status ("" when there are no controls to show).
    if (!this.day || !this.day.manual || this.role !== "interviewer") return "";
    const phase = this.phase();
    const round = phase && phase.round;
    const slot = round ? this.current(round) : null;
    return slot ? String(slot.status) : "";
  }

  renderControls() {
    // Only the buttons change: the scoring form beside them is never reloaded mid-typing.
    const slot = document.getElementById("manual-slot");
    if (!slot) return;
    const current = this.manualStatus();
    if (slot.dataset.shown === current) return;
    slot.dataset.shown = current;
    if (!current) { slot.replaceChildren(); return; }
    const buttons = [["ready", "Let the applicant in"], ["in_progress", "Start the interview"], ["completed", "Complete"]];
    slot.replaceChildren(el("div", { class: "manual-controls", role: "group", "aria-label": "Interview status" },
      buttons.map(([status, label]) => {
        const button = el("button", { type: "button", class: "btn btn-small", "data-status": status, "aria-pressed": String(current === status) }, label);
        button.addEventListener("click", () => this.setStatus(status));
        return button;
      })));
  }

  async setStatus(status) {
    const phase = this.phase();
    const csrf = document.querySelector('meta[name="csrf-token"]');
    await fetch(`/api/v1/sessions/${this.sessionId}/day/commands`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf ? csrf.content : "" },
      body: JSON.stringify({ kind: "set_status", args: { round: phase.round, room_id: this.myRoomId(), status }, command_id: crypto.randomUUID() }),
    });
  }

  openPanel(applicantId) {
    const side = $("side-panel");
    if (!side || this.role !== "interviewer" || !applicantId) return;
    const applicants = [...new Set((this.day ? this.day.slots : []).filter((s) => s.room_id === this.myRoomId()).map((s) => s.applicant_id))];
    const names = Object.fromEntries((this.day ? this.day.slots : []).map((s) => [s.applicant_id, s.name]));
    this.viewing = applicantId;
    const index = applicants.indexOf(applicantId);
    const frame = `/scoring/${encodeURIComponent(this.sessionId)}/${encodeURIComponent(applicantId)}?embed=1`;
    side.replaceChildren(el("div", { id: "manual-slot" }),
      el("div", { class: "side-nav" },
        el("button", { type: "button", class: "btn btn-small", id: "prev-applicant", "aria-label": "Previous applicant", disabled: index <= 0 }, "‹"),
        " ", el("strong", { id: "side-applicant" }, names[applicantId] || ""), " ",
        el("button", { type: "button", class: "btn btn-small", id: "next-applicant", "aria-label": "Next applicant", disabled: index < 0 || index >= applicants.length - 1 }, "›")),
      " ", el("iframe", { class: "side-frame", title: "Scoring form", src: frame }));
    this.renderControls();
    $("prev-applicant").addEventListener("click", () => this.openPanel(applicants[index - 1]));
    $("next-applicant").addEventListener("click", () => this.openPanel(applicants[index + 1]));
  }
}

function start() {
  const root = document.getElementById("live-room");
  if (!root || root.dataset.kind !== "interview" || !window.interviewday) return false;
  window.interviewday.day = new DayView(root, window.interviewday);
  return true;
}

if (!start()) {
  const timer = setInterval(() => { if (start()) clearInterval(timer); }, 50);
}

document.addEventListener("keydown", (event) => {
  const target = event.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
  if (event.key === "<" || event.key === ",") document.getElementById("prev-applicant")?.click();
  if (event.key === ">" || event.key === ".") document.getElementById("next-applicant")?.click();
});
