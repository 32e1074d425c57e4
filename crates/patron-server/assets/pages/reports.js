// Reports: sales, loyalty (with what the chain owes its customers), sign-ups,
// group sizes and top customers, as a chart, a table and a CSV download.
import { barChart } from "../chart.js";
import { h, money } from "../dom.js";
import { layout } from "../layout.js";
import { api, download } from "../session.js";

const REPORTS = [
  ["sales", "Sales"],
  ["loyalty", "Loyalty"],
  ["signups", "New customers"],
  ["groups", "Group sizes"],
  ["top-customers", "Top customers"],
];

const show = (v, unit) => v === null || v === undefined ? "" : unit === "money" || unit === "points" ? money(v) : String(v);
const fmtFor = (unit) => (v) => unit === "money" || unit === "points" ? money(v) : String(v);

// Sums `key` per day over the rows (several stores a day), in day order.
function perDay(rep, key) {
  const ci = rep.columns.findIndex((c) => c.key === key);
  const di = rep.columns.findIndex((c) => c.key === "day");
  const days = new Map();
  for (const r of rep.rows) days.set(r[di], (days.get(r[di]) || 0) + (r[ci] || 0));
  return days;
}

// Every day of the range, so quiet days show as gaps (at most a year of bars).
function rangeDays(rep) {
  const out = [];
  const end = Date.parse(rep.to + "T00:00:00Z");
  for (let t = Math.max(Date.parse(rep.from + "T00:00:00Z"), end - 365 * 86_400_000); t <= end; t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

function chartOf(rep) {
  const col = (k) => rep.columns.find((c) => c.key === k);
  const daily = (keys) => {
    const maps = keys.map((k) => perDay(rep, k));
    const labels = rangeDays(rep);
    return { labels: labels.map((d) => d.slice(5)), series: keys.map((k, i) => ({ name: col(k).label, values: labels.map((d) => maps[i].get(d) || 0) })), fmt: fmtFor(col(keys[0]).unit) };
  };
  if (!rep.rows.length) return null;
  switch (rep.report) {
    case "sales": return barChart({ ...daily(["total", "discount"]), title: "Sales and discounts per day" });
    case "loyalty": return barChart({ ...daily(["points_issued", "points_redeemed", "points_expired"]), title: "Points per day" });
    case "signups": return barChart({ ...daily(["created"]), title: "New customers per day" });
    case "groups": {
      const gi = rep.columns.findIndex((c) => c.key === "group");
      const groups = [...new Set(rep.rows.map((r) => r[gi]))].slice(0, 5);
      const days = [...new Set(rep.rows.map((r) => r[0]))].sort();
      const at = new Map(rep.rows.map((r) => [`${r[0]}|${r[gi]}`, r[2]]));
      return barChart({ labels: days.map((d) => d.slice(5)), series: groups.map((g) => ({ name: g, values: days.map((d) => at.get(`${d}|${g}`) || 0) })), fmt: String, title: "Members per group" });
    }
    case "top-customers": {
      const rows = rep.rows.slice(0, 20);
      return barChart({ labels: rows.map((r) => r[0]), series: [{ name: "Spent", values: rows.map((r) => r[2]) }], fmt: money, title: "Top customers by spend" });
    }
    default: return null;
  }
}

function table(rep) {
  const cols = rep.columns.filter((c) => c.key !== "id");
  const idx = cols.map((c) => rep.columns.indexOf(c));
  const num = (c) => c.unit !== "text" && c.unit !== "day";
  return h("div", { class: "table-wrap" }, h("table", { "data-testid": "report-table" },
    h("thead", {}, h("tr", {}, cols.map((c) => h("th", { class: num(c) ? "num" : null }, c.label)))),
    h("tbody", {}, rep.rows.length ? rep.rows.map((r) => h("tr", {}, idx.map((i, j) => h("td", { class: num(cols[j]) ? "num" : null }, show(r[i], cols[j].unit)))))
      : h("tr", {}, h("td", { colspan: cols.length, class: "muted" }, "Nothing in this range."))),
    rep.totals ? h("tfoot", {}, h("tr", { "data-testid": "report-totals" }, idx.map((i, j) => h("td", { class: num(cols[j]) ? "num" : null }, j === 0 ? "Total" : show(rep.totals[i], cols[j].unit))))) : null));
}

export async function reportsPage() {
  const q = new URLSearchParams(location.search);
  const st = { name: REPORTS.some(([k]) => k === q.get("report")) ? q.get("report") : "sales" };
  const from = h("input", { type: "date", "data-testid": "report-from", "aria-label": "From" });
  const to = h("input", { type: "date", "data-testid": "report-to", "aria-label": "To" });
  const store = h("input", { placeholder: "All stores (or S01, HQ)", "data-testid": "report-store", "aria-label": "Store", size: 18 });
  const body = h("div", { "data-testid": "report" });
  const tabs = h("div", { class: "row tabs" });
  const query = () => {
    const p = new URLSearchParams();
    if (from.value) p.set("from", from.value);
    if (to.value) p.set("to", to.value);
    if (store.value.trim() && st.name !== "groups" && st.name !== "top-customers") p.set("store", store.value.trim());
    return p;
  };
  const load = async () => {
    tabs.replaceChildren(...REPORTS.map(([k, label]) => h("button", { class: k === st.name ? "primary" : null, "data-testid": `report-tab-${k}`, onclick: () => { st.name = k; history.replaceState({}, "", `/reports?report=${k}`); load(); } }, label)));
    body.replaceChildren(h("div", { class: "muted" }, "Loading…"));
    const r = await api("GET", `/reports/${st.name}?${query()}`);
    if (!r.ok) {
      body.replaceChildren(h("div", { class: "notice", "data-testid": "report-error" }, r.data?.detail || "The report failed"));
      const bad = r.data?.errors?.[0]?.field || r.data?.field;
      for (const [f, input] of [["from", from], ["to", to], ["store", store]]) input.setAttribute("aria-invalid", String(bad === f));
      return;
    }
    for (const input of [from, to, store]) input.removeAttribute("aria-invalid");
    const rep = r.data;
    if (!from.value) from.value = rep.from;
    if (!to.value) to.value = rep.to;
    body.replaceChildren(...[
      rep.summary.length ? h("div", { class: "figures" }, rep.summary.map((f) => h("div", { class: "card figure", "data-testid": `figure-${f.key}` }, h("div", { class: "muted" }, f.label), h("strong", {}, show(f.value, f.unit))))) : null,
      h("div", { class: "card" }, chartOf(rep) || h("div", { class: "muted" }, "No chart: nothing in this range.")),
      table(rep)].filter(Boolean));
  };
  const csv = h("button", { "data-testid": "report-csv", onclick: async () => {
    const problem = await download(`/reports/${st.name}?${query()}&format=csv`, `${st.name}-${from.value}-${to.value}.csv`);
    if (problem) body.prepend(h("div", { class: "notice" }, problem.detail || "The download failed"));
  } }, "Download CSV");
  const form = h("form", { class: "row", onsubmit: (e) => { e.preventDefault(); load(); } },
    h("label", {}, "From ", from), h("label", {}, "To ", to), store, h("button", { type: "submit", "data-testid": "report-show" }, "Show"), csv);
  layout("Reports", tabs, form, body);
  await load();
}
