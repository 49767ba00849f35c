"""Orgs, buckets and users pages, the server's refusals shown where they belong
(next to the field, or at the top), and colour contrast (WCAG AA)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import ORG, Authzd, setup_in_ui

# Contrast of every visible text against its effective background (WCAG 2.x).
CONTRAST = """
() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || !el.checkVisibility()) continue;
    if (el.closest(".visually-hidden, [disabled], option, select")) continue;
    const s = getComputedStyle(el);
    const fg = parse(s.color).slice(0, 3);
    const [l1, l2] = [lum(fg), lum(background(el))].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      bad.push(`${n.textContent.trim().slice(0, 30)}: ${ratio.toFixed(2)}`);
    }
  }
  return bad;
}
"""


def test_orgs_buckets_users_pages(page: Page, authzd: Authzd) -> None:
    setup_in_ui(page, authzd)

    # Orgs: create, a taken name shown next to the field, rename, delete.
    page.get_by_role("link", name="Orgs").click()
    form = page.locator("#create-org")
    form.get_by_label("Name").fill("globex")
    form.get_by_role("button", name="Create org").click()
    table = page.locator("#orgs-table")
    expect(table.locator("tbody tr")).to_have_count(2)
    form = page.locator("#create-org")
    form.get_by_label("Name").fill(ORG)
    form.get_by_role("button", name="Create org").click()
    error = form.locator(".field-error")
    expect(error).to_be_visible()
    assert ORG in error.inner_text()
    expect(form.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Rename globex").click()
    dialog = page.get_by_role("dialog", name="Rename org “globex”")
    dialog.get_by_label("New name").fill("initech")
    dialog.get_by_role("button", name="Rename").click()
    expect(table).to_contain_text("initech")
    page.get_by_role("button", name="Delete initech").click()
    confirm = page.get_by_role("dialog", name="Delete org?")
    expect(confirm).to_contain_text("“initech”")
    confirm.get_by_role("button", name="Delete org").click()
    expect(page.locator("#orgs-table tbody tr")).to_have_count(1)

    # Buckets: create in an org, rename, delete.
    page.get_by_role("link", name="Buckets").click()
    form = page.locator("#create-bucket")
    form.get_by_label("Name").fill("metrics")
    form.get_by_role("button", name="Create bucket").click()
    rows = page.locator("#buckets-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#buckets-table")).to_contain_text("metrics")
    page.get_by_role("button", name="Rename metrics").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New name").fill("metrics-v2")
    dialog.get_by_label("New name").press("Enter")
    expect(page.locator("#buckets-table")).to_contain_text("metrics-v2")
    page.get_by_role("button", name="Delete metrics-v2").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete bucket").click()
    expect(rows).to_have_count(1)

    # Users: create with a password (a too-short one is refused next to the field).
    page.get_by_role("link", name="Users").click()
    form = page.locator("#create-user")
    form.get_by_label("Name").fill("carol")
    form.get_by_label("Password").fill("carol-password-1")
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("#users-table tbody tr")).to_have_count(2)
    assert authzd.http("POST", "/api/v2/signin", basic=("carol", "carol-password-1"))[0] == 204
    page.get_by_role("button", name="Set password of carol").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New password").fill("short")
    dialog.get_by_role("button", name="Set password").click()
    expect(dialog.locator(".field-error")).to_be_visible()
    assert dialog.get_by_label("New password").input_value() == ""
    dialog.get_by_label("New password").fill("carol-password-2")
    dialog.get_by_role("button", name="Set password").click()
    expect(page.locator(".ok")).to_have_text("Password of carol set.")
    assert authzd.http("POST", "/api/v2/signin", basic=("carol", "carol-password-2"))[0] == 204
    page.get_by_role("button", name="Deactivate carol").click()
    expect(page.locator("#users-table")).to_contain_text("inactive")
    page.get_by_role("button", name="Delete carol").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete user").click()
    expect(page.locator("#users-table tbody tr")).to_have_count(1)


def test_server_refusals_are_shown_not_blank(page: Page, authzd: Authzd) -> None:
    setup_in_ui(page, authzd)
    # The last Operator token cannot be deactivated: the server says why.
    switch = page.get_by_role("switch", name="Active: admin's Token")
    switch.click()
    notice = page.locator(".notices .form-error")
    expect(notice).to_be_visible()
    assert "Traceback" not in notice.inner_text() and notice.inner_text()
    expect(switch).to_have_attribute("aria-checked", "true")
    # Nor deleted.
    page.locator("#tokens-table tbody tr").first.locator("summary").click()
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete token").click()
    expect(page.locator(".notices .form-error")).to_be_visible()
    expect(page.locator("#tokens-table tbody tr")).to_have_count(1)

    # A token that does not exist: the server's "not found", not a blank page.
    page.goto(authzd.base + "/#/tokens/0123456789abcdef")
    page.get_by_role("heading", name="Not found").wait_for()
    expect(page.get_by_role("alert")).not_to_be_empty()
    page.goto(authzd.base + "/#/nowhere")
    page.get_by_role("heading", name="Page not found").wait_for()


def test_colour_contrast_meets_aa(page: Page, authzd: Authzd) -> None:
    setup_in_ui(page, authzd)
    for path, ready in (("/#/tokens", "#tokens-table"), ("/#/tokens/new", "#create-form"),
                        ("/#/orgs", "#orgs-table"), ("/#/users", "#users-table")):
        page.goto(authzd.base + path)
        page.locator(ready).wait_for()
        page.wait_for_timeout(200)
        assert page.evaluate(CONTRAST) == [], path
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to authzd").wait_for()
    assert page.evaluate(CONTRAST) == []
