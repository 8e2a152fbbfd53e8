// One attempt: the timing waterfall, connection, headers, body, retry decision, payload; resend and expunge.

import { api, fetchText, toUuid } from "./api.js";
import { ATTEMPT_HEADERS, attemptRows } from "./attempts.js";
import { waterfall } from "./charts.js";
import { facts, h, link, notice, say, statusBadge, table, when } from "./dom.js";
import { refresh } from "./main.js";

const PHASES = [
  ["DNS", "dns", "dns_ms"], ["TCP connect", "tcp", "tcp_connect_ms"], ["TLS", "tls", "tls_handshake_ms"],
  ["TTFB", "ttfb", "ttfb_ms"], ["Transfer", "transfer", "transfer_ms"],
];
const POLL_MS = 1000;
const POLL_FOR_MS = 30000;

function headersTable(caption, headers, id) {
  const entries = Object.entries(headers || {});
  return entries.length
    ? table(caption, ["Name", "Value"], entries.map(([k, v]) => [h("code", {}, k), v]), { id })
    : notice(`${caption}: none recorded.`);
}

async function bodySection(detail) {
  if (!detail || !detail.response_body_url) return notice("No response body stored (empty, expunged or past retention).");
  try {
    const body = await fetchText(detail.response_body_url);
    return h("div", {},
      body.truncated || detail.response_body_truncated
        ? notice("Truncated: the receiver sent more than the stored part shown here.", "warn") : null,
      h("pre", { id: "response-body", tabindex: "0", "aria-label": "Response body" }, body.text));
  } catch (error) {
    return notice(`The body could not be read: ${error.message}`, "error");
  }
}

function retryFacts(detail) {
  if (!detail) return facts([["Retry", "—"]]);
  const next = detail.retry_type !== "none" && detail.retry_after_seconds !== undefined
    ? when(new Date(Date.parse(detail.created_at) + 1000 * detail.retry_after_seconds).toISOString()) : "none";
  return facts([
    ["Retry type", h("code", { id: "retry-type" }, detail.retry_type)],
    ["Retry after", detail.retry_after_seconds !== undefined ? `${detail.retry_after_seconds} s` : "—"],
    ["Next attempt", next],
  ]);
}

export async function attemptPage(page, { params, setCrumbs, alive }) {
  const [appId, msgId, attemptId] = params;
  const app = await api("GET", `/api/v1/app/${encodeURIComponent(appId)}`);
  const base = `/api/v1/app/${app.id}/msg/${encodeURIComponent(msgId)}`;
  const [attempt, msg] = await Promise.all([
    api("GET", `${base}/attempt/${encodeURIComponent(attemptId)}`), api("GET", base),
  ]);
  const [v1, ep, siblings] = await Promise.all([
    api("GET", `/v1/messages/${toUuid(msg.id)}/attempts`),
    api("GET", `/api/v1/app/${app.id}/endpoint/${attempt.endpointId}`),
    api("GET", `/api/v1/app/${app.id}/attempt/msg/${msg.id}`, { query: { endpoint_id: attempt.endpointId, limit: 50 } }),
  ]);
  const detail = v1.data.find((a) => a.id === toUuid(attempt.id));
  setCrumbs([["Applications", "#/"], [app.name, `#/apps/${app.id}`], ["Messages", `#/apps/${app.id}/messages`],
    [msg.id, `#/apps/${app.id}/messages/${msg.id}`], [attempt.id, location.hash]]);
  const phases = PHASES.map(([label, , key]) => [label, detail ? detail[key] : 0]);
  const total = detail ? detail.response_latency_ms : attempt.responseDurationMs;
  const timing = table("Timing", ["Phase", "Milliseconds"], [
    ...PHASES.map(([label, name, key], i) => ({ attrs: { "data-phase": name }, cells: [label, String(phases[i][1])] })),
    { attrs: { "data-phase": "total" }, cells: ["Total", String(total)] },
  ], { id: "timing" });
  const result = h("div", { "aria-live": "polite" });
  const siblingTable = h("div", {}, table("Attempts of this message at this endpoint, newest first", ATTEMPT_HEADERS,
    attemptRows(app.id, siblings.data), { id: "message-attempts" }));
  let timer = null;

  const resend = h("button", { type: "button", id: "resend" }, "Resend");
  resend.addEventListener("click", async () => {
    if (!window.confirm(`Send message ${msg.id} to ${ep.url} again?`)) return;
    resend.disabled = true;
    try {
      await api("POST", `${base}/endpoint/${attempt.endpointId}/resend`, { body: {} });
      const before = new Set(siblings.data.map((a) => a.id));
      result.replaceChildren(notice("Resend queued; waiting for the manual attempt…"));
      const started = Date.now();
      timer = setInterval(async () => {
        const now = await api("GET", `/api/v1/app/${app.id}/attempt/msg/${msg.id}`,
          { query: { endpoint_id: attempt.endpointId, limit: 50 } }).catch(() => null);
        if (!alive()) return clearInterval(timer);
        const fresh = now && now.data.filter((a) => !before.has(a.id) && a.triggerType === 1);
        if (fresh && fresh.length) {
          clearInterval(timer);
          siblingTable.replaceChildren(table("Attempts of this message at this endpoint, newest first",
            ATTEMPT_HEADERS, attemptRows(app.id, now.data), { id: "message-attempts" }));
          result.replaceChildren(notice(`Manual attempt ${fresh[0].id} recorded: ${fresh[0].statusText}.`));
          say("Manual attempt recorded");
          resend.disabled = false;
        } else if (Date.now() - started > POLL_FOR_MS) {
          clearInterval(timer);
          result.replaceChildren(notice("Resend queued; the attempt has not been recorded yet.", "warn"));
          resend.disabled = false;
        }
      }, POLL_MS);
    } catch (error) {
      result.replaceChildren(notice(error.message, "error"));
      resend.disabled = false;
    }
  });
  const expunge = h("button", { type: "button", id: "expunge", class: "danger" }, "Expunge response content");
  expunge.addEventListener("click", async () => {
    if (!window.confirm("Delete this attempt's stored response body for good?")) return;
    try {
      await api("DELETE", `${base}/attempt/${attempt.id}/content`);
      say("Response content expunged");
      refresh();
    } catch (error) {
      result.replaceChildren(notice(error.message, "error"));
    }
  });

  page.append(
    h("h1", {}, `Attempt ${attempt.id}`),
    facts([
      ["Status", statusBadge(attempt.statusText)],
      ["HTTP status", attempt.responseStatusCode ? String(attempt.responseStatusCode) : "no response"],
      ["Endpoint", link(`#/apps/${app.id}/endpoints/${ep.id}`, ep.url)],
      ["Attempt number", String(attempt.attemptNumber)],
      ["Trigger", attempt.triggerType === 1 ? "manual" : "scheduled"],
      ["Time", when(attempt.timestamp)],
      ["Resolved IP", h("code", { id: "resolved-ip" }, attempt.resolvedIp || "—")],
      ["Connection reused", attempt.connReused ? "yes" : "no"],
      ["Error", attempt.errorText || "—"],
    ]),
    h("div", { class: "actions" }, resend, expunge), result,
    h("h2", {}, "Timing"), waterfall(phases, total), timing,
    h("h2", {}, "Retry decision"), retryFacts(detail),
    h("h2", {}, "Request headers"), headersTable("Request headers", detail && detail.request_headers, "request-headers"),
    h("h2", {}, "Response headers"),
    headersTable("Response headers", detail && detail.response_headers, "response-headers"),
    h("h2", {}, "Response body"), await bodySection(detail),
    h("h2", {}, "Message payload"),
    h("pre", { id: "payload", tabindex: "0", "aria-label": "Message payload" }, JSON.stringify(msg.payload, null, 2)),
    h("h2", {}, "Attempts of this message here"), siblingTable,
  );
  return () => clearInterval(timer);
}
