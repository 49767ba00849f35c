"""The console's main flows in a real browser against a real `authzd serve`:
setup, sign-in, a Read/Write token from creation to deletion with gRPC
CheckAccess in between, what an All-Access user sees, the XSS probe, and
keyboard-only creation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from authzd.v1 import access_service_pb2, types_pb2
from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    ADMIN,
    ADMIN_PASSWORD,
    BUCKET,
    ORG,
    Authzd,
    setup_in_ui,
    sign_in,
)

R, W = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
BUCKETS = types_pb2.RESOURCE_TYPE_BUCKETS
ALLOWED = access_service_pb2.DECISION_REASON_ALLOWED
NO_MATCH = access_service_pb2.DECISION_REASON_NO_MATCHING_PERMISSION
INACTIVE = access_service_pb2.DECISION_REASON_TOKEN_INACTIVE
UNKNOWN = access_service_pb2.DECISION_REASON_TOKEN_UNKNOWN
TOKEN_RE = re.compile(r"^azt_[0-9A-Za-z]{49}$")


def ids(authzd: Authzd, token: str) -> tuple[str, str, str]:
    """(org id, telemetry bucket id, a second bucket's id) via the HTTP API."""
    org = authzd.api("GET", f"/api/v2/orgs?org={ORG}", token)["orgs"][0]
    bucket = authzd.api("GET", f"/api/v2/buckets?orgID={org['id']}&name={BUCKET}",
                        token)["buckets"][0]
    other = authzd.api("POST", "/api/v2/buckets", token,
                       {"orgID": org["id"], "name": "other", "retentionRules": []})
    return org["id"], bucket["id"], other["id"]


def storage_is_empty(page: Page) -> bool:
    return page.evaluate("localStorage.length === 0 && sessionStorage.length === 0")


def test_setup_then_read_write_token_lifecycle(page: Page, authzd: Authzd) -> None:
    operator = setup_in_ui(page, authzd)
    assert TOKEN_RE.match(operator)
    status, body, _ = authzd.http("GET", "/api/v2/setup")
    assert body == {"allowed": False}
    org_id, bucket_id, other_id = ids(authzd, operator)

    # Signed in by setup; sign out, then back in.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to authzd").wait_for()
    sign_in(page, authzd, ADMIN, ADMIN_PASSWORD)
    assert page.locator("#who").inner_text() == ADMIN
    expect(page.locator("#tokens-table tbody tr")).to_have_count(1)
    expect(page.locator("#tokens-table tbody tr").first).to_contain_text("Operator · 46")

    # Create a Read/Write token for the telemetry bucket.
    page.get_by_role("link", name="Create token").click()
    page.locator("#create-form").wait_for()
    # The Operator holds every permission: all four kinds are offered.
    kinds = page.locator("fieldset.kinds label").all_inner_texts()
    assert kinds == ["Read/Write", "All-Access", "Custom", "Operator"]
    page.get_by_label("Read/Write").check()
    page.get_by_label(f"Read {BUCKET}", exact=True).check()
    page.get_by_label(f"Write {BUCKET}", exact=True).check()
    page.get_by_label("Description").fill("ingest service")
    page.get_by_role("button", name="Create token").click()
    dialog = page.get_by_role("dialog", name="Token created")
    dialog.wait_for()
    expect(dialog).to_contain_text("shown only once")
    shown = page.locator("#token-value").inner_text()
    assert TOKEN_RE.match(shown)
    dialog.get_by_role("button", name="Copy token").click()
    expect(dialog.get_by_role("status")).to_have_text("Copied to the clipboard.")
    token = page.evaluate("navigator.clipboard.readText()")
    assert token == shown
    dialog.get_by_role("button", name="I have copied it — close").click()
    page.get_by_role("heading", name="ingest service").wait_for()
    # Gone from the page, the URL and storage once the dialog is closed.
    assert page.locator("dialog").count() == 0
    assert token not in page.content()
    assert token not in page.url
    assert storage_is_empty(page)

    # The detail page names the bucket and shows the text form.
    perms = page.locator("#perms-table")
    expect(perms).to_contain_text(f"{BUCKET} ({bucket_id})")
    expect(perms.locator("code.perm-read")).to_have_attribute(
        "title", f"read:orgs/{org_id}/buckets/{bucket_id}")
    expect(perms.locator("code.perm-write")).to_have_attribute(
        "title", f"write:orgs/{org_id}/buckets/{bucket_id}")

    # Edit the description.
    page.get_by_label("Description").fill("ingest service v2")
    page.get_by_role("button", name="Save description").click()
    page.get_by_role("heading", name="ingest service v2").wait_for()
    page.get_by_label("Description").fill("ingest service")
    page.get_by_role("button", name="Save description").click()
    page.get_by_role("heading", name="ingest service", exact=True).wait_for()
    stored = authzd.api("GET", "/api/v2/authorizations", operator)["authorizations"]
    assert sorted(a["description"] for a in stored) == ["admin's Token", "ingest service"]

    # gRPC CheckAccess: allowed on its bucket, denied on another.
    for action in (R, W):
        got = authzd.check(token, action, BUCKETS, org_id, bucket_id)
        assert got.allowed and got.reason == ALLOWED
        got = authzd.check(token, action, BUCKETS, org_id, other_id)
        assert not got.allowed and got.reason == NO_MATCH

    # Deactivate in the UI: the next check is TOKEN_INACTIVE.
    switch = page.get_by_role("switch", name="Active: ingest service")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(page.locator(".notices")).to_contain_text("ingest service is now inactive.")
    got = authzd.check(token, R, BUCKETS, org_id, bucket_id)
    assert not got.allowed and got.reason == INACTIVE

    # The list shows it inactive; filter by status; activate again from the row menu.
    page.get_by_role("link", name="← All tokens").click()
    page.locator("#tokens-table").wait_for()
    page.get_by_label("Status").select_option("inactive")
    rows = page.locator("#tokens-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ingest service")
    expect(rows.first).to_contain_text("Inactive")
    page.get_by_label("Status").select_option("")
    page.get_by_label("Search").fill("ingest")
    expect(rows).to_have_count(1)
    rows.first.locator("summary").click()
    rows.first.get_by_role("button", name="Activate").click()
    expect(page.locator(".notices")).to_contain_text("ingest service is now active.")
    assert authzd.check(token, R, BUCKETS, org_id, bucket_id).reason == ALLOWED

    # Delete, with a confirmation that names the token.
    rows.first.get_by_role("link", name="ingest service").click()
    page.get_by_role("button", name="Delete token").click()
    confirm = page.get_by_role("dialog", name="Delete token?")
    expect(confirm).to_contain_text("“ingest service”")
    confirm.get_by_role("button", name="Delete token").click()
    page.get_by_role("heading", name="Tokens").wait_for()
    page.get_by_label("Search").fill("")
    expect(page.locator("#tokens-table tbody tr")).to_have_count(1)
    got = authzd.check(token, R, BUCKETS, org_id, bucket_id)
    assert not got.allowed and got.reason == UNKNOWN
    assert storage_is_empty(page)


def test_sign_in_failure_is_one_calm_message_and_keeps_no_password(
        page: Page, authzd: Authzd) -> None:
    setup_in_ui(page, authzd)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to authzd").wait_for()
    for user in (ADMIN, "nobody"):
        page.get_by_label("Username").fill(user)
        page.get_by_label("Password").fill("wrong-password-9")
        page.get_by_role("button", name="Sign in").click()
        alert = page.get_by_role("alert")
        # Unknown user, wrong password and throttling all answer the same 401.
        expect(alert).to_have_text(
            "Sign-in failed: the username or password is not right, or there were too many "
            "attempts. Wait a moment, then try again.")
        assert page.get_by_label("Password").input_value() == ""
    assert "wrong-password-9" not in page.content()
    # A signed-out visitor sees only the sign-in page, whatever the URL says.
    page.goto(authzd.base + "/#/users")
    page.get_by_role("heading", name="Sign in to authzd").wait_for()
    assert page.locator("#top").is_hidden()


def test_all_access_user_sees_no_operator_option_and_no_other_org(
        page: Page, authzd: Authzd) -> None:
    operator = setup_in_ui(page, authzd)
    acme = authzd.api("GET", f"/api/v2/orgs?org={ORG}", operator)["orgs"][0]
    other = authzd.api("POST", "/api/v2/orgs", operator, {"name": "globex"})
    alice = authzd.api("POST", "/api/v2/users", operator, {"name": "alice", "status": "active"})
    authzd.api("POST", f"/api/v2/users/{alice['id']}/password", operator,
               {"password": "alice-password-1"})
    authzd.api("POST", "/api/v2/authorizations", operator,
               {"orgID": acme["id"], "userID": alice["id"], "preset": "all-access",
                "description": "alice all-access"})
    authzd.api("POST", "/api/v2/authorizations", operator,
               {"orgID": other["id"], "preset": "all-access", "description": "globex admin"})
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to authzd").wait_for()
    sign_in(page, authzd, "alice", "alice-password-1")

    rows = page.locator("#tokens-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("alice all-access")
    expect(rows.first).to_contain_text("All-Access · 45")
    table = page.locator("#tokens-table").inner_text()
    assert "globex" not in table and "admin's Token" not in table
    assert page.get_by_label("Org", exact=True).locator("option").all_inner_texts() == [
        "All orgs", ORG]

    page.get_by_role("link", name="Create token").click()
    page.locator("#create-form").wait_for()
    kinds = page.locator("fieldset.kinds label").all_inner_texts()
    assert kinds == ["Read/Write", "All-Access", "Custom"]
    assert page.get_by_label("Organization").locator("option").all_inner_texts() == [ORG]
    # Custom offers only what alice holds org-wide: 21 types (not instance, and not
    # orgs: All-Access reads her org itself, not orgs/O/orgs).
    offered = page.locator("#custom-grid input[name=custom-read]")
    expect(offered).to_have_count(21)
    values = [offered.nth(i).get_attribute("value") for i in range(21)]
    assert "buckets" in values and not {"instance", "orgs"} & set(values)

    # An All-Access token made by alice works in her org only.
    page.get_by_label("All-Access").check()
    page.get_by_label("Description").fill("alice second")
    page.get_by_label("Expires").select_option(label="In 7 days")
    page.get_by_role("button", name="Create token").click()
    dialog = page.get_by_role("dialog", name="Token created")
    token = page.locator("#token-value").inner_text()
    dialog.get_by_role("button", name="I have copied it — close").click()
    page.get_by_role("heading", name="alice second").wait_for()
    assert authzd.check(token, R, BUCKETS, acme["id"]).allowed
    assert not authzd.check(token, R, BUCKETS, other["id"]).allowed
    made = [a for a in authzd.api("GET", "/api/v2/authorizations", operator)["authorizations"]
            if a["description"] == "alice second"]
    assert len(made) == 1 and made[0]["kind"] == "all-access"
    assert made[0]["userID"] == alice["id"] and made[0]["orgID"] == acme["id"]
    expires = datetime.fromisoformat(made[0]["expiresAt"])
    assert abs(expires - datetime.now(UTC) - timedelta(days=7)) < timedelta(minutes=5)

    # Pages offer only what alice may do: her org is view only, no org or user to
    # create; she may create buckets in her org and rename herself.
    page.get_by_role("link", name="Orgs").click()
    page.get_by_role("heading", name="Organizations").wait_for()
    expect(page.locator("#orgs-table tbody tr")).to_have_count(1)
    expect(page.locator("#orgs-table tbody tr").first).to_contain_text("view only")
    assert page.locator("#create-org").count() == 0
    page.get_by_role("link", name="Buckets").click()
    page.locator("#create-bucket").wait_for()
    assert page.locator("#create-bucket select option").all_inner_texts() == [ORG]
    expect(page.get_by_role("button", name=f"Rename {BUCKET}")).to_be_visible()
    page.get_by_role("link", name="Users").click()
    page.get_by_role("heading", name="Users").wait_for()
    assert page.locator("#create-user").count() == 0
    expect(page.locator("#users-table tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Rename alice")).to_be_visible()


XSS = "<img src=x onerror=alert(1)>"


def test_xss_probe_runs_nothing(page: Page, authzd: Authzd) -> None:
    setup_in_ui(page, authzd)
    page.get_by_role("link", name="Orgs").click()
    page.get_by_role("heading", name="Organizations").wait_for()
    form = page.locator("#create-org")
    form.get_by_label("Name").fill(XSS)
    form.get_by_role("button", name="Create org").click()
    expect(page.locator("#orgs-table")).to_contain_text(XSS)

    page.get_by_role("link", name="Buckets").click()
    page.get_by_role("heading", name="Buckets").wait_for()
    form = page.locator("#create-bucket")
    form.get_by_label("Name").fill(XSS)
    form.get_by_label("Org").select_option(label=XSS)
    form.get_by_role("button", name="Create bucket").click()
    expect(page.locator("#buckets-table")).to_contain_text(XSS)

    page.get_by_role("link", name="Tokens").click()
    page.get_by_role("link", name="Create token").click()
    page.locator("#create-form").wait_for()
    page.get_by_label("Organization").select_option(label=XSS)
    page.get_by_label(f"Read {XSS}", exact=True).check()
    page.get_by_label("Description").fill(XSS)
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("button", name="I have copied it — close").click()
    page.get_by_role("heading", name=XSS).wait_for()
    expect(page.locator("#perms-table")).to_contain_text(XSS)
    page.get_by_role("link", name="← All tokens").click()
    expect(page.locator("#tokens-table")).to_contain_text(XSS)
    page.get_by_label("Org", exact=True).select_option(label=XSS)
    expect(page.locator("#tokens-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Users").click()
    page.get_by_role("heading", name="Users").wait_for()

    # The text is text: no element was made from it, no handler ran.
    assert page.locator("img").count() == 0
    page.wait_for_timeout(300)
    # (the `context` fixture also asserts that no alert() fired and no CSP violation)


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches selector."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def focus_is_visible(page: Page) -> bool:
    return page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; }")


def test_keyboard_only_sign_in_and_token_creation(page: Page, authzd: Authzd) -> None:
    setup_in_ui(page, authzd)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to authzd").wait_for()

    # The username field has focus on arrival.
    assert page.evaluate("document.activeElement.name") == "username"
    page.keyboard.type(ADMIN)
    page.keyboard.press("Tab")
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Tokens").wait_for()
    expect(page.locator("#tokens-table tbody tr")).to_have_count(1)

    tab_to(page, "#new-token")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    page.locator("#bucket-grid").wait_for()
    tab_to(page, "input[name=kind][value=readwrite]")
    assert page.evaluate("document.activeElement.checked")
    tab_to(page, "input[name=read-bucket]")
    page.keyboard.press("Space")
    assert focus_is_visible(page)
    tab_to(page, "input[name=description]")
    page.keyboard.type("keyboard made")
    tab_to(page, "input[name=read-bucket], #create-submit")
    if page.evaluate("document.activeElement.id") != "create-submit":
        tab_to(page, "#create-submit")
    page.keyboard.press("Enter")

    # The dialog opens with focus on Copy; Enter copies, Tab + Enter closes.
    page.get_by_role("dialog", name="Token created").wait_for()
    assert page.evaluate("document.activeElement.id") == "copy-token"
    shown = page.locator("#token-value").inner_text()
    page.keyboard.press("Enter")
    expect(page.locator(".copy-status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == shown
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "token-done"
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="keyboard made").wait_for()
    assert page.locator("dialog").count() == 0

    title = page.locator("#perms-table code.perm-read").get_attribute("title") or ""
    _, org_id, _, bucket_id = title.removeprefix("read:").split("/")
    got = authzd.check(shown, R, BUCKETS, org_id, bucket_id)
    assert got.allowed and got.reason == ALLOWED


def test_escape_closes_the_token_dialog_and_the_token_leaves_the_page(
        page: Page, authzd: Authzd) -> None:
    page.goto(authzd.base + "/")
    form = page.locator("#setup-form")
    form.get_by_label("Username").fill(ADMIN)
    form.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    form.get_by_label("Password again").fill(ADMIN_PASSWORD + "x")
    form.get_by_label("Organization").fill(ORG)
    form.get_by_label("Bucket").fill(BUCKET)
    form.get_by_role("button", name="Set up authzd").click()
    # Mismatched passwords: said next to the field; both password fields emptied.
    expect(form.locator("[data-field=password2] .field-error")).to_have_text(
        "The two passwords differ.")
    assert form.get_by_label("Password", exact=True).input_value() == ""
    assert authzd.http("GET", "/api/v2/setup")[1] == {"allowed": True}
    form.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    form.get_by_label("Password again").fill(ADMIN_PASSWORD)
    form.get_by_role("button", name="Set up authzd").click()
    page.get_by_role("dialog", name="Your Operator token").wait_for()
    token = page.locator("#token-value").inner_text()
    assert TOKEN_RE.match(token)
    page.keyboard.press("Escape")
    page.get_by_role("heading", name="Tokens").wait_for()
    assert page.locator("dialog").count() == 0
    assert token not in page.content()
    assert ADMIN_PASSWORD not in page.content()
    assert storage_is_empty(page)


def test_an_ended_session_returns_to_sign_in(page: Page, authzd: Authzd) -> None:
    setup_in_ui(page, authzd)
    page.context.clear_cookies()
    page.get_by_role("link", name="Users").click()
    page.get_by_role("heading", name="Sign in to authzd").wait_for()
    expect(page.get_by_role("alert")).to_have_text("Your session has ended. Sign in again.")
    sign_in(page, authzd, ADMIN, ADMIN_PASSWORD)
