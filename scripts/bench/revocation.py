"""A write on server A; how long until server B (same database file) sees it.
Also: A itself must never answer stale after its own write returned."""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time

import grpc
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import access_service_pb2_grpc as access_grpc
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import authorization_service_pb2_grpc as auth_grpc
from authzd.v1 import types_pb2
from google.protobuf import field_mask_pb2

from scripts.bench.common import Context, Row, row
from scripts.bench.procs import authzd_server


def run(ctx: Context) -> list[Row]:
    fx, trials = ctx.fx_big, ctx.sizes.trials
    # Told of each other's writes as `--workers` siblings are (a shared
    # directory of datagram sockets); the poll is only the catch-up.
    siblings = tempfile.mkdtemp(prefix="authzd-bench-siblings-")
    a = authzd_server(fx.db, "--siblings-dir", siblings)
    b = authzd_server(fx.db, "--siblings-dir", siblings)
    md = (("authorization", f"Token {fx.operator_token}"),)
    appear, revoke, stale_on_writer, exact_at_once = [], [], 0, 0
    try:
        with grpc.insecure_channel(a.target) as cha, grpc.insecure_channel(b.target) as chb:
            auths = auth_grpc.AuthorizationServiceStub(cha)
            check_a = access_grpc.AccessServiceStub(cha).CheckAccess
            check_b = access_grpc.AccessServiceStub(chb).CheckAccess
            org = fx.org_ids[0]
            perm = types_pb2.Permission(
                action=types_pb2.ACTION_READ,
                resource=types_pb2.Resource(type=types_pb2.RESOURCE_TYPE_ORGS, id=org),
            )
            for _ in range(trials):
                created = auths.CreateAuthorization(
                    auth_pb.CreateAuthorizationRequest(org_id=org, permissions=[perm]), metadata=md
                )
                req = access_pb.CheckAccessRequest(token=created.token, permission=perm)
                t0 = time.perf_counter()
                stale_on_writer += not check_a(req).allowed
                while not check_b(req).allowed:
                    time.sleep(0.002)
                appear.append(time.perf_counter() - t0)
                auths.UpdateAuthorization(
                    auth_pb.UpdateAuthorizationRequest(
                        authorization=types_pb2.Authorization(
                            id=created.authorization.id, status=types_pb2.STATUS_INACTIVE
                        ),
                        update_mask=field_mask_pb2.FieldMask(paths=["status"]),
                    ),
                    metadata=md,
                )
                t0 = time.perf_counter()
                exact_at_once += not check_b(req).allowed
                while check_b(req).allowed:
                    time.sleep(0.002)
                revoke.append(time.perf_counter() - t0)
                stale_on_writer += check_a(req).allowed
    finally:
        a.stop()
        b.stop()
        shutil.rmtree(siblings, ignore_errors=True)
    revoke.sort()
    both = sorted(appear + revoke)
    return [row(
        f"cross-process staleness (siblings), {trials} x (create, deactivate)",
        p50_ms=statistics.median(both) * 1000,
        p99_ms=both[int(len(both) * 0.99) - 1] * 1000,
        max_ms=both[-1] * 1000,
        revocation_max_ms=revoke[-1] * 1000,
        revocation_first_sibling_check_denied=f"{exact_at_once}/{trials}",
        target="revocation seen by the sibling: max <= 10 ms",
        stale_on_writing_server=stale_on_writer,
        # Siblings are told before the writer answers: the first check is exact.
        wrong=stale_on_writer + trials - exact_at_once,
    )]
