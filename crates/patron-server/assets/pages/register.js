// The register: customer, cart, quote and sale.
import { LICENCE_FIELDS, checksNotice, customerForm } from "../customer_form.js";
import { debounce, h, lineTotal, modal, money, problemText, toMilli, toMinor } from "../dom.js";
import { idScanner, scanMatches } from "../id_scan.js";
import { layout } from "../layout.js";
import { api, can } from "../session.js";

// The cart being rung up survives a reload: the sale's id is made when the
// cart starts and kept until the server answers, so a retry after a timeout,
// a second F9 or a reload records the sale once (the server is idempotent by
// order id; the id is only as good as the client that keeps it).
export const CART_KEY = "patron.register.cart";
export const saveCart = (st, extra) => {
  if (!st.orderId || !st.lines.length || !st.customer) { sessionStorage.removeItem(CART_KEY); return; }
  sessionStorage.setItem(CART_KEY, JSON.stringify({ orderId: st.orderId, customer: st.customer, lines: st.lines, ...extra }));
};
export const loadCart = () => { try { return JSON.parse(sessionStorage.getItem(CART_KEY) || "null"); } catch (_) { return null; } };

export async function registerPage() {
  // alert: the checks of the last ID read, with whose ID it was and the
  // customer it was tied to (null until one is picked for it).
  // orderId: the sale's id from its first line until the server answers it.
  // busy: a sale is on its way; quoteFor: the cart the quote on screen priced.
  const st = { customer: null, lines: [], results: [], sel: 0, quote: null, alert: null, orderId: null, busy: false, quoteFor: null };
  const search = h("input", { placeholder: "Phone, name or code — F2 to come back here", class: "grow", "data-testid": "register-search", type: "search", autofocus: true });
  const results = h("ul", { class: "results", "data-testid": "register-results" });
  const who = h("div", { "data-testid": "register-customer" }, h("span", { class: "muted" }, "No customer selected."));
  const alertBox = h("div", { "data-testid": "register-alert" });
  const cart = h("div");
  const quoteBox = h("div", { "data-testid": "quote" });
  const msg = h("div", { "data-testid": "register-msg" });
  const showResults = () => results.replaceChildren(...st.results.map((c, i) => h("li", { class: i === st.sel ? "sel" : "", onclick: () => pick(c) }, `${c.last_name}, ${c.first_name}`, h("span", { class: "muted" }, ` · ${c.code} · ${c.phone_display || c.phone || ""}`))));
  const find = debounce(async () => {
    const q = search.value.trim();
    if (!q) { st.results = []; showResults(); return; }
    const r = await api("GET", `/customers?limit=8&q=${encodeURIComponent(q)}`);
    st.results = r.data?.items || []; st.sel = 0; showResults();
  }, 80);
  search.addEventListener("input", find);
  search.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { st.sel = Math.min(st.sel + 1, st.results.length - 1); showResults(); e.preventDefault(); }
    if (e.key === "ArrowUp") { st.sel = Math.max(st.sel - 1, 0); showResults(); e.preventDefault(); }
    if (e.key === "Enter" && st.results[st.sel]) { pick(st.results[st.sel]); e.preventDefault(); }
    // A licence scanned while the search box has the focus: its text starts
    // with "@", which no search does; the rest of it goes to the scan field.
    if (e.key === "@" && !search.value) { e.preventDefault(); scanner.text.focus(); scanner.text.value = "@"; scanner.text.dispatchEvent(new Event("input")); }
  });
  // Picks the customer for the sale. `scanned`: the ID read that led to them,
  // whose checks stay on screen while they are the customer; any other pick
  // clears them.
  const pick = (c, scanned) => {
    // What was on screen for the previous customer (their sale, its return
    // buttons, its quote and refusals) is not this one's.
    if (st.customer?.id !== c.id) { msg.replaceChildren(); st.quote = null; st.quoteFor = null; quoteBox.replaceChildren(); }
    st.customer = c; st.results = []; showResults(); search.value = "";
    st.alert = scanned ? { checks: scanned.checks, whose: `${c.first_name} ${c.last_name}`, customer: c.id } : null;
    renderWho(); renderAlert(); persist(); requote(); skuInput.focus();
  };
  const renderWho = () => who.replaceChildren(st.customer ? h("div", {}, h("strong", {}, `${st.customer.first_name} ${st.customer.last_name}`), h("span", { class: "muted" }, ` · ${st.customer.code}`)) : h("span", { class: "muted" }, "No customer selected."));
  const renderAlert = () => {
    const a = st.alert;
    const shown = a && (a.customer === null || a.customer === st.customer?.id);
    const note = shown ? checksNotice(a.checks, a.customer === null ? `the ID just read (${a.whose})` : a.whose, "id-alert", () => { st.alert = null; renderAlert(); }) : null;
    alertBox.replaceChildren(...(note ? [note] : []));
  };
  // An ID read: its checks at once, then the customers it matches or a new
  // customer filled from it.
  const scanned = (s) => {
    const whose = [s.customer.first_name, s.customer.last_name].filter(Boolean).join(" ") || "no name";
    st.alert = { checks: s.checks, whose, customer: null };
    renderAlert();
    const add = can("customers.create") ? () => quickAdd(s) : null;
    if (s.matches.length) scanMatches(s, "Select", (c) => pick(c, s), add);
    else if (add) add();
    else msg.replaceChildren(h("div", { class: "notice" }, "No customer on file matches this ID."));
  };
  const scanner = idScanner(scanned);
  // A new customer in a few keystrokes, or filled from an ID scan `s` with
  // everything the licence gives.
  const quickAdd = (s) => {
    const m = modal(s ? "New customer from the ID" : "New customer", h("div", {}, s ? checksNotice(s.checks, [s.customer.first_name, s.customer.last_name].filter(Boolean).join(" ")) : null,
      customerForm(null, (c) => { m.remove(); pick(c, s); }, {
        testid: "quick-add", submitLabel: "Add and select", prefill: s?.customer, veteranType: s?.checks.veteran_type,
        fields: ["first_name", "last_name", "phone", "date_of_birth", ...(s ? LICENCE_FIELDS : [])],
        onUseExisting: (c) => { m.remove(); pick(c, s); } })));
    // Filled from a licence: what is left to type is the phone.
    if (s) m.querySelector("[name=phone]")?.focus();
  };
  const skuInput = h("input", { placeholder: "SKU", size: 8, "data-testid": "line-sku" });
  const nameInput = h("input", { placeholder: "Item", size: 12, "data-testid": "line-name" });
  const catInput = h("input", { placeholder: "Category", size: 9, "data-testid": "line-category" });
  const qtyInput = h("input", { placeholder: "Qty", size: 4, value: "1", "data-testid": "line-qty" });
  const unitInput = h("input", { placeholder: "Unit", size: 4, value: "ea" });
  const priceInput = h("input", { placeholder: "Price", size: 7, "data-testid": "line-price" });
  const redeemPoints = h("input", { placeholder: "0.00", size: 7, "data-testid": "redeem-points" });
  const redeemCredit = h("input", { placeholder: "0.00", size: 7, "data-testid": "redeem-credit" });
  const override = h("input", { type: "checkbox", "data-testid": "override-limits" });
  const addLine = (e) => {
    e && e.preventDefault();
    if (!skuInput.value.trim() || !priceInput.value.trim()) return;
    if (toMinor(priceInput.value) === null) { priceInput.setAttribute("aria-invalid", "true"); priceInput.title = "A price like 12.50"; return; }
    priceInput.removeAttribute("aria-invalid"); priceInput.title = "";
    st.lines.push({ sku: skuInput.value.trim(), name: nameInput.value.trim() || skuInput.value.trim(), category: catInput.value.trim(), quantity: Number(qtyInput.value || 1), unit: unitInput.value.trim() || "ea", unit_price: toMinor(priceInput.value) });
    // The cart starts: its sale gets its id now, kept through any retry.
    if (!st.orderId) st.orderId = "web-" + (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`);
    for (const i of [skuInput, nameInput, catInput, priceInput]) i.value = ""; qtyInput.value = "1";
    renderCart(); requote(); skuInput.focus();
  };
  const lineForm = h("form", { class: "row", onsubmit: addLine }, skuInput, nameInput, catInput, qtyInput, unitInput, priceInput, h("button", { type: "submit", "data-testid": "add-line" }, "Add"));
  // A cart line's total as typed, exactly ("" until quantity and price read).
  const lineMoney = (l) => { const milli = toMilli(l.quantity); return milli === null || l.unit_price === null ? "" : money(lineTotal(milli, l.unit_price)); };
  const renderCart = () => cart.replaceChildren(st.lines.length ? h("table", { "data-testid": "cart" }, h("tbody", {}, st.lines.map((l, i) => h("tr", {}, h("td", {}, l.name), h("td", {}, `${l.quantity} ${l.unit}`), h("td", {}, lineMoney(l)), h("td", {}, h("button", { onclick: () => { st.lines.splice(i, 1); renderCart(); requote(); } }, "×")))))) : h("div", { class: "muted" }, "The cart is empty."));
  const persist = () => saveCart(st, { redeem_points: redeemPoints.value, redeem_credit: redeemCredit.value });
  const commitButton = h("button", { class: "primary", "data-testid": "commit-sale", disabled: true, onclick: () => commit() }, "Complete sale");
  // A sale can be completed only for the cart the quote on screen priced,
  // when nothing refuses it (an overridable refusal only with the override).
  const refused = () => !st.quote || st.quoteFor !== JSON.stringify(cartBody()) ||
    st.quote.errors.length > 0 || st.quote.refusals.some((x) => !(x.overridable && override.checked));
  const updateCommit = () => { commitButton.disabled = st.busy || !st.customer || !st.lines.length || refused(); };
  const cartBody = () => ({ customer: st.customer.id, lines: st.lines, redeem_points: redeemPoints.value ? toMinor(redeemPoints.value) : 0, redeem_credit: redeemCredit.value ? toMinor(redeemCredit.value) : 0 });
  const requote = () => { st.quoteFor = null; persist(); updateCommit(); quote(); };
  const quote = debounce(async () => {
    if (!st.customer || !st.lines.length) { st.quote = null; quoteBox.replaceChildren(); updateCommit(); return; }
    const asked = JSON.stringify(cartBody());
    let r;
    try { r = await api("POST", "/checkout/quote", cartBody()); } catch (_) { r = { ok: false, data: { detail: "No answer from the server: the cart cannot be priced." } }; }
    // A newer cart is being priced: this answer is stale.
    if (asked !== JSON.stringify(cartBody())) return;
    if (!r.ok) { st.quote = null; quoteBox.replaceChildren(h("div", { class: "notice", "data-testid": "quote-problem" }, problemText(r.data, "Cannot price this cart"))); updateCommit(); return; }
    const q = st.quote = r.data;
    st.quoteFor = asked;
    updateCommit();
    quoteBox.replaceChildren(h("div", { class: "totals" },
      h("span", {}, "Subtotal"), h("span", {}, money(q.subtotal)),
      ...q.discounts.flatMap((d) => [h("span", { class: "muted" }, d.reason), h("span", {}, "−" + money(d.amount))]),
      h("span", {}, "Total"), h("span", {}, money(q.total)),
      h("span", {}, "Points redeemed"), h("span", {}, money(q.points_redeemed)),
      h("span", {}, "Store credit used"), h("span", {}, money(q.credit_redeemed)),
      h("span", { class: "big" }, "To pay"), h("span", { class: "big", "data-testid": "amount-due" }, money(q.amount_due)),
      h("span", { class: "muted" }, "Points balance / may redeem"), h("span", { "data-testid": "max-redeem" }, `${money(q.balances.points.available)} / ${money(q.max_points_redeemable)}`),
      h("span", { class: "muted" }, "Store credit / may use"), h("span", {}, `${money(q.balances.credit.available)} / ${money(q.max_credit_redeemable)}`),
      h("span", { class: "muted" }, "Will earn"), h("span", {}, money(q.earn))),
      ...(q.tax_exempt ? [h("div", { class: "notice ok" }, q.tax_exempt_reason)] : []),
      ...q.refusals.map((x) => h("div", { class: "notice", "data-testid": "refusal" }, x.message + (x.overridable ? " (a manager may override)" : ""))),
      ...q.errors.map((x) => h("div", { class: "notice" }, x.message)));
  }, 120);
  redeemPoints.addEventListener("input", requote); redeemCredit.addEventListener("input", requote);
  override.addEventListener("change", updateCommit);
  const commit = async () => {
    updateCommit();
    if (commitButton.disabled) return;
    st.busy = true; updateCommit();
    msg.replaceChildren(h("div", { class: "muted", "data-testid": "sale-pending" }, "Recording the sale…"));
    let r;
    try {
      r = await api("POST", "/orders", { id: st.orderId, ...cartBody(), override_limits: override.checked });
    } catch (_) {
      r = null;
    } finally {
      st.busy = false;
    }
    if (!r) {
      // Unanswered: it may have been recorded. The same id goes again on retry.
      msg.replaceChildren(h("div", { class: "notice", "data-testid": "sale-unanswered" }, "No answer from the server: the sale may or may not be recorded. Press F9 or Complete sale again; it will be recorded once."));
      updateCommit(); return;
    }
    if (!r.ok) { msg.replaceChildren(h("div", { class: "notice", "data-testid": "sale-refused" }, problemText(r.data, "The sale failed"))); updateCommit(); return; }
    msg.replaceChildren(h("div", { class: "notice ok", "data-testid": "sale-done" }, `Sale ${r.data.id} recorded: paid ${money(r.data.amount_paid)}, earned ${money(r.data.earned)}. `,
        h("a", { href: `/receipt?order=${encodeURIComponent(r.data.id)}`, target: "_blank", rel: "noopener", "data-testid": "print-receipt" }, "Print receipt")),
      h("div", { class: "row" }, h("span", { class: "muted" }, "Return:"), ...r.data.lines.map((l) => h("button", { "data-testid": "return-line", onclick: async () => {
        const rr = await api("POST", `/orders/${r.data.id}/returns`, { id: `${r.data.id}-r${Date.now()}`, lines: [{ line: l.line, quantity: 1 }] });
        msg.append(h("div", { class: rr.ok ? "notice ok" : "notice", "data-testid": "return-done" }, rr.ok ? [`Returned 1 × ${l.name}: ${money(rr.data.money_refund)} back, ${money(rr.data.points_refund)} points back. `,
          h("a", { href: `/receipt?return=${encodeURIComponent(rr.data.id)}`, target: "_blank", rel: "noopener", "data-testid": "print-return-receipt" }, "Print receipt")] : problemText(rr.data, "The return failed")));
      } }, `1 × ${l.name}`))));
    st.lines = []; st.orderId = null; st.quote = null; st.quoteFor = null; persist();
    redeemPoints.value = ""; redeemCredit.value = ""; override.checked = false; renderCart(); quoteBox.replaceChildren(); updateCommit(); search.focus();
  };
  document.onkeydown = (e) => { if (e.key === "F2") { search.focus(); e.preventDefault(); } if (e.key === "F9") { commit(); e.preventDefault(); } };
  layout("Register",
    h("div", { class: "register" },
      h("div", { class: "card" }, h("div", { class: "row" }, search, can("customers.create") ? h("button", { "data-testid": "quick-add-open", onclick: () => quickAdd(null) }, "New customer") : null), results, h("h2", {}, "Scan ID"), scanner.el, msg),
      h("div", { class: "card" }, who, alertBox, h("h2", {}, "Cart"), lineForm, cart,
        h("div", { class: "row", style: "margin-top:.5rem" }, h("span", {}, "Redeem points"), redeemPoints, h("span", {}, "Store credit"), redeemCredit,
          can("limits.override") ? h("label", {}, override, " manager override of warning limits (audited)") : null),
        quoteBox, h("div", { class: "row", style: "margin-top:.75rem" }, commitButton, h("span", { class: "kbd" }, "F9")))));
  // A cart left by a reload (or a sale whose answer never came) is back, with its id.
  const kept = loadCart();
  if (kept?.orderId && kept.customer && Array.isArray(kept.lines) && kept.lines.length) {
    st.orderId = kept.orderId; st.customer = kept.customer; st.lines = kept.lines;
    redeemPoints.value = kept.redeem_points || ""; redeemCredit.value = kept.redeem_credit || "";
    renderWho();
    msg.replaceChildren(h("div", { class: "notice", "data-testid": "cart-restored" }, "The cart from before is back. If its sale was already recorded, completing it again does not record it twice."));
    quote();
  }
  renderCart();
  search.focus();
  // Opened from a customer ("Sale"): that customer, picked.
  const wanted = new URLSearchParams(location.search).get("customer");
  if (wanted) {
    history.replaceState({}, "", "/register");
    const r = await api("GET", `/customers/${encodeURIComponent(wanted)}`);
    if (r.ok) pick(r.data); else msg.replaceChildren(h("div", { class: "notice" }, problemText(r.data, "That customer cannot be found.")));
  }
}
