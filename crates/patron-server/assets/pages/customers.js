// The customer list, its filters and the side panel of one customer.
import { candidateList, checksNotice, customerForm } from "../customer_form.js";
import { debounce, fmtDate, h, modal, money } from "../dom.js";
import { idScanner, scanMatches } from "../id_scan.js";
import { go, layout } from "../layout.js";
import { api, can, download } from "../session.js";

// One click from a customer to a sale: the register opens with them picked.
export const saleButton = (c) => h("button", { "data-testid": "start-sale", title: "Start a sale for this customer", onclick: (e) => { e.preventDefault(); document.querySelectorAll(".panel").forEach((p) => p.remove()); go(`/register?customer=${encodeURIComponent(c.id)}`); } }, "Sale");

export async function customersPage() {
  const state = { q: "", sort: "name", active: "true", origin: "", group: "", type: "", cursor: null, cursors: [], selected: new Set() };
  const [gr, tr] = await Promise.all([api("GET", "/groups"), api("GET", "/customer-types")]);
  const groups = gr.data?.items || [];
  const types = tr.data?.items || [];
  const manual = groups.filter((g) => g.kind === "manual");
  const search = h("input", { placeholder: "Search by name, phone, email or code", class: "grow", "data-testid": "customer-search", type: "search" });
  const active = h("select", { "data-testid": "filter-active" }, h("option", { value: "true" }, "Active"), h("option", { value: "false" }, "Deactivated"), h("option", { value: "all" }, "All"));
  const origin = h("input", { placeholder: "Origin store (HQ, S01…)", size: 14 });
  const group = h("select", { "data-testid": "filter-group" }, h("option", { value: "" }, "Any group"), groups.map((g) => h("option", { value: g.id }, g.name)));
  // A count elsewhere (a group's members) links here with its filter set.
  const asked = new URLSearchParams(location.search).get("group");
  if (asked && groups.some((g) => g.id === asked)) { state.group = asked; group.value = asked; }
  const type = h("select", { "data-testid": "filter-type" }, h("option", { value: "" }, "Any type"), types.map((t) => h("option", { value: t.id }, t.name)));
  // The list's order; a search lists the best matches first instead.
  const sort = h("select", { "data-testid": "sort", "aria-label": "Order" }, h("option", { value: "name" }, "By name"), h("option", { value: "code" }, "By code"),
    h("option", { value: "newest" }, "Newest first"), h("option", { value: "spent" }, "Top spend first"));
  const body = h("div");
  const bulk = h("div", { class: "row", hidden: true, "data-testid": "bulk-bar" });
  const load = async () => {
    // Every filter and the search combine in one query.
    sort.disabled = !!state.q;
    sort.title = state.q ? "A search lists the best matches first" : "";
    const path = `/customers?limit=50&active=${state.active}` + (state.q ? `&q=${encodeURIComponent(state.q)}` : `&sort=${state.sort}`) + (state.origin ? `&origin_store=${encodeURIComponent(state.origin)}` : "") +
      (state.type ? `&type=${state.type}` : "") + (state.group ? `&group=${state.group}` : "") + (state.cursor ? `&cursor=${encodeURIComponent(state.cursor)}` : "");
    const r = await api("GET", path);
    if (!r.ok) { body.replaceChildren(h("div", { class: "notice" }, r.data?.detail || "Could not load customers")); return; }
    renderTable(r.data);
  };
  // A header that orders the list by its column (not while searching).
  const sortable = (key, label) => h("th", { class: state.q ? null : "sortable", "data-testid": `sort-${key}`, "aria-sort": state.sort === key && !state.q ? "ascending" : null,
    onclick: () => { if (state.q) return; state.sort = key; sort.value = key; reset(); } }, label, state.sort === key && !state.q ? " ↑" : "");
  const renderTable = (page) => {
    if (!page.items.length) { body.replaceChildren(h("div", { class: "card empty" }, state.q ? `No customer matches “${state.q}”.` : (state.group || state.type || state.origin || state.active !== "true") ? "No customer matches these filters." : "No customers yet.")); return; }
    const rows = page.items.map((c) => h("tr", { class: c.active ? "" : "inactive", "data-testid": "customer-row" },
      can("groups.manage") ? h("td", {}, h("input", { type: "checkbox", "aria-label": "select", checked: state.selected.has(c.id), onchange: (e) => { e.target.checked ? state.selected.add(c.id) : state.selected.delete(c.id); renderBulk(); } })) : null,
      h("td", {}, h("a", { href: "#", "data-testid": "customer-open", onclick: (e) => { e.preventDefault(); openCustomer(c.id, load); } }, c.first_name)),
      h("td", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); openCustomer(c.id, load); } }, c.last_name)),
      h("td", {}, c.code), h("td", { class: "hide-narrow" }, c.phone_display || c.phone || ""), h("td", { class: "hide-narrow" }, c.email || ""),
      h("td", { class: "hide-narrow" }, c.date_of_birth || ""), h("td", {}, c.origin_store || "HQ"),
      h("td", {}, c.active ? h("span", { class: "badge ok" }, "active") : h("span", { class: "badge off" }, "deactivated")),
      h("td", {}, c.active && can("orders.create") ? saleButton(c) : null)));
    body.replaceChildren(
      h("div", { class: "table-wrap" }, h("table", { "data-testid": "customers-table" },
        h("thead", {}, h("tr", {}, can("groups.manage") ? h("th", {}, "") : null, h("th", {}, "First name"), sortable("name", "Last name"), sortable("code", "Code"), h("th", { class: "hide-narrow" }, "Phone"), h("th", { class: "hide-narrow" }, "Email"), h("th", { class: "hide-narrow" }, "Date of birth"), h("th", {}, "Origin"), h("th", {}, "Status"), h("th", {}, "Actions"))),
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
  sort.addEventListener("change", () => { state.sort = sort.value; reset(); });
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
      if (state.q) q.set("q", state.q); else q.set("sort", state.sort);
      if (state.origin) q.set("origin_store", state.origin);
      if (state.type) q.set("type", state.type);
      if (state.group) q.set("group", state.group);
      const problem = await download(`/exports/customers?${q}`, `customers-${new Date().toISOString().slice(0, 10)}.csv`);
      if (problem) body.prepend(h("div", { class: "notice" }, problem.detail || "The export failed"));
    } finally { button.disabled = false; }
  };
  layout("Customers",
    h("div", { class: "row", style: "margin-bottom:.75rem" }, search, sort, active, origin, group, type,
      can("customers.export") ? h("button", { "data-testid": "export-csv", title: "Download the customers these filters show, as CSV", onclick: exportCsv }, "Export CSV") : null,
      can("customers.create") ? h("button", { class: "primary", "data-testid": "add-customer", onclick: () => addCustomer(null) }, "Add customer") : null),
    h("details", { class: "scan-box", "data-testid": "customers-scan", open: true }, h("summary", {}, "Scan ID or upload a driver's license"), scanner.el),
    bulk, body);
  renderBulk();
  search.focus();
  load();
}

export async function openCustomer(id, reload) {
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
    h("h2", {}, "Details"), dl([["Phone", x.phone_display || x.phone], ["Email", x.email], ["Date of birth", x.date_of_birth], ["Tax ID", x.tax_id], ["Address", [x.address.line1, x.address.line2, x.address.city, x.address.region, x.address.postal_code, x.address.country].filter(Boolean).join(", ")], ["Marketing", x.marketing_consent ? "yes" : "no"], ["Notes", x.notes]]),
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

// A person's data, as the JSON the API gives, downloaded as a file.
export async function exportCustomer(x) {
  const r = await api("GET", `/customers/${x.id}/export`);
  if (!r.ok) { modal("Export", h("div", { class: "notice" }, r.data?.detail || "Could not export")); return; }
  const url = URL.createObjectURL(new Blob([JSON.stringify(r.data, null, 2)], { type: "application/json" }));
  const a = h("a", { href: url, download: `${x.code}.json`, "data-testid": "export-link" }, "download");
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Erasure cannot be undone: the cashier types the code to confirm.
export function confirmErase(x, done) {
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
export function confirmMerge(keep, others, done) {
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
