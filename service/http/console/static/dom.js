// DOM helpers. User-provided text is only ever set with textContent or as an
// attribute value: nothing here parses HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "text") {
      el.textContent = String(value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let uid = 0;
export function nextId(prefix = "f") {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A labelled field: <div class="field"><label/><input/><p class="field-error"/></div>.
export function field(label, control, { hint, name } = {}) {
  const id = control.id || nextId("f");
  control.id = id;
  const errorId = `${id}-error`;
  const error = h("p", { class: "field-error", id: errorId, hidden: true });
  const describedBy = [errorId];
  let hintEl = null;
  if (hint) {
    hintEl = h("p", { class: "hint", id: `${id}-hint`, text: hint });
    describedBy.push(`${id}-hint`);
  }
  control.setAttribute("aria-describedby", describedBy.join(" "));
  const wrap = h("div", { class: "field", dataset: { field: name || control.name || "" } },
    h("label", { for: id, text: label }), hintEl, control, error);
  return wrap;
}

export function setFieldError(form, fieldName, message) {
  const wrap = form.querySelector(`[data-field="${CSS.escape(fieldName)}"]`);
  if (!wrap) return false;
  const error = wrap.querySelector(".field-error");
  const control = wrap.querySelector("input, select, textarea");
  error.textContent = message;
  error.hidden = false;
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
  return true;
}

export function clearErrors(form) {
  for (const e of form.querySelectorAll(".field-error")) {
    e.textContent = "";
    e.hidden = true;
  }
  for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
  const banner = form.querySelector(".form-error");
  if (banner) {
    banner.textContent = "";
    banner.hidden = true;
  }
}

export function formError(form, message) {
  let banner = form.querySelector(".form-error");
  if (!banner) {
    banner = h("p", { class: "form-error", role: "alert" });
    form.prepend(banner);
  }
  banner.textContent = message;
  banner.hidden = false;
}

export function announce(message) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = "";
  // A separate task so screen readers notice the change.
  setTimeout(() => { live.textContent = message; }, 30);
}

const dateFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});

export function timeEl(iso, empty = "—") {
  if (!iso) return h("span", { class: "muted", text: empty });
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", { text: String(iso) });
  return h("time", { datetime: d.toISOString(), title: d.toISOString(), text: dateFormat.format(d) });
}

// A modal <dialog>; resolves with the value passed to close(). The dialog element
// is removed from the document when it closes.
export function modal({ title, body, actions, labelledBy, onOpen, className }) {
  const titleId = nextId("dlg");
  const dialog = h("dialog", { class: `modal ${className || ""}`, "aria-labelledby": labelledBy || titleId },
    h("h2", { id: titleId, text: title }), body, h("div", { class: "actions" }, actions));
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const value = dialog.returnValue;
      dialog.remove();
      resolve(value);
    }, { once: true });
    dialog.showModal();
    if (onOpen) onOpen(dialog);
  });
}

export async function confirmDialog({ title, message, confirmLabel, danger = true }) {
  const cancel = h("button", { type: "button", class: "secondary", text: "Cancel" });
  const ok = h("button", { type: "button", class: danger ? "danger" : "", text: confirmLabel });
  const promise = modal({ title, body: h("p", { text: message }), actions: [cancel, ok],
    onOpen: () => cancel.focus() });
  const dialog = ok.closest("dialog");
  cancel.addEventListener("click", () => dialog.close("cancel"));
  ok.addEventListener("click", () => dialog.close("ok"));
  return (await promise) === "ok";
}
