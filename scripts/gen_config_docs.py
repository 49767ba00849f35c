"""Rewrite README's table of `authzd serve` flags from service/settings.py.

Usage: python scripts/gen_config_docs.py [--check]
With --check, exit 1 (and say so) when README is stale instead of writing it.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from service.settings import markdown_table  # noqa: E402

START, END = "<!-- config-table:start -->\n", "<!-- config-table:end -->"


def rendered(readme: str) -> str:
    head, _, rest = readme.partition(START)
    _, _, tail = rest.partition(END)
    return head + START + markdown_table() + END + tail


def main() -> int:
    path = ROOT / "README.md"
    readme = path.read_text()
    fresh = rendered(readme)
    if "--check" in sys.argv[1:]:
        if fresh != readme:
            print("README's configuration table is stale: run python scripts/gen_config_docs.py")
            return 1
        return 0
    path.write_text(fresh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
