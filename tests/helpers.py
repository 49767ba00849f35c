"""Small helpers shared by the end-to-end tests: build permissions, mint tokens,
call with a caller token, and assert on errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import bucket_service_pb2 as bucket_pb
from authzd.v1 import organization_service_pb2 as org_pb
from authzd.v1 import session_service_pb2 as session_pb
from authzd.v1 import types_pb2
from authzd.v1 import user_service_pb2 as user_pb
from google.protobuf import field_mask_pb2

from tests.conftest import Client, Running, md, reason_of

READ, WRITE = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
ACTIVE, INACTIVE = types_pb2.STATUS_ACTIVE, types_pb2.STATUS_INACTIVE
T = types_pb2


def perm(action: int, rtype: int, org_id: str = "", id: str = "") -> types_pb2.Permission:
    return types_pb2.Permission(
        action=action, resource=types_pb2.Resource(type=rtype, org_id=org_id, id=id)
    )


def fails(call: Callable[..., object], *args: Any, **kwargs: Any) -> grpc.RpcError:
    """The error a call raises (the test fails if it succeeds)."""
    with pytest.raises(grpc.RpcError) as exc:
        call(*args, **kwargs)
    return exc.value


def same_not_found(err_a: grpc.RpcError, err_b: grpc.RpcError, a: str, b: str) -> None:
    """Two NOT_FOUND errors that differ only by the key the caller gave (`a`, `b`):
    an invisible thing answers exactly like a missing one."""
    assert err_a.code() == err_b.code() == grpc.StatusCode.NOT_FOUND
    assert err_a.details().replace(a, "X") == err_b.details().replace(b, "X")


def assert_error(
    err: grpc.RpcError | pytest.ExceptionInfo[grpc.RpcError], code: grpc.StatusCode, reason: str
) -> None:
    """The error's status code and ErrorInfo reason (`USER_NOT_FOUND` or
    `ERROR_REASON_USER_NOT_FOUND`); takes the error or pytest's ExceptionInfo."""
    if isinstance(err, pytest.ExceptionInfo):
        err = err.value
    assert err.code() == code, (err.code(), err.details())
    want = reason if reason.startswith("ERROR_REASON_") else f"ERROR_REASON_{reason}"
    assert reason_of(err) == want, (reason_of(err), err.details())


def create_user(
    client: Client, token: str, name: str, password: str = "", status: int = 0
) -> types_pb2.User:
    return client.users.CreateUser(
        user_pb.CreateUserRequest(name=name, password=password, status=status),
        metadata=md(token),
    ).user


def create_org(client: Client, token: str, name: str) -> types_pb2.Organization:
    return client.orgs.CreateOrganization(
        org_pb.CreateOrganizationRequest(name=name), metadata=md(token)
    ).organization


def create_bucket(client: Client, token: str, org_id: str, name: str) -> types_pb2.Bucket:
    return client.buckets.CreateBucket(
        bucket_pb.CreateBucketRequest(org_id=org_id, name=name), metadata=md(token)
    ).bucket


def mint(
    client: Client,
    token: str,
    org_id: str,
    user_id: str = "",
    *,
    preset: int = 0,
    perms: Any = (),
    expire_seconds: float | None = None,
    now: float = 0,
) -> tuple[str, str]:
    """CreateAuthorization; returns (token, authorization id)."""
    req = auth_pb.CreateAuthorizationRequest(
        org_id=org_id, user_id=user_id, preset=preset, permissions=list(perms)
    )
    if expire_seconds is not None:
        req.expire_time.FromSeconds(int(now + expire_seconds))
    r = client.auths.CreateAuthorization(req, metadata=md(token))
    return r.token, r.authorization.id


def set_status(client: Client, token: str, auth_id: str, status: int) -> types_pb2.Authorization:
    return client.auths.UpdateAuthorization(
        auth_pb.UpdateAuthorizationRequest(
            authorization=types_pb2.Authorization(id=auth_id, status=status),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        metadata=md(token),
    ).authorization


def set_user_status(client: Client, token: str, user_id: str, status: int) -> types_pb2.User:
    return client.users.UpdateUser(
        user_pb.UpdateUserRequest(
            user=types_pb2.User(id=user_id, status=status),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        metadata=md(token),
    ).user


def check(client: Client, token: str, p: types_pb2.Permission) -> access_pb.CheckAccessResponse:
    return client.access.CheckAccess(access_pb.CheckAccessRequest(token=token, permission=p))


def reason(client: Client, token: str, p: types_pb2.Permission) -> str:
    return access_pb.DecisionReason.Name(check(client, token, p).reason)


def sign_in(client: Client, username: str, password: str) -> str:
    return client.sessions.SignIn(
        session_pb.SignInRequest(username=username, password=password)
    ).session_token


def set_password(client: Client, token: str, user_id: str, new: str, old: str = "") -> None:
    client.users.SetPassword(
        user_pb.SetPasswordRequest(id=user_id, old_password=old, new_password=new),
        metadata=md(token),
    )


def store_flags(running: Running) -> list[str]:
    """The serve/backup/recovery flags that name the running server's store."""
    url = running.server.app.settings.database_url
    return ["--database-url", url] if url else ["--db", running.db_path]
