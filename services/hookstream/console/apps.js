// Applications, and one application's endpoints with their health over the last 24 hours.

import { api, toUuid } from "./api.js";
import { field, h, link, ms, notice, percent, say, statusBadge, table, when } from "./dom.js";

export async function appsPage(page, { setCrumbs }) {
  setCrumbs([["Applications", "#/"]]);
  const apps = await api("GET", "/api/v1/app", { query: { limit: 250 } });
  page.append(
    h("h1", {}, "Applications"),
    apps.data.length
      ? table("Applications", ["Name", "Id", "Uid", "Created"], apps.data.map((app) => [
          link(`#/apps/${app.id}`, app.name), h("code", {}, app.id), app.uid || "—", when(app.createdAt),
        ]), { id: "apps" })
      : notice("No applications yet."),
  );
}

/** healthy / degraded / failing / disabled / idle, from the last 24 hours' attempts. */
export function health(endpoint, summary) {
  if (endpoint.disabled) return "disabled";
  if (!summary || !summary.attempts) return "idle";
  const rate = summary.successes / summary.attempts;
  return rate >= 0.99 ? "healthy" : rate >= 0.9 ? "degraded" : "failing";
}

export async function appPage(page, { params, setCrumbs }) {
  const [appId] = params;
  const app = await api("GET", `/api/v1/app/${encodeURIComponent(appId)}`);
  const [endpoints, summary] = await Promise.all([
    api("GET", `/api/v1/app/${app.id}/endpoint`, { query: { limit: 250 } }),
    api("GET", `/v1/apps/${toUuid(app.id)}/endpoints/summary`),
  ]);
  setCrumbs([["Applications", "#/"], [app.name, `#/apps/${app.id}`]]);
  const byId = new Map(summary.data.map((row) => [row.endpoint_id, row]));
  const rows = endpoints.data.map((ep) => {
    const row = byId.get(toUuid(ep.id));
    const state = health(ep, row);
    return {
      attrs: { "data-endpoint-id": ep.id },
      cells: [
        link(`#/apps/${app.id}/endpoints/${ep.id}`, ep.url), statusBadge(state),
        row ? percent(row.successes, row.attempts) : "—", row ? row.attempts : 0,
        ms(row && row.p50_ms), ms(row && row.p99_ms), ep.disabled ? "yes" : "no",
      ],
    };
  });
  page.append(
    h("h1", {}, app.name),
    h("p", {}, h("code", {}, app.id), " · ", link(`#/apps/${app.id}/messages`, "Messages")),
    h("h2", {}, "Endpoints"),
    rows.length
      ? table("Endpoints, last 24 hours", ["URL", "Health", "Success rate", "Attempts", "p50", "p99", "Disabled"],
          rows, { id: "endpoints" })
      : notice("No endpoints yet."),
    newEndpointForm(app.id),
  );
}

function newEndpointForm(appId) {
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://example.com/hooks" });
  const types = h("input", { type: "text", name: "eventTypes", placeholder: "order.created, order.paid" });
  const out = h("div", { "aria-live": "polite" });
  const form = h(
    "form", { class: "card", "aria-labelledby": "new-ep" },
    h("h2", { id: "new-ep" }, "Add an endpoint"),
    field("URL", url), field("Event types (comma-separated; empty: all)", types),
    h("button", { type: "submit" }, "Add endpoint"), out,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const eventTypes = types.value.split(",").map((t) => t.trim()).filter(Boolean);
    try {
      const ep = await api("POST", `/api/v1/app/${appId}/endpoint`, {
        body: { url: url.value.trim(), ...(eventTypes.length ? { filterTypes: eventTypes } : {}) },
      });
      say("Endpoint added");
      location.hash = `#/apps/${appId}/endpoints/${ep.id}`;
    } catch (error) {
      out.replaceChildren(notice(error.message, "error"));
    }
  });
  return form;
}
