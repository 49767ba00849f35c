// Tokens: the list (home), one token's detail, and the create form.
import { api, messageOf } from "./api.js";
import { page, session, go } from "./app.js";
import { announce, clear, clearErrors, confirmDialog, field, formError, h, nextId,
  setFieldError, timeEl } from "./dom.js";
import { showTokenOnce } from "./once.js";
import { KIND_LABEL, TYPES, groupPermissions, held, kindOf, perm, permText } from "./perms.js";

const PAGE_SIZES = [25, 50, 100];

function describe(a) {
  return a.description || `Token ${a.tokenHint ? `${a.tokenHint}…` : a.id}`;
}

function isExpired(a) {
  return Boolean(a.expiresAt) && Date.parse(a.expiresAt) <= Date.now();
}

function kindBadge(a) {
  const kind = kindOf(a);
  const n = (a.permissions || []).length;
  return h("span", { class: `badge kind-${kind}` },
    KIND_LABEL[kind] || kind, h("span", { class: "count", text: ` · ${n}` }),
    h("span", { class: "visually-hidden", text: n === 1 ? " permission" : " permissions" }));
}

function notice(region, message, kind = "error") {
  clear(region);
  if (!message) return;
  region.append(h("p", { class: kind === "error" ? "form-error" : "ok", text: message }));
  if (kind !== "error") announce(message);
}

// Activate / deactivate; resolves to the updated token or null.
async function setStatus(a, status, region) {
  try {
    const updated = await api.updateAuthorization(a.id, { status });
    notice(region, `${describe(a)} is now ${status}.`, "ok");
    return updated || { ...a, status };
  } catch (err) {
    notice(region, messageOf(err));
    return null;
  }
}

async function removeToken(a, region) {
  const ok = await confirmDialog({
    title: "Delete token?",
    message: `Delete the token “${describe(a)}”? Services using it lose access at once. `
      + "This cannot be undone.",
    confirmLabel: "Delete token",
  });
  if (!ok) return false;
  try {
    await api.deleteAuthorization(a.id);
    notice(region, `Deleted “${describe(a)}”.`, "ok");
    return true;
  } catch (err) {
    notice(region, messageOf(err));
    return false;
  }
}

function statusSwitch(a, region, onChange) {
  const active = a.status === "active";
  const btn = h("button", {
    type: "button", role: "switch", class: "switch", "aria-checked": String(active),
    "aria-label": `Active: ${describe(a)}`, dataset: { id: a.id },
  }, h("span", { class: "switch-track", "aria-hidden": "true" }),
  h("span", { class: "switch-text", text: active ? "Active" : "Inactive" }));
  btn.addEventListener("click", async () => {
    btn.disabled = true;
    const updated = await setStatus(a, btn.getAttribute("aria-checked") === "true" ? "inactive" : "active", region);
    btn.disabled = false;
    if (updated) {
      a.status = updated.status;
      btn.setAttribute("aria-checked", String(a.status === "active"));
      btn.querySelector(".switch-text").textContent = a.status === "active" ? "Active" : "Inactive";
      if (onChange) onChange(a);
    }
    btn.focus();
  });
  return btn;
}

const COLUMNS = [
  ["description", "Description", (a) => describe(a).toLowerCase()],
  ["kind", "Kind", (a) => kindOf(a)],
  ["org", "Org", (a) => (a.org || a.orgID || "").toLowerCase()],
  ["user", "Owner", (a) => (a.user || a.userID || "").toLowerCase()],
  ["status", "Status", (a) => a.status],
  ["createdAt", "Created", (a) => a.createdAt || ""],
  ["lastUsedAt", "Last used", (a) => a.lastUsedAt || ""],
  ["expiresAt", "Expires", (a) => a.expiresAt || "~"],
];

export async function tokensPage() {
  const region = h("div", { class: "notices", role: "status" });
  const heading = page("Tokens",
    h("p", { class: "toolbar" }, h("a", { class: "button", href: "#/tokens/new", id: "new-token",
      text: "Create token" })),
    region, h("p", { class: "loading", text: "Loading tokens…" }));
  // The first server page (1,000 tokens) is shown at once; later pages are added
  // as they arrive.
  const all = [];
  let complete = false;
  let onMore = () => {};
  let firstPage;
  const firstArrived = new Promise((resolve) => { firstPage = resolve; });
  const loading = api.authorizations({}, {
    onPage: (items, done) => {
      all.push(...items);
      complete = done;
      firstPage();
      onMore();
    },
  });
  loading.catch(() => firstPage());
  const [orgs, users] = await Promise.all([
    api.orgs().catch(() => []),
    api.users().catch(() => []),
    firstArrived,
  ]);
  if (!all.length && !complete) await loading; // the first page failed: show why
  const main = heading.parentElement;
  main.querySelector(".loading")?.remove();

  const state = { sort: "createdAt", dir: -1, pageNo: 0, size: 50 };
  const orgSel = h("select", { name: "org" }, h("option", { value: "", text: "All orgs" }),
    orgs.map((o) => h("option", { value: o.id, text: o.name })));
  const ownerNames = new Map(users.map((u) => [u.id, u.name]));
  for (const a of all) if (a.userID && !ownerNames.has(a.userID)) ownerNames.set(a.userID, a.user || a.userID);
  const userSel = h("select", { name: "user" }, h("option", { value: "", text: "All users" }),
    [...ownerNames].map(([id, name]) => h("option", { value: id, text: name })));
  const statusSel = h("select", { name: "status" }, h("option", { value: "", text: "Any status" }),
    h("option", { value: "active", text: "Active" }), h("option", { value: "inactive", text: "Inactive" }),
    h("option", { value: "expired", text: "Expired" }));
  const text = h("input", { type: "search", name: "q", placeholder: "Search descriptions" });
  const sizeSel = h("select", { name: "size" },
    PAGE_SIZES.map((n) => h("option", { value: String(n), text: `${n} per page`, selected: n === 50 })));
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter tokens" },
    field("Search", text), field("Org", orgSel), field("Owner", userSel),
    field("Status", statusSel), field("Rows", sizeSel));
  filters.addEventListener("submit", (e) => e.preventDefault());

  const thead = h("thead");
  const tbody = h("tbody");
  const table = h("table", { class: "tokens", id: "tokens-table" },
    h("caption", { class: "visually-hidden", text: "Tokens you can see" }), thead, tbody);
  const summary = h("p", { class: "summary", role: "status", id: "tokens-summary" });
  const prev = h("button", { type: "button", class: "secondary", text: "Previous page" });
  const next = h("button", { type: "button", class: "secondary", text: "Next page" });
  const pager = h("nav", { class: "pager", "aria-label": "Pages" }, prev, summary, next);

  function filtered() {
    const q = text.value.trim().toLowerCase();
    const st = statusSel.value;
    const rows = all.filter((a) => (!orgSel.value || a.orgID === orgSel.value)
      && (!userSel.value || a.userID === userSel.value)
      && (!st || (st === "expired" ? isExpired(a) : a.status === st))
      && (!q || (a.description || "").toLowerCase().includes(q)));
    const key = COLUMNS.find((c) => c[0] === state.sort)[2];
    rows.sort((x, y) => {
      const kx = key(x);
      const ky = key(y);
      return (kx < ky ? -1 : kx > ky ? 1 : 0) * state.dir || (x.id < y.id ? -1 : 1);
    });
    return rows;
  }

  function renderHead() {
    clear(thead);
    thead.append(h("tr", {}, COLUMNS.map(([key, label]) => {
      const sorted = state.sort === key;
      const btn = h("button", { type: "button", class: "sort", dataset: { sort: key } }, label,
        h("span", { "aria-hidden": "true", text: sorted ? (state.dir > 0 ? " ▲" : " ▼") : "" }));
      btn.addEventListener("click", () => {
        if (state.sort === key) state.dir = -state.dir;
        else { state.sort = key; state.dir = 1; }
        state.pageNo = 0;
        renderHead();
        renderBody();
        thead.querySelector(`[data-sort="${key}"]`).focus();
      });
      return h("th", { scope: "col", "aria-sort": sorted ? (state.dir > 0 ? "ascending" : "descending") : "none" }, btn);
    }), h("th", { scope: "col" }, h("span", { class: "visually-hidden", text: "Actions" }))));
  }

  function row(a) {
    const expired = isExpired(a);
    const menu = h("details", { class: "menu" },
      h("summary", { "aria-label": `Actions for ${describe(a)}` }, "⋯"),
      h("ul", {},
        h("li", {}, h("a", { href: `#/tokens/${a.id}`, text: "Details" })),
        h("li", {}, h("button", { type: "button", class: "link", text: a.status === "active" ? "Deactivate" : "Activate",
          onclick: async () => {
            const updated = await setStatus(a, a.status === "active" ? "inactive" : "active", region);
            if (updated) { a.status = updated.status; renderBody(); }
          } })),
        h("li", {}, h("button", { type: "button", class: "link danger-text", text: "Delete",
          onclick: async () => {
            if (await removeToken(a, region)) {
              all.splice(all.indexOf(a), 1);
              renderBody();
            }
          } }))));
    return h("tr", { dataset: { id: a.id } },
      h("th", { scope: "row", class: "desc" }, h("a", { href: `#/tokens/${a.id}`, text: describe(a) }),
        a.tokenHint ? h("span", { class: "hint mono", text: `${a.tokenHint}…` }) : null),
      h("td", { "data-label": "Kind" }, kindBadge(a)),
      h("td", { "data-label": "Org", text: a.org || a.orgID || "" }),
      h("td", { "data-label": "Owner", text: a.user || ownerNames.get(a.userID) || a.userID || "" }),
      h("td", { "data-label": "Status" }, statusSwitch(a, region)),
      h("td", { "data-label": "Created" }, timeEl(a.createdAt)),
      h("td", { "data-label": "Last used" }, timeEl(a.lastUsedAt, "never")),
      h("td", { "data-label": "Expires" }, a.expiresAt ? timeEl(a.expiresAt) : h("span", { class: "muted", text: "never" }),
        expired ? h("span", { class: "badge expired", text: "expired" }) : null),
      h("td", { class: "actions-cell" }, menu));
  }

  function renderBody() {
    const rows = filtered();
    const pages = Math.max(1, Math.ceil(rows.length / state.size));
    state.pageNo = Math.min(state.pageNo, pages - 1);
    const start = state.pageNo * state.size;
    const shown = rows.slice(start, start + state.size);
    const frag = document.createDocumentFragment();
    for (const a of shown) frag.append(row(a));
    clear(tbody).append(frag);
    if (!shown.length) {
      tbody.append(h("tr", {}, h("td", { colspan: String(COLUMNS.length + 1), class: "empty",
        text: all.length ? "No token matches these filters." : "No tokens yet." })));
    }
    summary.textContent = (rows.length
      ? `${start + 1}–${start + shown.length} of ${rows.length} tokens · page ${state.pageNo + 1} of ${pages}`
      : "0 tokens") + (complete ? "" : " · loading more…");
    prev.disabled = state.pageNo === 0;
    next.disabled = state.pageNo >= pages - 1;
  }

  prev.addEventListener("click", () => { state.pageNo -= 1; renderBody(); });
  next.addEventListener("click", () => { state.pageNo += 1; renderBody(); });
  for (const el of [orgSel, userSel, statusSel, sizeSel]) {
    el.addEventListener("change", () => { state.size = Number(sizeSel.value); state.pageNo = 0; renderBody(); });
  }
  text.addEventListener("input", () => { state.pageNo = 0; renderBody(); });

  // One row menu open at a time; Escape or a click elsewhere closes it.
  table.addEventListener("toggle", (e) => {
    if (!e.target.open) return;
    for (const d of table.querySelectorAll("details.menu[open]")) if (d !== e.target) d.open = false;
  }, true);
  table.addEventListener("keydown", (e) => {
    const menu = e.target.closest && e.target.closest("details.menu[open]");
    if (e.key === "Escape" && menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", (e) => {
    for (const d of table.querySelectorAll("details.menu[open]")) if (!d.contains(e.target)) d.open = false;
  });
  main.append(filters, h("div", { class: "table-wrap" }, table), pager);
  renderHead();
  renderBody();
  // For the benchmark row (tests/browser/test_many_tokens.py): time to the first
  // table, and to the table over every token.
  performance.mark("authzd:tokens-rendered");
  if (complete) performance.mark("authzd:tokens-complete");
  onMore = () => {
    if (!tbody.isConnected) return;
    renderBody();
    if (complete) performance.mark("authzd:tokens-complete");
  };
  loading.catch((err) => notice(region, messageOf(err)));
  return heading;
}

export async function tokenDetailPage(id) {
  const [a, buckets, orgs] = await Promise.all([api.authorization(id),
    api.buckets().catch(() => []), api.orgs().catch(() => [])]);
  const names = new Map(buckets.map((b) => [b.id, b.name]));
  const orgNames = new Map(orgs.map((o) => [o.id, o.name]));
  const region = h("div", { class: "notices", role: "status" });
  const heading = page(describe(a), region);
  const main = heading.parentElement;

  const info = h("dl", { class: "facts" },
    h("dt", { text: "Kind" }), h("dd", {}, kindBadge(a)),
    h("dt", { text: "Status" }), h("dd", {}, statusSwitch(a, region)),
    h("dt", { text: "Org" }), h("dd", { text: a.org || a.orgID || "" }),
    h("dt", { text: "Owner" }), h("dd", { text: a.user || a.userID || "" }),
    h("dt", { text: "Token starts with" }), h("dd", { class: "mono", text: a.tokenHint ? `${a.tokenHint}…` : "—" }),
    h("dt", { text: "ID" }), h("dd", { class: "mono", text: a.id }),
    h("dt", { text: "Created" }), h("dd", {}, timeEl(a.createdAt)),
    h("dt", { text: "Updated" }), h("dd", {}, timeEl(a.updatedAt)),
    h("dt", { text: "Last used" }), h("dd", {}, timeEl(a.lastUsedAt, "never")),
    h("dt", { text: "Expires" }), h("dd", {}, a.expiresAt ? timeEl(a.expiresAt) : "never",
      isExpired(a) ? h("span", { class: "badge expired", text: "expired" }) : null));

  const desc = h("input", { name: "description", value: a.description || "", maxlength: "1000" });
  const save = h("button", { type: "submit", text: "Save description" });
  const descForm = h("form", { class: "inline-form", novalidate: true }, field("Description", desc), save);
  descForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(descForm);
    try {
      await api.updateAuthorization(a.id, { description: desc.value });
      a.description = desc.value;
      heading.textContent = describe(a);
      notice(region, "Description saved.", "ok");
    } catch (err) {
      if (!setFieldError(descForm, err.field || "description", err.message)) formError(descForm, messageOf(err));
    }
  });

  const groups = groupPermissions(a.permissions, names, orgNames);
  // One row per resource type and scope; read and write in their own columns,
  // each mark carrying the permission's text form (hover, focus, screen readers).
  const mark = (text, act) => (text
    ? h("code", { class: `perm perm-${act}`, title: text, tabindex: "0", "aria-label": text },
      h("span", { "aria-hidden": "true" }, "✓", h("span", { class: "mark-word", text: ` ${act}` })))
    : h("span", { class: "muted", "aria-label": `no ${act}`, text: "—" }));
  const permRows = [...groups].sort((x, y) => x[0].localeCompare(y[0])).flatMap(([type, rows]) =>
    [...rows.values()].map((r, i) => h("tr", { class: i === 0 ? "group-start" : "" },
      h("th", { scope: "row", text: i === 0 ? type : "", "aria-label": type }),
      h("td", { text: r.scope }),
      h("td", { class: "mark" }, mark(r.read, "read")),
      h("td", { class: "mark" }, mark(r.write, "write")))));
  const permsTable = h("table", { class: "perms", id: "perms-table" },
    h("caption", { text: `${(a.permissions || []).length} permissions, by resource type` }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Resource type" }),
      h("th", { scope: "col", text: "Scope" }), h("th", { scope: "col", text: "Read" }),
      h("th", { scope: "col", text: "Write" }))),
    h("tbody", {}, permRows));
  const copyAll = h("button", { type: "button", class: "secondary", text: "Copy permissions as text" });
  copyAll.addEventListener("click", async () => {
    const text = (a.permissions || []).map(permText).join("\n");
    try {
      await navigator.clipboard.writeText(text);
      notice(region, "Permissions copied.", "ok");
    } catch {
      notice(region, "The clipboard is blocked here.");
    }
  });

  const del = h("button", { type: "button", class: "danger", id: "delete-token", text: "Delete token" });
  del.addEventListener("click", async () => {
    if (await removeToken(a, region)) go("#/tokens");
  });

  main.append(
    h("p", {}, h("a", { href: "#/tokens", text: "← All tokens" })),
    h("section", { class: "card", "aria-label": "About this token" }, info, descForm),
    h("section", { class: "card", "aria-labelledby": "perm-h" },
      h("h2", { id: "perm-h", text: "Permissions" }), h("div", { class: "table-wrap" }, permsTable), copyAll),
    h("section", { class: "card danger-zone", "aria-labelledby": "danger-h" },
      h("h2", { id: "danger-h", text: "Delete" }),
      h("p", { text: "Services using this token lose access at once." }), del));
  return heading;
}

const CUSTOM_TYPES = TYPES.filter((t) => t !== "instance");

export async function tokenCreatePage() {
  const heading = page("Create token", h("p", { class: "loading", text: "Loading…" }));
  const main = heading.parentElement;
  const [orgs, users] = await Promise.all([api.orgs(), api.users().catch(() => [])]);
  main.querySelector(".loading")?.remove();
  const me = session.me;
  const mine = session.permissions;
  if (!users.some((u) => u.id === me.id)) users.unshift({ id: me.id, name: me.name });
  const canOperator = held(mine, perm("write", "instance")) && held(mine, perm("read", "instance"));

  const kinds = [["readwrite", "Read/Write", "Read and/or write specific buckets of one org."],
    ["allaccess", "All-Access", "Everything in one org (45 permissions)."],
    ["custom", "Custom", "Pick read/write per resource type."]];
  if (canOperator) kinds.push(["operator", "Operator", "Everything, in every org, and the instance itself."]);
  const kindGroup = h("fieldset", { class: "kinds" }, h("legend", { text: "Kind of token" }),
    kinds.map(([value, label, hint], i) => {
      const id = nextId("kind");
      return h("div", { class: "radio" },
        h("input", { type: "radio", name: "kind", id, value, checked: i === 0, "aria-describedby": `${id}-d` }),
        h("label", { for: id, text: label }), h("span", { class: "hint", id: `${id}-d`, text: hint }));
    }));

  const orgSel = h("select", { name: "orgID", required: true },
    orgs.map((o) => h("option", { value: o.id, text: o.name })));
  const userSel = h("select", { name: "userID" },
    users.map((u) => h("option", { value: u.id, text: u.name, selected: u.id === me.id })));
  const desc = h("input", { name: "description", maxlength: "1000" });
  const expSel = h("select", { name: "expires" },
    [["", "Never"], ["7", "In 7 days"], ["30", "In 30 days"], ["90", "In 90 days"], ["date", "On a date…"]]
      .map(([v, t]) => h("option", { value: v, text: t })));
  const expDate = h("input", { type: "date", name: "expiresAt" });
  const expDateField = field("Expiry date", expDate, { name: "expiresAt" });
  expDateField.hidden = true;
  expSel.addEventListener("change", () => { expDateField.hidden = expSel.value !== "date"; });

  const grid = h("div", { class: "grid-area" });
  const custom = h("div", { class: "custom-area", hidden: true });
  const submit = h("button", { type: "submit", id: "create-submit", text: "Create token" });
  const form = h("form", { class: "card", id: "create-form", novalidate: true },
    kindGroup, field("Organization", orgSel, { name: "orgID" }),
    field("Owner", userSel, { name: "userID", hint: "The user the token acts for." }),
    grid, custom,
    field("Description", desc, { hint: "Optional. Say which service uses it." }),
    field("Expires", expSel, { name: "expires" }), expDateField,
    h("div", { class: "actions" }, submit, h("a", { href: "#/tokens", class: "button secondary", text: "Cancel" })));

  let bucketsOfOrg = [];
  function kind() {
    return form.querySelector("input[name=kind]:checked").value;
  }

  function checkbox(name, label, attrs = {}) {
    const id = nextId("cb");
    return h("span", { class: "check" }, h("input", { type: "checkbox", id, name, ...attrs }),
      h("label", { for: id, text: label }));
  }

  function renderGrid() {
    clear(grid);
    const orgID = orgSel.value;
    const offer = (act, id) => held(mine, perm(act, "buckets", orgID, id));
    const rows = bucketsOfOrg.map((b) => h("tr", {}, h("th", { scope: "row", text: b.name }),
      ["read", "write"].map((act) => h("td", {}, offer(act, b.id)
        ? h("input", { type: "checkbox", name: `${act}-bucket`, value: b.id,
          "aria-label": `${act === "read" ? "Read" : "Write"} ${b.name}` })
        : h("span", { class: "muted", text: "—", title: "You do not hold this permission" })))));
    const allRow = h("tr", { class: "all-row" }, h("th", { scope: "row", text: "All buckets (now and later)" }),
      ["read", "write"].map((act) => h("td", {}, offer(act)
        ? h("input", { type: "checkbox", name: `${act}-all`, "aria-label": `${act === "read" ? "Read" : "Write"} all buckets` })
        : h("span", { class: "muted", text: "—" }))));
    const table = h("table", { class: "bucket-grid", id: "bucket-grid" },
      h("caption", { text: "Buckets" }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Bucket" }), h("th", { scope: "col", text: "Read" }),
        h("th", { scope: "col", text: "Write" }))),
      h("tbody", {}, allRow, rows));
    table.addEventListener("change", (e) => {
      const t = e.target;
      if (t.name === "read-all" || t.name === "write-all") {
        const act = t.name.split("-")[0];
        for (const cb of table.querySelectorAll(`input[name="${act}-bucket"]`)) {
          cb.checked = t.checked;
          cb.disabled = t.checked;
        }
      }
    });
    grid.append(h("div", { class: "field", dataset: { field: "permissions" } },
      h("div", { class: "table-wrap" }, table),
      h("p", { class: "field-error", hidden: true })));
    if (!bucketsOfOrg.length) grid.append(h("p", { class: "hint", text: "This org has no bucket you can see." }));
  }

  function renderCustom() {
    clear(custom);
    const orgID = orgSel.value;
    const rows = CUSTOM_TYPES.map((type) => h("tr", {}, h("th", { scope: "row", text: type }),
      ["read", "write"].map((act) => h("td", {}, held(mine, perm(act, type, orgID))
        ? h("input", { type: "checkbox", name: `custom-${act}`, value: type, "aria-label": `${act} ${type}` })
        : h("span", { class: "muted", text: "—", title: "You do not hold this permission" })))));
    custom.append(h("div", { class: "field", dataset: { field: "custom" } },
      h("div", { class: "table-wrap" }, h("table", { class: "custom-grid", id: "custom-grid" },
        h("caption", { text: "Resource types (all of them in the org)" }),
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Resource type" }),
          h("th", { scope: "col", text: "Read" }), h("th", { scope: "col", text: "Write" }))),
        h("tbody", {}, rows))),
      h("p", { class: "field-error", hidden: true })));
    custom.append(h("p", { class: "hint", text: "For specific buckets, tick them in the bucket grid above as well." }));
  }

  async function loadBuckets() {
    bucketsOfOrg = orgSel.value ? await api.buckets({ orgID: orgSel.value }).catch(() => []) : [];
    renderGrid();
    renderCustom();
  }

  function showForKind() {
    const k = kind();
    grid.hidden = !(k === "readwrite" || k === "custom");
    custom.hidden = k !== "custom";
    orgSel.closest(".field").hidden = k === "operator" && orgs.length <= 1;
  }

  kindGroup.addEventListener("change", showForKind);
  orgSel.addEventListener("change", loadBuckets);

  function permissionsFor(k) {
    const orgID = orgSel.value;
    const ps = [];
    for (const act of ["read", "write"]) {
      const all = form.querySelector(`input[name="${act}-all"]`);
      if (all && all.checked) ps.push(perm(act, "buckets", orgID));
      else {
        for (const cb of form.querySelectorAll(`input[name="${act}-bucket"]:checked`)) {
          ps.push(perm(act, "buckets", orgID, cb.value));
        }
      }
    }
    if (k === "custom") {
      for (const act of ["read", "write"]) {
        for (const cb of form.querySelectorAll(`input[name="custom-${act}"]:checked`)) {
          if (cb.value === "buckets" && ps.some((p) => p.action === act && !p.resource.id)) continue;
          if (cb.value === "buckets") {
            for (let i = ps.length - 1; i >= 0; i -= 1) {
              if (ps[i].action === act && ps[i].resource.type === "buckets") ps.splice(i, 1);
            }
          }
          ps.push(perm(act, cb.value, orgID));
        }
      }
    }
    return ps;
  }

  function expiresAt() {
    const v = expSel.value;
    if (!v) return undefined;
    if (v === "date") {
      if (!expDate.value) return null;
      return new Date(`${expDate.value}T23:59:59`).toISOString();
    }
    return new Date(Date.now() + Number(v) * 86400000).toISOString();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors(form);
    const k = kind();
    const body = { orgID: orgSel.value, userID: userSel.value };
    if (desc.value.trim()) body.description = desc.value.trim();
    const exp = expiresAt();
    if (exp === null) {
      setFieldError(form, "expiresAt", "Pick a date, or choose another expiry.");
      return;
    }
    if (exp) body.expiresAt = exp;
    if (k === "operator") body.preset = "operator";
    else if (k === "allaccess") body.preset = "all-access";
    else {
      body.permissions = permissionsFor(k);
      if (!body.permissions.length) {
        setFieldError(form, k === "custom" ? "custom" : "permissions", "Tick at least one permission.");
        form.querySelector("#bucket-grid input, #custom-grid input")?.focus();
        return;
      }
    }
    submit.disabled = true;
    let created;
    try {
      created = await api.createAuthorization(body);
    } catch (err) {
      submit.disabled = false;
      if (!(err.field && setFieldError(form, err.field, err.message))) formError(form, messageOf(err));
      form.querySelector(".form-error")?.focus?.();
      return;
    }
    const token = created.token;
    created.token = undefined;
    await showTokenOnce(token, { title: "Token created", what: `“${describe(created)}” is ready.` });
    go(`#/tokens/${created.id}`);
  });

  main.append(form);
  await loadBuckets();
  showForKind();
  return heading;
}
