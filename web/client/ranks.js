// Rank list reordering: drag and drop, the keyboard (Space to pick up, arrows to move, Space to
// drop, Escape to cancel, each step announced), or a typed rank number. Every change saves the
// full order with one PUT.

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export function mountRankList(list) {
  const page = list.closest(".rank-page") || document;
  const announcer = page.querySelector("[data-rank-announce]");
  const stateLine = page.querySelector("[data-rank-state]");
  const errorBox = page.querySelector("[data-rank-error]");
  let dragged = null;
  let grabbed = null;
  let grabbedFrom = null;

  const rows = () => [...list.querySelectorAll(".rank-item")];
  const nameOf = (row) => row.dataset.name;
  const included = (row) => row.dataset.included === "true";

  function announce(text) {
    announcer.textContent = "";
    // A fresh text node makes screen readers read a repeated message again.
    window.requestAnimationFrame(() => {
      announcer.textContent = text;
    });
  }

  function rankOf(row) {
    const ranked = rows().filter(included);
    return ranked.indexOf(row) + 1;
  }

  function renumber() {
    let rank = 0;
    for (const row of rows()) {
      const input = row.querySelector(".rank-number");
      const on = included(row);
      if (on) rank += 1;
      row.classList.toggle("is-excluded", !on);
      row.querySelector("[data-excluded-label]").hidden = on;
      row.querySelector("[data-toggle-include]").textContent = on ? "Leave out" : "Rank again";
      input.value = on ? String(rank) : "";
      input.disabled = !on;
    }
  }

  async function save(message) {
    renumber();
    stateLine.textContent = "Saving…";
    const entries = rows().map((row) => ({
      applicant_id: row.dataset.applicant,
      included: included(row),
    }));
    try {
      const response = await fetch(list.dataset.url, {
        method: "PUT",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify({ entries }),
      });
      if (!response.ok) {
        const payload = await response.json().catch(() => ({}));
        throw new Error((payload.error && payload.error.message) || "The order was not saved.");
      }
      errorBox.hidden = true;
      stateLine.textContent = message ? `Saved: ${message}` : "Saved";
      const revert = page.querySelector('form[action$="/revert"] button');
      if (revert) revert.disabled = false;
    } catch (error) {
      errorBox.textContent = `${error.message} Reload the page to see the saved order.`;
      errorBox.hidden = false;
      stateLine.textContent = "Not saved";
    }
  }

  function moveTo(row, rank) {
    const ranked = rows().filter((r) => included(r) && r !== row);
    const index = Math.min(Math.max(rank, 1), ranked.length + 1) - 1;
    const before = ranked[index];
    if (before) list.insertBefore(row, before);
    else if (ranked.length) ranked[ranked.length - 1].after(row);
  }

  // --- drag and drop ---
  list.addEventListener("dragstart", (event) => {
    dragged = event.target.closest(".rank-item");
    if (!dragged) return;
    dragged.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.dataset.applicant);
  });
  list.addEventListener("dragover", (event) => {
    const over = event.target.closest(".rank-item");
    if (!dragged || !over) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    for (const row of rows()) row.classList.remove("drop-before");
    if (over !== dragged) over.classList.add("drop-before");
  });
  list.addEventListener("drop", (event) => {
    const over = event.target.closest(".rank-item");
    if (!dragged || !over) return;
    event.preventDefault();
    if (over !== dragged) {
      const box = over.getBoundingClientRect();
      const after = event.clientY > box.top + box.height / 2;
      if (after) over.after(dragged);
      else list.insertBefore(dragged, over);
      const name = nameOf(dragged);
      const rank = rankOf(dragged);
      save(`${name} moved to rank ${rank}`);
      announce(`${name} moved to rank ${rank}.`);
    }
  });
  list.addEventListener("dragend", () => {
    for (const row of rows()) row.classList.remove("drop-before", "is-dragging");
    dragged = null;
  });

  // --- keyboard ---
  function drop(cancel) {
    const row = grabbed;
    grabbed = null;
    row.classList.remove("is-grabbed");
    row.setAttribute("aria-grabbed", "false");
    if (cancel) {
      const { next } = grabbedFrom;
      if (next) list.insertBefore(row, next);
      else list.append(row);
      row.focus();
      announce(`Move cancelled. ${nameOf(row)} is back at rank ${rankOf(row)}.`);
      return;
    }
    row.focus();
    if (grabbedFrom.index !== rows().indexOf(row)) {
      save(`${nameOf(row)} moved to rank ${rankOf(row)}`);
    }
    announce(`${nameOf(row)} dropped at rank ${rankOf(row)}.`);
  }

  list.addEventListener("keydown", (event) => {
    const row = event.target;
    if (!row.classList || !row.classList.contains("rank-item")) return;
    if (event.key === " " || event.key === "Spacebar") {
      event.preventDefault();
      if (grabbed === row) {
        drop(false);
        return;
      }
      if (grabbed) drop(true);
      grabbed = row;
      grabbedFrom = { next: row.nextElementSibling, index: rows().indexOf(row) };
      row.classList.add("is-grabbed");
      row.setAttribute("aria-grabbed", "true");
      announce(
        `${nameOf(row)} picked up, rank ${rankOf(row)} of ${rows().filter(included).length}. ` +
          "Use the arrow keys to move, Space to drop, Escape to cancel.",
      );
    } else if (grabbed === row && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      // The neighbour moves, not the row: moving a focused element would drop its focus.
      if (event.key === "ArrowUp" && row.previousElementSibling) {
        row.after(row.previousElementSibling);
      } else if (event.key === "ArrowDown" && row.nextElementSibling) {
        list.insertBefore(row.nextElementSibling, row);
      }
      row.focus();
      renumber();
      announce(`${nameOf(row)}: rank ${rankOf(row) || "not ranked"}.`);
    } else if (grabbed === row && event.key === "Escape") {
      event.preventDefault();
      drop(true);
      renumber();
    } else if (!grabbed && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
      event.preventDefault();
      const target = event.key === "ArrowUp" ? row.previousElementSibling : row.nextElementSibling;
      if (target) target.focus();
    }
  });
  list.addEventListener("focusout", (event) => {
    if (grabbed && event.target === grabbed && !list.contains(event.relatedTarget)) {
      drop(true);
      renumber();
    }
  });

  // --- typed rank numbers and include / leave out ---
  list.addEventListener("change", (event) => {
    const input = event.target;
    if (!input.classList.contains("rank-number")) return;
    const row = input.closest(".rank-item");
    const wanted = Number.parseInt(input.value, 10);
    if (!Number.isFinite(wanted)) {
      renumber();
      return;
    }
    moveTo(row, wanted);
    input.focus();
    save(`${nameOf(row)} moved to rank ${rankOf(row)}`);
    announce(`${nameOf(row)} moved to rank ${rankOf(row)}.`);
  });
  list.addEventListener("keydown", (event) => {
    // Enter in a rank field commits it (change fires on blur otherwise).
    if (event.key === "Enter" && event.target.classList.contains("rank-number")) {
      event.preventDefault();
      event.target.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-toggle-include]");
    if (!button) return;
    const row = button.closest(".rank-item");
    const on = !included(row);
    row.dataset.included = on ? "true" : "false";
    const message = on ? `${nameOf(row)} ranked again` : `${nameOf(row)} left out of the list`;
    save(message);
    announce(`${message}.`);
  });

  return { save, moveTo };
}

for (const list of document.querySelectorAll("[data-rank-list]")) {
  mountRankList(list);
}
