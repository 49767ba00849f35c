"""In-process: authzd's decision index vs pycasbin enforce on the same policy."""

from __future__ import annotations

import os
import statistics
import time

from scripts.bench.common import Context, Row, build_fixture, row
from service.domain.permissions import Action, Permission, ResourceType
from service.domain.tokens import token_digest

CASBIN_MODEL = """
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.obj == p.obj && r.act == p.act && (p.dom == "*" || r.dom == p.dom) && g(r.sub, p.sub, r.dom)
"""


def run(ctx: Context) -> list[Row]:
    import casbin  # type: ignore[import-untyped]

    from service.app.access import AccessIndex
    from service.app.clock import SystemClock
    from service.store import open_store
    from service.store.models import AuthorizationRow

    n_tokens, sample = ctx.sizes.casbin, ctx.sizes.casbin_sample
    fx = build_fixture(os.path.join(ctx.workdir, "casbin.db"), n_tokens, 100, seed=11,
                       n_checks=sample)
    store = open_store(fx.db)
    index = AccessIndex(store, SystemClock())
    index.preload()
    index.start()  # the poller keeps the index fresh, as in the server
    enforcer = casbin.Enforcer(casbin.Enforcer.new_model(text=CASBIN_MODEL))
    if hasattr(enforcer, "enable_log"):
        enforcer.enable_log(False)

    policies, groupings = [], []
    for auth in AuthorizationRow.select():
        role = f"role:{auth.id}"
        groupings.append([auth.token_digest, role, auth.org_id])  # type: ignore[attr-defined]
        for line in auth.permissions.split("\n"):
            action, path = line.split(":", 1)
            org, obj = (
                (path.split("/", 2)[1], path.split("/", 2)[2])
                if path.startswith("orgs/")
                else ("*", path)
            )
            policies.append([role, org, obj, action])
    enforcer.add_policies(policies)
    enforcer.add_named_grouping_policies("g", groupings)

    def casbin_decide(token: str, org: str, bucket: str, action: int) -> bool:
        act = "read" if action == Action.READ else "write"
        return bool(enforcer.enforce(token_digest(token), org, f"buckets/{bucket}", act))

    def authzd_decide(token: str, org: str, bucket: str, action: int) -> bool:
        return index.check(
            token, Permission(Action(action), ResourceType.BUCKETS, org, bucket)
        ).allowed

    checks = fx.checks[:sample]
    casbin_answers, authzd_answers, casbin_times, authzd_times = [], [], [], []
    for c in checks:
        t0 = time.perf_counter()
        casbin_answers.append(casbin_decide(*c[:4]))
        casbin_times.append(time.perf_counter() - t0)
    for _ in range(20):  # many passes: each decision takes microseconds
        for c in checks:
            t0 = time.perf_counter()
            authzd_answers.append(authzd_decide(*c[:4]))
            authzd_times.append(time.perf_counter() - t0)
    index.stop()
    store.close()
    first = authzd_answers[: len(checks)]
    disagree = sum(a != b for a, b in zip(casbin_answers, first, strict=True))
    wrong = sum(a != c[4] for a, c in zip(first, checks, strict=True))
    c_med, a_med = statistics.median(casbin_times), statistics.median(authzd_times)
    return [row(f"in-process decision vs pycasbin enforce ({n_tokens:,} tokens x 10)",
                throughput=1 / a_med, p50_ms=a_med * 1000, ratio=c_med / a_med,
                target=">= 1000x", casbin_p50_ms=c_med * 1000, wrong=wrong + disagree,
                casbin_disagreements=disagree, sample=len(checks))]
