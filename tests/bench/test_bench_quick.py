"""The benchmark cannot rot: `python -m scripts.bench --quick` runs every scenario and
its answers agree (CheckAccess vs expected, batch vs unary, authzd vs pycasbin,
no stale answer on the writing server). Speed is not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_bench_quick_runs_and_answers_agree(tmp_path):  # type: ignore[no-untyped-def]
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "scripts.bench", "--quick", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["wrong_answers"] == 0
    scenarios = " | ".join(r["scenario"] for r in report["rows"])
    for expected in ("no-op", "BatchCheckAccess", "workers", "pycasbin", "staleness",
                     "cache miss", "RSS", "ext_authz Check", "tracing on", "RSS after preload",
                     "Envoy -> upstream with ext_authz", "while HTTP serves",
                     "HTTP GET /api/v2/authorizations"):
        assert expected in scenarios, scenarios
    for row in report["rows"]:
        if row.get("throughput") is not None:
            assert row["throughput"] > 0
    staleness = next(r for r in report["rows"] if "staleness" in r["scenario"])
    assert staleness["stale_on_writing_server"] == 0
