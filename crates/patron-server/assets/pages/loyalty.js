// The loyalty program's settings and tier transitions.
import { field, h, modal, money, showErrors, toMinor } from "../dom.js";
import { layout } from "../layout.js";
import { api, can } from "../session.js";

export async function loyaltyPage() {
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
    // Each line is "amount group name"; what is wrong is said by line, in
    // words, next to the box (never a raw "transitions[2].group_id").
    const bad = [];
    const transitions = v("transitions").split("\n").map((l) => l.trim()).filter(Boolean).map((l, i) => {
      const [amount, ...rest] = l.split(/\s+/); const name = rest.join(" ");
      const g = (groups.data?.items || []).find((g) => g.name.toLowerCase() === name.toLowerCase());
      if (toMinor(amount) === null) bad.push(`Line ${i + 1}: “${amount}” is not an amount; write it like 500.00.`);
      else if (!g) bad.push(`Line ${i + 1}: there is no manual group called “${name}”.`);
      return { threshold: toMinor(amount), group_id: g?.id };
    });
    if (bad.length) { showErrors(settings, { errors: [{ field: "transitions", message: bad.join(" ") }] }); return; }
    const r = await api("PATCH", "/loyalty/settings", {
      max_redeem_percent: Number(v("max_redeem_percent")), registration_bonus: toMinor(v("registration_bonus") || "0"),
      points_lifetime_days: v("points_lifetime_days") ? Number(v("points_lifetime_days")) : null,
      return_window_days: Number(v("return_window_days")), offline_redeem_cap: toMinor(v("offline_redeem_cap") || "0"), store_topup_daily_cap: toMinor(v("store_topup_daily_cap") || "0"),
      stack_discounts: v("stack_discounts") === "true", transitions_enabled: v("transitions_enabled") === "true", transitions });
    const byLine = (e) => {
      const m = /^transitions\[(\d+)\]\.(\w+)$/.exec(e.field || "");
      return m ? { field: "transitions", message: `Line ${Number(m[1]) + 1}: the ${m[2] === "threshold" ? "amount" : "group"} ${e.message}.` } : e;
    };
    showErrors(settings, r.ok ? null : { ...r.data, errors: (r.data?.errors || []).map(byLine) });
    settings.querySelector(".msg").textContent = r.ok ? "Saved." : "";
  });
  // Adds a customer type, or changes `t`.
  const typeForm = (t, done) => {
    const f = h("form", { class: "row", "data-testid": t ? "type-edit-form" : "type-form" },
      h("input", { name: "name", placeholder: "Type name (veteran…)", value: t?.name, "aria-label": "Type name" }),
      h("label", {}, h("input", { type: "checkbox", name: "tax_exempt", checked: !!t?.tax_exempt }), " tax exempt"),
      h("input", { name: "discount", placeholder: "Discount: 10% or 5.00", size: 16, "aria-label": "Discount",
        value: t?.discount_percent ? `${t.discount_percent}%` : t?.discount_amount ? money(t.discount_amount) : "" }),
      h("button", { type: "submit", class: t ? "primary" : null }, t ? "Save type" : "Add type"), h("span", { class: "error-text" }));
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const d = f.elements.discount.value.trim();
      const body = { name: f.elements.name.value, tax_exempt: f.elements.tax_exempt.checked };
      if (d.endsWith("%")) body.discount_percent = Number(d.slice(0, -1)); else if (d) body.discount_amount = toMinor(d);
      if (d && !d.endsWith("%") && body.discount_amount === null) { f.querySelector(".error-text").textContent = "Write the discount as 10% or as an amount like 5.00."; return; }
      const r = await api(t ? "PUT" : "POST", t ? `/customer-types/${t.id}` : "/customer-types", body);
      f.querySelector(".error-text").textContent = r.ok ? "" : (r.data?.errors?.[0]?.message ? `${r.data.errors[0].field.replace("_", " ")}: ${r.data.errors[0].message}` : r.data?.detail || "Not saved");
      if (r.ok) { done?.(); loyaltyPage(); }
    });
    return f;
  };
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
  // Adds a purchase-limit profile, or changes `p` (every limit it has, and
  // more with "Add a limit").
  const profileForm = (p, done) => {
    const blocks = h("div", {});
    const select = (options, value) => { const e = h("select", {}, options.map(([v, label]) => h("option", { value: v }, label))); if (value) e.value = value; return e; };
    const addBlock = (l) => {
      const i = blocks.children.length;
      blocks.append(h("div", { class: "grid2 limit-block" },
        field(`limits[${i}].name`, "Limit name", h("input", { placeholder: "Daily THC", value: l?.name })),
        field(`limits[${i}].period`, "Period", select(["day", "week", "month", "year"].map((x) => [x, x]), l?.period)),
        field(`limits[${i}].enforcement`, "When exceeded", select([["hard", "refuse the sale"], ["warn", "warn; a manager may override"]], l?.enforcement)),
        field(`limits[${i}].allowances`, "Equivalent allowances, one per line: category unit quantity (e.g. flower g 28)",
          h("textarea", { rows: 3, value: (l?.allowances || []).map((a) => `${a.category} ${a.unit} ${a.max_quantity}`).join("\n") }))));
    };
    (p?.limits?.length ? p.limits : [null]).forEach(addBlock);
    const f = h("form", { class: "card", "data-testid": p ? "profile-edit-form" : "profile-form" }, h("div", { class: "notice form-error" }),
      field("name", "Profile name", h("input", { placeholder: "Adult-use daily limit", value: p?.name })),
      blocks,
      h("div", { class: "row" }, h("button", { type: "button", "data-testid": "add-limit", onclick: () => addBlock(null) }, "Add a limit"),
        h("button", { type: "submit", class: p ? "primary" : null }, p ? "Save profile" : "Add profile")));
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const v = (n) => f.elements[n].value.trim();
      const limits = [...blocks.children].map((_, i) => ({
        name: v(`limits[${i}].name`), period: v(`limits[${i}].period`), enforcement: v(`limits[${i}].enforcement`),
        allowances: v(`limits[${i}].allowances`).split("\n").filter((l) => l.trim()).map((l) => { const [category, unit, q] = l.trim().split(/\s+/); return { category, unit, max_quantity: Number(q) }; }),
      }));
      const r = await api(p ? "PUT" : "POST", p ? `/limit-profiles/${p.id}` : "/limit-profiles", { name: v("name"), limits });
      if (!r.ok) { showErrors(f, r.data); return; }
      done?.(); loyaltyPage();
    });
    return f;
  };
  layout("Loyalty", h("h2", {}, "Settings"), settings,
    h("h2", {}, "Customer types"), !(types.data?.items || []).length ? h("div", { class: "card empty" }, "No customer types yet.") : h("div", { class: "table-wrap" }, h("table", { "data-testid": "types-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Type"), h("th", {}, "Tax"), h("th", {}, "Discount"), h("th", {}, ""))),
      h("tbody", {}, (types.data?.items || []).map((t) => h("tr", {}, h("td", {}, t.name), h("td", {}, t.tax_exempt ? "tax exempt" : "—"), h("td", {}, t.discount_percent ? `${t.discount_percent}% off` : t.discount_amount ? `${money(t.discount_amount)} off` : "—"),
        h("td", {}, can("loyalty.manage") ? h("button", { "data-testid": "edit-type", onclick: () => { const bg = modal(`Edit ${t.name}`, typeForm(t, () => bg.remove())); } }, "Edit") : null)))))),
    h("div", { class: "card", style: "margin-top:.5rem" }, typeForm(null)),
    h("h2", {}, "Store credit and adjustments"), adjust,
    h("h2", {}, "Purchase-limit profiles"),
    profiles.length ? h("div", { class: "table-wrap" }, h("table", { "data-testid": "profiles-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Profile"), h("th", {}, "Limit"), h("th", {}, "Allowances (any one)"), h("th", {}, "When exceeded"), h("th", {}, ""))),
      h("tbody", {}, profiles.flatMap((p) => p.limits.map((l, i) => h("tr", {}, h("td", {}, p.name), h("td", {}, `${l.name} per ${l.period}`), h("td", {}, l.allowances.map((a) => `${a.max_quantity} ${a.unit} ${a.category}`).join(" = ")),
        h("td", {}, l.enforcement === "hard" ? "refuse" : "warn"),
        h("td", {}, i === 0 && can("groups.manage") ? h("button", { "data-testid": "edit-profile", onclick: () => { const bg = modal(`Edit ${p.name}`, profileForm(p, () => bg.remove())); } }, "Edit") : null))))))) : h("div", { class: "card empty" }, "No purchase-limit profiles yet."),
    can("groups.manage") ? profileForm(null) : null);
}
