"""The tokens page with 1,000 tokens: server-side pages (limit + links.next),
a client-side page of 50 rows, filters and sorting over all of them. The time to
render (from navigation start to the table's first page in the DOM, fetches
included) is written to build/console-bench.json for the README's benchmark row;
it is measured, not asserted."""

from __future__ import annotations

import json
import statistics

from playwright.sync_api import Page, expect

from tests.browser.conftest import ROOT, Authzd, setup_in_ui

COUNT = 1000


def test_a_thousand_tokens(page: Page, authzd: Authzd) -> None:
    operator = setup_in_ui(page, authzd)
    org = authzd.api("GET", "/api/v2/orgs?org=acme", operator)["orgs"][0]
    for i in range(COUNT):
        authzd.api("POST", "/api/v2/authorizations", operator, {
            "orgID": org["id"], "description": f"svc-{i:04d}",
            "permissions": [{"action": "read", "resource": {"type": "buckets",
                                                            "orgID": org["id"]}}]})
    # The API pages: two requests of at most 1,000 (limit), chained by links.next.
    first = authzd.api("GET", "/api/v2/authorizations?limit=1000", operator)
    assert len(first["authorizations"]) == 1000
    assert first["links"]["next"].startswith("/api/v2/authorizations?")

    first_page, timings = [], []
    for _ in range(3):
        page.goto("about:blank")
        page.goto(authzd.base + "/#/tokens")
        summary = page.locator("#tokens-summary")
        expect(summary).to_have_text(f"1–50 of {COUNT + 1} tokens · page 1 of 21",
                                     timeout=30_000)
        first_page.append(page.evaluate(
            "performance.getEntriesByName('authzd:tokens-rendered').at(-1).startTime"))
        timings.append(page.evaluate(
            "performance.getEntriesByName('authzd:tokens-complete').at(-1).startTime"))
    rows = page.locator("#tokens-table tbody tr")
    expect(rows).to_have_count(50)
    expect(summary).to_have_text(f"1–50 of {COUNT + 1} tokens · page 1 of 21")
    page.get_by_role("button", name="Next page").click()
    expect(summary).to_have_text(f"51–100 of {COUNT + 1} tokens · page 2 of 21")

    # Sort by description (ascending), then filter by free text.
    page.get_by_role("button", name="Description").click()
    expect(rows.first.locator("th")).to_contain_text("admin's Token")
    expect(page.locator("th[aria-sort=ascending]")).to_have_count(1)
    page.get_by_role("button", name="Description").click()
    expect(rows.first.locator("th")).to_contain_text("svc-0999")
    page.get_by_label("Search").fill("svc-012")
    expect(rows).to_have_count(10)
    expect(summary).to_have_text("1–10 of 10 tokens · page 1 of 1")

    out = ROOT / "build" / "console-bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"tokens": COUNT + 1, "render_ms": [round(t, 1) for t in timings],
              "median_ms": round(statistics.median(timings), 1),
              "first_page_median_ms": round(statistics.median(first_page), 1)}
    out.write_text(json.dumps(result) + "\n")
    print(f"console tokens page, {COUNT + 1} tokens: {result['median_ms']} ms to the whole "
          f"list, {result['first_page_median_ms']} ms to the first server page")
