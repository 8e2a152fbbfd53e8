// One endpoint: its settings (also for the portal's owner), latency by phase per hour, status-code classes,
// the slowest-endpoint signal, and recovery of failed messages.

import { api, toSvix, toUuid } from "./api.js";
import { PHASES, barChart, lineChart } from "./charts.js";
import { facts, field, fromLocalInput, h, link, ms, notice, say, table, when } from "./dom.js";

const CLASSES = [[0, "No response"], [100, "1xx"], [200, "2xx"], [300, "3xx"], [400, "4xx"], [500, "5xx"]];
const SAMPLE = 250;

function settingsForm(app, ep) {
  const url = h("input", { type: "url", name: "url", required: true, value: ep.url });
  const description = h("input", { type: "text", name: "description", value: ep.description || "" });
  const types = h("input", { type: "text", name: "eventTypes", value: (ep.filterTypes || []).join(", ") });
  const disabled = h("input", { type: "checkbox", name: "disabled", checked: ep.disabled });
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "ep-settings" },
    h("h2", { id: "ep-settings" }, "Settings"),
    field("URL", url), field("Description", description),
    field("Event types (comma-separated; empty: all)", types),
    h("div", { class: "field inline" }, h("label", {}, disabled, " Disabled")),
    h("button", { type: "submit" }, "Save"), out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const filterTypes = types.value.split(",").map((t) => t.trim()).filter(Boolean);
    try {
      await api("PATCH", `/api/v1/app/${app.id}/endpoint/${ep.id}`, { body: {
        url: url.value.trim(), description: description.value, disabled: disabled.checked,
        filterTypes: filterTypes.length ? filterTypes : null,
      } });
      say("Endpoint saved");
      out.replaceChildren(notice("Saved."));
    } catch (error) {
      out.replaceChildren(notice(error.message, "error"));
    }
  });
  return form;
}

function secretCard(app, ep) {
  const out = h("div", { "aria-live": "polite" });
  const reveal = h("button", { type: "button" }, "Show signing secret");
  reveal.addEventListener("click", async () => {
    const secret = await api("GET", `/api/v1/app/${app.id}/endpoint/${ep.id}/secret`);
    out.replaceChildren(h("p", {}, "Signing secret: ", h("code", { id: "secret" }, secret.key)));
  });
  const rotate = h("button", { type: "button", class: "danger" }, "Rotate secret");
  rotate.addEventListener("click", async () => {
    if (!window.confirm("Rotate the signing secret? The old one keeps verifying for a while.")) return;
    try {
      await api("POST", `/api/v1/app/${app.id}/endpoint/${ep.id}/secret/rotate`, { body: {} });
      out.replaceChildren(notice("Secret rotated."));
      say("Secret rotated");
    } catch (error) {
      out.replaceChildren(notice(error.message, "error"));
    }
  });
  return h("section", { class: "card", "aria-labelledby": "ep-secret" },
    h("h2", { id: "ep-secret" }, "Signing secret"), h("div", { class: "actions" }, reveal, rotate), out);
}

function latencySection(latency) {
  const level = h("select", { name: "percentile" },
    ["p50", "p90", "p99"].map((p) => h("option", { value: p, selected: p === "p99" }, p)));
  const holder = h("div", {});
  const draw = () => {
    const key = `${level.value}_ms`;
    const series = PHASES.map((phase) => ({
      name: phase,
      points: latency.buckets.map((b) => [new Date(b.start), b.phases[phase] ? b.phases[phase][key] : null]),
    }));
    const rows = latency.buckets.map((b) => [when(b.start), String(b.attempts),
      ...PHASES.map((phase) => ms(b.phases[phase] && b.phases[phase][key]))]);
    holder.replaceChildren(
      latency.buckets.length
        ? lineChart(`${level.value} latency by phase per hour`, series, "ms", new Date(latency.since),
            new Date(latency.until))
        : notice("No attempts in the last 24 hours."),
      latency.buckets.length
        ? h("details", {}, h("summary", {}, "The numbers"),
            table(`${level.value} latency by phase per hour`, ["Hour", "Attempts", ...PHASES], rows, { id: "latency" }))
        : null);
  };
  level.addEventListener("change", draw);
  draw();
  return h("section", { "aria-labelledby": "ep-latency" },
    h("h2", { id: "ep-latency" }, "Latency by phase, last 24 hours"), field("Percentile", level), holder);
}

function classesSection(attempts, stats) {
  const counts = CLASSES.map(([code, label]) => [label, attempts.filter((a) => a.statusCodeClass === code).length]);
  return h("section", { "aria-labelledby": "ep-classes" },
    h("h2", { id: "ep-classes" }, "Status-code classes"),
    h("p", {}, `Of the latest ${attempts.length} attempts.`),
    barChart("Attempts by status-code class", counts),
    table("Attempts by status-code class", ["Class", "Attempts"], counts.map(([l, n]) => [l, String(n)]),
      { id: "classes" }),
    facts([["Delivered messages (28 days)", String(stats.success)], ["Failed", String(stats.fail)],
      ["Pending", String(stats.pending)], ["Sending", String(stats.sending)]]));
}

function slowestSection(app, ep, slowest) {
  const index = slowest.data.findIndex((row) => row.endpoint_id === toUuid(ep.id));
  const mine = slowest.data[index];
  const body = mine
    ? facts([
        ["Rank by p99 increase", `${index + 1} of ${slowest.data.length}`],
        ["p99 this period", ms(mine.p99_ms)], ["p99 the period before", ms(mine.previous_p99_ms)],
        ["Change", ms(mine.change_ms)], ["Phase that moved most", mine.phase ? `${mine.phase} (${ms(mine.phase_change_ms)})` : "—"],
      ], { id: "slowest" })
    : notice("No attempts in the period.");
  const others = slowest.data.slice(0, 5).map((row) => {
    const id = toSvix("ep", row.endpoint_id);
    return [link(`#/apps/${app.id}/endpoints/${id}`, id), ms(row.p99_ms), ms(row.change_ms), row.phase || "—"];
  });
  return h("section", { "aria-labelledby": "ep-slowest" },
    h("h2", { id: "ep-slowest" }, `Slowest endpoints (${when(slowest.meta.since)} to ${when(slowest.meta.until)})`),
    body,
    others.length ? table("Largest p99 increases in the application", ["Endpoint", "p99", "Change", "Phase"], others)
      : null);
}

function recoverForm(app, ep) {
  const since = h("input", { type: "datetime-local", name: "since", required: true, step: "1" });
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "ep-recover" },
    h("h2", { id: "ep-recover" }, "Recover failed messages"),
    h("p", {}, "Sends again every message that failed at this endpoint since the time given."),
    field("Since", since), h("button", { type: "submit" }, "Recover"), out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const task = await api("POST", `/api/v1/app/${app.id}/endpoint/${ep.id}/recover`,
        { body: { since: fromLocalInput(since.value) } });
      out.replaceChildren(notice(`Recovery started (${task.id}).`));
      say("Recovery started");
    } catch (error) {
      out.replaceChildren(notice(error.message, "error"));
    }
  });
  return form;
}

export async function endpointPage(page, { params, setCrumbs }) {
  const [appId, epId] = params;
  const app = await api("GET", `/api/v1/app/${encodeURIComponent(appId)}`);
  const ep = await api("GET", `/api/v1/app/${app.id}/endpoint/${encodeURIComponent(epId)}`);
  const [latency, attempts, stats, slowest] = await Promise.all([
    api("GET", `/v1/endpoints/${toUuid(ep.id)}/latency`, { query: { granularity: "hour" } }),
    api("GET", `/api/v1/app/${app.id}/attempt/endpoint/${ep.id}`, { query: { limit: SAMPLE, with_content: "false" } }),
    api("GET", `/api/v1/app/${app.id}/endpoint/${ep.id}/stats`),
    api("GET", `/v1/apps/${toUuid(app.id)}/endpoints/slowest`),
  ]);
  setCrumbs([["Applications", "#/"], [app.name, `#/apps/${app.id}`], [ep.url, `#/apps/${app.id}/endpoints/${ep.id}`]]);
  page.append(
    h("h1", {}, ep.url),
    h("p", {}, h("code", {}, ep.id), " · ", link(`#/apps/${app.id}/endpoints/${ep.id}/attempts`, "Attempts"), " · ",
      link(`#/apps/${app.id}/endpoints/${ep.id}/attempts?status=2`, "Failed attempts")),
    latencySection(latency.data),
    classesSection(attempts.data, stats),
    slowestSection(app, ep, slowest),
    h("div", { class: "grid" }, settingsForm(app, ep), secretCard(app, ep), recoverForm(app, ep)),
  );
}
