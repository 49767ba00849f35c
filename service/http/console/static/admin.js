// Orgs, buckets and users: lists with create / rename / delete (and set password).
// The server decides who may do what; its messages are shown next to the field.
import { api, messageOf } from "./api.js";
import { page, session } from "./app.js";
import { held, perm } from "./perms.js";
import { announce, clear, clearErrors, confirmDialog, field, formError, h, modal,
  setFieldError, timeEl } from "./dom.js";

function may(p) {
  return held(session.permissions, p);
}

function showError(form, err, fallbackField) {
  if (err.field && setFieldError(form, err.field, err.message)) return;
  if ([400, 409, 422].includes(err.status) && fallbackField
    && setFieldError(form, fallbackField, err.message)) return;
  formError(form, messageOf(err));
}

// A small dialog with one form; resolves when it closes.
async function formDialog({ title, fields, submitLabel, onSubmit }) {
  const submit = h("button", { type: "submit", text: submitLabel });
  const cancel = h("button", { type: "button", class: "secondary", text: "Cancel" });
  const form = h("form", { novalidate: true, method: "dialog" }, fields.map((f) => f.field));
  const promise = modal({ title, body: form, actions: [cancel, submit],
    onOpen: () => fields[0].control.focus() });
  const dialog = form.closest("dialog");
  // The submit button sits outside the form's subtree: wire it explicitly.
  submit.setAttribute("form", form.id = `form-${Math.random().toString(36).slice(2)}`);
  cancel.addEventListener("click", () => dialog.close("cancel"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    submit.disabled = true;
    try {
      await onSubmit(form);
      dialog.close("ok");
    } catch (err) {
      submit.disabled = false;
      showError(form, err, fields[0].control.name);
    }
  });
  return (await promise) === "ok";
}

function textField(label, name, value = "", attrs = {}) {
  const control = h("input", { name, value, ...attrs });
  return { control, field: field(label, control, { name }) };
}

// What to offer comes from the signed-in user's permissions (`canCreate`,
// `canEdit`); the server still decides, and its refusals are shown.
function listPage({ title, noun, load, columns, createFields, create, rename, remove, extraActions,
  canCreate, canEdit }) {
  return async function render() {
    const region = h("div", { class: "notices", role: "status" });
    const heading = page(title, region);
    const main = heading.parentElement;
    const items = await load();
    const form = h("form", { class: "card inline-form create", novalidate: true,
      "aria-label": `Create ${noun}`, id: `create-${noun}` });
    const fields = createFields();
    const submit = h("button", { type: "submit", text: `Create ${noun}` });
    form.append(...fields.map((f) => f.field), submit);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      clearErrors(form);
      try {
        const made = await create(form);
        announce(`Created ${noun} ${made && made.name ? made.name : ""}`);
        await render();
        region.append(h("p", { class: "ok", text: `Created ${noun}.` }));
      } catch (err) {
        showError(form, err, fields[0].control.name);
      }
    });

    const tbody = h("tbody", {}, items.map((item) => h("tr", { dataset: { id: item.id } },
      columns.map(([label, get], i) => (i === 0
        ? h("th", { scope: "row", "data-label": label }, get(item))
        : h("td", { "data-label": label }, get(item)))),
      h("td", { class: "row-actions" }, canEdit(item) ? [
        h("button", { type: "button", class: "secondary small", text: "Rename",
          "aria-label": `Rename ${item.name}`,
          onclick: async () => {
            const name = textField("New name", "name", item.name, { required: true });
            if (await formDialog({ title: `Rename ${noun} “${item.name}”`, fields: [name], submitLabel: "Rename",
              onSubmit: () => rename(item, name.control.value.trim()) })) await render();
          } }),
        extraActions ? extraActions(item, region, render) : null,
        h("button", { type: "button", class: "danger small", text: "Delete", "aria-label": `Delete ${item.name}`,
          onclick: async () => {
            if (!await confirmDialog({ title: `Delete ${noun}?`, confirmLabel: `Delete ${noun}`,
              message: `Delete the ${noun} “${item.name}”? ${remove.warning || ""}` })) return;
            try {
              await remove(item);
              await render();
              announce(`Deleted ${noun} ${item.name}`);
            } catch (err) {
              clear(region).append(h("p", { class: "form-error", role: "alert", text: messageOf(err) }));
            }
          } })] : h("span", { class: "muted", text: "view only" })))));
    const table = h("table", { class: "list", id: `${noun}s-table` },
      h("caption", { class: "visually-hidden", text: title }),
      h("thead", {}, h("tr", {}, columns.map(([label]) => h("th", { scope: "col", text: label })),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden", text: "Actions" })))),
      tbody);
    if (!items.length) tbody.append(h("tr", {}, h("td", { colspan: String(columns.length + 1), class: "empty",
      text: `No ${noun}s you can see.` })));
    main.append(canCreate() ? form : null, h("div", { class: "table-wrap" }, table));
    return heading;
  };
}

export const orgsPage = listPage({
  title: "Organizations",
  noun: "org",
  load: () => api.orgs(),
  columns: [["Name", (o) => o.name], ["Description", (o) => o.description || ""],
    ["ID", (o) => h("span", { class: "mono", text: o.id })], ["Created", (o) => timeEl(o.createdAt)]],
  createFields: () => [textField("Name", "name", "", { required: true })],
  create: (form) => api.createOrg({ name: form.elements.name.value.trim() }),
  canCreate: () => may(perm("write", "orgs")),
  canEdit: (o) => may(perm("write", "orgs", "", o.id)),
  rename: (o, name) => api.updateOrg(o.id, { name }),
  remove: Object.assign((o) => api.deleteOrg(o.id),
    { warning: "Its buckets and tokens are deleted too." }),
});

let bucketOrgs = [];
export const bucketsPage = listPage({
  title: "Buckets",
  noun: "bucket",
  load: async () => {
    const [buckets, orgs] = await Promise.all([api.buckets(), api.orgs()]);
    bucketOrgs = orgs;
    const names = new Map(orgs.map((o) => [o.id, o.name]));
    return buckets.map((b) => ({ ...b, orgName: names.get(b.orgID) || b.orgID }));
  },
  columns: [["Name", (b) => b.name], ["Org", (b) => b.orgName],
    ["ID", (b) => h("span", { class: "mono", text: b.id })], ["Created", (b) => timeEl(b.createdAt)]],
  createFields: () => {
    const org = h("select", { name: "orgID", required: true },
      bucketOrgs.filter((o) => may(perm("write", "buckets", o.id)))
        .map((o) => h("option", { value: o.id, text: o.name })));
    return [textField("Name", "name", "", { required: true }), { control: org, field: field("Org", org) }];
  },
  create: (form) => api.createBucket({ name: form.elements.name.value.trim(),
    orgID: form.elements.orgID.value, retentionRules: [] }),
  rename: (b, name) => api.updateBucket(b.id, { name }),
  canCreate: () => bucketOrgs.some((o) => may(perm("write", "buckets", o.id))),
  canEdit: (b) => may(perm("write", "buckets", b.orgID, b.id)),
  remove: Object.assign((b) => api.deleteBucket(b.id),
    { warning: "Tokens that name it keep a permission to a bucket that no longer exists." }),
});

export const usersPage = listPage({
  title: "Users",
  noun: "user",
  load: () => api.users(),
  columns: [["Name", (u) => h("span", {}, u.name, session.me && u.id === session.me.id
    ? h("span", { class: "badge", text: "you" }) : null)],
  ["Status", (u) => h("span", { class: `badge status-${u.status}`, text: u.status || "" })],
  ["ID", (u) => h("span", { class: "mono", text: u.id })]],
  createFields: () => [textField("Name", "name", "", { required: true, autocomplete: "off" }),
    textField("Password", "password", "", { type: "password", autocomplete: "new-password" })],
  create: async (form) => {
    const pw = form.elements.password;
    const password = pw.value;
    pw.value = "";
    const user = await api.createUser({ name: form.elements.name.value.trim(), status: "active" });
    if (password) {
      try {
        await api.setPassword(user.id, password);
      } catch (err) {
        err.message = `User created, but its password was refused: ${err.message}`;
        err.field = "password";
        throw err;
      }
    }
    return user;
  },
  rename: (u, name) => api.updateUser(u.id, { name }),
  canCreate: () => may(perm("write", "users")),
  canEdit: (u) => may(perm("write", "users", "", u.id)),
  remove: Object.assign((u) => api.deleteUser(u.id), { warning: "Its tokens and sessions are deleted too." }),
  extraActions: (u, region, render) => [
    h("button", { type: "button", class: "secondary small", text: "Set password",
      "aria-label": `Set password of ${u.name}`,
      onclick: async () => {
        const self = session.me && u.id === session.me.id;
        const pw = textField("New password", "password", "", { type: "password", autocomplete: "new-password",
          required: true });
        const old = self ? textField("Current password", "oldPassword", "", { type: "password",
          autocomplete: "current-password", required: true }) : null;
        const ok = await formDialog({ title: `Set the password of “${u.name}”`,
          fields: old ? [old, pw] : [pw],
          submitLabel: "Set password",
          onSubmit: async () => {
            const value = pw.control.value;
            const oldValue = old ? old.control.value : undefined;
            pw.control.value = "";
            if (old) old.control.value = "";
            await api.setPassword(u.id, value, oldValue);
          } });
        if (ok) clear(region).append(h("p", { class: "ok", text: `Password of ${u.name} set.` }));
      } }),
    h("button", { type: "button", class: "secondary small",
      text: u.status === "inactive" ? "Activate" : "Deactivate",
      "aria-label": `${u.status === "inactive" ? "Activate" : "Deactivate"} ${u.name}`,
      onclick: async () => {
        try {
          await api.updateUser(u.id, { status: u.status === "inactive" ? "active" : "inactive" });
          await render();
        } catch (err) {
          clear(region).append(h("p", { class: "form-error", role: "alert", text: messageOf(err) }));
        }
      } }),
  ],
});
