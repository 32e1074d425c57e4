// Who is signed in, and the one way the pages talk to the node's JSON API.
export const S = {
  token: localStorage.getItem("patron.token"),
  me: JSON.parse(localStorage.getItem("patron.me") || "null"),
};

export function can(p) { return !!(S.me && S.me.permissions.includes(p)); }

// Sends JSON, or a File/Blob (a licence photo) as it is under its own type.
export async function api(method, path, body) {
  const headers = {};
  if (S.token) headers.authorization = "Bearer " + S.token;
  const raw = body instanceof Blob;
  if (body !== undefined) headers["content-type"] = raw ? (body.type || "application/octet-stream") : "application/json";
  const r = await fetch("/api/v1" + path, { method, headers, body: body === undefined ? undefined : raw ? body : JSON.stringify(body) });
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  if (r.status === 401 && path !== "/auth/login") { signOut(); return { ok: false, status: 401, data }; }
  return { ok: r.ok, status: r.status, data };
}

export function signOut() {
  if (S.token) api("POST", "/auth/logout").catch(() => {});
  S.token = null; S.me = null;
  localStorage.removeItem("patron.token"); localStorage.removeItem("patron.me");
  if (location.pathname !== "/login") location.href = "/login";
}

// Fetches a file the API makes (a CSV) with this session's token and saves it
// under `filename`. Returns the problem the API answered, if any.
export async function download(path, filename) {
  const r = await fetch("/api/v1" + path, { headers: { authorization: "Bearer " + S.token } });
  if (!r.ok) return (await r.json().catch(() => null)) || { detail: "The download failed" };
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a");
  a.href = url; a.download = filename;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return null;
}
