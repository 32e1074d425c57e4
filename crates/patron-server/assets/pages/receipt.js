// A receipt to print on an 80 mm roll: a sale's (?order=ID) or a return's
// (?return=ID), from the same API answers the register got, so a reprint
// later says what the first print said.
import { h, money } from "../dom.js";
import { api } from "../session.js";

const row = (label, value, testid) => h("div", { class: "r-row", "data-testid": testid || null }, h("span", {}, label), h("span", {}, value));
const when = (s) => String(s || "").replace("T", " ").slice(0, 16);

function customerBlock(rc) {
  if (!rc) return null;
  return h("div", { class: "r-block" },
    h("div", { "data-testid": "receipt-customer" }, `${rc.customer_name} (${rc.customer_code})`),
    rc.tax_id ? h("div", { "data-testid": "receipt-tax-id" }, `Tax ID: ${rc.tax_id}`) : null);
}

function balancesBlock(rc) {
  if (!rc) return null;
  return h("div", { class: "r-block" },
    row("Points balance", money(rc.points_balance_after), "receipt-points-after"),
    row("Store credit balance", money(rc.credit_balance_after), "receipt-credit-after"));
}

function saleReceipt(o) {
  return [
    h("div", { class: "r-head" }, h("strong", {}, "Receipt"), h("div", {}, o.id), h("div", {}, `${when(o.at)}${o.store ? " · store " + o.store : ""} · ${o.actor}`)),
    customerBlock(o.receipt),
    h("div", { class: "r-block" }, o.lines.map((l) => row(`${l.quantity} × ${l.name}`, money(l.total), "receipt-line"))),
    h("div", { class: "r-block" },
      row("Subtotal", money(o.subtotal)),
      ...o.discounts.map((d) => h("div", { class: "r-note", "data-testid": "receipt-discount" }, d)),
      o.discount ? row("Discounts", "-" + money(o.discount)) : null,
      row("Total", money(o.total), "receipt-total"),
      o.points_redeemed ? row("Points redeemed", money(o.points_redeemed)) : null,
      o.credit_redeemed ? row("Store credit used", money(o.credit_redeemed)) : null,
      row("Paid", money(o.amount_paid), "receipt-paid"),
      o.earned ? row("Points earned", money(o.earned), "receipt-earned") : null,
      o.tax_exempt ? h("div", { class: "r-note" }, "Tax exempt") : null),
    balancesBlock(o.receipt),
  ];
}

function returnReceipt(r, o) {
  const names = new Map((o?.lines || []).map((l) => [l.line, l.name]));
  return [
    h("div", { class: "r-head" }, h("strong", {}, "Return"), h("div", {}, `${r.id} · receipt ${r.order_id}`), h("div", {}, `${when(r.at)} · ${r.actor}`)),
    customerBlock(r.receipt),
    h("div", { class: "r-block" }, r.lines.map((l) => row(`${l.quantity} × ${names.get(l.line) || "line " + (l.line + 1)}`, "-" + money(l.net), "receipt-line"))),
    h("div", { class: "r-block" },
      row("Refunded", money(r.money_refund), "receipt-refunded"),
      r.points_refund ? row("Points given back", money(r.points_refund)) : null,
      r.credit_refund ? row("Store credit given back", money(r.credit_refund)) : null,
      r.earned_reversal ? row("Points taken back", money(r.earned_reversal)) : null),
    balancesBlock(r.receipt),
  ];
}

export async function receiptPage() {
  const q = new URLSearchParams(location.search);
  const app = document.getElementById("app");
  let body;
  if (q.get("order")) {
    const r = await api("GET", `/orders/${encodeURIComponent(q.get("order"))}`);
    body = r.ok ? saleReceipt(r.data) : [h("div", { class: "notice" }, r.data?.detail || "This sale cannot be found.")];
  } else if (q.get("return")) {
    const r = await api("GET", `/returns/${encodeURIComponent(q.get("return"))}`);
    const o = r.ok ? await api("GET", `/orders/${encodeURIComponent(r.data.order_id)}`) : null;
    body = r.ok ? returnReceipt(r.data, o?.ok ? o.data : null) : [h("div", { class: "notice" }, r.data?.detail || "This return cannot be found.")];
  } else {
    body = [h("div", { class: "notice" }, "No sale or return named.")];
  }
  document.title = "Receipt · Patron";
  app.replaceChildren(
    h("div", { class: "no-print row" }, h("button", { class: "primary", "data-testid": "receipt-print", onclick: () => window.print() }, "Print"), h("button", { onclick: () => window.close() }, "Close")),
    h("div", { class: "receipt", "data-testid": "receipt" }, ...body));
}
