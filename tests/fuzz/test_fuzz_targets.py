"""The atheris targets (issue 5, "Hostile input"), run for a bounded number of
iterations each, as CI does: every target must finish RUNS runs without a crash.
The second test proves the runner notices a crash (a target that fails, fails).

More: `python tests/fuzz/fuzz_permissions.py -max_total_time=600 CORPUS_DIR`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
RUNS = 200_000  # about 2 s per target here
SEEDS = {
    "fuzz_tokens.py": [
        b"\x00",  # text mode, empty
        b"\x01" + bytes(40),  # mint-and-mutate mode
    ],
    "fuzz_permissions.py": [
        b"\x00read:orgs/0a1b2c3d4e5f6071/buckets/1a1b2c3d4e5f6071",
        b"\x00write:orgs/0a1b2c3d4e5f6071/notificationEndpoints",
        b"\x00read:buckets/0a1b2c3d4e5f6071",
        b"\x00read:orgs/0a1b2c3d4e5f6071",
        b"\x00write:instance",
        b"\x01" + bytes(range(40)),
    ],
}


def _token_seed() -> bytes:
    from service.domain.tokens import TokenKind, new_token

    return b"\x00" + new_token(TokenKind.API, lambda n: 12345 % n).encode()


def _run(target: str, tmp_path: Path, seeds: list[bytes], runs: int,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(seeds):
        (corpus / f"seed-{i}").write_bytes(seed)
    return subprocess.run(
        [sys.executable, str(HERE / target), f"-runs={runs}", "-max_total_time=300",
         f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("target", sorted(SEEDS))
def test_fuzz_target_runs_clean(target: str, tmp_path: Path) -> None:
    seeds = SEEDS[target] + ([_token_seed()] if target == "fuzz_tokens.py" else [])
    proc = _run(target, tmp_path, seeds, RUNS)
    seed = re.search(r"Seed: (\d+)", proc.stderr)
    assert proc.returncode == 0, f"seed {seed and seed[1]}:\n{proc.stderr[-4000:]}"
    assert f"Done {RUNS} runs" in proc.stderr, proc.stderr[-2000:]
    assert not list(tmp_path.glob("crash-*"))


@pytest.mark.parametrize("target", sorted(SEEDS))
def test_a_crashing_target_fails_the_run(target: str, tmp_path: Path) -> None:
    proc = _run(target, tmp_path, [b"!"], 100, env={"AUTHZD_FUZZ_SELF_CHECK": "1"})
    assert proc.returncode != 0
    assert "self-check: the runner must report this" in proc.stdout + proc.stderr
    assert list(tmp_path.glob("crash-*")), "libFuzzer wrote no crash input"
