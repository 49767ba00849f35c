"""SetupService end to end (SPEC §4 "Setup", §6 token format)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from authzd.v1 import (
    access_service_pb2,
    authorization_service_pb2,
    organization_service_pb2,
    setup_service_pb2,
    types_pb2,
    user_service_pb2,
)

from service.domain.permissions import Action, Permission, ResourceType, format_permission
from service.domain.presets import operator_permissions
from service.domain.tokens import TokenKind, parse_token
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Admin, Client, error_info, md, reason_of

ID_RE = re.compile(r"[0-9a-f]{16}")
TOKEN_RE = re.compile(r"azt_[0-9A-Za-z]{49}")


def _setup_request(**overrides: str) -> setup_service_pb2.SetupRequest:
    fields = {"username": "root", "password": "a-good-password", "org": "o", "bucket": "b"}
    fields.update(overrides)
    return setup_service_pb2.SetupRequest(**fields)


def _texts(perms: Iterable[types_pb2.Permission]) -> list[str]:
    return [
        format_permission(
            Permission(Action(p.action), ResourceType(p.resource.type), p.resource.org_id,
                       p.resource.id)
        )
        for p in perms
    ]


def _allowed(client: Client) -> bool:
    return client.setup.GetSetupStatus(setup_service_pb2.GetSetupStatusRequest()).allowed


def test_setup_status_is_allowed_before_and_not_after(client: Client) -> None:
    assert _allowed(client) is True
    client.setup.Setup(_setup_request())
    assert _allowed(client) is False


def test_setup_returns_user_org_bucket_and_operator_token(client: Client) -> None:
    r = client.setup.Setup(
        _setup_request(username="ada", password="ada-password", org="acme", bucket="telemetry")
    )

    assert ID_RE.fullmatch(r.user.id) and r.user.name == "ada"
    assert r.user.status == types_pb2.STATUS_ACTIVE
    assert r.user.has_password is True
    assert ID_RE.fullmatch(r.organization.id) and r.organization.name == "acme"
    assert ID_RE.fullmatch(r.bucket.id) and r.bucket.name == "telemetry"
    assert r.bucket.org_id == r.organization.id and r.bucket.org == "acme"

    a = r.authorization
    assert ID_RE.fullmatch(a.id)
    assert (a.org_id, a.org, a.user_id, a.user) == (r.organization.id, "acme", r.user.id, "ada")
    assert a.description == "ada's Token"
    assert a.status == types_pb2.STATUS_ACTIVE
    assert len(a.permissions) == 46
    assert _texts(a.permissions) == [format_permission(p) for p in operator_permissions()]
    assert not a.HasField("expire_time")

    # SPEC §6: azt_ + 43 random base62 + 6 base62 of the CRC32 = 53 characters.
    assert len(r.token) == 53
    assert TOKEN_RE.fullmatch(r.token), r.token
    assert parse_token(r.token) is TokenKind.API
    assert a.token_hint == r.token[:8]
    assert r.token not in str(a)


def test_setup_token_is_an_operator_token_that_works(client: Client) -> None:
    r = client.setup.Setup(_setup_request())
    check = client.access.CheckAccess(
        access_service_pb2.CheckAccessRequest(
            token=r.token,
            permission=types_pb2.Permission(
                action=types_pb2.ACTION_WRITE,
                resource=types_pb2.Resource(type=types_pb2.RESOURCE_TYPE_INSTANCE),
            ),
        )
    )
    assert check.allowed and check.authorization_id == r.authorization.id
    got = client.auths.GetAuthorization(
        authorization_service_pb2.GetAuthorizationRequest(id=r.authorization.id),
        metadata=md(r.token),
    ).authorization
    assert got.id == r.authorization.id and got.token_hint == r.token[:8]


def test_second_setup_fails_and_creates_nothing(client: Client, admin: Admin) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        client.setup.Setup(_setup_request(username="mallory", org="evil", bucket="loot"))
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(exc.value) == "ERROR_REASON_SETUP_ALREADY_DONE"
    assert _allowed(client) is False

    users = client.users.ListUsers(user_service_pb2.ListUsersRequest(), metadata=md(admin.token))
    assert [u.name for u in users.users] == [ADMIN_USER]
    orgs = client.orgs.ListOrganizations(
        organization_service_pb2.ListOrganizationsRequest(), metadata=md(admin.token)
    )
    assert [o.name for o in orgs.organizations] == ["acme"]


def test_second_setup_with_the_same_input_also_fails(client: Client, admin: Admin) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        client.setup.Setup(
            _setup_request(username=ADMIN_USER, password=ADMIN_PASSWORD, org="acme",
                           bucket="telemetry")
        )
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert reason_of(exc.value) == "ERROR_REASON_SETUP_ALREADY_DONE"


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"password": "short"}, "password", "ERROR_REASON_INVALID_PASSWORD"),
        ({"password": "7-chars"}, "password", "ERROR_REASON_INVALID_PASSWORD"),
        ({"password": "x" * 257}, "password", "ERROR_REASON_INVALID_PASSWORD"),
        ({"password": ""}, "password", "ERROR_REASON_INVALID_PASSWORD"),
        ({"username": ""}, "username", "ERROR_REASON_INVALID_ARGUMENT"),
        ({"username": "   "}, "username", "ERROR_REASON_INVALID_ARGUMENT"),
        ({"org": ""}, "org", "ERROR_REASON_INVALID_ARGUMENT"),
        ({"bucket": ""}, "bucket", "ERROR_REASON_INVALID_ARGUMENT"),
    ],
)
def test_setup_rejects_bad_input_and_creates_nothing(
    client: Client, overrides: dict[str, str], field: str, reason: str
) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        client.setup.Setup(_setup_request(**overrides))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert reason_of(exc.value) == reason
    assert error_info(exc.value).metadata["field"] == field
    assert _allowed(client) is True
    # Nothing half-made: the same names are still free for a good setup.
    r = client.setup.Setup(_setup_request())
    assert r.user.name == "root" and r.organization.name == "o" and r.bucket.name == "b"


@pytest.mark.parametrize("password", ["8-chars!", "p" * 256])
def test_setup_accepts_passwords_at_the_length_limits(client: Client, password: str) -> None:
    r = client.setup.Setup(_setup_request(password=password))
    assert r.user.has_password is True
    assert _allowed(client) is False


def test_concurrent_setups_let_exactly_one_through(client: Client) -> None:
    def attempt(i: int) -> str:
        try:
            client.setup.Setup(_setup_request(username=f"u{i}", org=f"o{i}", bucket=f"b{i}"))
            return "ok"
        except grpc.RpcError as err:
            return f"{err.code().name}/{reason_of(err)}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("ok") == 1, outcomes
    assert set(outcomes) == {"ok", "FAILED_PRECONDITION/ERROR_REASON_SETUP_ALREADY_DONE"}
    assert _allowed(client) is False
