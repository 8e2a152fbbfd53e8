// An endpoint's attempts with the Svix filters, cursor paging and a live tail (polling).

import { api } from "./api.js";
import { field, fromLocalInput, h, link, notice, say, statusBadge, table, when } from "./dom.js";

export const ATTEMPT_HEADERS = ["Attempt", "Message", "Status", "HTTP", "Duration", "Trigger", "Time"];
const TAIL_MS = 2000;
const FILTERS = ["status", "status_code_class", "event_types", "channel", "after", "before"];

export function attemptRow(appId, a) {
  return {
    attrs: { "data-attempt-id": a.id, "data-status": a.statusText },
    cells: [
      link(`#/apps/${appId}/messages/${a.msgId}/attempts/${a.id}`, a.id), h("code", {}, a.msgId),
      statusBadge(a.statusText), a.responseStatusCode ? String(a.responseStatusCode) : "—",
      `${a.responseDurationMs} ms`, a.triggerType === 1 ? "manual" : "scheduled", when(a.timestamp),
    ],
  };
}

export function attemptRows(appId, attempts) {
  return attempts.map((a) => attemptRow(appId, a));
}

function select(name, options, value) {
  return h("select", { name }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text)));
}

function filterForm(base, query) {
  const status = select("status", [["", "Any"], ["0", "Succeeded"], ["2", "Failed"]], query.get("status") || "");
  const codes = select("status_code_class", [["", "Any"], ["0", "No response"], ["100", "1xx"], ["200", "2xx"],
    ["300", "3xx"], ["400", "4xx"], ["500", "5xx"]], query.get("status_code_class") || "");
  const types = h("input", { type: "text", name: "event_types", value: query.get("event_types") || "" });
  const channel = h("input", { type: "text", name: "channel", value: query.get("channel") || "" });
  const after = h("input", { type: "datetime-local", name: "after", step: "1" });
  const before = h("input", { type: "datetime-local", name: "before", step: "1" });
  const form = h(
    "form", { class: "filters", role: "search", "aria-label": "Filter attempts" },
    field("Status", status), field("Status code", codes), field("Event types (comma-separated)", types),
    field("Channel", channel), field("After", after), field("Before", before),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Apply filters"), link(base, "Clear")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    const values = { status: status.value, status_code_class: codes.value, event_types: types.value.trim(),
      channel: channel.value.trim(), after: fromLocalInput(after.value), before: fromLocalInput(before.value) };
    for (const [k, v] of Object.entries(values)) if (v) next.set(k, v);
    location.hash = `${base}${next.size ? `?${next}` : ""}`;
  });
  return form;
}

function apiQuery(query) {
  const out = {};
  for (const name of FILTERS) {
    const value = query.get(name);
    if (!value) continue;
    out[name] = name === "event_types" ? value.split(",").map((t) => t.trim()).filter(Boolean) : value;
  }
  return out;
}

export async function attemptsPage(page, { params, query, setCrumbs, alive }) {
  const [appId, epId] = params;
  const app = await api("GET", `/api/v1/app/${encodeURIComponent(appId)}`);
  const ep = await api("GET", `/api/v1/app/${app.id}/endpoint/${encodeURIComponent(epId)}`);
  const path = `/api/v1/app/${app.id}/attempt/endpoint/${ep.id}`;
  const filters = apiQuery(query);
  const iterator = query.get("iterator") || "";
  const list = await api("GET", path, { query: { ...filters, limit: 50, iterator } });
  const base = `#/apps/${app.id}/endpoints/${ep.id}/attempts`;
  setCrumbs([["Applications", "#/"], [app.name, `#/apps/${app.id}`], [ep.url, `#/apps/${app.id}/endpoints/${ep.id}`],
    ["Attempts", base]]);
  const tbody = h("tbody", {});
  const seen = new Set();
  const add = (attempts, atTop) => {
    const fresh = attempts.filter((a) => !seen.has(a.id));
    fresh.forEach((a) => seen.add(a.id));
    const rows = fresh.map((a) => {
      const row = attemptRow(app.id, a);
      return h("tr", { ...row.attrs, class: atTop ? "new" : null }, row.cells.map((c) => h("td", {}, c)));
    });
    if (atTop) tbody.prepend(...rows);
    else tbody.append(...rows);
    return fresh.length;
  };
  add(list.data, false);
  const keep = new URLSearchParams(query);
  keep.delete("iterator");
  const pageLink = (it, text) => {
    const q = new URLSearchParams(keep);
    q.set("iterator", it);
    return link(`${base}?${q}`, text);
  };
  const tail = h("input", { type: "checkbox", name: "tail", disabled: Boolean(iterator) });
  const tailState = h("span", { "aria-live": "polite", class: "muted" });
  let timer = null;
  const poll = async () => {
    try {
      const latest = await api("GET", path, { query: { ...filters, limit: 50 } });
      if (!alive()) return;
      const n = add(latest.data, true);
      tailState.textContent = `Checked ${when(new Date().toISOString())}${n ? `: ${n} new` : ""}`;
      if (n) say(`${n} new attempts`);
    } catch (error) {
      tailState.textContent = error.message;
    }
  };
  tail.addEventListener("change", () => {
    clearInterval(timer);
    timer = tail.checked ? setInterval(poll, TAIL_MS) : null;
    tailState.textContent = tail.checked ? "Live: new attempts appear at the top" : "";
  });
  page.append(
    h("h1", {}, "Attempts"),
    h("p", {}, "Endpoint ", link(`#/apps/${app.id}/endpoints/${ep.id}`, ep.url)),
    filterForm(base, query),
    h("p", { class: "tail" }, h("label", {}, tail, " Live tail (every 2 s)"), " ", tailState),
    list.data.length || !iterator
      ? h("table", { id: "attempts" }, h("caption", {}, "Attempts, newest first"),
          h("thead", {}, h("tr", {}, ATTEMPT_HEADERS.map((name) => h("th", { scope: "col" }, name)))), tbody)
      : null,
    list.data.length ? null : notice("No attempts match."),
    h("nav", { class: "pager", "aria-label": "Pages" },
      iterator ? pageLink(list.prevIterator || "", "Newer") : null,
      !list.done && list.iterator ? pageLink(list.iterator, "Older") : null),
  );
  return () => clearInterval(timer);
}
