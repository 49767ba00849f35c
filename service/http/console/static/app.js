// authzd web console: boot, routing, sign-in, first-run setup.
import { api, messageOf } from "./api.js";
import { announce, clear, clearErrors, field, formError, h, setFieldError } from "./dom.js";
import { showTokenOnce } from "./once.js";
import { tokensPage, tokenDetailPage, tokenCreatePage } from "./tokens.js";
import { orgsPage, bucketsPage, usersPage } from "./admin.js";

const main = document.getElementById("main");
const top = document.getElementById("top");

export const session = {
  me: null,
  permissions: [],
};

// Effective permissions of the signed-in user, used only to hide choices it cannot
// make: the API's own list if it gives one, else the union of its active tokens.
async function loadPermissions() {
  const me = session.me;
  if (Array.isArray(me.permissions)) {
    session.permissions = me.permissions;
    return;
  }
  const now = Date.now();
  let own = [];
  try {
    own = await api.authorizations({ userID: me.id });
  } catch {
    own = [];
  }
  session.permissions = own
    .filter((a) => a.status === "active" && (!a.expiresAt || Date.parse(a.expiresAt) > now))
    .flatMap((a) => a.permissions || []);
}

function setTitle(title) {
  document.title = title ? `${title} · authzd` : "authzd";
}

export function page(title, ...children) {
  clear(main);
  setTitle(title);
  const heading = h("h1", { text: title, tabindex: "-1" });
  main.append(heading, ...children);
  return heading;
}

function markNav(name) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function signedIn() {
  try {
    session.me = await api.me();
  } catch (err) {
    if (err.status === 401) return false;
    throw err;
  }
  await loadPermissions();
  top.hidden = false;
  document.getElementById("who").textContent = session.me.name || "";
  return true;
}

function signinPage(message) {
  top.hidden = true;
  session.me = null;
  const username = h("input", { name: "username", autocomplete: "username", required: true,
    autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { name: "password", type: "password",
    autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", text: "Sign in" });
  const form = h("form", { class: "card narrow", id: "signin-form", novalidate: true },
    field("Username", username), field("Password", password), submit);
  if (message) formError(form, message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const user = username.value.trim();
    const pass = password.value;
    // The password does not stay in the page after submit, whatever happens.
    password.value = "";
    if (!user || !pass) {
      formError(form, "Enter your username and password.");
      (user ? password : username).focus();
      return;
    }
    submit.disabled = true;
    try {
      await api.signin(user, pass);
    } catch (err) {
      submit.disabled = false;
      const text = err.status === 429
        ? "Too many attempts. Wait a minute, then try again."
        : err.status === 401 || err.status === 403
          ? "Sign-in failed: the username or password is not right, or there were too many "
            + "attempts. Wait a moment, then try again."
          : messageOf(err);
      formError(form, text);
      password.focus();
      return;
    }
    await start(true);
  });
  const heading = page("Sign in to authzd", form);
  main.classList.add("centered");
  username.focus();
  return heading;
}

function setupPage() {
  top.hidden = true;
  const username = h("input", { name: "username", autocomplete: "username", required: true,
    autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password",
    required: true, minlength: "8" });
  const password2 = h("input", { name: "password2", type: "password",
    autocomplete: "new-password", required: true });
  const org = h("input", { name: "org", required: true });
  const bucket = h("input", { name: "bucket", required: true });
  const submit = h("button", { type: "submit", text: "Set up authzd" });
  const form = h("form", { class: "card narrow", id: "setup-form", novalidate: true },
    h("p", { text: "Welcome. Create the first user, organization and bucket. "
      + "The user gets the Operator token, which can do everything." }),
    field("Username", username), field("Password", password, { hint: "8 to 256 characters." }),
    field("Password again", password2, { name: "password2" }),
    field("Organization", org), field("Bucket", bucket), submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const values = { username: username.value.trim(), password: password.value,
      org: org.value.trim(), bucket: bucket.value.trim() };
    const again = password2.value;
    password.value = "";
    password2.value = "";
    for (const name of ["username", "password", "org", "bucket"]) {
      if (!values[name]) {
        setFieldError(form, name, "Required.");
        return;
      }
    }
    if (values.password !== again) {
      setFieldError(form, "password2", "The two passwords differ.");
      password.focus();
      return;
    }
    submit.disabled = true;
    let result;
    try {
      result = await api.setup(values);
    } catch (err) {
      submit.disabled = false;
      if (!(err.field && setFieldError(form, err.field, err.message))) formError(form, messageOf(err));
      return;
    }
    let signedInOk = true;
    try {
      await api.signin(values.username, values.password);
    } catch {
      signedInOk = false;
    }
    values.password = "";
    const token = result && result.auth && result.auth.token;
    if (token) {
      await showTokenOnce(token, {
        title: "Your Operator token",
        what: "This token can do everything on this authzd instance.",
      });
    }
    await start(signedInOk);
  });
  page("Set up authzd", form);
  main.classList.add("centered");
  username.focus();
}

const routes = [
  [/^#\/tokens\/new$/, () => tokenCreatePage(), "tokens"],
  [/^#\/tokens\/([0-9a-f]{16})$/, (m) => tokenDetailPage(m[1]), "tokens"],
  [/^#\/orgs$/, () => orgsPage(), "orgs"],
  [/^#\/buckets$/, () => bucketsPage(), "buckets"],
  [/^#\/users$/, () => usersPage(), "users"],
  [/^#\/tokens$/, () => tokensPage(), "tokens"],
];

let routing = 0;
async function route() {
  if (!session.me) return;
  main.classList.remove("centered");
  const hash = location.hash || "#/tokens";
  const ticket = ++routing;
  for (const [re, render, nav] of routes) {
    const m = hash.match(re);
    if (m) {
      markNav(nav);
      try {
        const heading = await render(m);
        if (ticket === routing && heading && document.activeElement === document.body) {
          heading.focus();
        }
      } catch (err) {
        if (ticket !== routing) return;
        if (err.status === 401) return;
        const title = err.status === 404 ? "Not found"
          : err.status === 403 ? "Not allowed" : "Something went wrong";
        page(title, h("p", { class: "form-error", role: "alert", text: messageOf(err) }),
          h("p", {}, h("a", { href: "#/tokens", text: "Back to tokens" })));
      }
      return;
    }
  }
  markNav("");
  page("Page not found", h("p", {}, h("a", { href: "#/tokens", text: "Back to tokens" })));
}

export function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function start(afterSignin = false) {
  try {
    if (await api.setupAllowed()) {
      setupPage();
      return;
    }
    if (await signedIn()) {
      if (afterSignin) announce(`Signed in as ${session.me.name}`);
      if (!location.hash || location.hash === "#/") history.replaceState(null, "", "#/tokens");
      await route();
      // After sign-in, focus the page's heading unless the user has moved on.
      const heading = main.querySelector("h1");
      const idle = !document.activeElement || document.activeElement === document.body;
      if (afterSignin && heading && idle) heading.focus();
      return;
    }
    signinPage();
  } catch (err) {
    top.hidden = true;
    page("authzd is not answering", h("p", { role: "alert", text: messageOf(err) }),
      h("button", { type: "button", text: "Try again", onclick: () => start() }));
  }
}

api.onUnauthorized = () => {
  if (session.me) signinPage("Your session has ended. Sign in again.");
};

document.getElementById("signout").addEventListener("click", async () => {
  try {
    await api.signout();
  } catch {
    // Signed out either way, as far as this page is concerned.
  }
  session.me = null;
  session.permissions = [];
  history.replaceState(null, "", "#/");
  signinPage();
  announce("Signed out");
});

window.addEventListener("hashchange", route);
start();
