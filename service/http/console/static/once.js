// The token, shown once. It lives only in this dialog's DOM: never in storage, a
// URL or a variable that outlives the dialog; the dialog is removed on close.
import { h, modal } from "./dom.js";

export async function showTokenOnce(token, { title = "Token created", what = "" } = {}) {
  const code = h("code", { class: "token-value", id: "token-value", text: token });
  const status = h("p", { class: "copy-status", role: "status" });
  const copy = h("button", { type: "button", id: "copy-token", text: "Copy token" });
  const done = h("button", { type: "button", class: "secondary", id: "token-done",
    text: "I have copied it — close" });
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(code.textContent);
      status.textContent = "Copied to the clipboard.";
    } catch {
      const range = document.createRange();
      range.selectNodeContents(code);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = "Copy is blocked here: the token is selected, press Ctrl+C.";
    }
  });
  const body = h("div", { class: "once" },
    h("p", { class: "warning", role: "note" },
      h("strong", { text: "Copy this token now. " }),
      "It is shown only once: authzd keeps only a hash of it and cannot show it again."),
    what ? h("p", { text: what }) : null,
    h("div", { class: "token-box" }, code),
    status);
  const promise = modal({ title, body, actions: [copy, done], className: "token-dialog",
    onOpen: () => copy.focus() });
  const dialog = copy.closest("dialog");
  done.addEventListener("click", () => dialog.close("done"));
  await promise;
  code.textContent = "";
  window.getSelection().removeAllRanges();
}
