// An application's messages, and one message: its payload and its attempts.

import { api } from "./api.js";
import { attemptRows, ATTEMPT_HEADERS } from "./attempts.js";
import { h, link, notice, table, when } from "./dom.js";

export async function messagesPage(page, { params, query, setCrumbs }) {
  const [appId] = params;
  const app = await api("GET", `/api/v1/app/${encodeURIComponent(appId)}`);
  const list = await api("GET", `/api/v1/app/${app.id}/msg`, {
    query: { limit: 50, iterator: query.get("iterator") || "" },
  });
  setCrumbs([["Applications", "#/"], [app.name, `#/apps/${app.id}`], ["Messages", `#/apps/${app.id}/messages`]]);
  const base = `#/apps/${app.id}/messages`;
  page.append(
    h("h1", {}, "Messages"),
    list.data.length
      ? table("Messages, newest first", ["Message", "Event type", "Channels", "Created"], list.data.map((msg) => [
          link(`${base}/${msg.id}`, msg.id), msg.eventType, (msg.channels || []).join(", ") || "—", when(msg.timestamp),
        ]), { id: "messages" })
      : notice("No messages."),
    h("nav", { class: "pager", "aria-label": "Pages" },
      query.get("iterator") ? link(base, "Newest") : null,
      !list.done && list.iterator ? link(`${base}?iterator=${encodeURIComponent(list.iterator)}`, "Older") : null),
  );
}

export async function messagePage(page, { params, setCrumbs }) {
  const [appId, msgId] = params;
  const app = await api("GET", `/api/v1/app/${encodeURIComponent(appId)}`);
  const msg = await api("GET", `/api/v1/app/${app.id}/msg/${encodeURIComponent(msgId)}`);
  const attempts = await api("GET", `/api/v1/app/${app.id}/attempt/msg/${msg.id}`, { query: { limit: 100 } });
  setCrumbs([["Applications", "#/"], [app.name, `#/apps/${app.id}`], ["Messages", `#/apps/${app.id}/messages`],
    [msg.id, `#/apps/${app.id}/messages/${msg.id}`]]);
  page.append(
    h("h1", {}, `Message ${msg.id}`),
    h("p", {}, `${msg.eventType} · ${when(msg.timestamp)}`),
    h("h2", {}, "Attempts"),
    attempts.data.length
      ? table("Attempts of this message, newest first", ATTEMPT_HEADERS, attemptRows(app.id, attempts.data),
          { id: "attempts" })
      : notice("No attempts yet."),
    h("h2", {}, "Payload"),
    h("pre", { class: "payload", tabindex: "0", "aria-label": "Payload" }, JSON.stringify(msg.payload, null, 2)),
  );
}
