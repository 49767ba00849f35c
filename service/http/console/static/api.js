// The HTTP JSON API client (InfluxDB 2.x conventions). Same-origin only; the
// session is the HttpOnly cookie set by POST /api/v2/signin.

export class ApiError extends Error {
  constructor(status, body, headerField = "") {
    const message = (body && typeof body.message === "string" && body.message) ||
      `request failed (HTTP ${status})`;
    super(message);
    this.status = status;
    this.code = (body && body.code) || "";
    // authzd names the invalid JSON field in the X-Authzd-Field response header.
    let field = headerField || (body && typeof body.field === "string" && body.field) || "";
    const m = !field && status === 400 && /^([A-Za-z][\w.[\]]*): /.exec(message);
    if (m) field = m[1];
    this.field = field;
  }
}

async function request(method, path, { body, headers = {} } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    cache: "no-store",
    redirect: "error",
    headers: { Accept: "application/json", ...headers },
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, { code: "unavailable", message: "The server cannot be reached." });
  }
  if (response.status === 204) return null;
  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    if (response.status === 401 && api.onUnauthorized && !path.startsWith("/api/v2/signin")) {
      api.onUnauthorized();
    }
    throw new ApiError(response.status, data, response.headers.get("X-Authzd-Field") || "");
  }
  return data;
}

function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

// Every item of a list, fetched in server-side pages (`limit`, then `links.next`).
// `onPage(items, done)` is called after each page, so a long list can show early.
async function listAll(path, key, params = {}, { max = 100000, onPage } = {}) {
  let url = `${path}${qs({ limit: 1000, ...params })}`;
  const items = [];
  const seen = new Set();
  while (url && items.length < max) {
    if (seen.has(url)) break;
    seen.add(url);
    const page = await request("GET", url);
    const got = (page && page[key]) || [];
    items.push(...got);
    const more = page && page.links && page.links.next;
    if (onPage) onPage(got, !(typeof more === "string" && more && got.length));
    const next = page && page.links && page.links.next;
    url = typeof next === "string" && next.startsWith("/") && got.length ? next : "";
  }
  return items;
}

function byName(items) {
  return items.sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

export const api = {
  onUnauthorized: null,
  setupAllowed: async () => (await request("GET", "/api/v2/setup")).allowed === true,
  setup: (body) => request("POST", "/api/v2/setup", { body }),
  signin: (username, password) => {
    const bytes = new TextEncoder().encode(`${username}:${password}`);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return request("POST", "/api/v2/signin", { headers: { Authorization: `Basic ${btoa(bin)}` } });
  },
  signout: () => request("POST", "/api/v2/signout"),
  me: () => request("GET", "/api/v2/me"),

  authorizations: (params, options) =>
    listAll("/api/v2/authorizations", "authorizations", params, options),
  authorization: (id) => request("GET", `/api/v2/authorizations/${encodeURIComponent(id)}`),
  createAuthorization: (body) => request("POST", "/api/v2/authorizations", { body }),
  updateAuthorization: (id, body) =>
    request("PATCH", `/api/v2/authorizations/${encodeURIComponent(id)}`, { body }),
  deleteAuthorization: (id) => request("DELETE", `/api/v2/authorizations/${encodeURIComponent(id)}`),

  orgs: async () => byName(await listAll("/api/v2/orgs", "orgs")),
  createOrg: (body) => request("POST", "/api/v2/orgs", { body }),
  updateOrg: (id, body) => request("PATCH", `/api/v2/orgs/${encodeURIComponent(id)}`, { body }),
  deleteOrg: (id) => request("DELETE", `/api/v2/orgs/${encodeURIComponent(id)}`),

  buckets: async (params) => byName(await listAll("/api/v2/buckets", "buckets", params)),
  createBucket: (body) => request("POST", "/api/v2/buckets", { body }),
  updateBucket: (id, body) => request("PATCH", `/api/v2/buckets/${encodeURIComponent(id)}`, { body }),
  deleteBucket: (id) => request("DELETE", `/api/v2/buckets/${encodeURIComponent(id)}`),

  users: async () => byName(await listAll("/api/v2/users", "users")),
  createUser: (body) => request("POST", "/api/v2/users", { body }),
  updateUser: (id, body) => request("PATCH", `/api/v2/users/${encodeURIComponent(id)}`, { body }),
  deleteUser: (id) => request("DELETE", `/api/v2/users/${encodeURIComponent(id)}`),
  setPassword: (id, password, oldPassword) =>
    request("POST", `/api/v2/users/${encodeURIComponent(id)}/password`,
      { body: oldPassword === undefined ? { password } : { password, oldPassword } }),
};

// A calm one-line message for an error, whatever it is.
export function messageOf(err) {
  if (err instanceof ApiError) return err.message;
  return "Something went wrong. Try again.";
}
