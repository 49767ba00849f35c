"""Every page at desktop width and at 375 px: screenshots under build/screenshots
(scripts/console_screenshots.py copies two of them to docs/ for the README), and
at 375 px nothing is wider than the screen."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page

from tests.browser.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    ROOT,
    Authzd,
    Watch,
    new_context,
    setup_in_ui,
    shot,
    sign_in,
)

SIZES = {"desktop": (1280, 800), "narrow": (375, 740)}


def no_horizontal_scroll(page: Page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")


def capture(page: Page, name: str, size: str) -> None:
    page.mouse.move(0, 0)  # no hover state in the pictures
    page.wait_for_timeout(100)  # let focus rings and fonts settle
    path = shot(page, f"{name}-{size}")
    assert path.stat().st_size > 5_000, path
    if size == "narrow":
        assert no_horizontal_scroll(page), f"{name} scrolls sideways at 375 px"


def test_screenshots_of_every_page(browser: Browser, authzd: Authzd, watch: Watch,
                                   page: Page) -> None:
    # The setup page and the Operator token, shown once, at both sizes.
    page.goto(authzd.base + "/")
    page.get_by_role("heading", name="Set up authzd").wait_for()
    capture(page, "setup", "desktop")
    page.set_viewport_size({"width": 375, "height": 740})
    capture(page, "setup", "narrow")
    page.set_viewport_size({"width": 1280, "height": 800})
    operator = setup_in_ui(page, authzd)

    org = authzd.api("GET", "/api/v2/orgs?org=acme", operator)["orgs"][0]
    bucket = authzd.api("GET", f"/api/v2/buckets?orgID={org['id']}", operator)["buckets"][0]
    for name in ("edge-eu", "edge-us", "billing"):
        authzd.api("POST", "/api/v2/buckets", operator,
                   {"orgID": org["id"], "name": name, "retentionRules": []})
    authzd.api("POST", "/api/v2/orgs", operator, {"name": "globex"})
    bob = authzd.api("POST", "/api/v2/users", operator, {"name": "bob", "status": "active"})
    made = authzd.api("POST", "/api/v2/authorizations", operator, {
        "orgID": org["id"], "description": "ingest service (Read/Write telemetry)",
        "permissions": [
            {"action": a, "resource": {"type": "buckets", "orgID": org["id"], "id": bucket["id"]}}
            for a in ("read", "write")]})
    authzd.api("POST", "/api/v2/authorizations", operator, {
        "orgID": org["id"], "userID": bob["id"], "preset": "all-access",
        "description": "bob's all-access", "expiresAt": "2027-06-30T00:00:00Z"})
    old = authzd.api("POST", "/api/v2/authorizations", operator, {
        "orgID": org["id"], "description": "grafana dashboards (read)",
        "permissions": [{"action": "read", "resource": {"type": "buckets", "orgID": org["id"]}},
                        {"action": "read", "resource": {"type": "dashboards",
                                                        "orgID": org["id"]}}]})
    authzd.api("PATCH", f"/api/v2/authorizations/{old['id']}", operator, {"status": "inactive"})

    pages = {
        "tokens": ("/#/tokens", "#tokens-table"),
        "token-detail": (f"/#/tokens/{made['id']}", "#perms-table"),
        "token-create": ("/#/tokens/new", "#create-form"),
        "orgs": ("/#/orgs", "#orgs-table"),
        "buckets": ("/#/buckets", "#buckets-table"),
        "users": ("/#/users", "#users-table"),
    }
    for size, (width, height) in SIZES.items():
        ctx = new_context(browser, authzd, watch, width, height)
        try:
            p = ctx.new_page()
            p.goto(authzd.base + "/")
            p.get_by_role("heading", name="Sign in to authzd").wait_for()
            capture(p, "signin", size)
            sign_in(p, authzd, ADMIN, ADMIN_PASSWORD)
            for name, (path, ready) in pages.items():
                p.goto(authzd.base + path)
                p.locator(ready).wait_for()
                if name == "token-create":
                    p.get_by_label("Organization").select_option(label="acme")
                    p.get_by_label("Read edge-eu", exact=True).check()
                    p.get_by_label("Write edge-eu", exact=True).check()
                    p.get_by_label("Description").fill("edge collector")
                capture(p, name, size)
            p.goto(authzd.base + "/#/tokens/new")
            p.locator("#create-form").wait_for()
            p.get_by_label("Organization").select_option(label="acme")
            p.get_by_label("Read billing", exact=True).check()
            p.get_by_role("button", name="Create token").click()
            p.get_by_role("dialog", name="Token created").wait_for()
            capture(p, "token-shown-once", size)
            p.get_by_role("button", name="I have copied it — close").click()
            p.locator("#perms-table").wait_for()
        finally:
            ctx.close()


def test_readme_shows_two_committed_screenshots() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Web console", 1)[1].split("\n## ", 1)[0]
    pictures = re.findall(r"docs/console-[\w-]+\.png", section)
    assert len(set(pictures)) == 2
    for picture in pictures:
        data = (ROOT / picture).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, picture
