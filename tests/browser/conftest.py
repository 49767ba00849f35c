"""Browser tests of the web console (issue 14): Debian's chromium driven by
Playwright against a real `authzd serve` (gRPC and HTTP on port 0).

Never `playwright install`: scripts/test.sh installs chromium with apt-get."""

from __future__ import annotations

import base64
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from authzd.v1 import access_service_pb2, access_service_pb2_grpc, types_pb2
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.serving import ServeProcess, serve_env

ROOT = Path(__file__).resolve().parents[2]
# CI shares two cores with everything else: wait as long for assertions as for actions.
expect.set_options(timeout=15_000)
ADMIN = "admin"
ADMIN_PASSWORD = "admin-password-1"
ORG = "acme"
BUCKET = "telemetry"
SCREENSHOTS = Path(os.environ.get("AUTHZD_SCREENSHOTS", ROOT / "build" / "screenshots"))

# Collects CSP violations in the page (the event fires in the page's own world).
CSP_PROBE = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__reportCsp(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


class Authzd:
    """`authzd serve` on port 0 for gRPC and HTTP (tests/serving.py), with the
    calls the browser tests make around the page: HTTP and CheckAccess."""

    def __init__(self, tmp: Path) -> None:
        self.server = ServeProcess.start(
            ["--db", str(tmp / "authzd.db"), "--audit-log", "off"], serve_env(), ROOT)
        self.channel = grpc.insecure_channel(self.server.target)
        self.access = access_service_pb2_grpc.AccessServiceStub(self.channel)

    @property
    def base(self) -> str:
        return self.server.http_url

    def http(self, method: str, path: str, body: Any = None, token: str = "",
             basic: tuple[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
        """One plain HTTP call (as a non-browser client: no Origin header)."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Token {token}"
        if basic:
            raw = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            headers["Authorization"] = f"Basic {raw}"
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw_body = resp.read()
                status = resp.status
                got = dict(resp.headers.items())
        except urllib.error.HTTPError as err:
            raw_body = err.read()
            status = err.code
            got = dict(err.headers.items())
            err.close()
        lowered = {k.lower(): v for k, v in got.items()}
        payload: Any = None
        if raw_body and lowered.get("content-type", "").startswith("application/json"):
            payload = json.loads(raw_body)
        elif raw_body:
            payload = raw_body.decode("utf-8", "replace")
        return status, payload, lowered

    def api(self, method: str, path: str, token: str, body: Any = None) -> Any:
        status, payload, _ = self.http(method, path, body, token=token)
        assert 200 <= status < 300, (method, path, status, payload)
        return payload

    def check(self, token: str, action: int, rtype: int, org_id: str = "",
              rid: str = "") -> access_service_pb2.CheckAccessResponse:
        permission = types_pb2.Permission(
            action=action, resource=types_pb2.Resource(type=rtype, org_id=org_id, id=rid))
        return self.access.CheckAccess(
            access_service_pb2.CheckAccessRequest(token=token, permission=permission),
            timeout=10)

    def stop(self) -> None:
        self.channel.close()
        self.server.stop()


@dataclass
class Watch:
    """What the page did that it must not: CSP violations, uncaught errors, alerts."""

    csp: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def authzd(tmp_path: Path) -> Iterator[Authzd]:
    server = Authzd(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One chromium for tests/browser, closed before other packages' tests run
    (Playwright's sync API keeps an event loop of its own while it is open)."""
    executable = shutil.which("chromium")
    assert executable, "chromium is missing: scripts/test.sh installs it with apt-get"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def watch() -> Watch:
    return Watch()


def new_context(browser: Browser, authzd: Authzd, watch: Watch,
                width: int = 1280, height: int = 800) -> BrowserContext:
    ctx = browser.new_context(viewport={"width": width, "height": height})
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=authzd.base)
    ctx.expose_function("__reportCsp", lambda text: watch.csp.append(str(text)))
    ctx.add_init_script(CSP_PROBE)
    ctx.set_default_timeout(15_000)

    def on_page(page: Page) -> None:
        page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
        page.on("console", lambda msg: watch.console.append(f"{msg.type}: {msg.text}"))

        def on_dialog(dialog: Any) -> None:
            watch.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)

    ctx.on("page", on_page)
    return ctx


@pytest.fixture
def context(browser: Browser, authzd: Authzd, watch: Watch) -> Iterator[BrowserContext]:
    ctx = new_context(browser, authzd, watch)
    try:
        yield ctx
    finally:
        ctx.close()
    # Every test: no CSP violation, no uncaught error, no alert().
    csp_console = [m for m in watch.console if "Content Security Policy" in m]
    assert watch.csp == [] and csp_console == [], (watch.csp, csp_console)
    assert watch.errors == [], watch.errors
    assert watch.dialogs == [], watch.dialogs


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# -- flows shared by the tests ---------------------------------------------------


def setup_in_ui(page: Page, authzd: Authzd) -> str:
    """First run through the setup form; returns the Operator token shown once."""
    page.goto(authzd.base + "/")
    page.get_by_role("heading", name="Set up authzd").wait_for()
    form = page.locator("#setup-form")
    form.get_by_label("Username").fill(ADMIN)
    form.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    form.get_by_label("Password again").fill(ADMIN_PASSWORD)
    form.get_by_label("Organization").fill(ORG)
    form.get_by_label("Bucket").fill(BUCKET)
    form.get_by_role("button", name="Set up authzd").click()
    dialog = page.get_by_role("dialog", name="Your Operator token")
    dialog.wait_for()
    token = page.locator("#token-value").inner_text()
    dialog.get_by_role("button", name="I have copied it — close").click()
    page.get_by_role("heading", name="Tokens").wait_for()
    return token


def sign_in(page: Page, authzd: Authzd, username: str, password: str) -> None:
    page.goto(authzd.base + "/")
    page.get_by_role("heading", name="Sign in to authzd").wait_for()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Tokens").wait_for()


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot under build/screenshots (or $AUTHZD_SCREENSHOTS)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
