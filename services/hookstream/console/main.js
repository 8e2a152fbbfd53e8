// The console's shell: sign-in (operator) or portal entry (application token in the fragment), and the router.

import { ApiError, api, token, tokenApp } from "./api.js";
import { appPage, appsPage } from "./apps.js";
import { attemptPage } from "./attempt.js";
import { attemptsPage } from "./attempts.js";
import { field, h, link, notice } from "./dom.js";
import { endpointPage } from "./endpoint.js";
import { messagePage, messagesPage } from "./messages.js";

const ROUTES = [
  [/^\/$/, appsPage],
  [/^\/apps\/([^/]+)$/, appPage],
  [/^\/apps\/([^/]+)\/messages$/, messagesPage],
  [/^\/apps\/([^/]+)\/messages\/([^/]+)$/, messagePage],
  [/^\/apps\/([^/]+)\/messages\/([^/]+)\/attempts\/([^/]+)$/, attemptPage],
  [/^\/apps\/([^/]+)\/endpoints\/([^/]+)$/, endpointPage],
  [/^\/apps\/([^/]+)\/endpoints\/([^/]+)\/attempts$/, attemptsPage],
];

let generation = 0;
let cleanup = null;

/** The portal's entry: ``#key=<token>`` is moved to session storage and removed from the address at once. */
function takeFragmentToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const key = fragment.get("key");
  if (!key) return;
  token.set(key);
  const app = tokenApp(key);
  history.replaceState(null, "", `${location.pathname}#/${app ? `apps/${app}` : ""}`);
}

export function portalApp() {
  return tokenApp(token.get());
}

function setCrumbs(items) {
  const portal = portalApp();
  const all = portal ? items.filter((item) => item[0] !== "Applications") : items;
  document.getElementById("crumbs").replaceChildren(
    ...all.map(([text, href], i) =>
      h("li", {}, i === all.length - 1 ? h("span", { "aria-current": "page" }, text) : link(href, text)),
    ),
  );
  document.title = `${all.length ? all[all.length - 1][0] : "Home"} · ${portal ? "Webhooks portal" : "hookstream console"}`;
}

function signIn(main, problem) {
  setCrumbs([["Sign in", "#/"]]);
  document.getElementById("sign-out").hidden = true;
  const input = h("input", { type: "password", name: "token", autocomplete: "off", required: true });
  const form = h(
    "form", { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h("p", {}, "Paste the operator token (printed by hookstream dev, kept in its data directory). It stays in this tab."),
    field("Operator token", input),
    problem ? notice(problem, "error") : null,
    h("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    token.set(input.value.trim());
    render();
  });
  main.replaceChildren(form);
  input.focus();
}

async function render() {
  const mine = ++generation;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const main = document.getElementById("main");
  if (!token.get()) return signIn(main);
  document.getElementById("sign-out").hidden = false;
  document.getElementById("brand").textContent = portalApp() ? "Webhooks portal" : "hookstream console";
  const [path, search] = (location.hash.slice(1) || "/").split("?");
  const query = new URLSearchParams(search || "");
  const portal = portalApp();
  if (portal && path === "/") {
    location.replace(`#/apps/${portal}`);
    return;
  }
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  main.setAttribute("aria-busy", "true");
  main.replaceChildren(h("p", {}, "Loading…"));
  try {
    if (!route) throw new ApiError(404, { detail: "no such page" });
    const params = route[0].exec(path).slice(1).map(decodeURIComponent);
    const page = h("div", { class: "page" });
    const ctx = { params, query, setCrumbs, alive: () => mine === generation, portal };
    const done = await route[1](page, ctx);
    if (mine !== generation) return done && done();
    cleanup = done || null;
    main.replaceChildren(page);
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof ApiError && error.status === 401) {
      token.clear();
      return signIn(main, "The token was not accepted (wrong or expired).");
    }
    const missing = error instanceof ApiError && error.status === 404;
    setCrumbs([["Applications", "#/"], [missing ? "Not found" : "Error", location.hash]]);
    main.replaceChildren(
      h("h1", {}, missing ? "Not found" : "Something went wrong"),
      notice(missing ? "Nothing here for this token." : String(error.message || error), "error"),
      link("#/", "Back to the start"),
    );
  } finally {
    if (mine === generation) main.removeAttribute("aria-busy");
  }
}

/** Re-render the current page (after an action), keeping the address. */
export function refresh() {
  render();
}

document.getElementById("sign-out").addEventListener("click", async () => {
  if (portalApp()) await api("POST", "/api/v1/auth/logout").catch(() => null);
  token.clear();
  location.hash = "#/";
  render();
});
document.getElementById("skip").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
window.addEventListener("hashchange", () => {
  render().then(() => document.getElementById("main").focus({ preventScroll: true }));
});
takeFragmentToken();
render();
