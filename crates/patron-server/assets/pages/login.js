// Signing in.
import { field, h } from "../dom.js";
import { go } from "../layout.js";
import { S, api, can } from "../session.js";

export function loginPage() {
  const form = h("form", { class: "card login", "data-testid": "login-form" },
    h("h1", {}, "Sign in to Patron"),
    h("div", { class: "notice form-error", hidden: true }),
    field("username", "Username", h("input", { autocomplete: "username", autofocus: true })),
    field("password", "Password", h("input", { type: "password", autocomplete: "current-password" })),
    h("button", { class: "primary", type: "submit" }, "Sign in"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await api("POST", "/auth/login", { username: form.username.value, password: form.password.value });
    const note = form.querySelector(".form-error");
    if (!r.ok) { note.hidden = false; note.textContent = (r.data && r.data.detail) || "Sign-in failed"; return; }
    S.token = r.data.token; S.me = r.data.user;
    localStorage.setItem("patron.token", S.token); localStorage.setItem("patron.me", JSON.stringify(S.me));
    go(can("customers.deactivate") ? "/customers" : "/register");
  });
  document.title = "Sign in · Patron";
  document.getElementById("app").replaceChildren(form);
}
