"""ConfigService.GetConfig end to end (SPEC §4 "GetConfig")."""

from __future__ import annotations

import grpc
import pytest
from authzd.v1 import (
    authorization_service_pb2,
    config_service_pb2,
    session_service_pb2,
)

from service import __version__
from service.settings import Settings
from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Admin, Client, Running, error_info, md

REQ = config_service_pb2.GetConfigRequest()


def _entries(resp: config_service_pb2.GetConfigResponse) -> dict[str, str]:
    return {e.key: e.value for e in resp.entries}


def test_operator_token_reads_the_effective_config(
    running: Running, client: Client, admin: Admin
) -> None:
    resp = client.config.GetConfig(REQ, metadata=md(admin.token))
    entries = _entries(resp)
    assert entries["listen"] == "127.0.0.1:0"
    # The store the server runs on, and only that one.
    assert entries["db"] == running.db_path
    assert entries["database_url"] == running.database_url
    assert entries["session_ttl_minutes"] == "60"
    assert resp.version == __version__
    # One entry per key, sorted, and no token anywhere.
    keys = [e.key for e in resp.entries]
    assert keys == sorted(set(keys))
    assert admin.token not in str(resp)


def test_admin_session_token_reads_the_config(client: Client, admin: Admin) -> None:
    session = client.sessions.SignIn(
        session_service_pb2.SignInRequest(username=ADMIN_USER, password=ADMIN_PASSWORD)
    ).session_token
    entries = _entries(client.config.GetConfig(REQ, metadata=md(session, "Bearer")))
    assert "listen" in entries and "db" in entries


def test_all_access_token_is_denied(client: Client, admin: Admin) -> None:
    all_access = client.auths.CreateAuthorization(
        authorization_service_pb2.CreateAuthorizationRequest(
            org_id=admin.org_id, preset=authorization_service_pb2.PRESET_ALL_ACCESS
        ),
        metadata=md(admin.token),
    ).token
    with pytest.raises(grpc.RpcError) as exc:
        client.config.GetConfig(REQ, metadata=md(all_access))
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    info = error_info(exc.value)
    assert info.reason == "ERROR_REASON_PERMISSION_DENIED"
    assert info.metadata["permission"] == "read:instance"


@pytest.mark.parametrize("metadata", [None, (("authorization", "Token"),)])
def test_no_token_is_unauthenticated(
    client: Client, admin: Admin, metadata: tuple[tuple[str, str], ...] | None
) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        client.config.GetConfig(REQ, metadata=metadata)
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert exc.value.details() == "unauthorized access"
    assert error_info(exc.value).reason == "ERROR_REASON_UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://authzd:s3cret-pw@db.example.com:5433/authzd",
            "postgresql://authzd:***@db.example.com:5433/authzd",
        ),
        (
            "postgresql://authzd:s3cret-pw@db.example.com/authzd?sslmode=require",
            "postgresql://authzd:***@db.example.com/authzd?sslmode=require",
        ),
    ],
)
def test_database_url_password_is_redacted(url: str, expected: str) -> None:
    redacted = Settings(database_url=url).redacted()
    assert redacted["database_url"] == expected
    assert not any("s3cret-pw" in v for v in redacted.values())


@pytest.mark.parametrize("param", ["password", "sslpassword"])
def test_password_in_the_query_string_is_redacted(param: str) -> None:
    """libpq URIs may carry the password as a query parameter."""
    url = f"postgresql://authzd@db.example.com/authzd?sslmode=require&{param}=s3cret-pw"
    value = Settings(database_url=url).redacted()["database_url"]
    assert "s3cret-pw" not in value
    assert "sslmode=require" in value and "db.example.com" in value


def test_redaction_keeps_an_ipv6_host_intact() -> None:
    url = "postgresql://authzd:s3cret-pw@[::1]:5432/authzd"
    assert Settings(database_url=url).redacted()["database_url"] == (
        "postgresql://authzd:***@[::1]:5432/authzd"
    )


def test_database_url_without_password_is_shown_as_is() -> None:
    url = "postgresql://authzd@db.example.com:5432/authzd"
    assert Settings(database_url=url).redacted()["database_url"] == url


def test_every_setting_is_reported() -> None:
    redacted = Settings(db="/x/y.db", listen="0.0.0.0:1").redacted()
    assert redacted["db"] == "/x/y.db" and redacted["listen"] == "0.0.0.0:1"
    assert redacted["database_url"] == ""
