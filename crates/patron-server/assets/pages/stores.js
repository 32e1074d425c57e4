// Stores and the sync link: lag, last contact, refused changes.
import { h } from "../dom.js";
import { layout } from "../layout.js";
import { api, can } from "../session.js";

export async function storesPage() {
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
