#!/usr/bin/env python3
"""Regenerate the web console screenshots shown in README.md.

Runs the browser test that photographs every page (desktop and 375 px) against a
real `authzd serve`, then copies two of the pictures to docs/:

    .venv/bin/python scripts/console_screenshots.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "build" / "screenshots"
KEEP = {
    "tokens-desktop.png": "console-tokens.png",
    "token-detail-narrow.png": "console-token-detail-375.png",
}


def main() -> int:
    env = {**os.environ, "AUTHZD_SCREENSHOTS": str(SHOTS)}
    test = "tests/browser/test_screenshots.py"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", test], cwd=ROOT, env=env)
    if done.returncode != 0:
        return done.returncode
    docs = ROOT / "docs"
    docs.mkdir(exist_ok=True)
    for source, target in KEEP.items():
        shutil.copyfile(SHOTS / source, docs / target)
        print(f"docs/{target} <- build/screenshots/{source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
