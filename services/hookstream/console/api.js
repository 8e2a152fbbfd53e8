// The one way the console reads and changes anything: the public API, with the token the user holds.

const KEY = "hookstream.console.token";
const APP_PREFIX = "hs_app_";
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && (body.detail || body.message || (body.error && body.error.message));
    super(`${status}${detail ? `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}` : ""}`);
    this.status = status;
    this.body = body;
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

/** A request to the API with the held token; the answer's JSON, or an ApiError with its status and body. */
export async function api(method, path, { query, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) if (v !== undefined && v !== null && v !== "") url.searchParams.append(name, v);
  }
  const headers = { Authorization: `Bearer ${token.get() || ""}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Text of a signed body link (it is its own credential: no token is sent with it). */
export async function fetchText(url) {
  const response = await fetch(url, { cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
  if (!response.ok) throw new ApiError(response.status, null);
  return { text: await response.text(), truncated: response.headers.get("X-Response-Body-Truncated") === "true" };
}

// Ids: the Svix dialect shows a UUID as a prefix and 22 base62 digits; the v1 dialect as canonical text.

export function toUuid(svixId) {
  const digits = svixId.slice(svixId.indexOf("_") + 1);
  let n = 0n;
  for (const c of digits) {
    const d = ALPHABET.indexOf(c);
    if (d < 0) throw new ApiError(404, { detail: "not an id" });
    n = n * 62n + BigInt(d);
  }
  const hex = n.toString(16).padStart(32, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function toSvix(kind, uuid) {
  let n = BigInt(`0x${uuid.replaceAll("-", "")}`);
  let out = "";
  for (let i = 0; i < 22; i++) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return `${kind}_${out}`;
}

/** The application an application-scoped token names (its first 16 bytes), or null for the operator's. */
export function tokenApp(value) {
  if (!value || !value.startsWith(APP_PREFIX)) return null;
  const text = value.slice(APP_PREFIX.length).replaceAll("-", "+").replaceAll("_", "/");
  let raw;
  try {
    raw = atob(text + "=".repeat((4 - (text.length % 4)) % 4));
  } catch {
    return null;
  }
  if (raw.length < 16) return null;
  const hex = Array.from(raw.slice(0, 16), (c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  return toSvix("app", `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`);
}
