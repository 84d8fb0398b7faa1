// The outside-meeting page of an external-link day (Zoom, Teams, WebEx): it follows the day
// without a reload. Every few seconds it reads the caller's own view of the day
// (GET /api/v1/sessions/{id}/my-day) and shows the meeting they belong in now: during an
// interview that room's link; between interviews (review, break, before the day) the next
// one, with a countdown. Applicants only: interviewers keep their one room all day.
import { safeUrl } from "./live/dom.js";

const POLL_MS = 5000;
const $ = (id) => document.getElementById(id);

function short(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

// Where the applicant belongs: {room, round, now: bool} or null (no more interviews).
export function placement(day) {
  if (!day || !day.started || day.ended) return null;
  const mine = (round) => day.slots.find((s) => s.round === round);
  const phase = day.phase || {};
  if (phase.kind === "interview" && mine(phase.round)) {
    return { slot: mine(phase.round), now: true, at: null };
  }
  const after = phase.round || 0;
  const next = day.timeline.find((p) => p.kind === "interview" && p.round > after && mine(p.round));
  return next ? { slot: mine(next.round), now: false, at: next.start } : null;
}

class ExternalDay {
  constructor(root) {
    this.root = root;
    this.url = `/api/v1/sessions/${encodeURIComponent(root.dataset.session)}/my-day`;
    this.offset = 0; // server time minus ours, seconds
    this.where = null;
    this.day = null;
  }

  start() {
    this.poll();
    window.setInterval(() => this.poll(), POLL_MS);
    window.setInterval(() => this.render(), 1000);
  }

  async poll() {
    try {
      const response = await fetch(this.url, { credentials: "same-origin" });
      if (!response.ok) return;
      const body = await response.json();
      if (body.role !== "applicant" || !body.day) return;
      this.day = body.day;
      this.offset = body.day.now - Date.now() / 1000;
      this.render();
    } catch {
      /* offline for a moment: the page keeps what it shows and tries again */
    }
  }

  render() {
    if (!this.day) return;
    const where = placement(this.day);
    const status = $("external-next");
    if (!where) {
      if (this.day.ended || this.day.phase.round) setText(status, "Your interviews are over. Thank you!");
      return;
    }
    const room = this.day.rooms.find((r) => r.id === where.slot.room_id);
    if (!room) return;
    setText($("external-room"), room.name);
    const join = $("external-join");
    const link = safeUrl(room.external_url);
    if (join && link && join.getAttribute("href") !== link) {
      join.setAttribute("href", link);
      setText($("external-url"), room.external_url);
    }
    if (where.now) {
      setText(status, `Your interview in ${room.name} is on now.`);
    } else {
      const left = where.at - (Date.now() / 1000 + this.offset);
      setText(status, `Next: ${room.name} in ${short(left)}`);
    }
  }
}

const root = document.getElementById("external-day");
if (root && root.dataset.session) new ExternalDay(root).start();
