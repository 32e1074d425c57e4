// The frame around every page: navigation by permission, the signed-in user,
// and moving between pages without a reload.
import { field, h, modal, showErrors } from "./dom.js";
import { S, api, can, signOut } from "./session.js";

// The router in app.js listens for popstate; a page moving on raises one
// rather than importing the router (which imports every page).
export function go(path) { history.pushState({}, "", path); dispatchEvent(new PopStateEvent("popstate")); }

// --- layout -------------------------------------------------------------------

export const NAV = [
  ["/customers", "Customers", "customers.view"],
  ["/register", "Register", "orders.create"],
  ["/groups", "Groups", "customers.view"],
  ["/loyalty", "Loyalty", "loyalty.manage"],
  ["/users", "Users", "users.manage"],
  ["/reports", "Reports", "reports.view"],
  ["/duplicates", "Duplicates", "reports.view"],
  ["/security", "Security", "reports.view"],
  ["/stores", "Stores", "customers.view"],
];

export function layout(title, ...content) {
  const app = document.getElementById("app");
  app.replaceChildren(
    h("header", { class: "top" },
      h("span", { class: "brand" }, "Patron"),
      h("nav", {}, NAV.filter(([, , p]) => can(p)).map(([href, label]) =>
        h("a", { href, class: location.pathname === href ? "active" : null, onclick: (e) => { e.preventDefault(); go(href); } }, label))),
      h("span", { class: "who" }, h("span", { "data-testid": "who" }, `${S.me.username} · ${S.me.role}`),
        h("button", { "data-testid": "change-password", onclick: passwordDialog }, "Password"),
        h("button", { "data-testid": "sign-out", onclick: signOut }, "Sign out"))),
    h("main", {}, h("h1", {}, title), ...content));
  document.title = `${title} · Patron`;
}

// Anyone may change their own password; every session of theirs ends.
export function passwordDialog() {
  const f = h("form", { "data-testid": "password-form" }, h("div", { class: "notice form-error" }),
    field("current_password", "Current password", h("input", { type: "password", autocomplete: "current-password" })),
    field("new_password", "New password (8+ characters)", h("input", { type: "password", autocomplete: "new-password" })),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Change password"), h("button", { type: "button", onclick: () => bg.remove() }, "Cancel")));
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await api("POST", "/auth/password", { current_password: f.elements.current_password.value, new_password: f.elements.new_password.value });
    if (!res.ok) { showErrors(f, res.data); return; }
    bg.remove(); signOut();
  });
  const bg = modal("Change your password", f);
}
