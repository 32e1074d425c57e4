// Customers who are likely one person, for merging.
import { sameText } from "../customer_form.js";
import { fmtDate, h } from "../dom.js";
import { layout } from "../layout.js";
import { confirmMerge, openCustomer } from "./customers.js";
import { api, can } from "../session.js";

// Customers who are likely one person, in clusters, biggest first: linked by a
// shared phone, email, ID document number, or name and date of birth.
export async function duplicatesPage() {
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
          h("tbody", {}, cl.customers.map((c) => h("tr", { class: c.active ? "" : "inactive" }, h("td", {}, open(c), c.active ? "" : h("span", { class: "muted" }, " (deactivated)")), h("td", {}, c.code), h("td", {}, c.phone_display || c.phone || ""),
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
