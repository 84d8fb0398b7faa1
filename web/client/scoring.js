// The scoring panel: every change is kept in this browser at once and sent to the server
// (debounced); offline changes wait in localStorage and go out when the network is back, or on
// the next visit. The server ignores a save whose revision is not newer than what it holds.
//
// Embedding: render the `scoring/_panel.html` macro, then
//   import { mountScoringPanel } from "/static/dist/scoring.js";
//   const panel = mountScoringPanel(document.querySelector("[data-scoring-panel]"));
//   await panel.flush();   // before leaving the applicant, e.g. on "next applicant"
// Every element marked [data-scoring-panel] on the page is mounted automatically.

const DEBOUNCE_MS = 500;
const RETRY_MS = [1000, 2000, 5000, 10000, 30000];

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function readStored(key) {
  try {
    const raw = window.localStorage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function writeStored(key, value) {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the server copy is all we have; saving still goes on.
  }
}

function sameDraft(a, b) {
  return JSON.stringify([a.answers, a.comment]) === JSON.stringify([b.answers, b.comment]);
}

function ageText(savedAt) {
  const seconds = Math.max(0, Math.round((Date.now() - savedAt) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  return minutes < 60 ? `${minutes} min ago` : "over an hour ago";
}

export function mountScoringPanel(element) {
  if (element.scoringPanel) return element.scoringPanel;
  const url = element.dataset.url;
  const storageKey = element.dataset.storageKey;
  const form = element.querySelector("[data-panel-form]");
  const fields = element.querySelector(".panel-fields");
  const stateLine = element.querySelector("[data-save-state]");
  const ageLine = element.querySelector("[data-save-age]");
  const errorBox = element.querySelector("[data-panel-error]");
  const submitButton = element.querySelector("[data-submit]");
  const server = JSON.parse(element.querySelector("[data-panel-state]").textContent);

  let draft = { answers: server.answers, comment: server.comment, revision: server.revision };
  let ackedRevision = server.revision;
  let status = server.status;
  let locked = server.locked;
  let savedAt = null;
  let timer = null;
  let retryIndex = 0;
  let inFlight = null;
  let ageTicker = null;

  const stored = readStored(storageKey);
  if (stored && stored.revision > server.revision && !locked) {
    draft = { answers: stored.answers, comment: stored.comment, revision: stored.revision };
  } else {
    writeStored(storageKey, null);
  }

  function items() {
    return [...element.querySelectorAll("[data-item]")];
  }

  function fill() {
    for (const item of items()) {
      const id = item.dataset.item;
      const value = draft.answers[id];
      if (item.dataset.kind === "comment") {
        item.querySelector("textarea").value = value ?? "";
        continue;
      }
      for (const radio of item.querySelectorAll("input[type=radio]")) {
        const yesNo = value === true ? "yes" : value === false ? "no" : null;
        const wanted = item.dataset.kind === "yes_no" ? yesNo : String(value);
        radio.checked = value !== undefined && value !== null && radio.value === wanted;
      }
    }
    element.querySelector("[data-comment]").value = draft.comment ?? "";
  }

  function read() {
    const answers = {};
    for (const item of items()) {
      const id = item.dataset.item;
      if (item.dataset.kind === "comment") {
        const text = item.querySelector("textarea").value;
        if (text.trim()) answers[id] = text;
        continue;
      }
      const checked = item.querySelector("input[type=radio]:checked");
      if (!checked) continue;
      answers[id] = item.dataset.kind === "yes_no" ? checked.value === "yes" : Number(checked.value);
    }
    return { answers, comment: element.querySelector("[data-comment]").value };
  }

  function pending() {
    return draft.revision > ackedRevision;
  }

  function say(text) {
    if (stateLine.textContent !== text) stateLine.textContent = text;
  }

  function showAge() {
    ageLine.textContent = savedAt && !pending() ? ageText(savedAt) : "";
  }

  function showStatus() {
    element.querySelector("[data-draft-badge]").hidden = status === "submitted";
    element.querySelector("[data-submitted-badge]").hidden = status !== "submitted";
    element.querySelector("[data-locked-badge]").hidden = !locked;
    submitButton.textContent = status === "submitted" ? "Submitted" : "Submit score";
    fields.disabled = locked;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function markMissing(ids) {
    for (const item of items()) {
      const id = item.dataset.item;
      const missing = ids.includes(id);
      const message = element.querySelector(`#error-${CSS.escape(id)}`);
      message.textContent = missing ? "Required: answer this before submitting." : "";
      message.hidden = !missing;
      item.classList.toggle("is-missing", missing);
      const control = item.dataset.kind === "comment" ? item.querySelector("textarea") : item;
      if (missing) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    }
  }

  function missingRequired() {
    const { answers } = read();
    return items()
      .filter((item) => "required" in item.dataset && answers[item.dataset.item] === undefined)
      .map((item) => item.dataset.item);
  }

  function changed() {
    if (locked) return;
    draft = { ...read(), revision: draft.revision + 1 };
    writeStored(storageKey, draft);
    say(navigator.onLine ? "Saving…" : "Offline — will send when back");
    showAge();
    // A message next to an item goes away once it is answered; others stay until submit.
    const marked = items()
      .filter((item) => item.classList.contains("is-missing"))
      .map((item) => item.dataset.item);
    if (marked.length) markMissing(missingRequired().filter((id) => marked.includes(id)));
    clearTimeout(timer);
    timer = setTimeout(send, DEBOUNCE_MS);
  }

  function retryLater() {
    clearTimeout(timer);
    timer = setTimeout(send, RETRY_MS[Math.min(retryIndex, RETRY_MS.length - 1)]);
    retryIndex += 1;
  }

  function acknowledge(score) {
    ackedRevision = Math.max(ackedRevision, score.revision);
    status = score.status;
    if (!pending()) {
      writeStored(storageKey, null);
      savedAt = Date.now();
      say("Saved");
    }
    showStatus();
    showAge();
  }

  async function request(method, target, body) {
    const response = await fetch(target, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(body),
    });
    const payload = await response.json().catch(() => ({}));
    return { response, payload };
  }

  function refused(response, payload) {
    const error = payload.error || {};
    if (response.status === 409 && error.code === "scoring_locked") {
      locked = true;
      showStatus();
      say("Scoring is locked for this session: this score is read-only.");
      writeStored(storageKey, null);
      return;
    }
    if (response.status === 401) {
      say("Logged out — your changes are kept in this browser; log in again to send them.");
      return;
    }
    showError(error.message || "The server refused this score.");
    say("Not saved — see the message below.");
  }

  async function send() {
    clearTimeout(timer);
    if (locked || !pending()) return;
    if (inFlight) {
      await inFlight;
      return send();
    }
    if (!navigator.onLine) {
      say("Offline — will send when back");
      return;
    }
    const body = { ...draft };
    say("Saving…");
    inFlight = (async () => {
      try {
        const { response, payload } = await request("PUT", url, body);
        if (!response.ok) {
          refused(response, payload);
          if (response.status >= 500) retryLater();
          return;
        }
        retryIndex = 0;
        showError("");
        const score = payload.score;
        if (!payload.applied && score.revision >= draft.revision && !sameDraft(score, draft)) {
          // Another tab saved a newer revision; what is on this screen is what the person
          // just typed, so it goes out again on top.
          draft = { ...draft, revision: score.revision + 1 };
          writeStored(storageKey, draft);
        }
        acknowledge(score);
      } catch {
        say(navigator.onLine ? "Connection lost — retrying…" : "Offline — will send when back");
        retryLater();
      }
    })();
    try {
      await inFlight;
    } finally {
      inFlight = null;
    }
    if (pending() && !timer) timer = setTimeout(send, DEBOUNCE_MS);
  }

  async function flush() {
    if (inFlight) await inFlight;
    if (pending()) await send();
    return !pending();
  }

  async function submit() {
    showError("");
    const missing = missingRequired();
    markMissing(missing);
    if (missing.length) {
      const first = element.querySelector(`[data-item="${CSS.escape(missing[0])}"]`);
      (first.querySelector("input, textarea") || first).focus();
      say(`${missing.length} required item${missing.length > 1 ? "s" : ""} still to answer.`);
      return;
    }
    await flush();
    if (!navigator.onLine) {
      say("Offline — submit again when the connection is back.");
      return;
    }
    try {
      const { response, payload } = await request("POST", `${url}/submit`, { ...draft });
      if (response.status === 422 && payload.error && payload.error.missing) {
        markMissing(payload.error.missing);
        say("Some required items are still to answer.");
        return;
      }
      if (!response.ok) {
        refused(response, payload);
        return;
      }
      acknowledge(payload);
      say("Submitted — this score now counts.");
    } catch {
      say("Connection lost — submit again when it is back.");
    }
  }

  fill();
  showStatus();
  form.addEventListener("input", changed);
  // The panel saves through fetch: Enter in a field must not post the form to the page.
  form.addEventListener("submit", (event) => event.preventDefault());
  submitButton.addEventListener("click", submit);
  window.addEventListener("online", () => {
    retryIndex = 0;
    send();
  });
  window.addEventListener("offline", () => {
    if (pending()) say("Offline — will send when back");
  });
  window.addEventListener("beforeunload", (event) => {
    if (pending()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
  ageTicker = setInterval(showAge, 1000);
  if (pending()) {
    say("Sending the changes kept in this browser…");
    send();
  }

  const controller = {
    flush,
    submit,
    get pending() {
      return pending();
    },
    get status() {
      return status;
    },
    destroy() {
      clearInterval(ageTicker);
      clearTimeout(timer);
    },
  };
  element.scoringPanel = controller;
  return controller;
}

for (const element of document.querySelectorAll("[data-scoring-panel]")) {
  mountScoringPanel(element);
}

// A link to an applicant's PDF is replaced by a plain note when there is none: the server
// answers 204 then, and a link opening an empty tab helps nobody. One byte is enough to ask.
export async function checkPdfLink(link) {
  try {
    const response = await fetch(link.href, { headers: { Range: "bytes=0-0" }, credentials: "same-origin" });
    if (response.status !== 204) { link.dataset.pdfChecked = ""; return; }
    const note = document.createElement("span");
    note.className = "muted";
    note.dataset.noPdf = "";
    note.textContent = "No application PDF";
    link.replaceWith(note);
  } catch {
    // Offline: leave the link; it works once the network is back.
  }
}

for (const link of document.querySelectorAll("a[data-pdf-link]")) checkPdfLink(link);
