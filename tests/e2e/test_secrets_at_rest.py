"""SPEC §6: only SHA-256 digests of tokens and argon2id hashes of passwords reach the
database. On SQLite, reads the raw bytes of the file and its write-ahead log; on
PostgreSQL, every row of every table as text."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from authzd.v1 import (
    access_service_pb2,
    authorization_service_pb2,
    session_service_pb2,
    setup_service_pb2,
    types_pb2,
    user_service_pb2,
)
from structlog.testing import capture_logs

from tests.conftest import Client, Running, error_info, md, raw_query, sqlite_only

SETUP_PASSWORD = "Setup-Pa55word-that-is-distinctive"
USER_PASSWORD = "Second-user-pa55word-also-distinctive"


def _raw_database(running: Running) -> bytes:
    """Everything the store holds, as bytes."""
    if running.backend == "sqlite":
        # The main file plus the -wal (committed pages may live only there).
        raw = b""
        for suffix in ("", "-wal", "-journal"):
            path = Path(running.db_path + suffix)
            if path.exists():
                raw += path.read_bytes()
        return raw
    # PostgreSQL's files are the server's: every row of every table, as JSON text.
    tables = raw_query(
        running.location, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
    )
    assert {"authorization", "session", "user"} <= {t for (t,) in tables}
    rows = [
        text
        for (table,) in tables
        for (text,) in raw_query(running.location, f'SELECT row_to_json(t)::text FROM "{table}" t')
    ]
    return "\n".join(rows).encode()


def _password_hashes(running: Running) -> dict[str, str]:
    rows = raw_query(
        running.location, 'SELECT name, password_hash FROM "user" WHERE password_hash IS NOT NULL'
    )
    return dict(rows)  # type: ignore[arg-type]


def _perm(action: int, rtype: int, org_id: str = "", id: str = "") -> types_pb2.Permission:
    return types_pb2.Permission(
        action=action, resource=types_pb2.Resource(type=rtype, org_id=org_id, id=id)
    )


def test_no_token_or_password_is_stored_in_clear(running: Running, client: Client) -> None:
    r = client.setup.Setup(
        setup_service_pb2.SetupRequest(
            username="root", password=SETUP_PASSWORD, org="acme", bucket="telemetry"
        )
    )
    admin = md(r.token)
    tokens = [r.token]
    org = r.organization.id
    tokens.append(client.auths.CreateAuthorization(
        authorization_service_pb2.CreateAuthorizationRequest(
            org_id=org, preset=authorization_service_pb2.PRESET_OPERATOR
        ), metadata=admin).token)
    tokens.append(client.auths.CreateAuthorization(
        authorization_service_pb2.CreateAuthorizationRequest(
            org_id=org, preset=authorization_service_pb2.PRESET_ALL_ACCESS
        ), metadata=admin).token)
    tokens.append(client.auths.CreateAuthorization(
        authorization_service_pb2.CreateAuthorizationRequest(
            org_id=org,
            permissions=[
                _perm(types_pb2.ACTION_READ, types_pb2.RESOURCE_TYPE_BUCKETS, org, r.bucket.id),
                _perm(types_pb2.ACTION_WRITE, types_pb2.RESOURCE_TYPE_BUCKETS, org, r.bucket.id),
            ],
        ), metadata=admin).token)
    client.users.CreateUser(
        user_service_pb2.CreateUserRequest(name="bob", password=USER_PASSWORD), metadata=admin
    )
    tokens.append(client.sessions.SignIn(
        session_service_pb2.SignInRequest(username="root", password=SETUP_PASSWORD)
    ).session_token)
    assert len(set(tokens)) == 5

    raw = _raw_database(running)
    assert len(raw) > 0
    for token in tokens:
        digest = hashlib.sha256(token.encode()).hexdigest()
        # Proof that these are the right bytes: the digest is stored...
        assert digest.encode() in raw, f"digest of {token[:8]} not found: wrong file?"
        # ...and the token is not, nor its secret part, in any encoding.
        assert token.encode() not in raw
        assert token[8:].encode() not in raw
        assert token.encode("utf-16-le") not in raw
        if token.startswith("azt_"):
            assert token[:8].encode() in raw  # an API token's hint is stored, by design
    for password in (SETUP_PASSWORD, USER_PASSWORD):
        assert password.encode() not in raw
        assert password.encode("utf-16-le") not in raw
    hashes = _password_hashes(running)
    assert sorted(hashes) == ["bob", "root"]
    for stored in hashes.values():
        assert stored.startswith("$argon2id$") and stored.encode() in raw


def test_secrets_stay_out_after_the_server_stops(running: Running, client: Client) -> None:
    """After a clean stop (SQLite: the WAL may be checkpointed into the main file)."""
    r = client.setup.Setup(
        setup_service_pb2.SetupRequest(
            username="root", password=SETUP_PASSWORD, org="acme", bucket="telemetry"
        )
    )
    running.server.stop(0)
    raw = _raw_database(running)
    assert hashlib.sha256(r.token.encode()).hexdigest().encode() in raw
    assert r.token.encode() not in raw
    assert SETUP_PASSWORD.encode() not in raw


# Logs and errors are the service's, not the store's: one backend is enough.
@sqlite_only
def test_no_secret_in_logs_or_errors(client: Client) -> None:
    """SPEC §6: no token, password or hash in a log line or an error."""
    errors: list[str] = []

    def failing(call: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        try:
            call(*args, **kwargs)
        except grpc.RpcError as err:
            errors.append(f"{err.details()} {error_info(err)}")
        else:
            raise AssertionError("expected an error")

    with capture_logs() as logs:
        r = client.setup.Setup(
            setup_service_pb2.SetupRequest(
                username="root", password=SETUP_PASSWORD, org="acme", bucket="telemetry"
            )
        )
        org = r.organization.id
        reader = client.auths.CreateAuthorization(
            authorization_service_pb2.CreateAuthorizationRequest(
                org_id=org,
                permissions=[_perm(types_pb2.ACTION_READ, types_pb2.RESOURCE_TYPE_BUCKETS, org)],
            ),
            metadata=md(r.token),
        ).token
        tampered = reader[:-1] + ("A" if reader[-1] != "A" else "B")
        for token in (reader, tampered, r.token):
            for action in (types_pb2.ACTION_READ, types_pb2.ACTION_WRITE):
                client.access.CheckAccess(access_service_pb2.CheckAccessRequest(
                    token=token, permission=_perm(action, types_pb2.RESOURCE_TYPE_BUCKETS, org)))
        failing(client.access.CheckAccess, access_service_pb2.CheckAccessRequest(
            token=reader, permission=_perm(0, types_pb2.RESOURCE_TYPE_BUCKETS)))
        failing(client.auths.ListAuthorizations,
                authorization_service_pb2.ListAuthorizationsRequest(), metadata=md(tampered))
        failing(client.auths.CreateAuthorization,
                authorization_service_pb2.CreateAuthorizationRequest(
                    org_id=org, preset=authorization_service_pb2.PRESET_OPERATOR),
                metadata=md(reader))
        failing(client.sessions.SignIn,
                session_service_pb2.SignInRequest(username="root", password=USER_PASSWORD))
        failing(client.setup.Setup, setup_service_pb2.SetupRequest(
            username="x", password=USER_PASSWORD, org="y", bucket="z"))
        session = client.sessions.SignIn(
            session_service_pb2.SignInRequest(username="root", password=SETUP_PASSWORD)
        ).session_token
        client.auths.ListAuthorizations(
            authorization_service_pb2.ListAuthorizationsRequest(), metadata=md(session))

    assert any(e.get("event") == "denied" for e in logs), "log capture saw no decision"
    assert sum(e.get("event") == "rpc" for e in logs) >= 6, "log capture saw too few RPCs"
    assert len(errors) == 5
    text = repr(logs) + "\n".join(errors)
    for token in (r.token, reader, tampered, session):
        assert token not in text and token[8:] not in text
        assert hashlib.sha256(token.encode()).hexdigest() not in text
    for password in (SETUP_PASSWORD, USER_PASSWORD):
        assert password not in text
    assert "$argon2" not in text
