// The node's security log.
import { h } from "../dom.js";
import { layout } from "../layout.js";
import { api } from "../session.js";

// The node's security log: sign-ins, refusals and account changes.
export async function securityPage() {
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
