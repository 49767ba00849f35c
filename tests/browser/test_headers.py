"""Security headers on every console response, and pages that need no
'unsafe-inline' or eval: checked on the wire and in the shipped files."""

from __future__ import annotations

import re

from service.http import console
from tests.browser.conftest import Authzd

STATIC_FILES = sorted(p.name for p in console.STATIC.iterdir())


def directives(csp: str) -> dict[str, str]:
    out = {}
    for part in csp.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def test_every_console_response_carries_the_security_headers(authzd: Authzd) -> None:
    paths = ["/", *[f"/console/{name}" for name in STATIC_FILES], "/console/missing.js"]
    for path in paths:
        status, _, headers = authzd.http("GET", path)
        assert status == (404 if path.endswith("missing.js") else 200), path
        csp = directives(headers["content-security-policy"])
        assert csp["default-src"] == "'none'"
        assert csp["script-src"] == "'self'"
        assert csp["style-src"] == "'self'"
        assert csp["frame-ancestors"] == "'none'"
        assert csp["base-uri"] == "'none'"
        assert "unsafe" not in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"


def test_modules_are_served_as_javascript(authzd: Authzd) -> None:
    _, _, headers = authzd.http("GET", "/console/app.js")
    assert headers["content-type"].split(";")[0] in {"text/javascript", "application/javascript"}
    _, _, headers = authzd.http("GET", "/console/app.css")
    assert headers["content-type"].startswith("text/css")
    _, _, headers = authzd.http("GET", "/")
    assert headers["content-type"].startswith("text/html")
    assert headers["cache-control"] == "no-store"


def test_the_page_has_no_inline_script_or_style() -> None:
    html = (console.TEMPLATES / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/console/' in attrs and not body.strip()
                           for attrs, body in scripts)
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "<style" not in html


def test_modules_never_parse_html_or_keep_secrets() -> None:
    for name in STATIC_FILES:
        if not name.endswith(".js"):
            continue
        text = (console.STATIC / name).read_text()
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                       "eval(", "new Function", "localStorage", "sessionStorage",
                       "setAttribute(\"style\"", ".style."):
            assert banned not in text, f"{name} uses {banned}"


def test_framing_and_mime_sniffing_refused_for_the_api_too(authzd: Authzd) -> None:
    status, body, headers = authzd.http("GET", "/api/v2/setup")
    assert status == 200 and body == {"allowed": True}
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
