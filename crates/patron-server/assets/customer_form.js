// The customer form and the duplicate and age checks shown around it, shared
// by the Customers page and the register's quick add.
import { field, h, showErrors } from "./dom.js";
import { api, can } from "./session.js";

export const CUSTOMER_FIELDS = [
  ["first_name", "First name"], ["last_name", "Last name"], ["phone", "Phone"], ["email", "Email"],
  ["date_of_birth", "Date of birth (YYYY-MM-DD)"], ["tax_id", "Tax ID"],
  ["address.line1", "Address"], ["address.line2", "Address line 2"], ["address.city", "City"], ["address.region", "Region"],
  ["address.postal_code", "Postal code"], ["address.country", "Country (2 letters)"],
  ["medical.card_number", "Medical card"], ["medical.issuing_state", "Medical card issued in (state)"], ["medical.expiry", "Medical card expiry"],
  ["id_document.number", "ID document number"], ["id_document.expiry", "ID document expiry"],
  ["id_document.issuing_state", "ID issued in (state/province)"], ["id_document.issuing_country", "ID issuing country (2 letters)"],
  ["notes", "Notes"], ["marketing_consent", "Agrees to marketing email"],
];
// Yes/no fields: a checkbox, sent as true or false.
const CHECKBOXES = ["marketing_consent"];
// What a licence gives beyond names and birth date: the register's quick add
// shows these when it is filled from an ID.
export const LICENCE_FIELDS = ["address.line1", "address.line2", "address.city", "address.region", "address.postal_code", "address.country",
  "id_document.number", "id_document.issuing_state", "id_document.issuing_country", "id_document.expiry"];

export function getPath(obj, path) { return path.split(".").reduce((o, k) => (o ? o[k] : undefined), obj); }

export function customerBody(form, only) {
  const body = {};
  for (const [name] of CUSTOMER_FIELDS) {
    if (only && !only.includes(name)) continue;
    const input = form.elements[name];
    if (!input) continue;
    if (input.type === "checkbox") { body[name] = input.checked; continue; }
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
export function customerForm(existing, onSaved, opts = {}) {
  const names = opts.fields || CUSTOMER_FIELDS.map(([n]) => n);
  const src = existing || opts.prefill;
  const form = h("form", { "data-testid": opts.testid || "customer-form" }, h("div", { class: "notice form-error" }));
  form.querySelector(".form-error").hidden = false;
  const grid = h("div", { class: "grid2" });
  for (const [name, label] of CUSTOMER_FIELDS) {
    if (!names.includes(name)) continue;
    grid.append(field(name, label, CHECKBOXES.includes(name)
      ? h("input", { type: "checkbox", checked: !!(src && getPath(src, name)) })
      : h("input", { value: src ? ((name === "phone" && src.phone_display) || (getPath(src, name) ?? "")) : "" })));
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

export const SAME = { id_document: "ID document number", phone: "phone", email: "email", name_and_date_of_birth: "name and date of birth" };
export const sameText = (same) => (same || []).map((x) => SAME[x] || x).join(", ");

// Customers likely the same person: who they are, what they share, and an
// action for each (`action(customer)` returns a button or nothing).
export function candidateList(items, action) {
  return h("ul", { class: "candidates" }, items.map((it) => {
    const c = it.customer;
    return h("li", { "data-testid": "candidate", class: c.active ? "" : "inactive" },
      h("div", { class: "who" }, h("strong", {}, `${c.first_name} ${c.last_name}`), h("span", { class: "muted" }, ` · ${c.code}`, c.active ? "" : " · deactivated"),
        h("div", { class: "muted" }, [c.phone_display || c.phone, c.email, c.date_of_birth ? `born ${c.date_of_birth}` : null, c.id_document?.number ? `ID ${c.id_document.number}` : null].filter(Boolean).join(" · ") || "no phone, email or birth date"),
        h("div", { "data-testid": "candidate-same" }, (it.same || []).map((x) => h("span", { class: "badge warn" }, "same " + (SAME[x] || x))))),
      action(c));
  }));
}

// What an ID scan's checks say, for the screen: a warning that stands out for
// an expired card or an under-age holder, plain information otherwise.
export function checksNotice(checks, whose, testid, dismiss) {
  const warnings = checks?.warnings || [];
  if (!warnings.length) return null;
  const bad = checks.expired || checks.under_age;
  return h("div", { class: bad ? "alert" : "notice ok", role: bad ? "alert" : "status", "data-testid": testid || "scan-checks" },
    dismiss ? h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss", onclick: dismiss }, "✕") : null,
    h("strong", {}, bad ? `Check this ID before the sale${whose ? `: ${whose}` : ""}` : `ID${whose ? ` of ${whose}` : ""}`),
    h("ul", {}, warnings.map((w) => h("li", {}, w))));
}
