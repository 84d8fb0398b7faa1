// Every page: htmx for forms and tables, plus small progressive enhancements. Pages carry no
// inline script, event handler or style attribute (the Content-Security-Policy forbids them):
// behaviour hangs on data attributes handled here.
import htmx from "htmx.org";

// Before htmx processes the page (it does on DOMContentLoaded; this module runs earlier):
// no eval (hx-on, js: values, trigger filters), no inline <style> for indicators (app.css has
// those rules), and no <script> copied out of swapped content.
Object.assign(htmx.config, { allowEval: false, includeIndicatorStyles: false, allowScriptTags: false });

window.htmx = htmx;

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// htmx requests change state with the session cookie, so they carry the CSRF token too.
document.body.addEventListener("htmx:configRequest", (event) => {
  event.detail.headers["X-CSRF-Token"] = csrfToken();
});

// A select marked data-autosubmit submits its form on change; the button stays for keyboards.
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form.requestSubmit());
}

// <form data-confirm="Remove Room 1?">: asks before submitting.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// <button data-print>: prints the page.
document.addEventListener("click", (event) => {
  if (event.target instanceof Element && event.target.closest("[data-print]")) window.print();
});

// Bars and meters: data-w / data-h (a percentage) become the --w / --h custom properties
// their CSS sizes them by. Set through the CSSOM, which style-src allows, unlike style="".
function sizeBars(root) {
  for (const [attribute, property] of [["w", "--w"], ["h", "--h"]]) {
    for (const node of root.querySelectorAll(`[data-${attribute}]`)) {
      const percent = Number(node.dataset[attribute]);
      if (Number.isFinite(percent)) node.style.setProperty(property, `${Math.min(100, Math.max(0, percent))}%`);
    }
  }
}

// Applicant pages without a time zone on file: each time also in the browser's own zone,
// when it differs from the program's (data-program-zone on the page).
function showOwnZone(root) {
  const page = root.querySelector("[data-program-zone]");
  if (!page) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || zone === page.dataset.programZone) return;
  const format = new Intl.DateTimeFormat(undefined, { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false, timeZoneName: "short" });
  root.querySelectorAll("[data-utc]").forEach((node) => { node.textContent = ` · your time: ${format.format(new Date(node.dataset.utc))}`; node.hidden = false; });
  root.querySelectorAll(".js-own-zone").forEach((node) => { node.hidden = false; node.querySelector(".js-zone-name").textContent = zone; });
}

sizeBars(document);
showOwnZone(document);
htmx.onLoad((content) => { if (content instanceof Element && content !== document.body) sizeBars(content); });

export { csrfToken };
