// Building the page from text nodes (never markup strings), money as exact
// decimal strings, and the dialogs and field errors every page shares.
export function h(tag, attrs, ...kids) {
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

export const money = (m) => (m === null || m === undefined) ? "" : (m < 0 ? "-" : "") + (Math.abs(m) / 100).toFixed(2);
// Money typed as a decimal string ("12", "12.5", "12,50", "-3.25") into minor
// units exactly, digit by digit: never through a float. Anything else is
// null, which the API refuses, naming the field.
export const toMinor = (s) => {
  const m = /^\s*(-?)(\d{1,13})(?:[.,](\d{1,2}))?\s*$/.exec(String(s));
  if (!m) return null;
  const v = Number(m[2]) * 100 + Number((m[3] || "").padEnd(2, "0"));
  return m[1] ? -v : v;
};
// A quantity typed as a decimal string into thousandths, exactly (null if it
// is not one); and quantity × unit price in minor units, rounded half up,
// in integers (BigInt): a line's total never passes through a float.
export const toMilli = (s) => {
  const m = /^\s*(\d{1,9})(?:[.,](\d{1,3}))?\s*$/.exec(String(s));
  return m ? Number(m[1]) * 1000 + Number((m[2] || "").padEnd(3, "0")) : null;
};
export const lineTotal = (milli, unitPrice) => Number((BigInt(milli) * BigInt(unitPrice) + 500n) / 1000n);
export const fmtDate = (s) => s ? String(s).slice(0, 10) : "";

// A field path the API names ("lines[0].unit_price") in words a cashier reads
// ("Line 1, price").
const WORDS = { unit_price: "price", redeem_points: "points to redeem", redeem_credit: "store credit to use", group_id: "group",
  type_id: "customer type", sku: "item code", max_quantity: "quantity", origin_store: "origin store", date_of_birth: "date of birth" };
export function fieldWords(path) {
  const word = (s) => WORDS[s] || s.replace(/_/g, " ");
  const text = String(path || "").split(".").map((seg) => {
    const m = /^(\w+)\[(\d+)\]$/.exec(seg);
    return m ? `${word(m[1]).replace(/s$/, "")} ${Number(m[2]) + 1}` : word(seg);
  }).join(", ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// A problem the API answered, as sentences: each field in words, then what
// is wrong with it; `fallback` when there is nothing to say.
export function problemText(p, fallback) {
  if (!p) return fallback;
  const errs = p.errors?.length ? p.errors : null;
  if (!errs) return p.detail || fallback;
  return errs.map((e) => (e.field ? `${fieldWords(e.field)}: ${e.message}` : e.message)).join(" ");
}

// Marks every field a problem names and says what is wrong next to it.
export function showErrors(form, problem) {
  form.querySelectorAll(".field").forEach((f) => { f.classList.remove("invalid"); const e = f.querySelector(".error"); if (e) e.textContent = ""; });
  const top = form.querySelector(".form-error");
  if (top) top.textContent = "";
  if (!problem) return;
  const errs = problem.errors && problem.errors.length ? problem.errors : [{ field: problem.field || "", message: problem.detail || "Something went wrong" }];
  for (const e of errs) {
    const f = form.querySelector(`.field[data-field="${e.field}"]`);
    if (f) { f.classList.add("invalid"); f.querySelector(".error").textContent = e.message; }
    else if (top) top.textContent = (top.textContent ? top.textContent + " " : "") + (e.field ? fieldWords(e.field) + ": " : "") + e.message;
  }
}

export function field(name, label, input) {
  input.name = name;
  input.id = "f-" + name.replace(/\W/g, "-");
  return h("div", { class: "field", "data-field": name }, h("label", { for: input.id }, label), input, h("div", { class: "error" }));
}

// A dialog over the page. It closes with its ✕, a click beside it or Escape
// (the topmost one), and gives the focus back to where it was.
export function modal(title, body) {
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

export function debounce(fn, ms) { let t; return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); }; }
