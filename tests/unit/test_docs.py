"""The repository carries its own docs (issue 15, items 4-5): docs/api.md is
generated from the protos and current; README and docs link only to files that
exist in the repository; every `authzd serve` flag is in the README."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_api_docs",
                                                  ROOT / "scripts" / "gen_api_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_current() -> None:
    gen = _generator()
    assert (ROOT / "docs" / "api.md").read_text() == gen.render(), (
        "docs/api.md is stale: run `python scripts/gen_api_docs.py`")


def test_api_reference_names_every_rpc() -> None:
    api = (ROOT / "docs" / "api.md").read_text()
    rpcs = re.findall(r"^\s*rpc (\w+)\(", "".join(
        p.read_text() for p in (ROOT / "protos" / "authzd" / "v1").glob("*.proto")), re.M)
    assert len(rpcs) >= 25
    for rpc in rpcs:
        assert f"| `{rpc}` |" in api, rpc
    for section in ("decision-rules.md", "token-kinds.md", "security.md", "api.md"):
        assert (ROOT / "docs" / section).exists()


def test_links_stay_inside_the_repository() -> None:
    for doc in DOCS:
        text = doc.read_text()
        assert "../shared" not in text and "SPEC.md" not in text, doc
        for target in _LINK.findall(text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            path = (doc.parent / target.split("#")[0]).resolve()
            assert path.is_relative_to(ROOT), (doc, target)
            assert path.exists(), (doc, target)


def test_rule_6_is_the_current_one() -> None:
    """SPEC §2 rule 6 as updated: an id grant naming an org matches only requests
    naming that same org (not a request naming no org)."""
    rules = (ROOT / "docs" / "decision-rules.md").read_text()
    assert "not even to a request that names no\n     org" in rules
    readme = (ROOT / "README.md").read_text()
    assert "not even to a request that names no org" in readme
    assert "unless both name an org" not in readme


def test_every_serve_flag_is_in_the_readme() -> None:
    from service.cli.main import build_parser

    parser = build_parser(["serve"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve = sub.choices["serve"]
    readme = (ROOT / "README.md").read_text()
    flags = [o for a in serve._actions if a.help != argparse.SUPPRESS
             for o in a.option_strings if o.startswith("--") and o != "--help"]
    assert "--metrics-listen" in flags
    missing = [f for f in flags if f"`{f}" not in readme and f"{f} " not in readme]
    assert missing == []


def test_test_tools_are_listed() -> None:
    readme = (ROOT / "README.md").read_text()
    for tool in ("`openssl`", "`psql`", "`pg_dump`", "Node.js ≥ 20", "`systemd-analyze`"):
        assert tool in readme, tool
