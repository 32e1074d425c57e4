// Users and roles.
import { field, h, modal, showErrors } from "../dom.js";
import { layout } from "../layout.js";
import { api } from "../session.js";

export async function usersPage() {
  const [r, rolesRes, storesRes] = await Promise.all([api("GET", "/users"), api("GET", "/roles"), api("GET", "/stores")]);
  const roles = rolesRes.data || [];
  const stores = storesRes.data?.items || [];
  const roleSelect = (current) => h("select", {}, roles.map((x) => h("option", { value: x.name, selected: x.name === current }, x.name)));
  const storeSelect = (current) => h("select", {}, h("option", { value: "" }, "HQ (signs in anywhere)"),
    stores.map((x) => h("option", { value: x.id, selected: x.id === current }, `${x.id} · ${x.name}`)));
  const form = h("form", { class: "card", "data-testid": "user-form" }, h("div", { class: "notice form-error" }),
    h("div", { class: "grid2" }, field("username", "Username", h("input", {})), field("role", "Role", roleSelect("cashier")),
      field("password", "Password (8+ characters, not a common one)", h("input", { type: "password", autocomplete: "new-password" })),
      field("store", "Store", storeSelect(""))),
    h("button", { class: "primary", type: "submit" }, "Create user"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const store = form.elements.store.value;
    const res = await api("POST", "/users", { username: form.elements.username.value, role: form.elements.role.value, password: form.elements.password.value, store: store || null });
    if (!res.ok) { showErrors(form, res.data); return; }
    usersPage();
  });
  // Edits one user: role, store, active, and a new password. Deactivating or
  // a new password ends the user's sessions everywhere at once.
  const edit = (u) => {
    const f = h("form", { "data-testid": "user-edit" }, h("div", { class: "notice form-error" }),
      field("role", "Role", roleSelect(u.role)), field("store", "Store", storeSelect(u.store || "")),
      h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Save"), h("button", { type: "button", onclick: () => bg.remove() }, "Cancel")));
    f.addEventListener("submit", async (e) => {
      e.preventDefault();
      const store = f.elements.store.value;
      const res = await api("PATCH", `/users/${encodeURIComponent(u.username)}`, { role: f.elements.role.value, store: store || null });
      if (!res.ok) { showErrors(f, res.data); return; }
      bg.remove(); usersPage();
    });
    const pw = h("form", { "data-testid": "user-reset" }, h("div", { class: "notice form-error" }),
      field("password", "New password", h("input", { type: "password", autocomplete: "new-password" })),
      h("button", { type: "submit" }, "Set password and sign them out"), h("span", { class: "msg" }));
    pw.addEventListener("submit", async (e) => {
      e.preventDefault();
      const res = await api("POST", `/users/${encodeURIComponent(u.username)}/password`, { password: pw.elements.password.value });
      if (!res.ok) { showErrors(pw, res.data); return; }
      showErrors(pw, null); pw.elements.password.value = "";
      pw.querySelector(".msg").textContent = "Password set; their sessions ended.";
    });
    const bg = modal(`User ${u.username}`, h("div", {}, f, h("h3", {}, "Reset password"), pw));
  };
  const toggle = async (u, btn) => {
    const res = await api("PATCH", `/users/${encodeURIComponent(u.username)}`, { active: !u.active });
    if (!res.ok) { btn.after(h("span", { class: "error" }, " " + (res.data?.detail || "Failed"))); return; }
    usersPage();
  };
  const rows = (r.data || []).map((u) => h("tr", { "data-testid": "user-row" }, h("td", {}, u.username), h("td", {}, u.role), h("td", {}, u.store || "HQ"),
    h("td", {}, u.active ? h("span", { class: "badge ok" }, "active") : h("span", { class: "badge warn" }, "inactive")),
    h("td", {}, h("button", { onclick: () => edit(u) }, "Edit"), " ",
      h("button", { onclick: (e) => toggle(u, e.target), "data-testid": "user-toggle" }, u.active ? "Deactivate" : "Reactivate"))));
  // Roles: the built-in ones as they are, the chain's own editable.
  const perms = [...new Set(roles.flatMap((x) => x.permissions))].sort();
  const roleForm = h("form", { class: "card", "data-testid": "role-form" }, h("div", { class: "notice form-error" }),
    field("name", "Role name", h("input", { placeholder: "shift lead" })),
    h("div", { class: "field", "data-field": "permissions" }, h("label", {}, "Permissions"),
      h("div", { class: "checks" }, perms.map((p) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "perm", value: p }), " " + p))), h("div", { class: "error" })),
    h("button", { class: "primary", type: "submit" }, "Save role"));
  roleForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = roleForm.elements.name.value.trim().toLowerCase();
    const permissions = [...roleForm.querySelectorAll("input[name=perm]:checked")].map((x) => x.value);
    const exists = roles.some((x) => x.name === name && !x.built_in);
    const res = exists ? await api("PUT", `/roles/${encodeURIComponent(name)}`, { permissions }) : await api("POST", "/roles", { name, permissions });
    if (!res.ok) { showErrors(roleForm, res.data); return; }
    usersPage();
  });
  const pickRole = (x) => {
    roleForm.elements.name.value = x.name;
    roleForm.querySelectorAll("input[name=perm]").forEach((c) => { c.checked = x.permissions.includes(c.value); });
    roleForm.elements.name.focus();
  };
  const removeRole = async (x, btn) => {
    const res = await api("DELETE", `/roles/${encodeURIComponent(x.name)}`);
    if (!res.ok) { btn.after(h("span", { class: "error" }, " " + (res.data?.detail || "Failed"))); return; }
    usersPage();
  };
  const roleRows = roles.map((x) => h("tr", { "data-testid": "role-row" }, h("td", {}, x.name), h("td", {}, x.built_in ? "built-in" : "custom"), h("td", {}, x.permissions.join(", ")),
    h("td", {}, x.built_in ? null : [h("button", { onclick: () => pickRole(x) }, "Edit"), " ", h("button", { onclick: (e) => removeRole(x, e.target) }, "Delete")])));
  layout("Users", h("div", { class: "table-wrap" }, h("table", { "data-testid": "users-table" }, h("thead", {}, h("tr", {}, h("th", {}, "User"), h("th", {}, "Role"), h("th", {}, "Signs in at"), h("th", {}, "Status"), h("th", {}, ""))),
    h("tbody", {}, rows))),
    h("h2", {}, "New user"), form,
    h("h2", {}, "Roles"), h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Role"), h("th", {}, "Kind"), h("th", {}, "Permissions"), h("th", {}, ""))), h("tbody", {}, roleRows))),
    h("h3", {}, "Define or change a role"), roleForm);
}
