// Drives Patron's web UI in Debian's headless Chromium through playwright-core.
// Usage: node run.mjs BASE_URL ARTIFACTS_DIR   (run by tests/browser.rs)
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";

const [base, out] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
page.setDefaultTimeout(10_000);
const failures = [];
page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
// The pages' Content-Security-Policy must never block the app's own code.
page.on("console", (m) => { if (m.type() === "error" && /Content Security Policy/i.test(m.text())) failures.push(`CSP: ${m.text()}`); });
// A module that fails to load stops every page: say so, not 27 timeouts.
page.on("requestfailed", (r) => { if (r.url().includes("/assets/")) failures.push(`asset failed: ${r.url()}`); });
page.on("response", (r) => { if (r.url().includes("/assets/") && r.status() >= 400) failures.push(`asset ${r.status()}: ${r.url()}`); });
const shot = (name) => page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
const step = async (name, fn) => {
  try { await fn(); console.log(`ok   ${name}`); }
  catch (e) { failures.push(`${name}: ${e.message}`); console.log(`FAIL ${name}: ${e.message}`); await shot(`failed-${name.replace(/\W+/g, "-")}`).catch(() => {}); }
};
const expectText = async (locator, text) => {
  await locator.filter({ hasText: text }).first().waitFor();
};
const expectValues = async (form, values) => {
  for (const [name, want] of Object.entries(values)) {
    const got = await form.locator(`[name='${name}']`).inputValue();
    if (got !== want) throw new Error(`${name} is ${JSON.stringify(got)}, not ${JSON.stringify(want)}`);
  }
};
// POSTs to /id-scans, to prove a scan is sent once, when it is over.
let idScans = 0;
page.on("request", (r) => { if (r.method() === "POST" && r.url().endsWith("/api/v1/id-scans")) idScans++; });
// An AAMVA record as on a licence: "@", LF, RS, CR, the header with its
// subfile directory (offsets and lengths that match), the DL subfile (each
// element ending in LF, the subfile in CR), then a jurisdiction subfile.
const aamva = (elements) => {
  const dl = "DL" + elements.join("\n") + "\n\r";
  const zt = "ZTZTAN\r";
  const n = (x) => String(x).padStart(4, "0");
  return `@\n\x1e\rANSI 636015090002DL${n(41)}${n(dl.length)}ZT${n(41 + dl.length)}${n(zt.length)}${dl}${zt}`;
};
// Typed as a keyboard-wedge scanner types: a character every few ms, LF and
// CR as Enter (playwright presses Enter for both), RS (0x1E) inserted as the
// character itself; never a click or an Enter after it.
const wedge = (text) => page.keyboard.type(text, { delay: 8 });

await step("signed out, / leads to the login page", async () => {
  await page.goto(base + "/");
  await page.waitForURL("**/login");
  await shot("login");
});

await step("a wrong password is refused with a message", async () => {
  await page.fill("#f-username", "admin");
  await page.fill("#f-password", "not-the-password");
  await page.click("button[type=submit]");
  await page.locator(".form-error").filter({ hasText: /wrong username or password/i }).waitFor();
});

await step("log in as admin", async () => {
  await page.fill("#f-password", "test-password-1");
  await page.click("button[type=submit]");
  await page.waitForURL("**/customers");
  await page.locator("[data-testid=customers-table]").waitFor();
  await shot("customers");
});

await step("find a customer by phone and open the side panel", async () => {
  await page.fill("[data-testid=customer-search]", "5550142");
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll("[data-testid=customer-row]");
    return rows.length === 1 && rows[0].textContent.includes("Okafor");
  });
  await page.click("[data-testid=customer-open]");
  const panel = page.locator("[data-testid=customer-panel]");
  await panel.waitFor();
  await expectText(panel.locator("h2").first(), "Ada Okafor");
  // Phones in the chain's region are shown as people write them there.
  await expectText(page.locator("[data-testid=customer-row]"), "(303) 555-0142");
  await expectText(panel, "(303) 555-0142");
  await expectText(panel.locator("[data-testid=points-balance]"), "20.00");
  await expectText(panel, "MED-7");
  await expectText(panel, "Medical");
  await expectText(panel, "Audit trail");
  await shot("customer-panel");
  await panel.locator("button.close").click();
});

await step("create a customer; a bad phone is flagged next to the field", async () => {
  await page.click("[data-testid=add-customer]");
  const form = page.locator("[data-testid=customer-form]");
  await form.locator("[name=first_name]").fill("Greta");
  await form.locator("[name=last_name]").fill("Gärtner");
  await form.locator("[name=phone]").fill("12");
  await form.locator("button[type=submit]").click();
  await form.locator(".field.invalid[data-field=phone] .error").filter({ hasText: /phone/i }).waitFor();
  await shot("customer-form-error");
  await form.locator("[name=phone]").fill("(303) 555-0199");
  await form.locator("[name='medical.card_number']").fill("MED-GG-1");
  await form.locator("[name='medical.issuing_state']").fill("CO");
  await form.locator("[name=marketing_consent]").check();
  await form.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=customer-panel] h2"), "Greta Gärtner");
  // Every field came through, the consent as a yes.
  const apiGet = (path) => page.evaluate(async (path) => (await fetch("/api/v1" + path, { headers: { authorization: "Bearer " + localStorage.getItem("patron.token") } })).json(), path);
  const greta = (await apiGet("/customers?q=Gartner")).items[0];
  if (!greta.marketing_consent || greta.medical?.issuing_state !== "CO") throw new Error(`saved as ${JSON.stringify({ consent: greta.marketing_consent, medical: greta.medical })}`);
});

await step("deactivate and reactivate", async () => {
  const panel = page.locator("[data-testid=customer-panel]");
  await panel.locator("[data-testid=toggle-active]").filter({ hasText: "Deactivate" }).click();
  await expectText(panel.locator("[data-testid=toggle-active]"), "Reactivate");
  await panel.locator("[data-testid=toggle-active]").click();
  await expectText(panel.locator("[data-testid=toggle-active]"), "Deactivate");
  await expectText(panel.locator("[data-testid=panel-audit]"), "deactivate");
  await panel.locator("button.close").click();
});

await step("search is accent-insensitive", async () => {
  await page.fill("[data-testid=customer-search]", "gartner");
  await expectText(page.locator("[data-testid=customer-row]"), "Gärtner");
});

await step("the customer list sorts by code, newest and name; a search is by best match", async () => {
  const firstCode = () => page.locator("[data-testid=customer-row] td").nth(3).textContent();
  if (!(await page.locator("[data-testid=sort]").isDisabled())) throw new Error("sort is offered during a search");
  await page.fill("[data-testid=customer-search]", "");
  await page.waitForFunction(() => !document.querySelector("[data-testid=sort]").disabled);
  await page.locator("[data-testid=sort]").selectOption("newest");
  // Greta was created last.
  await page.waitForFunction(() => document.querySelector("[data-testid=customer-row]")?.textContent.includes("Gärtner"));
  await page.click("[data-testid=sort-code]");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=customer-row] td")[3]?.textContent === "CUST-00001");
  if ((await firstCode()) !== "CUST-00001") throw new Error(`first code ${await firstCode()}`);
  await shot("customers-by-code");
  await page.click("[data-testid=sort-name]");
  await page.locator("[data-testid=sort-name][aria-sort=ascending]").waitFor();
});

await step("create an auto group: a bad rule shows its error, a good one its count", async () => {
  await page.click("nav a[href='/groups']");
  await page.locator("[data-testid=groups-table]").waitFor();
  await page.click("[data-testid=new-group]");
  const form = page.locator("[data-testid=group-form]");
  await form.locator("[name=name]").fill("Denver regulars");
  await form.locator("[name=kind]").selectOption("auto");
  await form.locator("[data-testid=rule-input]").fill('city = "Denver" and visits >=');
  await page.locator("[data-testid=rule-error]").filter({ hasText: "^" }).waitFor();
  await shot("rule-error");
  await form.locator("[data-testid=rule-input]").fill('city = "Denver"');
  await page.locator("[data-testid=rule-feedback]").filter({ hasText: "match" }).waitFor();
  await form.locator("[name='program.kind']").selectOption("discount");
  await form.locator("[name='program.percent']").fill("5");
  await form.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=group-row]"), "Denver regulars");
});

await step("create a manual group and bulk-add customers to it", async () => {
  await page.click("[data-testid=new-group]");
  const form = page.locator("[data-testid=group-form]");
  await form.locator("[name=name]").fill("VIP");
  await form.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=group-row]"), "VIP");
  await shot("groups");
  await page.click("nav a[href='/customers']");
  await page.locator("[data-testid=customers-table]").waitFor();
  const boxes = page.locator("[data-testid=customer-row] input[type=checkbox]");
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await page.locator("[data-testid=bulk-group]").selectOption({ label: "VIP" });
  await page.click("[data-testid=bulk-add]");
  await page.locator("[data-testid=filter-group]").selectOption({ label: "VIP" });
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=customer-row]").length === 2);
});

await step("group filter and search combine; Sale opens the register with the customer", async () => {
  // VIP is selected (2 members): a search narrows the members, it does not replace the filter.
  const search = page.locator("[data-testid=customer-search]");
  await search.fill("Okafor");
  await expectText(page.locator(".card.empty"), "No customer matches");
  await search.fill("Brandt");
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=customer-row]").length === 1);
  await expectText(page.locator("[data-testid=customer-row]"), "Brandt");
  await page.locator("[data-testid=customers-table] th").filter({ hasText: "Date of birth" }).waitFor();
  // Export CSV downloads what the filters show.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("[data-testid=export-csv]")]);
  const csv = readFileSync(await download.path(), "utf8");
  if (!csv.startsWith("code,id,first_name") || !csv.includes("Brandt") || csv.includes("Okafor")) throw new Error(`the export holds: ${csv.slice(0, 300)}`);
  await page.locator("[data-testid=customer-row] [data-testid=start-sale]").click();
  await expectText(page.locator("[data-testid=register-customer]"), "Bo Brandt");
  if (!page.url().endsWith("/register")) throw new Error(`the register's address is ${page.url()}`);
  await page.click("nav a[href='/customers']");
  await page.locator("[data-testid=customers-table]").waitFor();
});

await step("a group's member count opens the customer list filtered to it", async () => {
  await page.click("nav a[href='/groups']");
  const row = page.locator("[data-testid=group-row]").filter({ hasText: "Points club" });
  const count = Number(await row.locator("[data-testid=group-members-link]").textContent());
  await row.locator("[data-testid=group-members-link]").click();
  await page.waitForURL("**/customers?group=*");
  const chosen = await page.locator("[data-testid=filter-group]").evaluate((s) => s.options[s.selectedIndex].textContent);
  if (chosen !== "Points club") throw new Error(`the list is filtered by ${chosen}`);
  await page.waitForFunction((n) => document.querySelectorAll("[data-testid=customer-row]").length === Math.min(n, 50), count);
  await page.locator("[data-testid=filter-group]").selectOption("");
});

await step("ring up a sale with redemption, then a return", async () => {
  await page.click("nav a[href='/register']");
  const search = page.locator("[data-testid=register-search]");
  await search.waitFor();
  if (!(await search.evaluate((el) => el === document.activeElement))) throw new Error("search box not focused on load");
  await search.fill("Okafor");
  await expectText(page.locator("[data-testid=register-results] li"), "Okafor");
  await search.press("Enter");
  await expectText(page.locator("[data-testid=register-customer]"), "Okafor");
  await page.fill("[data-testid=line-sku]", "TEA-1");
  await page.fill("[data-testid=line-name]", "Green tea");
  await page.fill("[data-testid=line-qty]", "2");
  await page.fill("[data-testid=line-price]", "12.50");
  await page.press("[data-testid=line-price]", "Enter");
  // 25.00 less the 5 % Denver group discount created above.
  await expectText(page.locator("[data-testid=amount-due]"), "23.75");
  await expectText(page.locator("[data-testid=quote]"), "Denver regulars");
  await page.fill("[data-testid=redeem-points]", "5.00");
  await expectText(page.locator("[data-testid=amount-due]"), "18.75");
  await shot("register");
  await page.click("[data-testid=commit-sale]");
  await page.locator("[data-testid=sale-done]").waitFor();
  // The receipt opens beside the register, sized for an 80 mm roll.
  const [receipt] = await Promise.all([page.context().waitForEvent("page"), page.click("[data-testid=print-receipt]")]);
  receipt.on("pageerror", (e) => failures.push(`receipt page error: ${e.message}`));
  await receipt.setViewportSize({ width: 400, height: 800 });
  await expectText(receipt.locator("[data-testid=receipt-customer]"), "Okafor");
  await expectText(receipt.locator("[data-testid=receipt-line]"), "2 × Green tea");
  await expectText(receipt.locator("[data-testid=receipt-discount]"), "Denver regulars");
  await expectText(receipt.locator("[data-testid=receipt-paid]"), "18.75");
  await receipt.locator("[data-testid=receipt-points-after]").waitFor();
  const width = await receipt.locator("[data-testid=receipt]").evaluate((el) => el.getBoundingClientRect().width);
  // 80 mm at 96 px per inch.
  if (Math.abs(width - 302.4) > 2) throw new Error(`the receipt is ${width}px wide, not 80 mm`);
  await receipt.screenshot({ path: `${out}/receipt.png`, fullPage: true });
  await receipt.close();
  await page.locator("[data-testid=return-line]").first().click();
  await page.locator("[data-testid=return-done]").filter({ hasText: "Returned" }).waitFor();
  await shot("register-return");
  const [ret] = await Promise.all([page.context().waitForEvent("page"), page.locator("[data-testid=print-return-receipt]").first().click()]);
  await expectText(ret.locator("[data-testid=receipt-line]"), "1 × Green tea");
  await expectText(ret.locator("[data-testid=receipt-customer]"), "Okafor");
  await ret.close();
});

await step("register: what the server refuses in a cart is said in words, by line", async () => {
  await page.fill("[data-testid=line-sku]", "TEA-2");
  await page.fill("[data-testid=line-name]", "Oolong");
  await page.fill("[data-testid=line-qty]", "0");
  await page.fill("[data-testid=line-price]", "7.25");
  await page.press("[data-testid=line-price]", "Enter");
  await expectText(page.locator("[data-testid=quote-problem]"), "Line 1, quantity:");
  if (/lines\[/.test(await page.locator("[data-testid=quote-problem]").textContent())) throw new Error("a raw field path is shown");
  await page.locator("[data-testid=cart] button").first().click();
  await page.fill("[data-testid=line-qty]", "1");
});

await step("reports: sales with a chart and totals, the loyalty liability, CSV, a bad range named", async () => {
  await page.click("nav a[href='/reports']");
  await page.locator("[data-testid=chart]").waitFor();
  // The sale just rung up (23.75 after the Denver discount), today, at HQ.
  await expectText(page.locator("[data-testid=report-table] tbody tr"), "23.75");
  await expectText(page.locator("[data-testid=report-totals]"), "Total");
  await shot("reports-sales");
  await page.click("[data-testid=report-tab-loyalty]");
  await expectText(page.locator("[data-testid=figure-points_outstanding]"), "Points outstanding");
  await shot("reports-loyalty");
  const [dl] = await Promise.all([page.waitForEvent("download"), page.click("[data-testid=report-csv]")]);
  const text = readFileSync(await dl.path(), "utf8");
  if (!text.startsWith("Day,Points issued")) throw new Error(`the CSV starts ${JSON.stringify(text.slice(0, 60))}`);
  await page.fill("[data-testid=report-from]", "2026-12-31");
  await page.fill("[data-testid=report-to]", "2026-01-01");
  await page.click("[data-testid=report-show]");
  await page.locator("[data-testid=report-from][aria-invalid=true]").waitFor();
  await expectText(page.locator("[data-testid=report-error]"), "must not be after");
  for (const k of ["signups", "groups", "top-customers"]) {
    await page.fill("[data-testid=report-from]", "");
    await page.fill("[data-testid=report-to]", "");
    await page.click(`[data-testid=report-tab-${k}]`);
    await page.locator("[data-testid=report-table]").waitFor();
    await shot(`reports-${k}`);
  }
  await page.click("nav a[href='/register']");
});

await step("register: a sale whose answer is lost, then a reload, is recorded once", async () => {
  const apiGet = (path) => page.evaluate(async (path) => (await fetch("/api/v1" + path, { headers: { authorization: "Bearer " + localStorage.getItem("patron.token") } })).json(), path);
  const okafor = (await apiGet("/customers?q=Okafor")).items[0];
  const orders = async () => (await apiGet(`/customers/${okafor.id}/activity`)).orders.length;
  const before = await orders();
  const search = page.locator("[data-testid=register-search]");
  await search.fill("Okafor");
  await expectText(page.locator("[data-testid=register-results] li"), "Okafor");
  await search.press("Enter");
  // The previous sale's return buttons were Okafor's last sale: gone once the
  // customer is picked again for a new cart? They stay only for the same customer.
  await page.fill("[data-testid=line-sku]", "MUG-1");
  // Money is read from its digits: a third decimal is refused, not rounded.
  await page.fill("[data-testid=line-price]", "9.005");
  await page.press("[data-testid=line-price]", "Enter");
  await page.locator("[data-testid=line-price][aria-invalid=true]").waitFor();
  if (await page.locator("[data-testid=cart]").count()) throw new Error("a line with the price 9.005 was added");
  await page.fill("[data-testid=line-price]", "9.00");
  await page.press("[data-testid=line-price]", "Enter");
  await expectText(page.locator("[data-testid=amount-due]"), "8.55");
  // The server records the first attempt; its answer never reaches the register.
  let attempts = 0;
  await page.route("**/api/v1/orders", async (route) => {
    attempts++;
    if (attempts === 1) { await route.fetch(); await route.abort("failed"); } else { await route.continue(); }
  });
  await page.click("[data-testid=commit-sale]");
  await page.locator("[data-testid=sale-unanswered]").waitFor();
  if ((await orders()) !== before + 1) throw new Error("the first attempt should have been recorded by the server");
  // A reload keeps the cart and its sale id.
  await page.reload();
  await page.locator("[data-testid=cart-restored]").waitFor();
  await expectText(page.locator("[data-testid=register-customer]"), "Okafor");
  await expectText(page.locator("[data-testid=cart]"), "MUG-1");
  await expectText(page.locator("[data-testid=amount-due]"), "8.55");
  await page.locator("[data-testid=commit-sale]:not([disabled])").waitFor();
  await page.keyboard.press("F9");
  await page.locator("[data-testid=sale-done]").waitFor();
  await page.unroute("**/api/v1/orders");
  if (attempts !== 2) throw new Error(`expected 2 attempts, saw ${attempts}`);
  const after = await orders();
  if (after !== before + 1) throw new Error(`the sale was recorded ${after - before} times`);
  // F9 on the empty cart records nothing more.
  await page.keyboard.press("F9");
  if ((await orders()) !== before + 1) throw new Error("F9 on an empty cart recorded a sale");
  await shot("register-retried-once");
  // Another customer: the last sale and its return buttons are not theirs.
  await search.fill("Brandt");
  await expectText(page.locator("[data-testid=register-results] li"), "Brandt");
  await search.press("Enter");
  await expectText(page.locator("[data-testid=register-customer]"), "Brandt");
  if (await page.locator("[data-testid=return-line]").count()) throw new Error("the previous sale's return buttons are still shown");
  if (!(await page.locator("[data-testid=commit-sale]").isDisabled())) throw new Error("Complete sale is enabled with an empty cart");
});

await step("register: a wedge scan completes on its own and pre-fills a new customer", async () => {
  // The text from a real Texas licence's layout; its header promises more
  // than it holds, so this also takes the scanner-stalled path (1 s quiet).
  const texas = "@\n\x1e\rANSI 636015090002DL00410278ZT03190008DLDAQ12345678\nDCSPUBLIC\nDACJOHN\nDADQUINCY\nDBB05171990\nDBA12312099\nDBC1\nDAG123 MAIN STREET\nDAIAUSTIN\nDAJTX\nDAK787010000\nDCGUSA\n\r";
  const before = idScans;
  await page.locator("[data-testid=scan-input]").focus();
  await wedge(texas);
  const form = page.locator("[data-testid=quick-add]");
  await form.waitFor();
  if (idScans - before !== 1) throw new Error(`${idScans - before} scan requests, not 1`);
  await expectValues(form, { first_name: "John", last_name: "Public", date_of_birth: "1990-05-17", "address.line1": "123 Main Street",
    "address.city": "Austin", "address.region": "TX", "address.postal_code": "78701", "address.country": "US",
    "id_document.number": "12345678", "id_document.issuing_state": "TX", "id_document.issuing_country": "US", "id_document.expiry": "2099-12-31" });
  if (await page.locator("[data-testid=id-alert]").count()) throw new Error("a valid adult licence raised a warning");
  await shot("register-scan-prefilled");
  // The phone is what is left to type: it has the focus.
  await page.keyboard.type("(512) 555-0100");
  await expectValues(form, { phone: "(512) 555-0100" });
  await page.keyboard.press("Enter");
  await expectText(page.locator("[data-testid=register-customer]"), "John Public");
});

await step("register: an expired, under-age licence is shown plainly, and cleared with another customer", async () => {
  const kid = aamva(["DAQ55555555", "DCSYOUNG", "DACTIMMY", "DADNONE", "DBD01022018", "DBB01012012", "DBA01012020", "DBC1",
    "DAG5 OAK AVE", "DAIHOUSTON", "DAJTX", "DAK770020000", "DCGUSA", "DDL1"]);
  // Scanned while the search box has the focus (as on load): the "@" that
  // starts the record hands the rest of it to the scan field.
  const search = page.locator("[data-testid=register-search]");
  await search.focus();
  const before = idScans;
  await wedge(kid);
  const form = page.locator("[data-testid=quick-add]");
  await form.waitFor();
  if (idScans - before !== 1) throw new Error(`${idScans - before} scan requests, not 1`);
  if (await search.inputValue()) throw new Error("the scan went into the search box");
  const alert = page.locator("[data-testid=id-alert]");
  await expectText(alert, "expired on 2020-01-01");
  await expectText(alert, "Under age");
  await expectText(page.locator("[data-testid=scan-checks]"), "Under age");
  await page.locator("[data-testid=set-veteran-type]").waitFor();
  await shot("register-scan-under-age");
  // Escape closes the form; the warning stays until another customer is picked.
  await page.keyboard.press("Escape");
  await form.waitFor({ state: "detached" });
  await expectText(alert, "Under age");
  await search.fill("Okafor");
  await expectText(page.locator("[data-testid=register-results] li"), "Okafor");
  await search.press("Enter");
  await expectText(page.locator("[data-testid=register-customer]"), "Okafor");
  await alert.waitFor({ state: "detached" });
  // Scanned again and added (with the Veteran type the card suggests): the
  // warning is tied to that customer, and goes when the customer changes.
  await page.locator("[data-testid=scan-input]").focus();
  await wedge(kid);
  await form.waitFor();
  await form.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=register-customer]"), "Timmy Young");
  await expectText(alert, "Timmy Young");
  await shot("register-under-age-customer");
  await search.fill("Okafor");
  await expectText(page.locator("[data-testid=register-results] li"), "Okafor");
  await search.press("Enter");
  await expectText(page.locator("[data-testid=register-customer]"), "Okafor");
  await alert.waitFor({ state: "detached" });
});

await step("register: a refused cart cannot be completed, by click or F9", async () => {
  const apiGet = (path) => page.evaluate(async (path) => (await fetch("/api/v1" + path, { headers: { authorization: "Bearer " + localStorage.getItem("patron.token") } })).json(), path);
  const timmy = (await apiGet("/customers?q=Timmy")).items[0];
  const search = page.locator("[data-testid=register-search]");
  await search.fill("Timmy");
  await expectText(page.locator("[data-testid=register-results] li"), "Young");
  await search.press("Enter");
  await expectText(page.locator("[data-testid=register-customer]"), "Timmy Young");
  await page.fill("[data-testid=line-sku]", "PRE-1");
  await page.fill("[data-testid=line-price]", "20.00");
  await page.press("[data-testid=line-price]", "Enter");
  await page.locator("[data-testid=refusal]").first().waitFor();
  if (!(await page.locator("[data-testid=commit-sale]").isDisabled())) throw new Error("Complete sale is enabled for a refused cart");
  await page.keyboard.press("F9");
  await page.waitForTimeout(300);
  const orders = (await apiGet(`/customers/${timmy.id}/activity`)).orders.length;
  if (orders !== 0) throw new Error(`a refused cart recorded ${orders} sales`);
  await shot("register-refused");
  // Its line goes with it: another customer starts from this cart, not a refusal.
  await page.locator("[data-testid=cart] button").first().click();
  await search.fill("Okafor");
  await expectText(page.locator("[data-testid=register-results] li"), "Okafor");
  await search.press("Enter");
  await expectText(page.locator("[data-testid=register-customer]"), "Okafor");
  if (await page.locator("[data-testid=refusal]").count()) throw new Error("the previous customer's refusal is still shown");
});

await step("register: quick add of a likely duplicate offers the one on file", async () => {
  await page.click("[data-testid=quick-add-open]");
  const form = page.locator("[data-testid=quick-add]");
  await form.locator("[name=first_name]").fill("Robert");
  await form.locator("[name=last_name]").fill("Brandt");
  await form.locator("[name=phone]").fill("303-555-0177");
  await form.locator("button[type=submit]").click();
  const cand = form.locator("[data-testid=candidate]").filter({ hasText: "Bo Brandt" });
  await expectText(cand.locator("[data-testid=candidate-same]"), "same phone");
  await cand.locator("[data-testid=use-candidate]").click();
  await expectText(page.locator("[data-testid=register-customer]"), "Bo Brandt");
});

await step("customers: a wedge scan finds the customer on file; a scan that is no licence says so", async () => {
  await page.click("nav a[href='/customers']");
  await page.locator("[data-testid=customers-table]").waitFor();
  await page.locator("[data-testid=scan-input]").focus();
  // A scanner that stalls half a second mid-record: the header says more is
  // coming, so the scan is still sent once, whole.
  const text = aamva(["DAQ12345678", "DCSPUBLIC", "DACJOHN", "DADQUINCY", "DBB05171990", "DBA12312099", "DBC1", "DAG123 MAIN STREET", "DAIAUSTIN", "DAJTX", "DAK787010000", "DCGUSA"]);
  const before = idScans;
  await wedge(text.slice(0, 90));
  await page.waitForTimeout(500);
  await wedge(text.slice(90));
  const cand = page.locator("[data-testid=scan-matches] [data-testid=candidate]").filter({ hasText: "John Public" });
  await expectText(cand, "same ID document number");
  if (idScans - before !== 1) throw new Error(`${idScans - before} scan requests, not 1`);
  await cand.locator("[data-testid=scan-match-pick]").click();
  const panel = page.locator("[data-testid=customer-panel]");
  await expectText(panel.locator("h2").first(), "John Public");
  await panel.locator("button.close").click();
  // A product's barcode scanned by mistake: sent after a second of quiet, refused.
  await page.locator("[data-testid=scan-input]").focus();
  await wedge("0123456789012\n");
  await expectText(page.locator("[data-testid=scan-status]"), "not a driver's licence");
});

await step("customers: Upload Driver's License finds the customer on file; a photo with no barcode says so", async () => {
  await page.setInputFiles("[data-testid=licence-upload]", process.env.PATRON_LICENCE_PHOTO);
  const matches = page.locator("[data-testid=scan-matches]");
  const cand = matches.locator("[data-testid=candidate]").filter({ hasText: "Jane Roe" });
  await cand.waitFor({ timeout: 20_000 });
  await expectText(cand, "same ID document number");
  await shot("customers-upload-match");
  await cand.locator("[data-testid=scan-match-pick]").click();
  await expectText(page.locator("[data-testid=customer-panel] h2"), "Jane Roe");
  await page.locator("[data-testid=customer-panel] button.close").click();
  // A screenshot is a PNG with no licence on it.
  await page.setInputFiles("[data-testid=licence-upload]", `${out}/login.png`);
  await expectText(page.locator("[data-testid=scan-status]"), "No licence barcode could be read");
  await shot("customers-upload-no-barcode");
  // The customer added from the under-age scan got the type the card suggested.
  await page.fill("[data-testid=customer-search]", "Timmy Young");
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll("[data-testid=customer-row]");
    return rows.length === 1 && rows[0].textContent.includes("Timmy") && rows[0].textContent.includes("Young");
  });
  await page.click("[data-testid=customer-open]");
  const panel = page.locator("[data-testid=customer-panel]");
  await panel.locator("h2").filter({ hasText: "Timmy Young" }).waitFor();
  await expectText(panel, "5 Oak Ave");
  await page.waitForFunction(() => document.querySelector("[data-testid=panel-type]")?.selectedOptions[0]?.textContent === "Veteran");
  await panel.locator("button.close").click();
});

await step("customers: a likely duplicate shows the candidates; Create anyway creates", async () => {
  await page.fill("[data-testid=customer-search]", "");
  await page.click("[data-testid=add-customer]");
  await page.locator("[data-testid=customer-form]").waitFor();
  await page.click("[data-testid=form-cancel]");
  await page.locator("[data-testid=customer-form]").waitFor({ state: "detached" });
  await page.click("[data-testid=add-customer]");
  const form = page.locator("[data-testid=customer-form]");
  await form.locator("[name=first_name]").fill("Bea");
  await form.locator("[name=last_name]").fill("Nguyen");
  await form.locator("[name=phone]").fill("(303) 555-0177");
  await form.locator("button[type=submit]").click();
  const cand = form.locator("[data-testid=candidate]").filter({ hasText: "Bo Brandt" });
  await expectText(cand, "(303) 555-0177");
  await expectText(cand.locator("[data-testid=candidate-same]"), "same phone");
  await cand.locator("[data-testid=use-candidate]").waitFor();
  await shot("customer-likely-duplicate");
  await form.locator("[data-testid=create-anyway]").click();
  const panel = page.locator("[data-testid=customer-panel]");
  await expectText(panel.locator("h2").first(), "Bea Nguyen");
  await expectText(panel.locator("[data-testid=panel-duplicates]"), "Bo Brandt");
  await panel.locator("button.close").click();
});

await step("the Duplicates report lists the cluster, each record opening its panel", async () => {
  await page.click("nav a[href='/duplicates']");
  const cluster = page.locator("[data-testid=duplicate-cluster]").filter({ hasText: "Nguyen, Bea" });
  await expectText(cluster, "Brandt, Bo");
  await expectText(cluster, "same phone");
  await expectText(page.locator("[data-testid=duplicates-summary]"), "1 group(s)");
  await shot("duplicates");
  await cluster.locator("[data-testid=duplicate-customer]").filter({ hasText: "Brandt, Bo" }).click();
  const panel = page.locator("[data-testid=customer-panel]");
  await expectText(panel.locator("h2").first(), "Bo Brandt");
  await expectText(panel.locator("[data-testid=panel-duplicates]"), "Bea Nguyen");
  await shot("duplicates-panel");
  await panel.locator("button.close").click();
});

await step("a cluster is merged from the report; a person's data is exported and erased", async () => {
  const cluster = page.locator("[data-testid=duplicate-cluster]").filter({ hasText: "Nguyen, Bea" });
  await cluster.locator("tr").filter({ hasText: "Nguyen, Bea" }).locator("[data-testid=merge-keep]").click();
  await shot("merge-confirm");
  await page.locator("[data-testid=merge-confirm]").click();
  await expectText(page.locator("[data-testid=duplicates-report]"), "No likely duplicates");
  await page.click("nav a[href='/customers']");
  await page.fill("[data-testid=customer-search]", "Bea Nguyen");
  await expectText(page.locator("[data-testid=customer-row]"), "Nguyen");
  await page.locator("[data-testid=customer-row]").filter({ hasText: "Nguyen" }).locator("[data-testid=customer-open]").first().click();
  const panel = page.locator("[data-testid=customer-panel]");
  await expectText(panel.locator("[data-testid=panel-audit]"), "merge");
  const download = page.waitForEvent("download");
  await panel.locator("[data-testid=export-customer]").click();
  const file = await download;
  if (!file.suggestedFilename().endsWith(".json")) throw new Error(`export named ${file.suggestedFilename()}`);
  await panel.locator("[data-testid=erase-customer]").click();
  await page.locator("[data-testid=erase-confirm]").click();
  await expectText(page.locator(".modal .form-error"), "to confirm");
  const code = (await panel.locator(".muted").first().innerText()).split(" ")[0];
  await page.fill("[data-testid=erase-confirm-code]", code);
  await page.locator("[data-testid=erase-confirm]").click();
  await page.locator("[data-testid=customer-panel] [data-testid=panel-erased]").waitFor();
  await expectText(page.locator("[data-testid=customer-panel] h2").first(), "Erased customer");
  await shot("erased");
  await page.locator("[data-testid=customer-panel] button.close").click();
});

await step("loyalty, users and stores pages", async () => {
  await page.click("nav a[href='/loyalty']");
  await page.locator("[data-testid=loyalty-settings]").waitFor();
  // A threshold naming no group is said in words, by line, next to the box.
  const ls = page.locator("[data-testid=loyalty-settings]");
  const before = await ls.locator("[name=transitions]").inputValue();
  await ls.locator("[name=transitions]").fill("500.00 Platinum Elite");
  await ls.locator("button[type=submit]").click();
  await expectText(ls.locator(".field[data-field=transitions] .error"), "Line 1: there is no manual group called “Platinum Elite”.");
  if (/group_id|transitions\[/.test(await ls.locator(".form-error").textContent())) throw new Error("a raw field path is shown");
  await ls.locator("[name=transitions]").fill(before);
  const pf = page.locator("[data-testid=profile-form]");
  await pf.locator("[name=name]").fill("Adult-use daily");
  await pf.locator("[name='limits[0].name']").fill("Daily THC");
  await pf.locator("[name='limits[0].allowances']").fill("flower g 28\nconcentrate g 8\nedible mg 800");
  await pf.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=profiles-table]"), "28 g flower = 8 g concentrate = 800 mg edible");
  await shot("loyalty");
  // Edit the profile: a second limit, a smaller allowance; both shown.
  await page.locator("[data-testid=edit-profile]").first().click();
  const ef = page.locator("[data-testid=profile-edit-form]");
  await ef.locator("[name='limits[0].allowances']").fill("flower g 14");
  await ef.locator("[data-testid=add-limit]").click();
  await ef.locator("[name='limits[1].name']").fill("Weekly edibles");
  await ef.locator("[name='limits[1].period']").selectOption("week");
  await ef.locator("[name='limits[1].allowances']").fill("edible mg 0");
  await ef.locator("button[type=submit]").click();
  await ef.locator(".field[data-field='limits[1].allowances[0].max_quantity'] .error, .form-error").filter({ hasText: /more than|must/ }).first().waitFor();
  await ef.locator("[name='limits[1].allowances']").fill("edible mg 2000");
  await ef.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=profiles-table]"), "14 g flower");
  await expectText(page.locator("[data-testid=profiles-table]"), "Weekly edibles per week");
  // A customer type, then changed: its discount and tax exemption.
  const tf = page.locator("[data-testid=type-form]");
  await tf.locator("[name=name]").fill("Staff");
  await tf.locator("[name=discount]").fill("10%");
  await tf.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=types-table]"), "10% off");
  await page.locator("[data-testid=types-table] tr").filter({ hasText: "Staff" }).locator("[data-testid=edit-type]").click();
  const tef = page.locator("[data-testid=type-edit-form]");
  await tef.locator("[name=discount]").fill("2.50");
  await tef.locator("[name=tax_exempt]").check();
  await tef.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=types-table] tr").filter({ hasText: "Staff" }), "2.50 off");
  await expectText(page.locator("[data-testid=types-table] tr").filter({ hasText: "Staff" }), "tax exempt");
  await shot("loyalty-edited");
  await page.click("nav a[href='/users']");
  await page.locator("[data-testid=user-form]").waitFor();
  await shot("users");
});

await step("define a role, create a user with it, deactivate them; the security log shows it", async () => {
  const rf = page.locator("[data-testid=role-form]");
  await rf.locator("[name=name]").fill("shift lead");
  for (const p of ["customers.view", "orders.create", "orders.refund"]) await rf.locator(`input[value='${p}']`).check();
  await rf.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=role-row]"), "shift lead");
  const uf = page.locator("[data-testid=user-form]");
  await uf.locator("[name=username]").fill("sam.lead");
  await uf.locator("[name=role]").selectOption("shift lead");
  await uf.locator("[name=password]").fill("password");
  await uf.locator("button[type=submit]").click();
  await uf.locator(".field[data-field=password] .error").filter({ hasText: /commonly used/ }).waitFor();
  await uf.locator("[name=password]").fill("a fine long secret");
  await uf.locator("button[type=submit]").click();
  const row = page.locator("[data-testid=user-row]").filter({ hasText: "sam.lead" });
  await expectText(row, "shift lead");
  await row.locator("[data-testid=user-toggle]").click();
  await expectText(page.locator("[data-testid=user-row]").filter({ hasText: "sam.lead" }), "inactive");
  // The last administrator cannot be deactivated: the refusal is shown.
  const adminRow = page.locator("[data-testid=user-row]").filter({ hasText: /^admin/ });
  await adminRow.locator("[data-testid=user-toggle]").click();
  await expectText(adminRow, "no active HQ user who can manage users");
  await shot("users-roles");
  await page.click("nav a[href='/security']");
  await expectText(page.locator("[data-testid=security-row]"), "user-changed");
  await page.locator("[data-testid=security-kind]").selectOption("sign-in-failed");
  await expectText(page.locator("[data-testid=security-row]"), "sign-in-failed");
  await shot("security");
  await page.click("nav a[href='/stores']");
  await page.locator("main h1").waitFor();
  await shot("stores");
});

await step("the Common and system groups' programs are edited in the form; members list says how many", async () => {
  await page.click("nav a[href='/groups']");
  const common = page.locator("[data-testid=group-row]").filter({ hasText: "Common" });
  await common.locator("[data-testid=group-edit]").click();
  const form = page.locator("[data-testid=group-form]");
  if (!(await form.locator("[name=name]").isDisabled())) throw new Error("the Common group's name is editable");
  if (!(await form.locator("[name=kind]").textContent()).includes("Common")) throw new Error("the Common group's kind is not shown as Common");
  await form.locator("[name='program.kind']").selectOption("points");
  await form.locator("[name='program.percent']").fill("1");
  await form.locator("button[type=submit]").click();
  await expectText(page.locator("[data-testid=group-row]").filter({ hasText: "Common" }), "points 1%");
  const rec = page.locator("[data-testid=group-row]").filter({ hasText: "Recreational" });
  await rec.locator("[data-testid=group-edit]").click();
  await form.waitFor();
  if (!(await form.locator("[name=kind]").textContent()).includes("System")) throw new Error("a system group's kind is not shown as System");
  if (!(await form.locator("[data-testid=rule-input]").isDisabled())) throw new Error("a system group's rule is editable");
  // Left without saving by its Cancel button.
  await page.locator(".modal [data-testid=modal-cancel]").filter({ hasText: "Cancel" }).click();
  await form.waitFor({ state: "detached" });
  await rec.locator("button", { hasText: "Members" }).click();
  await page.locator("[data-testid=members-shown]").filter({ hasText: / of \d+ shown/ }).waitFor();
  await shot("group-members");
  await page.locator(".modal [data-testid=modal-cancel]").filter({ hasText: "Close" }).click();
  await page.locator(".modal").waitFor({ state: "detached" });
});

await step("tablet width: every page, none wider than the screen", async () => {
  await page.setViewportSize({ width: 768, height: 1024 });
  await page.click("nav a[href='/customers']");
  await page.locator("[data-testid=customers-table]").waitFor();
  await shot("customers-tablet");
  const wide = [];
  for (const href of await page.locator("header nav a").evaluateAll((as) => as.map((a) => a.getAttribute("href")))) {
    await page.click(`nav a[href='${href}']`);
    await page.locator("main h1").waitFor();
    await page.waitForLoadState("networkidle");
    await shot(`${href.slice(1)}-768`);
    // Tables may scroll inside their frame; the page itself must not.
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (over > 1) wide.push(`${href} (${over}px)`);
  }
  await page.setViewportSize({ width: 1280, height: 800 });
  if (wide.length) throw new Error(`wider than 768 px: ${wide.join(", ")}`);
});

await step("a cashier sees no management pages", async () => {
  await page.click("[data-testid=sign-out]");
  await page.waitForURL("**/login");
  await page.fill("#f-username", "cashier");
  await page.fill("#f-password", "test-password-1");
  await page.click("button[type=submit]");
  await page.waitForURL("**/register");
  const links = await page.locator("header nav a").allTextContents();
  for (const hidden of ["Loyalty", "Users"]) if (links.includes(hidden)) throw new Error(`cashier sees ${hidden}`);
  await page.goto(base + "/users");
  await expectText(page.locator("main"), "not yours");
});

await step("anyone can change their own password; a wrong current one is named", async () => {
  await page.click("[data-testid=change-password]");
  const f = page.locator("[data-testid=password-form]");
  await f.locator("[name=current_password]").fill("not it");
  await f.locator("[name=new_password]").fill("another fine secret");
  await f.locator("button[type=submit]").click();
  await f.locator(".field[data-field=current_password] .error").filter({ hasText: /not your current password/ }).waitFor();
  await f.locator("button[type=button]").click();
});

await browser.close();
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log("all browser checks passed");
