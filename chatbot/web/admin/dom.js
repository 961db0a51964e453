// DOM helpers. Every piece of customer or model text goes in as a text node (textContent):
// nothing here parses HTML, and links are made only for http(s) URLs.

const SAFE_ATTRIBUTES = /^(id|class|type|name|for|value|placeholder|rows|cols|min|max|step|accept|multiple|required|disabled|hidden|href|rel|target|role|tabindex|datetime|colspan|scope|autocomplete|spellcheck|maxlength|aria-[a-z]+|data-[a-z-]+)$/;

/** An element: `el("p", {class: "note"}, "text", child, ...)`; strings become text nodes. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (!SAFE_ATTRIBUTES.test(name)) throw new Error(`attribute ${name} is not allowed`);
    if (name === "href" && !isWebUrl(value) && !String(value).startsWith("#")) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, ...children);
  return node;
}

export function append(node, ...children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function isWebUrl(value) {
  try {
    const url = new URL(String(value), document.baseURI);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** A link to an http(s) URL; any other URL (javascript:, data:...) is shown as plain text. */
export function link(url, text) {
  if (!url || !isWebUrl(url)) return el("span", {}, text || url || "");
  return el("a", { href: url, rel: "noopener noreferrer", target: "_blank" }, text || url);
}

/** A date and time from the API (RFC 3339) as `<time>`, shown in UTC to the second. */
export function moment(value) {
  if (!value) return el("span", { class: "muted" }, "—");
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return el("span", {}, String(value));
  const shown = date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  return el("time", { datetime: date.toISOString() }, shown);
}

/** A description list from [term, value] pairs (values: strings, numbers or nodes). */
export function facts(pairs, className = "facts") {
  const list = el("dl", { class: className });
  for (const [term, value] of pairs) {
    append(list, el("dt", {}, term), el("dd", {}, show(value)));
  }
  return list;
}

/** Any JSON value, readable: scalars as text, arrays joined, objects as nested facts. */
export function show(value) {
  if (value instanceof Node) return value;
  if (value === null || value === undefined || value === "") return el("span", { class: "muted" }, "—");
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object")) {
      return value.length ? value.join(", ") : el("span", { class: "muted" }, "none");
    }
    return el("ul", { class: "plain" }, value.map((v) => el("li", {}, show(v))));
  }
  if (typeof value === "object") return facts(Object.entries(value), "facts nested");
  return String(value);
}

/** A table inside a focusable, labelled region, so it scrolls sideways on a phone. */
export function table(label, headers, rows) {
  const head = el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h))));
  const body = el(
    "tbody",
    {},
    rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, show(c))))),
  );
  return el(
    "div",
    { class: "table-wrap", role: "region", "aria-label": label, tabindex: "0" },
    el("table", {}, head, body),
  );
}

/** A message for the page's live region or an error box. */
export function notice(kind, ...text) {
  return el("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...text);
}

export function button(text, onClick, attributes = {}) {
  const node = el("button", { type: "button", ...attributes }, text);
  node.addEventListener("click", onClick);
  return node;
}

/** A labelled form field: input, textarea or select (options: [value, text] pairs). */
export function field(id, labelText, control, { hint } = {}) {
  control.id = id;
  const parts = [el("label", { for: id }, labelText)];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute("aria-describedby", hintId);
    parts.push(el("span", { class: "hint", id: hintId }, hint));
  }
  parts.push(control);
  return el("div", { class: "field" }, parts);
}

export function select(name, options, current = "") {
  const node = el("select", { name });
  for (const [value, text] of options) {
    const option = el("option", { value }, text);
    if (value === current) option.selected = true;
    node.append(option);
  }
  return node;
}
