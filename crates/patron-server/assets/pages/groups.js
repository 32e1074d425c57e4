// Customer groups: their programs, limits and members.
import { debounce, field, h, modal, money, showErrors, toMinor } from "../dom.js";
import { go, layout } from "../layout.js";
import { api, can } from "../session.js";

export async function groupsPage() {
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
        h("td", {}, h("a", { href: `/customers?group=${g.id}`, "data-testid": "group-members-link", title: "These customers in the customer list",
          onclick: (e) => { e.preventDefault(); go(`/customers?group=${g.id}`); } }, String(g.members))), h("td", {}, h("code", {}, g.rule || "")),
        h("td", {}, h("button", { onclick: () => groupMembers(g) }, "Members"),
          can("groups.manage") ? h("button", { "data-testid": "group-edit", onclick: () => groupForm(g, load) }, "Edit") : null)))))) : h("div", { class: "card empty" }, "No groups match."));
  };
  filter.addEventListener("input", debounce(() => { state.name = filter.value.trim(); load(); }, 150));
  layout("Groups", h("div", { class: "row", style: "margin-bottom:.75rem" }, filter, h("span", { class: "grow" }),
    can("groups.manage") ? h("button", { class: "primary", "data-testid": "new-group", onclick: () => groupForm(null, load) }, "New group") : null), body);
  load();
}

export async function groupMembers(g) {
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

export function groupForm(g, reload) {
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
