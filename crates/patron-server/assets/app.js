// Patron's web back office and register screen. Served from the binary; talks
// to the JSON API of the node it came from, so it works on a store node with
// HQ out of reach. No build step, no third-party code.
// The entry module: it picks the page for the path.

import { h } from "./dom.js";
import { NAV, layout } from "./layout.js";
import { customersPage } from "./pages/customers.js";
import { duplicatesPage } from "./pages/duplicates.js";
import { groupsPage } from "./pages/groups.js";
import { loginPage } from "./pages/login.js";
import { loyaltyPage } from "./pages/loyalty.js";
import { receiptPage } from "./pages/receipt.js";
import { registerPage } from "./pages/register.js";
import { reportsPage } from "./pages/reports.js";
import { securityPage } from "./pages/security.js";
import { storesPage } from "./pages/stores.js";
import { usersPage } from "./pages/users.js";
import { S, can } from "./session.js";

const PAGES = { "/customers": customersPage, "/groups": groupsPage, "/loyalty": loyaltyPage, "/users": usersPage, "/security": securityPage, "/duplicates": duplicatesPage, "/stores": storesPage, "/register": registerPage, "/receipt": receiptPage, "/reports": reportsPage };

function route() {
  document.querySelectorAll(".panel, .modal-bg").forEach((p) => p.remove());
  document.onkeydown = null;
  const path = location.pathname;
  if (!S.token || !S.me) { if (path !== "/login") history.replaceState({}, "", "/login"); return loginPage(); }
  if (path === "/" || path === "/login") { history.replaceState({}, "", can("customers.deactivate") ? "/customers" : "/register"); return route(); }
  const page = PAGES[path];
  const need = NAV.find(([href]) => href === path);
  if (!page || (need && !can(need[2]))) { layout("Not here", h("div", { class: "card empty" }, "This page does not exist or is not yours to use.")); return; }
  page();
}

window.addEventListener("popstate", route);
route();
