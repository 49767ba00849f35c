"""What every scenario shares: the fixture, check requests, load results and
the rows of the report (and their table)."""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import grpc
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import access_service_pb2_grpc as access_grpc
from authzd.v1 import types_pb2

from service.domain.models import Authorization, Bucket, Organization, Status, User
from service.domain.permissions import Action, Permission, ResourceType
from service.domain.presets import operator_permissions
from service.domain.tokens import TokenKind, new_token, token_digest, token_hint
from service.store import Store, open_store

ROOT = Path(__file__).resolve().parents[2]
BUCKETS_PER_ORG = 50
USERS_PER_ORG = 10
BUCKETS_PER_TOKEN = 5  # x read+write = 10 permissions per token

Row = dict[str, Any]
T = TypeVar("T")


# --------------------------------------------------------------------------
# sizes and the run's shared inputs


@dataclass(frozen=True)
class Sizes:
    big: int
    small: int
    casbin: int
    duration: float
    rounds: int  # interleaved rounds of the unary comparison
    side_rounds: int  # rounds of the workers and PostgreSQL comparisons
    trials: int
    casbin_sample: int  # pycasbin scans every policy: each enforce is slow
    h2_requests: int  # per h2load run
    million: int

    @classmethod
    def of(cls, quick: bool) -> Sizes:
        q = quick
        return cls(
            big=2_000 if q else 100_000,
            small=100,
            casbin=1_000 if q else 10_000,
            duration=1.0 if q else 5.0,
            rounds=1 if q else 3,
            side_rounds=1 if q else 2,
            trials=5 if q else 100,
            casbin_sample=20,
            h2_requests=3_000 if q else 30_000,
            million=20_000 if q else 1_000_000,
        )


@dataclass
class Fixture:
    db: str
    operator_token: str
    org_ids: list[str]
    # (token, org_id, bucket_id, action, expected_allowed)
    checks: list[tuple[str, str, str, int, bool]] = field(default_factory=list)
    cold_tokens: list[tuple[str, str, str]] = field(default_factory=list)

    def write_checks(self, path: str) -> str:
        """The checks as JSON, for the load children; returns `path`."""
        Path(path).write_text(json.dumps([list(c) for c in self.checks]))
        return path


@dataclass
class Context:
    """What main() builds once and hands to every scenario."""

    sizes: Sizes
    workdir: str
    fx_big: Fixture
    fx_small: Fixture
    checks_big: str
    checks_small: str


# --------------------------------------------------------------------------
# fixtures


def _id(rng: random.Random) -> str:
    return f"{rng.getrandbits(63) | 1:016x}"


def open_fixture(db: str) -> Store:
    if db.startswith("postgresql://"):
        return open_store(database_url=db)
    return open_store(db)


def build_fixture(
    path: str, n_auth: int, n_orgs: int, seed: int = 7, n_checks: int = 20_000
) -> Fixture:
    """A store with n_auth tokens of 10 bucket permissions each, over n_orgs orgs,
    and a mixed check load: 60% allowed, 30% denied, 10% unknown tokens."""
    from service.store.bulk import bulk_load

    rng = random.Random(seed)
    now = datetime.now(UTC)
    orgs = [Organization(_id(rng), f"org-{i}", "", now, now) for i in range(n_orgs)]
    users = {
        o.id: [
            User(_id(rng), f"user-{i}-{j}", Status.ACTIVE, False, now, now)
            for j in range(USERS_PER_ORG)
        ]
        for i, o in enumerate(orgs)
    }
    buckets = {
        o.id: [
            Bucket(_id(rng), o.id, o.name, f"bucket-{j}", "", now, now)
            for j in range(BUCKETS_PER_ORG)
        ]
        for o in orgs
    }

    def authorization(org: Organization, user: User, description: str,
                      perms: tuple[Permission, ...], token: str) -> tuple[Authorization, str]:
        return (
            Authorization(_id(rng), org.id, org.name, user.id, user.name, description,
                          Status.ACTIVE, perms, token_hint(token), now, now),
            token_digest(token),
        )

    auths: list[tuple[Authorization, str]] = []
    tokens: list[tuple[str, str, list[str]]] = []
    for i in range(n_auth):
        org = orgs[i % n_orgs]
        user = users[org.id][i % USERS_PER_ORG]
        mine = rng.sample([b.id for b in buckets[org.id]], BUCKETS_PER_TOKEN)
        perms = tuple(
            Permission(a, ResourceType.BUCKETS, org.id, b)
            for b in mine
            for a in (Action.READ, Action.WRITE)
        )
        token = new_token(TokenKind.API, rng.randrange)
        auths.append(authorization(org, user, f"t{i}", perms, token))
        tokens.append((token, org.id, mine))
    operator = new_token(TokenKind.API, rng.randrange)
    auths.append(authorization(orgs[0], users[orgs[0].id][0], "operator",
                               tuple(operator_permissions()), operator))
    store = open_fixture(path)
    bulk_load(
        store,
        orgs,
        [u for us in users.values() for u in us],
        [b for bs in buckets.values() for b in bs],
        auths,
    )
    store.close()

    fx = Fixture(path, operator, [o.id for o in orgs])
    for _ in range(n_checks):
        roll = rng.random()
        token, org_id, mine = rng.choice(tokens)
        if roll < 0.6:
            fx.checks.append((token, org_id, rng.choice(mine), Action.READ, True))
        elif roll < 0.9:
            other = rng.choice([b.id for b in buckets[org_id] if b.id not in mine])
            fx.checks.append((token, org_id, other, Action.READ, False))
        else:
            unknown = new_token(TokenKind.API, rng.randrange)
            fx.checks.append((unknown, org_id, rng.choice(mine), Action.READ, False))
    fx.cold_tokens = [(t, o, m[0]) for t, o, m in rng.sample(tokens, min(500, len(tokens)))]
    return fx


def token_count(fx: Fixture) -> int:
    store = open_fixture(fx.db)
    n = int(store.counts()["authorizations"])
    store.close()
    return n


def label(fx: Fixture) -> str:
    return f"{token_count(fx):,} tokens"


def check_request(
    token: str, org_id: str, bucket_id: str, action: int
) -> access_pb.CheckAccessRequest:
    return access_pb.CheckAccessRequest(
        token=token,
        permission=types_pb2.Permission(
            action=action,  # type: ignore[arg-type]
            resource=types_pb2.Resource(
                type=types_pb2.RESOURCE_TYPE_BUCKETS, org_id=org_id, id=bucket_id
            ),
        ),
    )


def warm(target: str, fx: Fixture) -> None:
    """Ask every check of the load once (in batches) so that the measured run is
    the steady state: each answer already decided and kept."""
    with grpc.insecure_channel(target) as ch:
        stub = access_grpc.AccessServiceStub(ch)
        for i in range(0, len(fx.checks), 1000):
            batch = [check_request(*c[:4]) for c in fx.checks[i : i + 1000]]
            stub.BatchCheckAccess(access_pb.BatchCheckAccessRequest(checks=batch))


# --------------------------------------------------------------------------
# load results


@dataclass
class LoadResult:
    throughput: float  # decisions per second
    p50_ms: float
    p99_ms: float
    wrong: int


def p50_p99_ms(latencies: Sequence[float]) -> tuple[float, float]:
    """Of sorted latencies in seconds; NaN for none."""
    if not latencies:
        return float("nan"), float("nan")
    n = len(latencies)
    return latencies[n // 2] * 1000, latencies[int(n * 0.99)] * 1000


def drive(
    target: str,
    checks_file: str,
    duration: float,
    *,
    clients: int = 1,
    concurrency: int = 32,
    batch: int = 0,
    mode: str = "access",
) -> LoadResult:
    """Run `clients` load processes (scripts/bench/load.py) against target for
    `duration` seconds after a warm-up, and merge what they measured."""
    outs = [tempfile.mktemp(suffix=".json") for _ in range(clients)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "scripts.bench.load", "--target", target,
             "--checks", checks_file, "--duration", str(duration),
             "--concurrency", str(concurrency), "--batch", str(batch), "--mode", mode,
             "--out", out],
            cwd=ROOT,
        )
        for out in outs
    ]
    for p in procs:
        if p.wait(timeout=duration + 120) != 0:
            raise RuntimeError(f"load generator failed ({mode})")
    parts = [json.loads(Path(o).read_text()) for o in outs]
    for o in outs:
        os.unlink(o)
    p50, p99 = p50_p99_ms(sorted(x for p in parts for x in p["latencies"]))
    elapsed = max(p["elapsed"] for p in parts)
    return LoadResult(
        throughput=sum(p["decisions"] for p in parts) / elapsed,
        p50_ms=p50,
        p99_ms=p99,
        wrong=sum(p["wrong"] for p in parts),
    )


def median_result(results: list[LoadResult]) -> LoadResult:
    return LoadResult(
        statistics.median(r.throughput for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.wrong for r in results),
    )


def in_rounds(rounds: int, runs: dict[str, Callable[[], T]]) -> dict[str, list[T]]:
    """Each of `runs` once per round, in turn, so that drift hits all alike."""
    results: dict[str, list[T]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            results[name].append(run())
    return results


def interleaved(rounds: int, runs: dict[str, Callable[[], LoadResult]]) -> dict[str, LoadResult]:
    """in_rounds(), and the median of each over the rounds."""
    return {name: median_result(rs) for name, rs in in_rounds(rounds, runs).items()}


def drive_interleaved(
    rounds: int, duration: float, loads: dict[str, tuple[str, str]], **options: Any
) -> dict[str, LoadResult]:
    """drive() each of `loads` (name -> (target, checks file)) in interleaved
    rounds; the median of each."""
    return interleaved(rounds, {
        name: partial(drive, target, checks_file, duration, **options)
        for name, (target, checks_file) in loads.items()
    })


# --------------------------------------------------------------------------
# the report


def row(
    scenario: str,
    result: LoadResult | None = None,
    *,
    ratio: float | None = None,
    **fields: Any,
) -> Row:
    """One row of the report: throughput, p50 and p99 from `result` (None
    without one) unless given in `fields`, the ratio, and `fields` in their
    order: `target` (None when not given) and the extras."""
    measured: dict[str, float | None] = {
        "throughput": result.throughput if result else None,
        "p50_ms": result.p50_ms if result else None,
        "p99_ms": result.p99_ms if result else None,
    }
    for key in measured:
        if key in fields:
            measured[key] = fields.pop(key)
    out: Row = {"scenario": scenario, **measured, "ratio": ratio}
    if "target" not in fields:
        out["target"] = None
    return {**out, **fields}


def fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(rows: list[Row]) -> None:
    print(f"\n{'scenario':<66} {'thr/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>8}  target")
    for r in rows:
        print(
            f"{r['scenario']:<66} {fmt(r['throughput'], ',.0f'):>11} "
            f"{fmt(r['p50_ms'], '.3f'):>8} {fmt(r['p99_ms'], '.3f'):>8} "
            f"{fmt(r['ratio'], '.2f'):>8}  {r.get('target') or ''}"
        )
        extras = {
            k: v
            for k, v in r.items()
            if k not in ("scenario", "throughput", "p50_ms", "p99_ms", "ratio", "target")
        }
        if extras:
            print(
                "    "
                + ", ".join(
                    f"{k}={fmt(v, '.3f') if isinstance(v, float) else v}" for k, v in extras.items()
                )
            )
