// Every page: htmx for forms and tables, plus small progressive enhancements.
import htmx from "htmx.org";

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

export { csrfToken };
