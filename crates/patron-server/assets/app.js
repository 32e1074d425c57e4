// Patron's web back office and register screen. Served from the binary; talks
// to the JSON API of the node it came from, so it works on a store node with
// HQ out of reach. No build step, no third-party code.
"use strict";

const S = {
  token: localStorage.getItem("patron.token"),
  me: JSON.parse(localStorage.getItem("patron.me") || "null"),
};

function can(p) { return !!(S.me && S.me.permissions.includes(p)); }

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return el;
}

const money = (m) => (m === null || m === undefined) ? "" : (m < 0 ? "-" : "") + (Math.abs(m) / 100).toFixed(2);
// Money typed as a decimal string ("12", "12.5", "12,50", "-3.25") into minor
// units exactly, digit by digit: never through a float. Anything else is
// null, which the API refuses, naming the field.
const toMinor = (s) => {
  const m = /^\s*(-?)(\d{1,13})(?:[.,](\d{1,2}))?\s*$/.exec(String(s));
  if (!m) return null;
  const v = Number(m[2]) * 100 + Number((m[3] || "").padEnd(2, "0"));
  return m[1] ? -v : v;
};
const fmtDate = (s) => s ? String(s).slice(0, 10) : "";

// Sends JSON, or a File/Blob (a licence photo) as it is under its own type.
async function api(method, path, body) {
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

function signOut() {
  if (S.token) api("POST", "/auth/logout").catch(() => {});
  S.token = null; S.me = null;
  localStorage.removeItem("patron.token"); localStorage.removeItem("patron.me");
  if (location.pathname !== "/login") location.href = "/login";
}

function go(path) { history.pushState({}, "", path); route(); }

// Marks every field a problem names and says what is wrong next to it.
function showErrors(form, problem) {
  form.querySelectorAll(".field").forEach((f) => { f.classList.remove("invalid"); const e = f.querySelector(".error"); if (e) e.textContent = ""; });
  const top = form.querySelector(".form-error");
  if (top) top.textContent = "";
  if (!problem) return;
  const errs = problem.errors && problem.errors.length ? problem.errors : [{ field: problem.field || "", message: problem.detail || "Something went wrong" }];
  for (const e of errs) {
    const f = form.querySelector(`.field[data-field="${e.field}"]`);
    if (f) { f.classList.add("invalid"); f.querySelector(".error").textContent = e.message; }
    else if (top) top.textContent = (top.textContent ? top.textContent + " " : "") + (e.field ? e.field + ": " : "") + e.message;
  }
}

function field(name, label, input) {
  input.name = name;
  input.id = "f-" + name.replace(/\W/g, "-");
  return h("div", { class: "field", "data-field": name }, h("label", { for: input.id }, label), input, h("div", { class: "error" }));
}

// A dialog over the page. It closes with its ✕, a click beside it or Escape
// (the topmost one), and gives the focus back to where it was.
function modal(title, body) {
  const bg = h("div", { class: "modal-bg", onclick: (e) => { if (e.target === bg) bg.remove(); } },
    h("div", { class: "modal", role: "dialog", "aria-modal": "true" },
      h("div", { class: "modal-head" }, h("h2", {}, title),
        h("button", { type: "button", class: "modal-x", "aria-label": "Close", title: "Close (Esc)", "data-testid": "modal-close", onclick: () => bg.remove() }, "✕")),
      body,
      // Every dialog can be left without saving: ✕, Escape, and a Cancel (or
      // Close, when there is nothing to save) unless the dialog has its own.
      (() => {
        const buttons = body instanceof Element ? [...body.querySelectorAll("button")] : [];
        if (buttons.some((b) => /^(Cancel|Close)$/.test(b.textContent))) return null;
        const form = body instanceof Element && (body.tagName === "FORM" || body.querySelector("form"));
        return h("div", { class: "modal-foot" }, h("button", { type: "button", "data-testid": "modal-cancel", onclick: () => bg.remove() }, form ? "Cancel" : "Close"));
      })()));
  bg.back = document.activeElement;
  document.body.append(bg);
  const first = bg.querySelector("input:not([type=hidden]):not([type=file]), select, textarea");
  if (first) first.focus();
  return bg;
}

document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  const open = document.querySelectorAll(".modal-bg");
  if (open.length) { open[open.length - 1].remove(); e.preventDefault(); }
});
new MutationObserver((changes) => {
  for (const c of changes) for (const n of c.removedNodes) {
    const lost = !document.activeElement || document.activeElement === document.body;
    if (n.classList?.contains("modal-bg") && lost && n.back?.isConnected) n.back.focus();
  }
}).observe(document.body, { childList: true });

function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }

// --- layout -------------------------------------------------------------------

const NAV = [
  ["/customers", "Customers", "customers.view"],
  ["/register", "Register", "orders.create"],
  ["/groups", "Groups", "customers.view"],
  ["/loyalty", "Loyalty", "loyalty.manage"],
  ["/users", "Users", "users.manage"],
  ["/duplicates", "Duplicates", "reports.view"],
  ["/security", "Security", "reports.view"],
  ["/stores", "Stores", "customers.view"],
];

function layout(title, ...content) {
  const app = document.getElementById("app");
  app.replaceChildren(
    h("header", { class: "top" },
      h("span", { class: "brand" }, "Patron"),
      h("nav", {}, NAV.filter(([, , p]) => can(p)).map(([href, label]) =>
        h("a", { href, class: location.pathname === href ? "active" : null, onclick: (e) => { e.preventDefault(); go(href); } }, label))),
      h("span", { class: "who" }, h("span", { "data-testid": "who" }, `${S.me.username} · ${S.me.role}`),
        h("button", { "data-testid": "change-password", onclick: passwordDialog }, "Password"),
        h("button", { "data-testid": "sign-out", onclick: signOut }, "Sign out"))),
    h("main", {}, h("h1", {}, title), ...content));
  document.title = `${title} · Patron`;
}

// --- sign in ------------------------------------------------------------------

function loginPage() {
  const form = h("form", { class: "card login", "data-testid": "login-form" },
    h("h1", {}, "Sign in to Patron"),
    h("div", { class: "notice form-error", hidden: true }),
    field("username", "Username", h("input", { autocomplete: "username", autofocus: true })),
    field("password", "Password", h("input", { type: "password", autocomplete: "current-password" })),
    h("button", { class: "primary", type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await api("POST", "/auth/login", { username: form.username.value, password: form.password.value });
    const note = form.querySelector(".form-error");
    if (!r.ok) { note.hidden = false; note.textContent = (r.data && r.data.detail) || "Sign-in failed"; return; }
    S.token = r.data.token; S.me = r.data.user;
    localStorage.setItem("patron.token", S.token); localStorage.setItem("patron.me", JSON.stringify(S.me));
    go(can("customers.deactivate") ? "/customers" : "/register");
  });
  document.title = "Sign in · Patron";
  document.getElementById("app").replaceChildren(form);
}

// --- customers ----------------------------------------------------------------

const CUSTOMER_FIELDS = [
  ["first_name", "First name"], ["last_name", "Last name"], ["phone", "Phone"], ["email", "Email"],
  ["date_of_birth", "Date of birth (YYYY-MM-DD)"], ["tax_id", "Tax ID"],
  ["address.line1", "Address"], ["address.line2", "Address line 2"], ["address.city", "City"], ["address.region", "Region"],
  ["address.postal_code", "Postal code"], ["address.country", "Country (2 letters)"],
  ["medical.card_number", "Medical card"], ["medical.expiry", "Medical card expiry"],
  ["id_document.number", "ID document number"], ["id_document.expiry", "ID document expiry"],
  ["id_document.issuing_state", "ID issued in (state/province)"], ["id_document.issuing_country", "ID issuing country (2 letters)"],
  ["notes", "Notes"],
];
// What a licence gives beyond names and birth date: the register's quick add
// shows these when it is filled from an ID.
const LICENCE_FIELDS = ["address.line1", "address.line2", "address.city", "address.region", "address.postal_code", "address.country",
  "id_document.number", "id_document.issuing_state", "id_document.issuing_country", "id_document.expiry"];

function getPath(obj, path) { return path.split(".").reduce((o, k) => (o ? o[k] : undefined), obj); }

function customerBody(form, only) {
  const body = {};
  for (const [name] of CUSTOMER_FIELDS) {
    if (only && !only.includes(name)) continue;
    const input = form.elements[name];
    if (!input) continue;
    const v = input.value.trim();
    const parts = name.split(".");
    let o = body;
    for (let i = 0; i < parts.length - 1; i++) o = o[parts[i]] = o[parts[i]] || {};
    o[parts[parts.length - 1]] = v === "" ? null : v;
  }
  if (!only) { for (const k of Object.keys(body)) if (body[k] === null) delete body[k]; }
  return body;
}

// The add and edit form. For a new customer, `opts` may give: `prefill` (a
// customer body, e.g. an ID scan's), `fields` (the names to show, default
// all), `veteranType` (offer to set it after creating), `onUseExisting` (a
// candidate picked when the server says this is likely someone on file),
// `submitLabel` and `testid`.
function customerForm(existing, onSaved, opts = {}) {
  const names = opts.fields || CUSTOMER_FIELDS.map(([n]) => n);
  const src = existing || opts.prefill;
  const form = h("form", { "data-testid": opts.testid || "customer-form" }, h("div", { class: "notice form-error" }));
  form.querySelector(".form-error").hidden = false;
  const grid = h("div", { class: "grid2" });
  for (const [name, label] of CUSTOMER_FIELDS) {
    if (!names.includes(name)) continue;
    grid.append(field(name, label, h("input", { value: src ? (getPath(src, name) ?? "") : "" })));
  }
  // A licence with the veteran indicator, and a type the chain maps it to.
  const vt = existing ? null : opts.veteranType;
  const setType = vt && can("loyalty.manage") ? h("input", { type: "checkbox", name: "set_type", checked: true, "data-testid": "set-veteran-type" }) : null;
  const offer = vt ? h("div", { class: "notice ok", "data-testid": "veteran-offer" }, setType
    ? h("label", { class: "check" }, setType, ` Veteran on the licence: make this customer a ${vt.name}`)
    : `Veteran on the licence: someone who manages loyalty can make this customer a ${vt.name}.`) : null;
  const dupes = h("div", { "data-testid": "duplicate-candidates" });
  const actions = h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, existing ? "Save" : (opts.submitLabel || "Add customer")),
    h("button", { type: "button", "data-testid": "form-cancel", onclick: () => form.closest(".modal-bg")?.remove() }, "Cancel"));
  form.append(...[grid, offer, dupes, actions].filter(Boolean));
  const create = async (allowDuplicate) => {
    const r = await api("POST", "/customers" + (allowDuplicate ? "?allow_duplicate=true" : ""), customerBody(form));
    if (r.status === 409 && r.data?.candidates?.length) { showErrors(form, null); showCandidates(r.data.candidates); return; }
    dupes.replaceChildren();
    if (!r.ok) { showErrors(form, r.data); return; }
    if (setType?.checked) {
      const t = await api("PUT", `/customers/${r.data.id}/type`, { type_id: vt.id });
      if (!t.ok) {
        showErrors(form, { detail: `${r.data.code} was created, but the type ${vt.name} could not be set: ${t.data?.detail || t.status}` });
        actions.replaceChildren(h("button", { type: "button", class: "primary", onclick: () => onSaved(r.data) }, "Continue"));
        return;
      }
    }
    onSaved(r.data);
  };
  // Someone on file is likely this person: show who and why, then let the
  // user take that record or create this one anyway.
  const showCandidates = (candidates) => {
    dupes.replaceChildren(h("div", { class: "dupes" },
      h("p", {}, h("strong", {}, "Already on file? "), candidates.length === 1 ? "This customer looks like someone on file." : `This customer looks like ${candidates.length} customers on file.`),
      candidateList(candidates, (c) => opts.onUseExisting ? h("button", { type: "button", class: "primary", "data-testid": "use-candidate", onclick: () => opts.onUseExisting(c) }, "Use this customer") : null),
      h("div", { class: "row" }, h("button", { type: "button", "data-testid": "create-anyway", onclick: () => create(true) }, "Create anyway"),
        h("span", { class: "muted" }, "a new record, though it looks like the same person"))));
    dupes.querySelector("button")?.focus();
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!existing) { await create(false); return; }
    const r = await api("PATCH", `/customers/${existing.id}`, customerBody(form, CUSTOMER_FIELDS.map(([n]) => n)));
    if (!r.ok) { showErrors(form, r.data); return; }
    onSaved(r.data);
  });
  return form;
}

const SAME = { id_document: "ID document number", phone: "phone", email: "email", name_and_date_of_birth: "name and date of birth" };
const sameText = (same) => (same || []).map((x) => SAME[x] || x).join(", ");

// Customers likely the same person: who they are, what they share, and an
// action for each (`action(customer)` returns a button or nothing).
function candidateList(items, action) {
  return h("ul", { class: "candidates" }, items.map((it) => {
    const c = it.customer;
    return h("li", { "data-testid": "candidate", class: c.active ? "" : "inactive" },
      h("div", { class: "who" }, h("strong", {}, `${c.first_name} ${c.last_name}`), h("span", { class: "muted" }, ` · ${c.code}`, c.active ? "" : " · deactivated"),
        h("div", { class: "muted" }, [c.phone, c.email, c.date_of_birth ? `born ${c.date_of_birth}` : null, c.id_document?.number ? `ID ${c.id_document.number}` : null].filter(Boolean).join(" · ") || "no phone, email or birth date"),
        h("div", { "data-testid": "candidate-same" }, (it.same || []).map((x) => h("span", { class: "badge warn" }, "same " + (SAME[x] || x))))),
      action(c));
  }));
}

// What an ID scan's checks say, for the screen: a warning that stands out for
// an expired card or an under-age holder, plain information otherwise.
function checksNotice(checks, whose, testid, dismiss) {
  const warnings = checks?.warnings || [];
  if (!warnings.length) return null;
  const bad = checks.expired || checks.under_age;
  return h("div", { class: bad ? "alert" : "notice ok", role: bad ? "alert" : "status", "data-testid": testid || "scan-checks" },
    dismiss ? h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", onclick: dismiss }, "✕") : null,
    h("strong", {}, bad ? `Check this ID before the sale${whose ? `: ${whose}` : ""}` : `ID${whose ? ` of ${whose}` : ""}`),
    h("ul", {}, warnings.map((w) => h("li", {}, w))));
}

// --- ID scans -------------------------------------------------------------------

// A keyboard-wedge scanner types a licence's PDF417 text a few milliseconds a
// character, separators as Enter (a newline here). The scan is over when it
// has been quiet for SCAN_QUIET_MS and holds a whole AAMVA record by its own
// header, or quiet for SCAN_WAIT_MS otherwise (a scanner that stalls mid-way,
// a record whose header is off); a Tab (some scanners end with one) ends it at
// once. The server parses the text; nothing is read here.
const SCAN_QUIET_MS = 200;
const SCAN_WAIT_MS = 1000;
const MAX_PHOTO = 15 * 1024 * 1024;

const looksLikeAamva = (t) => /ANSI ?\d{6}|AAMVA/.test(t) || /(^|[\n\r\x1e])D(AQ|CS|AC|BB|CT)[^\n\r]/.test(t);

// Whether the text is as long as its header's subfile directory says (a
// little less: scanners drop or merge separators).
function aamvaComplete(t) {
  const ansi = t.search(/ANSI ?\d/);
  if (ansi < 0) return true;
  const dir = t.slice(ansi).match(/^ANSI ?\d{8,12}?((?:[A-Z]{2}\d{8})+)/);
  if (!dir) return false;
  let end = 0;
  for (const [, off, len] of dir[1].matchAll(/[A-Z]{2}(\d{4})(\d{4})/g)) end = Math.max(end, Number(off) + Number(len));
  const at = t.lastIndexOf("@", ansi);
  const start = at >= 0 ? at : Math.max(0, ansi - 4);
  return t.length - start >= end * 0.9;
}

function scanProblem(r, what) {
  const d = r.data?.detail ? ` (${r.data.detail})` : "";
  if (r.status === 0) return "The server could not be reached; try again.";
  if (r.status === 422 && r.data?.field === "image") return `No licence barcode could be read from this photo${d}. Photograph the back of the card flat, in focus and filling most of the picture.`;
  if (r.status === 422) return `That scan is not a driver's licence or ID card${d}. Scan the large barcode on the back.`;
  if (r.status === 413) return "That photo is larger than 15 MB.";
  if (r.status === 415) return "Only JPEG or PNG photos can be read.";
  if (r.status === 403) return "You may not read IDs here.";
  return (r.data?.detail || `Reading the ${what} failed (${r.status}).`);
}

// The Scan ID field and the Upload Driver's License button; `onResult` gets
// the server's answer (document, customer, matches, checks).
function idScanner(onResult) {
  const text = h("textarea", { rows: 2, class: "scan", placeholder: "Scan an ID here: it is read as soon as the scanner stops", "data-testid": "scan-input", autocomplete: "off", spellcheck: "false", "aria-label": "Scan ID" });
  const file = h("input", { type: "file", accept: "image/jpeg,image/png", capture: "environment", "data-testid": "licence-upload" });
  const status = h("div", { class: "scan-status", role: "status", "data-testid": "scan-status" });
  const say = (message, error) => status.replaceChildren(...(message ? [h("div", { class: error ? "notice" : "muted" }, message)] : []));
  const send = async (body, what) => {
    say(what === "photo" ? "Reading the photo…" : "Reading the scan…");
    let r;
    try { r = await api("POST", "/id-scans", body); } catch (_) { r = { ok: false, status: 0, data: null }; }
    if (!r.ok) { if (r.status !== 401) say(scanProblem(r, what), true); return; }
    say("");
    onResult(r.data);
  };
  let timer = null;
  const finish = () => {
    clearTimeout(timer); timer = null;
    const t = text.value;
    if (!t.trim()) return;
    text.value = "";
    send({ text: t }, "scan");
  };
  text.addEventListener("input", () => {
    clearTimeout(timer);
    const t = text.value;
    if (t.trim()) timer = setTimeout(finish, looksLikeAamva(t) && aamvaComplete(t) ? SCAN_QUIET_MS : SCAN_WAIT_MS);
  });
  text.addEventListener("keydown", (e) => { if (e.key === "Tab" && !e.shiftKey && text.value.trim()) { e.preventDefault(); finish(); } });
  file.addEventListener("change", () => {
    const f = file.files[0];
    file.value = "";
    if (!f) return;
    if (!["image/jpeg", "image/png"].includes(f.type)) { say(`${f.name} is not a JPEG or PNG photo.`, true); return; }
    if (f.size > MAX_PHOTO) { say(`${f.name} is larger than 15 MB; take the photo again at a lower resolution.`, true); return; }
    send(f, "photo");
  });
  const el = h("div", { class: "scanner" }, text,
    h("div", { class: "row" }, h("label", { class: "button file-button" }, file, "Upload Driver's License"), h("span", { class: "muted" }, "JPEG or PNG of the card's back")),
    status);
  return { el, text };
}

// The customers on file an ID matches, with what they share; `onPick(c)` for
// the one chosen, `onNew()` (if given) to add the holder as a new customer.
function scanMatches(s, label, onPick, onNew) {
  const whose = [s.customer.first_name, s.customer.last_name].filter(Boolean).join(" ");
  const bg = modal(whose ? `On file: ${whose}?` : "On file?", h("div", { "data-testid": "scan-matches" },
    checksNotice(s.checks, whose),
    h("p", {}, s.matches.length === 1 ? "This ID matches a customer on file." : `This ID matches ${s.matches.length} customers on file.`),
    candidateList(s.matches, (c) => h("button", { type: "button", class: "primary", "data-testid": "scan-match-pick", onclick: () => { bg.remove(); onPick(c); } }, label)),
    h("div", { class: "row" },
      onNew ? h("button", { type: "button", "data-testid": "scan-new-instead", onclick: () => { bg.remove(); onNew(); } }, "None of these: new customer") : null,
      h("button", { type: "button", "data-testid": "form-cancel", onclick: () => bg.remove() }, "Cancel"))));
  bg.querySelector("[data-testid=scan-match-pick]")?.focus();
}

// One click from a customer to a sale: the register opens with them picked.
const saleButton = (c) => h("button", { "data-testid": "start-sale", title: "Start a sale for this customer", onclick: (e) => { e.preventDefault(); document.querySelectorAll(".panel").forEach((p) => p.remove()); go(`/register?customer=${encodeURIComponent(c.id)}`); } }, "Sale");

async function customersPage() {
  const state = { q: "", active: "true", origin: "", group: "", type: "", cursor: null, cursors: [], selected: new Set() };
  const [gr, tr] = await Promise.all([api("GET", "/groups"), api("GET", "/customer-types")]);
  const groups = gr.data?.items || [];
  const types = tr.data?.items || [];
  const manual = groups.filter((g) => g.kind === "manual");
  const search = h("input", { placeholder: "Search by name, phone, email or code", class: "grow", "data-testid": "customer-search", type: "search" });
  const active = h("select", { "data-testid": "filter-active" }, h("option", { value: "true" }, "Active"), h("option", { value: "false" }, "Deactivated"), h("option", { value: "all" }, "All"));
  const origin = h("input", { placeholder: "Origin store (HQ, S01…)", size: 14 });
  const group = h("select", { "data-testid": "filter-group" }, h("option", { value: "" }, "Any group"), groups.map((g) => h("option", { value: g.id }, g.name)));
  const type = h("select", { "data-testid": "filter-type" }, h("option", { value: "" }, "Any type"), types.map((t) => h("option", { value: t.id }, t.name)));
  const body = h("div");
  const bulk = h("div", { class: "row", hidden: true, "data-testid": "bulk-bar" });
  const load = async () => {
    // Every filter and the search combine in one query.
    const path = `/customers?limit=50&active=${state.active}` + (state.q ? `&q=${encodeURIComponent(state.q)}` : "") + (state.origin ? `&origin_store=${encodeURIComponent(state.origin)}` : "") +
      (state.type ? `&type=${state.type}` : "") + (state.group ? `&group=${state.group}` : "") + (state.cursor ? `&cursor=${encodeURIComponent(state.cursor)}` : "");
    const r = await api("GET", path);
    if (!r.ok) { body.replaceChildren(h("div", { class: "notice" }, r.data?.detail || "Could not load customers")); return; }
    renderTable(r.data);
  };
  const renderTable = (page) => {
    if (!page.items.length) { body.replaceChildren(h("div", { class: "card empty" }, state.q ? `No customer matches “${state.q}”.` : (state.group || state.type || state.origin || state.active !== "true") ? "No customer matches these filters." : "No customers yet.")); return; }
    const rows = page.items.map((c) => h("tr", { class: c.active ? "" : "inactive", "data-testid": "customer-row" },
      can("groups.manage") ? h("td", {}, h("input", { type: "checkbox", "aria-label": "select", checked: state.selected.has(c.id), onchange: (e) => { e.target.checked ? state.selected.add(c.id) : state.selected.delete(c.id); renderBulk(); } })) : null,
      h("td", {}, h("a", { href: "#", "data-testid": "customer-open", onclick: (e) => { e.preventDefault(); openCustomer(c.id, load); } }, c.first_name)),
      h("td", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); openCustomer(c.id, load); } }, c.last_name)),
      h("td", {}, c.code), h("td", { class: "hide-narrow" }, c.phone || ""), h("td", { class: "hide-narrow" }, c.email || ""),
      h("td", { class: "hide-narrow" }, c.date_of_birth || ""), h("td", {}, c.origin_store || "HQ"),
      h("td", {}, c.active ? h("span", { class: "badge ok" }, "active") : h("span", { class: "badge off" }, "deactivated")),
      h("td", {}, c.active && can("orders.create") ? saleButton(c) : null)));
    body.replaceChildren(
      h("div", { class: "table-wrap" }, h("table", { "data-testid": "customers-table" },
        h("thead", {}, h("tr", {}, can("groups.manage") ? h("th", {}, "") : null, h("th", {}, "First name"), h("th", {}, "Last name"), h("th", {}, "Code"), h("th", { class: "hide-narrow" }, "Phone"), h("th", { class: "hide-narrow" }, "Email"), h("th", { class: "hide-narrow" }, "Date of birth"), h("th", {}, "Origin"), h("th", {}, "Status"), h("th", {}, "Actions"))),
        h("tbody", {}, rows))),
      h("div", { class: "row", style: "margin-top:.75rem" },
        h("button", { disabled: !state.cursors.length, onclick: () => { state.cursor = state.cursors.pop() || null; load(); } }, "← Previous"),
        h("button", { disabled: !page.next_cursor, "data-testid": "next-page", onclick: () => { state.cursors.push(state.cursor); state.cursor = page.next_cursor; load(); } }, "Next →")));
  };
  const renderBulk = () => {
    bulk.hidden = state.selected.size === 0;
    const target = h("select", { "data-testid": "bulk-group" }, h("option", { value: "__all" }, "All manual groups"), manual.map((g) => h("option", { value: g.id }, g.name)));
    const act = async (action) => {
      const body = { customers: [...state.selected], action };
      if (target.value === "__all") body.all_manual = true; else body.groups = [target.value];
      const r = await api("POST", "/groups/members", body);
      bulk.querySelector(".msg").textContent = r.ok ? `${action === "add" ? "Added to" : "Removed from"} ${r.data.groups.length} group(s).` : (r.data?.detail || "Failed");
      if (r.ok) { state.selected.clear(); load(); }
    };
    bulk.replaceChildren(h("strong", {}, `${state.selected.size} selected`), target,
      h("button", { class: "primary", "data-testid": "bulk-add", onclick: () => act("add") }, "Add to group"),
      h("button", { "data-testid": "bulk-remove", onclick: () => act("remove") }, "Remove from group"),
      h("span", { class: "msg muted", "data-testid": "bulk-msg" }));
    bulk.hidden = state.selected.size === 0;
  };
  const reset = () => { state.cursor = null; state.cursors = []; load(); };
  search.addEventListener("input", debounce(() => { state.q = search.value.trim(); reset(); }, 150));
  active.addEventListener("change", () => { state.active = active.value; reset(); });
  origin.addEventListener("change", () => { state.origin = origin.value.trim(); reset(); });
  group.addEventListener("change", () => { state.group = group.value; reset(); });
  type.addEventListener("change", () => { state.type = type.value; reset(); });
  // A new customer, from scratch or filled from an ID scan `s`.
  const addCustomer = (s) => {
    const whose = s ? [s.customer.first_name, s.customer.last_name].filter(Boolean).join(" ") : "";
    const m = modal(s ? "New customer from the ID" : "Add customer", h("div", {}, s ? checksNotice(s.checks, whose) : null,
      customerForm(null, (c) => { m.remove(); openCustomer(c.id, load); load(); },
        { prefill: s?.customer, veteranType: s?.checks.veteran_type, onUseExisting: (c) => { m.remove(); openCustomer(c.id, load); } })));
    if (s) m.querySelector("[name=phone]")?.focus();
  };
  // An ID read: the customers it matches (opened on a click), or a new one.
  const scanned = (s) => {
    const add = can("customers.create") ? () => addCustomer(s) : null;
    if (s.matches.length) scanMatches(s, "Open", (c) => openCustomer(c.id, load), add);
    else if (add) add();
    else modal("Not on file", h("div", {}, checksNotice(s.checks), h("p", { "data-testid": "scan-no-match" }, "No customer on file matches this ID.")));
  };
  const scanner = idScanner(scanned);
  // The list as filtered, every page of it, as a CSV download.
  const exportCsv = async (e) => {
    const button = e.currentTarget;
    button.disabled = true;
    try {
      const q = new URLSearchParams({ active: state.active });
      if (state.q) q.set("q", state.q);
      if (state.origin) q.set("origin_store", state.origin);
      if (state.type) q.set("type", state.type);
      if (state.group) q.set("group", state.group);
      const r = await fetch(`/api/v1/exports/customers?${q}`, { headers: { authorization: "Bearer " + S.token } });
      if (!r.ok) { const p = await r.json().catch(() => null); body.prepend(h("div", { class: "notice" }, p?.detail || "The export failed")); return; }
      const url = URL.createObjectURL(await r.blob());
      const a = h("a", { href: url, download: `customers-${new Date().toISOString().slice(0, 10)}.csv` });
      document.body.append(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } finally { button.disabled = false; }
  };
  layout("Customers",
    h("div", { class: "row", style: "margin-bottom:.75rem" }, search, active, origin, group, type,
      can("customers.export") ? h("button", { "data-testid": "export-csv", title: "Download the customers these filters show, as CSV", onclick: exportCsv }, "Export CSV") : null,
      can("customers.create") ? h("button", { class: "primary", "data-testid": "add-customer", onclick: () => addCustomer(null) }, "Add customer") : null),
    h("details", { class: "scan-box", "data-testid": "customers-scan", open: true }, h("summary", {}, "Scan ID or upload a driver's license"), scanner.el),
    bulk, body);
  renderBulk();
  search.focus();
  load();
}

async function openCustomer(id, reload) {
  document.querySelectorAll(".panel").forEach((p) => p.remove());
  const [c, act, audit, dup] = await Promise.all([api("GET", `/customers/${id}`), api("GET", `/customers/${id}/activity`), api("GET", `/customers/${id}/audit`), api("GET", `/customers/${id}/duplicates`)]);
  if (!c.ok) return;
  document.querySelectorAll(".panel").forEach((p) => p.remove());
  const x = c.data, a = act.data || {}, b = x.balances || {};
  const dupes = dup.data?.items || [];
  // Nothing is "—"; zero is 0.
  const dl = (pairs) => h("dl", {}, pairs.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v === null || v === undefined || v === "" ? h("span", { class: "muted" }, "—") : v)]));
  const head = (...names) => h("thead", {}, h("tr", {}, names.map((n) => h("th", {}, n))));
  const newestFirst = (xs) => (xs || []).slice().sort((p, q) => String(q.at).localeCompare(String(p.at)));
  const panel = h("aside", { class: "panel", "data-testid": "customer-panel" },
    h("button", { class: "close", onclick: () => panel.remove() }, "Close"),
    h("h2", {}, `${x.first_name} ${x.last_name}`), h("div", { class: "muted" }, `${x.code} · ${x.origin_store || "HQ"} · `, x.active ? "active" : "deactivated"),
    x.active && !x.erased_at && can("orders.create") ? h("div", { class: "row" }, saleButton(x)) : null,
    x.erased_at ? h("div", { class: "notice", "data-testid": "panel-erased" }, `Personal data erased on ${fmtDate(x.erased_at)}; the record keeps its orders and balances.`) : null,
    // A change made here that HQ did not accept: shown plainly, with HQ's reason.
    (x.refused || []).map((r) => h("div", { class: "notice", "data-testid": "panel-refused" },
      `HQ refused a change made at ${r.store} by ${r.actor} (${(r.kind || "").replace("_", " ")}): ${r.reason}`)),
    // Records likely of the same person (shared phone, email, ID, or name and birth date).
    dupes.length ? h("div", { class: "dupes", "data-testid": "panel-duplicates" },
      h("strong", {}, dupes.length === 1 ? "Likely the same person as another record:" : `Likely the same person as ${dupes.length} other records:`),
      candidateList(dupes, (d) => [h("button", { type: "button", "data-testid": "duplicate-open", onclick: () => openCustomer(d.id, reload) }, "Open"),
        can("customers.merge") ? h("button", { type: "button", "data-testid": "duplicate-merge", onclick: () => confirmMerge(x, [d], () => { openCustomer(id, reload); reload && reload(); }) }, "Merge into this record") : null])) : null,
    h("div", { class: "row", style: "margin:.75rem 0" },
      can("customers.edit") && !x.erased_at ? h("button", { "data-testid": "edit-customer", onclick: () => { const m = modal("Edit customer", customerForm(x, () => { m.remove(); openCustomer(id, reload); reload && reload(); })); } }, "Edit") : null,
      can("customers.deactivate") ? h("button", { class: x.active ? "danger" : "", "data-testid": "toggle-active", onclick: async () => {
        await api("POST", `/customers/${id}/${x.active ? "deactivate" : "reactivate"}`);
        openCustomer(id, reload); reload && reload();
      } }, x.active ? "Deactivate" : "Reactivate") : null,
      h("button", { "data-testid": "export-customer", onclick: () => exportCustomer(x) }, "Export data"),
      can("customers.erase") && !x.erased_at ? h("button", { class: "danger", "data-testid": "erase-customer", onclick: () => confirmErase(x, () => { openCustomer(id, reload); reload && reload(); }) }, "Erase personal data") : null),
    can("loyalty.manage") ? h("div", { class: "row" }, h("span", { class: "muted" }, "Customer type"), (() => {
      const sel = h("select", { "data-testid": "panel-type", onchange: async () => { await api("PUT", `/customers/${id}/type`, { type_id: sel.value || null }); openCustomer(id, reload); } },
        h("option", { value: "" }, "none"));
      api("GET", "/customer-types").then((r) => { for (const t of r.data?.items || []) sel.append(h("option", { value: t.id }, t.name)); sel.value = a.customer_type || ""; });
      return sel;
    })()) : null,
    h("h2", {}, "Details"), dl([["Phone", x.phone], ["Email", x.email], ["Date of birth", x.date_of_birth], ["Tax ID", x.tax_id], ["Address", [x.address.line1, x.address.city, x.address.region, x.address.postal_code, x.address.country].filter(Boolean).join(", ")], ["Marketing", x.marketing_consent ? "yes" : "no"], ["Notes", x.notes]]),
    h("h2", {}, "Medical"), dl([["Card", x.medical.card_number], ["State", x.medical.issuing_state], ["Expiry", x.medical.expiry]]),
    h("h2", {}, "ID document"), dl([["Number", x.id_document.number], ["Issued in", [x.id_document.issuing_state, x.id_document.issuing_country].filter(Boolean).join(", ")], ["Expiry", x.id_document.expiry]]),
    h("h2", {}, "Balances"), dl([
      ["Loyalty points", h("span", { "data-testid": "points-balance" }, money(b.points?.balance))],
      ["Available now", money(b.points?.available)], ["Locked (returns)", money(b.points?.locked)],
      ["Next expiry", b.points?.next_expiry ? `${money(b.points.next_expiry.amount)} on ${fmtDate(b.points.next_expiry.at)}` : null],
      ["Store credit", h("span", { "data-testid": "credit-balance" }, money(b.credit?.balance))]]),
    h("h2", {}, "Totals"), dl([["Total spent", money(a.total_spent)], ["Visits", a.visits], ["Last visit", a.last_visit]]),
    h("h2", {}, "Groups"), h("div", { class: "row", "data-testid": "panel-groups" }, (a.groups || []).map((g) => h("span", { class: "badge" }, g.name))),
    h("h2", {}, "Top products"), (a.top_products || []).length ? h("table", {}, head("Product", "Quantity", "Amount"), h("tbody", {}, a.top_products.map((p) => h("tr", {}, h("td", {}, p.name), h("td", {}, p.quantity), h("td", {}, money(p.amount)))))) : h("div", { class: "muted" }, "No purchases yet."),
    h("h2", {}, "Orders"), (a.orders || []).length ? h("table", { "data-testid": "panel-orders" }, head("Date", "Order", "Total", "Store"), h("tbody", {}, newestFirst(a.orders).map((o) => h("tr", {}, h("td", {}, fmtDate(o.at)), h("td", {}, o.id), h("td", {}, money(o.total)), h("td", {}, o.store || "HQ"))))) : h("div", { class: "muted" }, "No orders yet."),
    h("h2", {}, "Returns"), (a.returns || []).length ? h("table", { "data-testid": "panel-returns" }, head("Date", "Order", "Refunded"), h("tbody", {}, newestFirst(a.returns).map((r) => h("tr", {}, h("td", {}, fmtDate(r.at)), h("td", {}, r.order_id), h("td", {}, money(r.net)))))) : h("div", { class: "muted" }, "No returns."),
    h("h2", {}, "Audit trail"), h("table", { "data-testid": "panel-audit" }, head("When", "Who", "What", "Field", "Was", "Now"), h("tbody", {}, (audit.data || []).slice().reverse().map((e) => h("tr", {}, h("td", {}, fmtDate(e.at)), h("td", {}, e.actor), h("td", {}, e.action), h("td", {}, e.field || ""), h("td", {}, e.old ?? ""), h("td", {}, e.new ?? ""))))));
  document.body.append(panel);
}

// --- groups -------------------------------------------------------------------

async function groupsPage() {
  const state = { sort: "name", name: "" };
  const body = h("div");
  const filter = h("input", { placeholder: "Filter by name", type: "search" });
  const load = async () => {
    const r = await api("GET", `/groups?sort=${state.sort}` + (state.name ? `&name=${encodeURIComponent(state.name)}` : ""));
    const items = r.data?.items || [];
    const th = (key, label) => h("th", { class: "sortable", onclick: () => { state.sort = state.sort === key ? "-" + key : key; load(); } }, label, state.sort === key ? " ↑" : state.sort === "-" + key ? " ↓" : "");
    body.replaceChildren(items.length ? h("div", { class: "table-wrap" }, h("table", { "data-testid": "groups-table" },
      h("thead", {}, h("tr", {}, th("name", "Name"), h("th", {}, "Kind"), h("th", {}, "Program"), th("members", "Members"), h("th", {}, "Rule"), h("th", {}, ""))),
      h("tbody", {}, items.map((g) => h("tr", { "data-testid": "group-row" },
        h("td", {}, g.name), h("td", {}, h("span", { class: "badge" }, g.kind)),
        h("td", {}, g.program.kind === "none" ? "—" : `${g.program.kind} ${g.program.percent || ""}%`),
        h("td", {}, g.members), h("td", {}, h("code", {}, g.rule || "")),
        h("td", {}, h("button", { onclick: () => groupMembers(g) }, "Members"),
          can("groups.manage") ? h("button", { "data-testid": "group-edit", onclick: () => groupForm(g, load) }, "Edit") : null)))))) : h("div", { class: "card empty" }, "No groups match."));
  };
  filter.addEventListener("input", debounce(() => { state.name = filter.value.trim(); load(); }, 150));
  layout("Groups", h("div", { class: "row", style: "margin-bottom:.75rem" }, filter, h("span", { class: "grow" }),
    can("groups.manage") ? h("button", { class: "primary", "data-testid": "new-group", onclick: () => groupForm(null, load) }, "New group") : null), body);
  load();
}

async function groupMembers(g) {
  // Every member, a page at a time: the group's count says how many to expect.
  const rows = h("tbody");
  const shown = h("span", { class: "muted", "data-testid": "members-shown" });
  const more = h("button", { "data-testid": "members-more" }, "Load more");
  let cursor = null;
  const load = async () => {
    more.disabled = true;
    const r = await api("GET", `/groups/${g.id}/members?limit=200` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""));
    for (const c of r.data?.items || []) rows.append(h("tr", {}, h("td", {}, `${c.last_name}, ${c.first_name}`), h("td", {}, c.code)));
    cursor = r.data?.next_cursor || null;
    more.hidden = !cursor; more.disabled = false;
    shown.textContent = `${rows.children.length} of ${g.members} shown`;
  };
  more.addEventListener("click", load);
  modal(`${g.name}: ${g.members} members`, g.members ? h("div", {}, h("table", { "data-testid": "members-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Code"))), rows),
    h("div", { class: "row" }, shown, more)) : h("div", { class: "empty" }, "No members."));
  if (g.members) await load();
}

function groupForm(g, reload) {
  // The Common and system groups are the product's: their program and limits
  // are the chain's to set, their name, kind and rule are not.
  const fixed = g && (g.kind === "common" || g.kind === "system");
  const kind = fixed
    ? h("select", { disabled: true }, h("option", { value: g.kind }, g.kind === "common" ? "Common (every customer)" : "System (follows its rule)"))
    : h("select", { disabled: !!g }, h("option", { value: "manual" }, "Manual"), h("option", { value: "auto" }, "Auto-filled by a rule"));
  if (g && !fixed) kind.value = g.kind === "auto" ? "auto" : "manual";
  const rule = h("textarea", { rows: 3, "data-testid": "rule-input", value: g?.rule || "", disabled: !!fixed });
  const ruleMsg = h("div", { "data-testid": "rule-feedback" });
  const program = h("select", {}, ["none", "discount", "cashback", "points"].map((k) => h("option", { value: k }, k)));
  program.value = g?.program.kind || "none";
  const form = h("form", { "data-testid": "group-form" }, h("div", { class: "notice form-error" }),
    field("name", "Name", h("input", { value: g?.name || "", disabled: !!fixed })),
    field("description", "Description", h("input", { value: g?.description || "" })),
    field("kind", "Kind", kind),
    h("div", { class: "rule-box" }, field("rule", "Rule (see docs/rules.md)", rule), ruleMsg),
    h("div", { class: "grid2" },
      field("program.kind", "Loyalty program", program),
      field("program.percent", "Percent", h("input", { value: g?.program.percent || "" })),
      field("program.birthday_bonus", "Birthday bonus", h("input", { value: g?.program.birthday_bonus != null ? money(g.program.birthday_bonus) : "" })),
      field("program.max_redeem_percent", "Max % payable with points", h("input", { value: g?.program.max_redeem_percent || "" })),
      field("spend_limit.amount", "Points spend limit", h("input", { value: g?.spend_limit ? money(g.spend_limit.amount) : "" })),
      field("spend_limit.period", "per", (() => { const s = h("select", {}, ["day", "week", "month", "year"].map((p) => h("option", { value: p }, p))); if (g?.spend_limit) s.value = g.spend_limit.period; return s; })()),
      field("min_age", "Minimum age", h("input", { value: g?.min_age ?? "" })),
      field("limit_profile", "Purchase-limit profile", (() => {
        const sel = h("select", {}, h("option", { value: "" }, "none"));
        api("GET", "/limit-profiles").then((r) => { for (const p of r.data?.items || []) sel.append(h("option", { value: p.id }, p.name)); sel.value = g?.limit_profile || ""; });
        return sel;
      })())),
    h("button", { class: "primary", type: "submit" }, g ? "Save group" : "Create group"));
  const ruleBox = form.querySelector(".rule-box");
  const syncKind = () => { ruleBox.hidden = !(kind.value === "auto" || (kind.value === "system")); };
  kind.addEventListener("change", syncKind); syncKind();
  // As you type: the parse error at its position, or how many customers match.
  const check = debounce(async () => {
    if (!rule.value.trim()) { ruleMsg.replaceChildren(); return; }
    const r = await api("POST", "/groups/rule-preview", { rule: rule.value });
    if (r.ok) ruleMsg.replaceChildren(h("div", { class: "notice ok" }, `${r.data.count} customer(s) match now.`));
    else if (r.data?.position !== undefined) {
      const lines = rule.value.split("\n");
      const line = lines[(r.data.line || 1) - 1] || "";
      ruleMsg.replaceChildren(h("div", { class: "rule-error", "data-testid": "rule-error" }, `${line}\n${" ".repeat(Math.max(0, (r.data.column || 1) - 1))}^ ${r.data.errors?.[0]?.message || r.data.detail}`));
    } else ruleMsg.replaceChildren(h("div", { class: "notice" }, r.data?.detail || "Invalid rule"));
  }, 200);
  rule.addEventListener("input", check);
  if (g?.rule) check();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n) => form.elements[n].value.trim();
    const body = { name: v("name"), description: v("description") || null };
    if (!fixed) body.kind = kind.value;
    if (kind.value === "auto") body.rule = rule.value;
    if (program.value !== "none") {
      body.program = { kind: program.value, percent: v("program.percent") === "" ? undefined : Number(v("program.percent")) };
      if (program.value === "points") {
        if (v("program.birthday_bonus")) body.program.birthday_bonus = toMinor(v("program.birthday_bonus"));
        if (v("program.max_redeem_percent")) body.program.max_redeem_percent = Number(v("program.max_redeem_percent"));
      }
    }
    if (v("spend_limit.amount")) body.spend_limit = { amount: toMinor(v("spend_limit.amount")), period: v("spend_limit.period") };
    if (v("min_age")) body.min_age = Number(v("min_age"));
    if (v("limit_profile")) body.limit_profile = v("limit_profile");
    const r = g ? await api("PUT", `/groups/${g.id}`, body) : await api("POST", "/groups", body);
    if (!r.ok) { showErrors(form, r.data); if (r.data?.field === "rule") check(); return; }
    m.remove(); reload();
  });
  const m = modal(g ? `Edit ${g.name}` : "New group", form);
}

// --- loyalty, users, stores ------------------------------------------------------

async function loyaltyPage() {
  const [s, types, groups] = await Promise.all([api("GET", "/loyalty/settings"), api("GET", "/customer-types"), api("GET", "/groups?kind=manual")]);
  const x = s.data || {};
  const settings = h("form", { class: "card", "data-testid": "loyalty-settings" }, h("div", { class: "notice form-error" }),
    h("div", { class: "grid2" },
      field("max_redeem_percent", "Max % of an order payable with points", h("input", { value: x.max_redeem_percent })),
      field("registration_bonus", "Registration bonus", h("input", { value: money(x.registration_bonus) })),
      field("points_lifetime_days", "Points expire after (days; empty = never)", h("input", { value: x.points_lifetime_days ?? "" })),
      field("return_window_days", "Return window (days)", h("input", { value: x.return_window_days })),
      field("offline_redeem_cap", "Offline redemption cap per customer", h("input", { value: money(x.offline_redeem_cap) })),
      field("store_topup_daily_cap", "Store-credit top-ups per store per day", h("input", { value: money(x.store_topup_daily_cap) })),
      field("stack_discounts", "Group and type discounts", (() => { const e = h("select", {}, h("option", { value: "false" }, "the larger applies"), h("option", { value: "true" }, "both apply")); e.value = String(!!x.stack_discounts); return e; })()),
      field("transitions_enabled", "Automatic transitions", (() => { const e = h("select", {}, h("option", { value: "false" }, "off"), h("option", { value: "true" }, "on")); e.value = String(!!x.transitions_enabled); return e; })()),
      field("transitions", "Thresholds (one per line: amount → group)", h("textarea", { rows: 3, value: (x.transitions || []).map((t) => `${money(t.threshold)} ${(groups.data?.items || []).find((g) => g.id === t.group_id)?.name || t.group_id}`).join("\n") }))),
    h("button", { class: "primary", type: "submit" }, "Save settings"), h("span", { class: "muted msg" }));
  settings.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n) => settings.elements[n].value.trim();
    const transitions = v("transitions").split("\n").filter(Boolean).map((l) => {
      const [amount, ...name] = l.split(/\s+/); const g = (groups.data?.items || []).find((g) => g.name === name.join(" "));
      return { threshold: toMinor(amount), group_id: g ? g.id : name.join(" ") };
    });
    const r = await api("PATCH", "/loyalty/settings", {
      max_redeem_percent: Number(v("max_redeem_percent")), registration_bonus: toMinor(v("registration_bonus") || "0"),
      points_lifetime_days: v("points_lifetime_days") ? Number(v("points_lifetime_days")) : null,
      return_window_days: Number(v("return_window_days")), offline_redeem_cap: toMinor(v("offline_redeem_cap") || "0"), store_topup_daily_cap: toMinor(v("store_topup_daily_cap") || "0"),
      stack_discounts: v("stack_discounts") === "true", transitions_enabled: v("transitions_enabled") === "true", transitions });
    showErrors(settings, r.ok ? null : r.data);
    settings.querySelector(".msg").textContent = r.ok ? "Saved." : "";
  });
  const typeForm = h("form", { class: "row", "data-testid": "type-form" },
    h("input", { name: "name", placeholder: "Type name (veteran…)" }),
    h("label", {}, h("input", { type: "checkbox", name: "tax_exempt" }), " tax exempt"),
    h("input", { name: "discount", placeholder: "Discount: 10% or 5.00", size: 16 }),
    h("button", { type: "submit" }, "Add type"), h("span", { class: "error-text" }));
  typeForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = typeForm.elements.discount.value.trim();
    const body = { name: typeForm.elements.name.value, tax_exempt: typeForm.elements.tax_exempt.checked };
    if (d.endsWith("%")) body.discount_percent = Number(d.slice(0, -1)); else if (d) body.discount_amount = toMinor(d);
    const r = await api("POST", "/customer-types", body);
    typeForm.querySelector(".error-text").textContent = r.ok ? "" : (r.data?.detail || "Failed");
    if (r.ok) loyaltyPage();
  });
  const adjust = h("form", { class: "card", "data-testid": "adjust-form" }, h("div", { class: "notice form-error" }),
    h("div", { class: "grid2" },
      field("customer", "Customer code or id", h("input", {})),
      field("kind", "What", h("select", {}, h("option", { value: "top-up" }, "Store credit top-up"), h("option", { value: "adjust" }, "Adjustment"))),
      field("account", "Account", h("select", {}, h("option", { value: "credit" }, "Store credit"), h("option", { value: "points" }, "Points"))),
      field("amount", "Amount (negative takes away)", h("input", {})),
      field("reason", "Reason", h("input", {}))),
    h("button", { class: "primary", type: "submit" }, "Post"), h("span", { class: "muted msg" }));
  adjust.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n) => adjust.elements[n].value.trim();
    const r = await api("POST", `/customers/${encodeURIComponent(v("customer"))}/ledger`, { account: v("account"), kind: v("kind"), amount: toMinor(v("amount")), reason: v("reason") });
    showErrors(adjust, r.ok ? null : (r.status === 404 ? { field: "customer", errors: [{ field: "customer", message: "no such customer" }] } : r.data));
    adjust.querySelector(".msg").textContent = r.ok ? "Posted." : "";
  });
  const profiles = (await api("GET", "/limit-profiles")).data?.items || [];
  const profileForm = h("form", { class: "card", "data-testid": "profile-form" }, h("div", { class: "notice form-error" }),
    h("div", { class: "grid2" },
      field("name", "Profile name", h("input", { placeholder: "Adult-use daily limit" })),
      field("limits[0].name", "Limit name", h("input", { placeholder: "Daily THC" })),
      field("limits[0].period", "Period", h("select", {}, ["day", "week", "month", "year"].map((p) => h("option", { value: p }, p)))),
      field("limits[0].enforcement", "When exceeded", h("select", {}, h("option", { value: "hard" }, "refuse the sale"), h("option", { value: "warn" }, "warn; a manager may override")))),
    field("limits[0].allowances", "Equivalent allowances, one per line: category unit quantity (e.g. flower g 28)", h("textarea", { rows: 3 })),
    h("button", { type: "submit" }, "Add profile"));
  profileForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const v = (n) => profileForm.elements[n].value.trim();
    const allowances = v("limits[0].allowances").split("\n").filter(Boolean).map((l) => { const [category, unit, q] = l.trim().split(/\s+/); return { category, unit, max_quantity: Number(q) }; });
    const r = await api("POST", "/limit-profiles", { name: v("name"), limits: [{ name: v("limits[0].name"), period: v("limits[0].period"), enforcement: v("limits[0].enforcement"), allowances }] });
    if (!r.ok) { showErrors(profileForm, r.data); return; }
    loyaltyPage();
  });
  layout("Loyalty", h("h2", {}, "Settings"), settings,
    h("h2", {}, "Customer types"), !(types.data?.items || []).length ? h("div", { class: "card empty" }, "No customer types yet.") : h("div", { class: "table-wrap" }, h("table", {}, h("tbody", {}, (types.data?.items || []).map((t) => h("tr", {}, h("td", {}, t.name), h("td", {}, t.tax_exempt ? "tax exempt" : ""), h("td", {}, t.discount_percent ? `${t.discount_percent}% off` : t.discount_amount ? `${money(t.discount_amount)} off` : "")))))),
    h("div", { class: "card", style: "margin-top:.5rem" }, typeForm),
    h("h2", {}, "Store credit and adjustments"), adjust,
    h("h2", {}, "Purchase-limit profiles"),
    profiles.length ? h("div", { class: "table-wrap" }, h("table", { "data-testid": "profiles-table" }, h("tbody", {}, profiles.flatMap((p) => p.limits.map((l) => h("tr", {}, h("td", {}, p.name), h("td", {}, `${l.name} per ${l.period}`), h("td", {}, l.allowances.map((a) => `${a.max_quantity} ${a.unit} ${a.category}`).join(" = ")), h("td", {}, l.enforcement))))))) : h("div", { class: "card empty" }, "No purchase-limit profiles yet."),
    can("groups.manage") ? profileForm : null);
}

async function usersPage() {
  const [r, rolesRes, storesRes] = await Promise.all([api("GET", "/users"), api("GET", "/roles"), api("GET", "/stores")]);
  const roles = rolesRes.data || [];
  const stores = storesRes.data?.items || [];
  const roleSelect = (current) => h("select", {}, roles.map((x) => h("option", { value: x.name, selected: x.name === current }, x.name)));
  const storeSelect = (current) => h("select", {}, h("option", { value: "" }, "HQ (signs in anywhere)"),
    stores.map((x) => h("option", { value: x.id, selected: x.id === current }, `${x.id} · ${x.name}`)));
  const form = h("form", { class: "card", "data-testid": "user-form" }, h("div", { class: "notice form-error" }),
    h("div", { class: "grid2" }, field("username", "Username", h("input", {})), field("role", "Role", roleSelect("cashier")),
      field("password", "Password (8+ characters, not a common one)", h("input", { type: "password", autocomplete: "new-password" })),
      field("store", "Store", storeSelect(""))),
    h("button", { class: "primary", type: "submit" }, "Create user"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const store = form.elements.store.value;
    const res = await api("POST", "/users", { username: form.elements.username.value, role: form.elements.role.value, password: form.elements.password.value, store: store || null });
    if (!res.ok) { showErrors(form, res.data); return; }
    usersPage();
  });
  // Edits one user: role, store, active, and a new password. Deactivating or
  // a new password ends the user's sessions everywhere at once.
  const edit = (u) => {
    const f = h("form", { "data-testid": "user-edit" }, h("div", { class: "notice form-error" }),
      field("role", "Role", roleSelect(u.role)), field("store", "Store", storeSelect(u.store || "")),
      h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Save"), h("button", { type: "button", onclick: () => bg.remove() }, "Cancel")));
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const store = f.elements.store.value;
      const res = await api("PATCH", `/users/${encodeURIComponent(u.username)}`, { role: f.elements.role.value, store: store || null });
      if (!res.ok) { showErrors(f, res.data); return; }
      bg.remove(); usersPage();
    });
    const pw = h("form", { "data-testid": "user-reset" }, h("div", { class: "notice form-error" }),
      field("password", "New password", h("input", { type: "password", autocomplete: "new-password" })),
      h("button", { type: "submit" }, "Set password and sign them out"), h("span", { class: "msg" }));
    pw.addEventListener("submit", async (e) => {
      e.preventDefault();
      const res = await api("POST", `/users/${encodeURIComponent(u.username)}/password`, { password: pw.elements.password.value });
      if (!res.ok) { showErrors(pw, res.data); return; }
      showErrors(pw, null); pw.elements.password.value = "";
      pw.querySelector(".msg").textContent = "Password set; their sessions ended.";
    });
    const bg = modal(`User ${u.username}`, h("div", {}, f, h("h3", {}, "Reset password"), pw));
  };
  const toggle = async (u, btn) => {
    const res = await api("PATCH", `/users/${encodeURIComponent(u.username)}`, { active: !u.active });
    if (!res.ok) { btn.after(h("span", { class: "error" }, " " + (res.data?.detail || "Failed"))); return; }
    usersPage();
  };
  const rows = (r.data || []).map((u) => h("tr", { "data-testid": "user-row" }, h("td", {}, u.username), h("td", {}, u.role), h("td", {}, u.store || "HQ"),
    h("td", {}, u.active ? h("span", { class: "badge ok" }, "active") : h("span", { class: "badge warn" }, "inactive")),
    h("td", {}, h("button", { onclick: () => edit(u) }, "Edit"), " ",
      h("button", { onclick: (e) => toggle(u, e.target), "data-testid": "user-toggle" }, u.active ? "Deactivate" : "Reactivate"))));
  // Roles: the built-in ones as they are, the chain's own editable.
  const perms = [...new Set(roles.flatMap((x) => x.permissions))].sort();
  const roleForm = h("form", { class: "card", "data-testid": "role-form" }, h("div", { class: "notice form-error" }),
    field("name", "Role name", h("input", { placeholder: "shift lead" })),
    h("div", { class: "field", "data-field": "permissions" }, h("label", {}, "Permissions"),
      h("div", { class: "checks" }, perms.map((p) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "perm", value: p }), " " + p))), h("div", { class: "error" })),
    h("button", { class: "primary", type: "submit" }, "Save role"));
  roleForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = roleForm.elements.name.value.trim().toLowerCase();
    const permissions = [...roleForm.querySelectorAll("input[name=perm]:checked")].map((x) => x.value);
    const exists = roles.some((x) => x.name === name && !x.built_in);
    const res = exists ? await api("PUT", `/roles/${encodeURIComponent(name)}`, { permissions }) : await api("POST", "/roles", { name, permissions });
    if (!res.ok) { showErrors(roleForm, res.data); return; }
    usersPage();
  });
  const pickRole = (x) => {
    roleForm.elements.name.value = x.name;
    roleForm.querySelectorAll("input[name=perm]").forEach((c) => { c.checked = x.permissions.includes(c.value); });
    roleForm.elements.name.focus();
  };
  const removeRole = async (x, btn) => {
    const res = await api("DELETE", `/roles/${encodeURIComponent(x.name)}`);
    if (!res.ok) { btn.after(h("span", { class: "error" }, " " + (res.data?.detail || "Failed"))); return; }
    usersPage();
  };
  const roleRows = roles.map((x) => h("tr", { "data-testid": "role-row" }, h("td", {}, x.name), h("td", {}, x.built_in ? "built-in" : "custom"), h("td", {}, x.permissions.join(", ")),
    h("td", {}, x.built_in ? null : [h("button", { onclick: () => pickRole(x) }, "Edit"), " ", h("button", { onclick: (e) => removeRole(x, e.target) }, "Delete")])));
  layout("Users", h("div", { class: "table-wrap" }, h("table", { "data-testid": "users-table" }, h("thead", {}, h("tr", {}, h("th", {}, "User"), h("th", {}, "Role"), h("th", {}, "Signs in at"), h("th", {}, "Status"), h("th", {}, ""))),
    h("tbody", {}, rows))),
    h("h2", {}, "New user"), form,
    h("h2", {}, "Roles"), h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Role"), h("th", {}, "Kind"), h("th", {}, "Permissions"), h("th", {}, ""))), h("tbody", {}, roleRows))),
    h("h3", {}, "Define or change a role"), roleForm);
}

// The node's security log: sign-ins, refusals and account changes.
async function securityPage() {
  const st = { kind: "", before: null, items: [] };
  const kinds = ["", "sign-in", "sign-in-failed", "sign-in-throttled", "sign-out", "unauthenticated", "forbidden", "user-created", "user-changed", "role-changed", "password-changed", "password-reset", "role-defined", "role-deleted", "store-token"];
  const filter = h("select", { "data-testid": "security-kind" }, kinds.map((k) => h("option", { value: k }, k || "all events")));
  const body = h("tbody");
  const more = h("button", { "data-testid": "security-more" }, "Older");
  const load = async (reset) => {
    if (reset) { st.items = []; st.before = null; }
    const q = new URLSearchParams({ limit: "100" });
    if (st.kind) q.set("kind", st.kind);
    if (st.before) q.set("before", String(st.before));
    const r = await api("GET", `/reports/security?${q}`);
    st.items.push(...(r.data?.items || []));
    st.before = r.data?.next_before || null;
    more.hidden = !st.before;
    body.replaceChildren(...st.items.map((e) => h("tr", { "data-testid": "security-row" }, h("td", {}, (e.at || "").replace("T", " ").slice(0, 19)), h("td", {}, e.kind),
      h("td", {}, e.username || "—"), h("td", {}, e.client || "—"), h("td", {}, e.detail))));
  };
  filter.addEventListener("change", () => { st.kind = filter.value; load(true); });
  more.addEventListener("click", () => load(false));
  layout("Security log", h("div", { class: "row" }, h("label", {}, "Show ", filter)),
    h("div", { class: "table-wrap" }, h("table", { "data-testid": "security-table" }, h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "What"), h("th", {}, "Who"), h("th", {}, "From"), h("th", {}, "Detail"))), body)), more);
  await load(true);
}

// A person's data, as the JSON the API gives, downloaded as a file.
async function exportCustomer(x) {
  const r = await api("GET", `/customers/${x.id}/export`);
  if (!r.ok) { modal("Export", h("div", { class: "notice" }, r.data?.detail || "Could not export")); return; }
  const url = URL.createObjectURL(new Blob([JSON.stringify(r.data, null, 2)], { type: "application/json" }));
  const a = h("a", { href: url, download: `${x.code}.json`, "data-testid": "export-link" }, "download");
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Erasure cannot be undone: the cashier types the code to confirm.
function confirmErase(x, done) {
  const input = h("input", { "data-testid": "erase-confirm-code", placeholder: x.code });
  const msg = h("div", { class: "notice form-error" });
  const go = h("button", { class: "danger", "data-testid": "erase-confirm", onclick: async () => {
    if (input.value.trim().toUpperCase() !== x.code.toUpperCase()) { msg.textContent = `Type ${x.code} to confirm.`; return; }
    const r = await api("POST", `/customers/${x.id}/erase`, {});
    if (!r.ok) { msg.textContent = r.data?.detail || "Could not erase"; return; }
    m.remove(); done();
  } }, "Erase");
  const m = modal(`Erase ${x.first_name} ${x.last_name}?`, h("div", {},
    h("p", {}, "Names, contacts, address, dates, documents, notes and the old values in the audit trail are removed on every node. Orders, balances and totals stay with an anonymous record. This cannot be undone."),
    h("label", {}, `Type ${x.code} to confirm`, input), msg,
    h("div", { class: "row" }, go, h("button", { type: "button", onclick: () => m.remove() }, "Cancel"))));
}

// Merging moves the others' orders, balances and memberships to the one kept.
function confirmMerge(keep, others, done) {
  const msg = h("div", { class: "notice form-error" });
  const go = h("button", { class: "primary", "data-testid": "merge-confirm", onclick: async () => {
    const r = await api("POST", `/customers/${keep.id}/merge`, { others: others.map((o) => o.id) });
    if (!r.ok) { msg.textContent = r.data?.detail || "Could not merge"; return; }
    m.remove(); done(r.data);
  } }, "Merge");
  const m = modal(`Keep ${keep.first_name} ${keep.last_name} (${keep.code})?`, h("div", {},
    h("p", {}, `${others.map((o) => `${o.first_name} ${o.last_name} (${o.code})`).join(", ")} will be merged into this record: orders, returns, balances, group memberships and totals move over; their codes will find this customer. It is recorded in the audit trail.`),
    msg, h("div", { class: "row" }, go, h("button", { type: "button", onclick: () => m.remove() }, "Cancel"))));
}

// Customers who are likely one person, in clusters, biggest first: linked by a
// shared phone, email, ID document number, or name and date of birth.
async function duplicatesPage() {
  const st = { offset: 0, back: [] };
  const body = h("div", { "data-testid": "duplicates-report" });
  const load = async () => {
    const r = await api("GET", `/reports/duplicates?limit=25&offset=${st.offset}`);
    if (!r.ok) { body.replaceChildren(h("div", { class: "notice" }, r.data?.detail || "Could not load the report")); return; }
    const d = r.data;
    const open = (c) => h("a", { href: "#", "data-testid": "duplicate-customer", onclick: (e) => { e.preventDefault(); openCustomer(c.id, load); } }, `${c.last_name}, ${c.first_name}`);
    body.replaceChildren(...[
      d.items.length ? h("p", { class: "muted", "data-testid": "duplicates-summary" },
        `${d.total_clusters} group(s) of records that look like one person, ${d.total_customers} records in all; showing groups ${st.offset + 1}–${st.offset + d.items.length}.`) : null,
      ...(d.items.length ? d.items.map((cl) => h("section", { class: "cluster", "data-testid": "duplicate-cluster" },
        h("h2", {}, `${cl.customers.length} records`, h("span", { class: "muted" }, ` · same ${sameText(cl.same)}`)),
        h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Code"), h("th", {}, "Phone"), h("th", { class: "hide-narrow" }, "Email"), h("th", {}, "Date of birth"), h("th", { class: "hide-narrow" }, "ID document"), h("th", { class: "hide-narrow" }, "Origin"), h("th", { class: "hide-narrow" }, "Added"), can("customers.merge") ? h("th", {}, "") : null)),
          h("tbody", {}, cl.customers.map((c) => h("tr", { class: c.active ? "" : "inactive" }, h("td", {}, open(c), c.active ? "" : h("span", { class: "muted" }, " (deactivated)")), h("td", {}, c.code), h("td", {}, c.phone || ""),
            h("td", { class: "hide-narrow" }, c.email || ""), h("td", {}, c.date_of_birth || ""), h("td", { class: "hide-narrow" }, c.id_document?.number || ""), h("td", { class: "hide-narrow" }, c.origin_store || "HQ"), h("td", { class: "hide-narrow" }, fmtDate(c.created_at)),
            can("customers.merge") ? h("td", {}, h("button", { "data-testid": "merge-keep", onclick: () => confirmMerge(c, cl.customers.filter((o) => o.id !== c.id), load) }, "Keep this one")) : null)))))))
        : [h("div", { class: "card empty" }, st.offset ? "No more groups." : "No likely duplicates: every record looks like a different person.")]),
      h("div", { class: "row", style: "margin-top:.75rem" },
        h("button", { disabled: !st.back.length, "data-testid": "duplicates-previous", onclick: () => { st.offset = st.back.pop() || 0; load(); } }, "← Previous"),
        h("button", { disabled: d.next_offset === undefined || d.next_offset === null, "data-testid": "duplicates-next", onclick: () => { st.back.push(st.offset); st.offset = d.next_offset; load(); } }, "Next →"))].filter(Boolean));
  };
  layout("Likely duplicates", body);
  await load();
}

// Anyone may change their own password; every session of theirs ends.
function passwordDialog() {
  const f = h("form", { "data-testid": "password-form" }, h("div", { class: "notice form-error" }),
    field("current_password", "Current password", h("input", { type: "password", autocomplete: "current-password" })),
    field("new_password", "New password (8+ characters)", h("input", { type: "password", autocomplete: "new-password" })),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Change password"), h("button", { type: "button", onclick: () => bg.remove() }, "Cancel")));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await api("POST", "/auth/password", { current_password: f.elements.current_password.value, new_password: f.elements.new_password.value });
    if (!res.ok) { showErrors(f, res.data); return; }
    bg.remove(); signOut();
  });
  const bg = modal("Change your password", f);
}

async function storesPage() {
  const [st, stores, refused] = await Promise.all([api("GET", "/sync/status"), api("GET", "/stores"), api("GET", "/sync/refusals")]);
  // What HQ refused of a store's work, with the reason: at HQ every store's,
  // at a store its own, so its users see which of their changes did not count.
  const refusals = refused.data?.items || [];
  const refusedTable = refusals.length ? [h("h2", {}, `Refused changes (${refusals.length})`),
    h("div", { class: "table-wrap" }, h("table", { "data-testid": "refusals" }, h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Store"), h("th", {}, "What"), h("th", {}, "Of"), h("th", {}, "By"), h("th", {}, "Why HQ refused it"))),
      h("tbody", {}, refusals.map((x) => h("tr", {}, h("td", {}, (x.at || "").replace("T", " ").slice(0, 19)), h("td", {}, x.store), h("td", {}, (x.kind || "").replace("_", " ")),
        h("td", {}, x.entity), h("td", {}, x.actor), h("td", {}, x.reason))))))] : null;
  const peers = st.data?.peers || [];
  const rows = peers.map((p) => h("tr", { "data-testid": "store-row" }, h("td", {}, p.store || p.peer), h("td", {}, p.name || ""),
    h("td", {}, p.online ? h("span", { class: "badge ok" }, "online") : h("span", { class: "badge warn" }, "offline")),
    h("td", {}, p.lag_changes ?? ""), h("td", {}, p.last_contact ? p.last_contact.replace("T", " ").slice(0, 19) : "never"), h("td", {}, p.pending_outbound ?? "")));
  const add = h("form", { class: "row", "data-testid": "store-form" }, h("input", { name: "id", placeholder: "Store id (S01)" }), h("input", { name: "name", placeholder: "Name" }),
    h("button", { type: "submit" }, "Register store"), h("span", { class: "msg" }));
  add.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await api("POST", "/stores", { id: add.elements.id.value, name: add.elements.name.value });
    add.querySelector(".msg").textContent = r.ok ? `Sync token (shown once): ${r.data.token}` : (r.data?.detail || "Failed");
  });
  layout(st.data?.role === "store" ? `Store ${st.data.node}: link to HQ` : "Stores",
    rows.length ? h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Store"), h("th", {}, "Name"), h("th", {}, "Link"), h("th", {}, "Lag (changes)"), h("th", {}, "Last contact"), h("th", {}, "Pending out"))), h("tbody", {}, rows)))
      : h("div", { class: "card empty" }, (stores.data?.items || []).length ? "No store has connected yet." : "No stores registered yet."),
    refusedTable,
    can("stores.manage") && st.data?.role === "hq" ? [h("h2", {}, "Register a store"), h("div", { class: "card" }, add)] : null);
}

// --- register -------------------------------------------------------------------

// The cart being rung up survives a reload: the sale's id is made when the
// cart starts and kept until the server answers, so a retry after a timeout,
// a second F9 or a reload records the sale once (the server is idempotent by
// order id; the id is only as good as the client that keeps it).
const CART_KEY = "patron.register.cart";
const saveCart = (st, extra) => {
  if (!st.orderId || !st.lines.length || !st.customer) { sessionStorage.removeItem(CART_KEY); return; }
  sessionStorage.setItem(CART_KEY, JSON.stringify({ orderId: st.orderId, customer: st.customer, lines: st.lines, ...extra }));
};
const loadCart = () => { try { return JSON.parse(sessionStorage.getItem(CART_KEY) || "null"); } catch (_) { return null; } };

async function registerPage() {
  // alert: the checks of the last ID read, with whose ID it was and the
  // customer it was tied to (null until one is picked for it).
  // orderId: the sale's id from its first line until the server answers it.
  // busy: a sale is on its way; quoteFor: the cart the quote on screen priced.
  const st = { customer: null, lines: [], results: [], sel: 0, quote: null, alert: null, orderId: null, busy: false, quoteFor: null };
  const search = h("input", { placeholder: "Phone, name or code — F2 to come back here", class: "grow", "data-testid": "register-search", type: "search", autofocus: true });
  const results = h("ul", { class: "results", "data-testid": "register-results" });
  const who = h("div", { "data-testid": "register-customer" }, h("span", { class: "muted" }, "No customer selected."));
  const alertBox = h("div", { "data-testid": "register-alert" });
  const cart = h("div");
  const quoteBox = h("div", { "data-testid": "quote" });
  const msg = h("div", { "data-testid": "register-msg" });
  const showResults = () => results.replaceChildren(...st.results.map((c, i) => h("li", { class: i === st.sel ? "sel" : "", onclick: () => pick(c) }, `${c.last_name}, ${c.first_name}`, h("span", { class: "muted" }, ` · ${c.code} · ${c.phone || ""}`))));
  const find = debounce(async () => {
    const q = search.value.trim();
    if (!q) { st.results = []; showResults(); return; }
    const r = await api("GET", `/customers?limit=8&q=${encodeURIComponent(q)}`);
    st.results = r.data?.items || []; st.sel = 0; showResults();
  }, 80);
  search.addEventListener("input", find);
  search.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { st.sel = Math.min(st.sel + 1, st.results.length - 1); showResults(); e.preventDefault(); }
    if (e.key === "ArrowUp") { st.sel = Math.max(st.sel - 1, 0); showResults(); e.preventDefault(); }
    if (e.key === "Enter" && st.results[st.sel]) { pick(st.results[st.sel]); e.preventDefault(); }
    // A licence scanned while the search box has the focus: its text starts
    // with "@", which no search does; the rest of it goes to the scan field.
    if (e.key === "@" && !search.value) { e.preventDefault(); scanner.text.focus(); scanner.text.value = "@"; scanner.text.dispatchEvent(new Event("input")); }
  });
  // Picks the customer for the sale. `scanned`: the ID read that led to them,
  // whose checks stay on screen while they are the customer; any other pick
  // clears them.
  const pick = (c, scanned) => {
    // What was on screen for the previous customer (their sale, its return
    // buttons, its quote and refusals) is not this one's.
    if (st.customer?.id !== c.id) { msg.replaceChildren(); st.quote = null; st.quoteFor = null; quoteBox.replaceChildren(); }
    st.customer = c; st.results = []; showResults(); search.value = "";
    st.alert = scanned ? { checks: scanned.checks, whose: `${c.first_name} ${c.last_name}`, customer: c.id } : null;
    renderWho(); renderAlert(); persist(); requote(); skuInput.focus();
  };
  const renderWho = () => who.replaceChildren(st.customer ? h("div", {}, h("strong", {}, `${st.customer.first_name} ${st.customer.last_name}`), h("span", { class: "muted" }, ` · ${st.customer.code}`)) : h("span", { class: "muted" }, "No customer selected."));
  const renderAlert = () => {
    const a = st.alert;
    const shown = a && (a.customer === null || a.customer === st.customer?.id);
    const note = shown ? checksNotice(a.checks, a.customer === null ? `the ID just read (${a.whose})` : a.whose, "id-alert", () => { st.alert = null; renderAlert(); }) : null;
    alertBox.replaceChildren(...(note ? [note] : []));
  };
  // An ID read: its checks at once, then the customers it matches or a new
  // customer filled from it.
  const scanned = (s) => {
    const whose = [s.customer.first_name, s.customer.last_name].filter(Boolean).join(" ") || "no name";
    st.alert = { checks: s.checks, whose, customer: null };
    renderAlert();
    const add = can("customers.create") ? () => quickAdd(s) : null;
    if (s.matches.length) scanMatches(s, "Select", (c) => pick(c, s), add);
    else if (add) add();
    else msg.replaceChildren(h("div", { class: "notice" }, "No customer on file matches this ID."));
  };
  const scanner = idScanner(scanned);
  // A new customer in a few keystrokes, or filled from an ID scan `s` with
  // everything the licence gives.
  const quickAdd = (s) => {
    const m = modal(s ? "New customer from the ID" : "New customer", h("div", {}, s ? checksNotice(s.checks, [s.customer.first_name, s.customer.last_name].filter(Boolean).join(" ")) : null,
      customerForm(null, (c) => { m.remove(); pick(c, s); }, {
        testid: "quick-add", submitLabel: "Add and select", prefill: s?.customer, veteranType: s?.checks.veteran_type,
        fields: ["first_name", "last_name", "phone", "date_of_birth", ...(s ? LICENCE_FIELDS : [])],
        onUseExisting: (c) => { m.remove(); pick(c, s); } })));
    // Filled from a licence: what is left to type is the phone.
    if (s) m.querySelector("[name=phone]")?.focus();
  };
  const skuInput = h("input", { placeholder: "SKU", size: 8, "data-testid": "line-sku" });
  const nameInput = h("input", { placeholder: "Item", size: 12, "data-testid": "line-name" });
  const catInput = h("input", { placeholder: "Category", size: 9, "data-testid": "line-category" });
  const qtyInput = h("input", { placeholder: "Qty", size: 4, value: "1", "data-testid": "line-qty" });
  const unitInput = h("input", { placeholder: "Unit", size: 4, value: "ea" });
  const priceInput = h("input", { placeholder: "Price", size: 7, "data-testid": "line-price" });
  const redeemPoints = h("input", { placeholder: "0.00", size: 7, "data-testid": "redeem-points" });
  const redeemCredit = h("input", { placeholder: "0.00", size: 7, "data-testid": "redeem-credit" });
  const override = h("input", { type: "checkbox", "data-testid": "override-limits" });
  const addLine = (e) => {
    e && e.preventDefault();
    if (!skuInput.value.trim() || !priceInput.value.trim()) return;
    if (toMinor(priceInput.value) === null) { priceInput.setAttribute("aria-invalid", "true"); priceInput.title = "A price like 12.50"; return; }
    priceInput.removeAttribute("aria-invalid"); priceInput.title = "";
    st.lines.push({ sku: skuInput.value.trim(), name: nameInput.value.trim() || skuInput.value.trim(), category: catInput.value.trim(), quantity: Number(qtyInput.value || 1), unit: unitInput.value.trim() || "ea", unit_price: toMinor(priceInput.value) });
    // The cart starts: its sale gets its id now, kept through any retry.
    if (!st.orderId) st.orderId = "web-" + (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`);
    for (const i of [skuInput, nameInput, catInput, priceInput]) i.value = ""; qtyInput.value = "1";
    renderCart(); requote(); skuInput.focus();
  };
  const lineForm = h("form", { class: "row", onsubmit: addLine }, skuInput, nameInput, catInput, qtyInput, unitInput, priceInput, h("button", { type: "submit", "data-testid": "add-line" }, "Add"));
  const renderCart = () => cart.replaceChildren(st.lines.length ? h("table", { "data-testid": "cart" }, h("tbody", {}, st.lines.map((l, i) => h("tr", {}, h("td", {}, l.name), h("td", {}, `${l.quantity} ${l.unit}`), h("td", {}, money(Math.round(l.quantity * l.unit_price))), h("td", {}, h("button", { onclick: () => { st.lines.splice(i, 1); renderCart(); requote(); } }, "×")))))) : h("div", { class: "muted" }, "The cart is empty."));
  const persist = () => saveCart(st, { redeem_points: redeemPoints.value, redeem_credit: redeemCredit.value });
  const commitButton = h("button", { class: "primary", "data-testid": "commit-sale", disabled: true, onclick: () => commit() }, "Complete sale");
  // A sale can be completed only for the cart the quote on screen priced,
  // when nothing refuses it (an overridable refusal only with the override).
  const refused = () => !st.quote || st.quoteFor !== JSON.stringify(cartBody()) ||
    st.quote.errors.length > 0 || st.quote.refusals.some((x) => !(x.overridable && override.checked));
  const updateCommit = () => { commitButton.disabled = st.busy || !st.customer || !st.lines.length || refused(); };
  const cartBody = () => ({ customer: st.customer.id, lines: st.lines, redeem_points: redeemPoints.value ? toMinor(redeemPoints.value) : 0, redeem_credit: redeemCredit.value ? toMinor(redeemCredit.value) : 0 });
  const requote = () => { st.quoteFor = null; persist(); updateCommit(); quote(); };
  const quote = debounce(async () => {
    if (!st.customer || !st.lines.length) { st.quote = null; quoteBox.replaceChildren(); updateCommit(); return; }
    const asked = JSON.stringify(cartBody());
    let r;
    try { r = await api("POST", "/checkout/quote", cartBody()); } catch (_) { r = { ok: false, data: { detail: "No answer from the server: the cart cannot be priced." } }; }
    // A newer cart is being priced: this answer is stale.
    if (asked !== JSON.stringify(cartBody())) return;
    if (!r.ok) { st.quote = null; quoteBox.replaceChildren(h("div", { class: "notice" }, r.data?.detail || "Cannot price this cart")); updateCommit(); return; }
    const q = st.quote = r.data;
    st.quoteFor = asked;
    updateCommit();
    quoteBox.replaceChildren(h("div", { class: "totals" },
      h("span", {}, "Subtotal"), h("span", {}, money(q.subtotal)),
      ...q.discounts.flatMap((d) => [h("span", { class: "muted" }, d.reason), h("span", {}, "−" + money(d.amount))]),
      h("span", {}, "Total"), h("span", {}, money(q.total)),
      h("span", {}, "Points redeemed"), h("span", {}, money(q.points_redeemed)),
      h("span", {}, "Store credit used"), h("span", {}, money(q.credit_redeemed)),
      h("span", { class: "big" }, "To pay"), h("span", { class: "big", "data-testid": "amount-due" }, money(q.amount_due)),
      h("span", { class: "muted" }, "Points balance / may redeem"), h("span", { "data-testid": "max-redeem" }, `${money(q.balances.points.available)} / ${money(q.max_points_redeemable)}`),
      h("span", { class: "muted" }, "Store credit / may use"), h("span", {}, `${money(q.balances.credit.available)} / ${money(q.max_credit_redeemable)}`),
      h("span", { class: "muted" }, "Will earn"), h("span", {}, money(q.earn))),
      ...(q.tax_exempt ? [h("div", { class: "notice ok" }, q.tax_exempt_reason)] : []),
      ...q.refusals.map((x) => h("div", { class: "notice", "data-testid": "refusal" }, x.message + (x.overridable ? " (a manager may override)" : ""))),
      ...q.errors.map((x) => h("div", { class: "notice" }, x.message)));
  }, 120);
  redeemPoints.addEventListener("input", requote); redeemCredit.addEventListener("input", requote);
  override.addEventListener("change", updateCommit);
  const commit = async () => {
    updateCommit();
    if (commitButton.disabled) return;
    st.busy = true; updateCommit();
    msg.replaceChildren(h("div", { class: "muted", "data-testid": "sale-pending" }, "Recording the sale…"));
    let r;
    try {
      r = await api("POST", "/orders", { id: st.orderId, ...cartBody(), override_limits: override.checked });
    } catch (_) {
      r = null;
    } finally {
      st.busy = false;
    }
    if (!r) {
      // Unanswered: it may have been recorded. The same id goes again on retry.
      msg.replaceChildren(h("div", { class: "notice", "data-testid": "sale-unanswered" }, "No answer from the server: the sale may or may not be recorded. Press F9 or Complete sale again; it will be recorded once."));
      updateCommit(); return;
    }
    if (!r.ok) { msg.replaceChildren(h("div", { class: "notice", "data-testid": "sale-refused" }, r.data?.detail || "The sale failed")); updateCommit(); return; }
    msg.replaceChildren(h("div", { class: "notice ok", "data-testid": "sale-done" }, `Sale ${r.data.id} recorded: paid ${money(r.data.amount_paid)}, earned ${money(r.data.earned)}.`),
      h("div", { class: "row" }, h("span", { class: "muted" }, "Return:"), ...r.data.lines.map((l) => h("button", { "data-testid": "return-line", onclick: async () => {
        const rr = await api("POST", `/orders/${r.data.id}/returns`, { id: `${r.data.id}-r${Date.now()}`, lines: [{ line: l.line, quantity: 1 }] });
        msg.append(h("div", { class: rr.ok ? "notice ok" : "notice", "data-testid": "return-done" }, rr.ok ? `Returned 1 × ${l.name}: ${money(rr.data.money_refund)} back, ${money(rr.data.points_refund)} points back.` : (rr.data?.detail || "Return failed")));
      } }, `1 × ${l.name}`))));
    st.lines = []; st.orderId = null; st.quote = null; st.quoteFor = null; persist();
    redeemPoints.value = ""; redeemCredit.value = ""; override.checked = false; renderCart(); quoteBox.replaceChildren(); updateCommit(); search.focus();
  };
  document.onkeydown = (e) => { if (e.key === "F2") { search.focus(); e.preventDefault(); } if (e.key === "F9") { commit(); e.preventDefault(); } };
  layout("Register",
    h("div", { class: "register" },
      h("div", { class: "card" }, h("div", { class: "row" }, search, can("customers.create") ? h("button", { "data-testid": "quick-add-open", onclick: () => quickAdd(null) }, "New customer") : null), results, h("h2", {}, "Scan ID"), scanner.el, msg),
      h("div", { class: "card" }, who, alertBox, h("h2", {}, "Cart"), lineForm, cart,
        h("div", { class: "row", style: "margin-top:.5rem" }, h("span", {}, "Redeem points"), redeemPoints, h("span", {}, "Store credit"), redeemCredit,
          can("limits.override") ? h("label", {}, override, " manager override of warning limits (audited)") : null),
        quoteBox, h("div", { class: "row", style: "margin-top:.75rem" }, commitButton, h("span", { class: "kbd" }, "F9")))));
  // A cart left by a reload (or a sale whose answer never came) is back, with its id.
  const kept = loadCart();
  if (kept?.orderId && kept.customer && Array.isArray(kept.lines) && kept.lines.length) {
    st.orderId = kept.orderId; st.customer = kept.customer; st.lines = kept.lines;
    redeemPoints.value = kept.redeem_points || ""; redeemCredit.value = kept.redeem_credit || "";
    renderWho();
    msg.replaceChildren(h("div", { class: "notice", "data-testid": "cart-restored" }, "The cart from before is back. If its sale was already recorded, completing it again does not record it twice."));
    quote();
  }
  renderCart();
  search.focus();
  // Opened from a customer ("Sale"): that customer, picked.
  const wanted = new URLSearchParams(location.search).get("customer");
  if (wanted) {
    history.replaceState({}, "", "/register");
    const r = await api("GET", `/customers/${encodeURIComponent(wanted)}`);
    if (r.ok) pick(r.data); else msg.replaceChildren(h("div", { class: "notice" }, r.data?.detail || "That customer cannot be found."));
  }
}

// --- router ---------------------------------------------------------------------

const PAGES = { "/customers": customersPage, "/groups": groupsPage, "/loyalty": loyaltyPage, "/users": usersPage, "/security": securityPage, "/duplicates": duplicatesPage, "/stores": storesPage, "/register": registerPage };

function route() {
  document.querySelectorAll(".panel, .modal-bg").forEach((p) => p.remove());
  document.onkeydown = null;
  const path = location.pathname;
  if (!S.token || !S.me) { if (path !== "/login") history.replaceState({}, "", "/login"); return loginPage(); }
  if (path === "/" || path === "/login") { history.replaceState({}, "", can("customers.deactivate") ? "/customers" : "/register"); return route(); }
  const page = PAGES[path];
  const need = NAV.find(([href]) => href === path);
  if (!page || (need && !can(need[2]))) { layout("Not here", h("div", { class: "card empty" }, "This page does not exist or is not yours to use.")); return; }
  page();
}

window.addEventListener("popstate", route);
route();
