// Reading a driving licence's PDF417 barcode from a keyboard-wedge scanner or a
// photo, and matching what it says to the customers the chain already has.
import { candidateList, checksNotice } from "./customer_form.js";
import { h, modal } from "./dom.js";
import { api, can } from "./session.js";

// A keyboard-wedge scanner types a licence's PDF417 text a few milliseconds a
// character, separators as Enter (a newline here). The scan is over when it
// has been quiet for SCAN_QUIET_MS and holds a whole AAMVA record by its own
// header, or quiet for SCAN_WAIT_MS otherwise (a scanner that stalls mid-way,
// a record whose header is off); a Tab (some scanners end with one) ends it at
// once. The server parses the text; nothing is read here.
export const SCAN_QUIET_MS = 200;
export const SCAN_WAIT_MS = 1000;
export const MAX_PHOTO = 15 * 1024 * 1024;

export const looksLikeAamva = (t) => /ANSI ?\d{6}|AAMVA/.test(t) || /(^|[\n\r\x1e])D(AQ|CS|AC|BB|CT)[^\n\r]/.test(t);

// Whether the text is as long as its header's subfile directory says (a
// little less: scanners drop or merge separators).
export function aamvaComplete(t) {
  const ansi = t.search(/ANSI ?\d/);
  if (ansi < 0) return true;
  const dir = t.slice(ansi).match(/^ANSI ?\d{8,12}?((?:[A-Z]{2}\d{8})+)/);
  if (!dir) return false;
  let end = 0;
  for (const [, off, len] of dir[1].matchAll(/[A-Z]{2}(\d{4})(\d{4})/g)) end = Math.max(end, Number(off) + Number(len));
  const at = t.lastIndexOf("@", ansi);
  const start = at >= 0 ? at : Math.max(0, ansi - 4);
  return t.length - start >= end * 0.9;
}

export function scanProblem(r, what) {
  const d = r.data?.detail ? ` (${r.data.detail})` : "";
  if (r.status === 0) return "The server could not be reached; try again.";
  if (r.status === 422 && r.data?.field === "image") return `No licence barcode could be read from this photo${d}. Photograph the back of the card flat, in focus and filling most of the picture.`;
  if (r.status === 422) return `That scan is not a driver's licence or ID card${d}. Scan the large barcode on the back.`;
  if (r.status === 413) return "That photo is larger than 15 MB.";
  if (r.status === 415) return "Only JPEG or PNG photos can be read.";
  if (r.status === 403) return "You may not read IDs here.";
  return (r.data?.detail || `Reading the ${what} failed (${r.status}).`);
}

// The Scan ID field and the Upload Driver's License button; `onResult` gets
// the server's answer (document, customer, matches, checks).
export function idScanner(onResult) {
  const text = h("textarea", { rows: 2, class: "scan", placeholder: "Scan an ID here: it is read as soon as the scanner stops", "data-testid": "scan-input", autocomplete: "off", spellcheck: "false", "aria-label": "Scan ID" });
  const file = h("input", { type: "file", accept: "image/jpeg,image/png", capture: "environment", "data-testid": "licence-upload" });
  const status = h("div", { class: "scan-status", role: "status", "data-testid": "scan-status" });
  const say = (message, error) => status.replaceChildren(...(message ? [h("div", { class: error ? "notice" : "muted" }, message)] : []));
  const send = async (body, what) => {
    say(what === "photo" ? "Reading the photo…" : "Reading the scan…");
    let r;
    try { r = await api("POST", "/id-scans", body); } catch (_) { r = { ok: false, status: 0, data: null }; }
    if (!r.ok) { if (r.status !== 401) say(scanProblem(r, what), true); return; }
    say("");
    onResult(r.data);
  };
  let timer = null;
  const finish = () => {
    clearTimeout(timer); timer = null;
    const t = text.value;
    if (!t.trim()) return;
    text.value = "";
    send({ text: t }, "scan");
  };
  text.addEventListener("input", () => {
    clearTimeout(timer);
    const t = text.value;
    if (t.trim()) timer = setTimeout(finish, looksLikeAamva(t) && aamvaComplete(t) ? SCAN_QUIET_MS : SCAN_WAIT_MS);
  });
  text.addEventListener("keydown", (e) => { if (e.key === "Tab" && !e.shiftKey && text.value.trim()) { e.preventDefault(); finish(); } });
  file.addEventListener("change", () => {
    const f = file.files[0];
    file.value = "";
    if (!f) return;
    if (!["image/jpeg", "image/png"].includes(f.type)) { say(`${f.name} is not a JPEG or PNG photo.`, true); return; }
    if (f.size > MAX_PHOTO) { say(`${f.name} is larger than 15 MB; take the photo again at a lower resolution.`, true); return; }
    send(f, "photo");
  });
  const el = h("div", { class: "scanner" }, text,
    h("div", { class: "row" }, h("label", { class: "button file-button" }, file, "Upload Driver's License"), h("span", { class: "muted" }, "JPEG or PNG of the card's back")),
    status);
  return { el, text };
}

// The customers on file an ID matches, with what they share; `onPick(c)` for
// the one chosen, `onNew()` (if given) to add the holder as a new customer.
export function scanMatches(s, label, onPick, onNew) {
  const whose = [s.customer.first_name, s.customer.last_name].filter(Boolean).join(" ");
  const bg = modal(whose ? `On file: ${whose}?` : "On file?", h("div", { "data-testid": "scan-matches" },
    checksNotice(s.checks, whose),
    h("p", {}, s.matches.length === 1 ? "This ID matches a customer on file." : `This ID matches ${s.matches.length} customers on file.`),
    candidateList(s.matches, (c) => h("button", { type: "button", class: "primary", "data-testid": "scan-match-pick", onclick: () => { bg.remove(); onPick(c); } }, label)),
    h("div", { class: "row" },
      onNew ? h("button", { type: "button", "data-testid": "scan-new-instead", onclick: () => { bg.remove(); onNew(); } }, "None of these: new customer") : null,
      h("button", { type: "button", "data-testid": "form-cancel", onclick: () => bg.remove() }, "Cancel"))));
  bg.querySelector("[data-testid=scan-match-pick]")?.focus();
}
