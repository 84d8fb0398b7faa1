// Building DOM from data: every string that came from a person becomes text, never markup.
// Client modules build their elements with `el` instead of HTML strings; links from data go
// through `safeUrl` first (el does it for every URL attribute).

const URL_ATTRIBUTES = new Set(["href", "src", "action", "formaction"]);

// An http(s) URL (absolute or relative to this page), or null for anything else
// (javascript:, data:, vbscript:, garbage).
export function safeUrl(value) {
  if (value == null || value === "") return null;
  try {
    const url = new URL(String(value), window.location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// el("a", {href: url, class: "btn"}, "text", otherNode): attributes with false/null/undefined
// values are left out, true gives an empty attribute; children are nodes or text (null and
// false are skipped, arrays are flattened).
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value == null) continue;
    if (URL_ATTRIBUTES.has(name)) {
      const url = safeUrl(value);
      if (url) node.setAttribute(name, url);
      continue;
    }
    node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}
