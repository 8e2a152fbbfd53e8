// DOM helpers. Everything the API returns is rendered as text (textContent / text nodes): never as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.setAttribute("class", value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function link(href, text, attrs = {}) {
  return h("a", { href, ...attrs }, text);
}

/** A table with a caption; ``rows`` are arrays of cells (text or nodes), or {cells, attrs}. */
export function table(caption, headers, rows, attrs = {}) {
  const body = rows.map((row) => {
    const cells = Array.isArray(row) ? row : row.cells;
    return h("tr", Array.isArray(row) ? {} : row.attrs, cells.map((c) => h("td", {}, c)));
  });
  return h(
    "table", attrs,
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, body),
  );
}

/** A definition list from [term, value] pairs. */
export function facts(pairs, attrs = {}) {
  return h("dl", { class: "facts", ...attrs }, pairs.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", {}, hint) : null);
}

export function ms(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value * 10) / 10} ms`;
}

export function percent(part, whole) {
  return whole ? `${Math.round((1000 * part) / whole) / 10} %` : "—";
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function say(text) {
  const status = document.getElementById("status");
  status.textContent = "";
  status.textContent = text;
}

export function notice(text, kind = "info") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function statusBadge(text) {
  return h("span", { class: `badge ${text}` }, text);
}

/** ISO text for an <input type="datetime-local"> value (read in the browser's time zone), or "". */
export function fromLocalInput(value) {
  return value ? new Date(value).toISOString() : "";
}
