"""The audit trail (issue 5, "Secrets and audit"): one JSON line per change, setup,
sign-in/out, recovery command and denied admin call; never a secret; user text
cannot forge a line. Reads the real sink file the server appends to."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from authzd.v1 import (
    access_service_pb2,
    authorization_service_pb2,
    bucket_service_pb2,
    config_service_pb2,
    organization_service_pb2,
    session_service_pb2,
    setup_service_pb2,
    types_pb2,
    user_service_pb2,
)
from google.protobuf.field_mask_pb2 import FieldMask
from structlog.testing import capture_logs

from service.app.audit import Auditor, FileSink, Target
from service.app.clock import FakeClock
from service.domain.errors import StoreUnavailable
from service.transport.rpc import rpc
from tests.cli.conftest import Cli, clean_env, token_in
from tests.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    Admin,
    Client,
    Running,
    md,
    reason_of,
)
from tests.helpers import store_flags
from tests.serving import ServeProcess

FORGED = '{"action":"forged","outcome":"success"}'


@dataclass
class Trail:
    """The audit file a test's server writes."""

    path: Path

    def lines(self) -> list[str]:
        raw = self.path.read_bytes() if self.path.exists() else b""
        text = raw.decode("ascii")  # fails on any non-ASCII byte: all must be escaped
        assert text == "" or text.endswith("\n"), "a partial last line"
        return text.split("\n")[:-1]

    def events(self) -> list[dict[str, Any]]:
        events = [json.loads(line) for line in self.lines()]
        assert all(isinstance(e, dict) for e in events)
        return events

    def summary(self) -> list[tuple[str, str, str]]:
        return [(e["request_id"], e["action"], e["outcome"]) for e in self.events()]


@pytest.fixture
def trail(running: Running, tmp_path: Path) -> Iterator[Trail]:
    """Point the running server's audit trail at a file (as --audit-log does)."""
    path = tmp_path / "audit.jsonl"
    app = running.server.app
    app.audit = Auditor(FileSink(str(path)), running.clock)
    try:
        yield Trail(path)
    finally:
        app.audit.close()


def rid(request_id: str, token: str | None = None) -> tuple[tuple[str, str], ...]:
    """Call metadata: our request id, and the caller token if any."""
    return (("x-request-id", request_id), *(md(token) if token else ()))


def _iso(clock: FakeClock) -> str:
    return datetime.fromtimestamp(clock.time(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _perm(action: int, rtype: int, org_id: str = "", id: str = "") -> types_pb2.Permission:
    return types_pb2.Permission(
        action=action, resource=types_pb2.Resource(type=rtype, org_id=org_id, id=id))


def _fails(call: Any, *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as exc:
        call(*args, **kwargs)
    return exc.value


# -- what is recorded ----------------------------------------------------------


def test_every_change_is_one_event_with_its_context(
    running: Running, client: Client, trail: Trail
) -> None:
    clock = running.clock
    setup = client.setup.Setup(setup_service_pb2.SetupRequest(
        username=ADMIN_USER, password=ADMIN_PASSWORD, org="acme", bucket="telemetry"),
        metadata=rid("r-setup"))
    token = setup.token
    clock.advance(1.5)
    org = client.orgs.CreateOrganization(organization_service_pb2.CreateOrganizationRequest(
        name="globex"), metadata=rid("r-org-create", token)).organization
    client.orgs.UpdateOrganization(organization_service_pb2.UpdateOrganizationRequest(
        organization=types_pb2.Organization(id=org.id, description="d"),
        update_mask=FieldMask(paths=["description"])), metadata=rid("r-org-update", token))
    bucket = client.buckets.CreateBucket(bucket_service_pb2.CreateBucketRequest(
        org_id=org.id, name="b1"), metadata=rid("r-bucket-create", token)).bucket
    client.buckets.UpdateBucket(bucket_service_pb2.UpdateBucketRequest(
        bucket=types_pb2.Bucket(id=bucket.id, name="b2"),
        update_mask=FieldMask(paths=["name"])), metadata=rid("r-bucket-update", token))
    bob = client.users.CreateUser(user_service_pb2.CreateUserRequest(
        name="bob", password="bob-password-1"), metadata=rid("r-user-create", token)).user
    client.users.UpdateUser(user_service_pb2.UpdateUserRequest(
        user=types_pb2.User(id=bob.id, name="robert"),
        update_mask=FieldMask(paths=["name"])), metadata=rid("r-user-update", token))
    client.users.SetPassword(user_service_pb2.SetPasswordRequest(
        id=bob.id, new_password="bob-password-2"), metadata=rid("r-password", token))
    created = client.auths.CreateAuthorization(
        authorization_service_pb2.CreateAuthorizationRequest(
            org_id=org.id, user_id=bob.id, preset=authorization_service_pb2.PRESET_ALL_ACCESS),
        metadata=rid("r-auth-create", token))
    auth_id = created.authorization.id
    client.auths.UpdateAuthorization(authorization_service_pb2.UpdateAuthorizationRequest(
        authorization=types_pb2.Authorization(id=auth_id, status=types_pb2.STATUS_INACTIVE),
        update_mask=FieldMask(paths=["status"])), metadata=rid("r-auth-update", token))
    session = client.sessions.SignIn(session_service_pb2.SignInRequest(
        username=ADMIN_USER, password=ADMIN_PASSWORD), metadata=rid("r-sign-in")).session_token
    _fails(client.sessions.SignIn, session_service_pb2.SignInRequest(
        username=ADMIN_USER, password="not-the-password"), metadata=rid("r-sign-in-bad"))
    client.sessions.SignOut(session_service_pb2.SignOutRequest(),
                            metadata=rid("r-sign-out", session))
    # Reads, checks and the setup status are not changes: none of them is recorded.
    client.orgs.GetOrganization(organization_service_pb2.GetOrganizationRequest(id=org.id),
                                metadata=rid("r-read", token))
    client.users.ListUsers(user_service_pb2.ListUsersRequest(), metadata=rid("r-read", token))
    client.config.GetConfig(config_service_pb2.GetConfigRequest(), metadata=rid("r-read", token))
    client.setup.GetSetupStatus(setup_service_pb2.GetSetupStatusRequest(),
                                metadata=rid("r-read"))
    for checked in (token, created.token, "azt_nope"):
        client.access.CheckAccess(access_service_pb2.CheckAccessRequest(
            token=checked, permission=_perm(types_pb2.ACTION_READ, types_pb2.RESOURCE_TYPE_BUCKETS,
                                            org.id, bucket.id)), metadata=rid("r-read"))
    client.auths.DeleteAuthorization(authorization_service_pb2.DeleteAuthorizationRequest(
        id=auth_id), metadata=rid("r-auth-delete", token))
    client.buckets.DeleteBucket(bucket_service_pb2.DeleteBucketRequest(id=bucket.id),
                                metadata=rid("r-bucket-delete", token))
    client.users.DeleteUser(user_service_pb2.DeleteUserRequest(id=bob.id),
                            metadata=rid("r-user-delete", token))
    client.orgs.DeleteOrganization(organization_service_pb2.DeleteOrganizationRequest(
        id=org.id), metadata=rid("r-org-delete", token))

    assert trail.summary() == [
        ("r-setup", "setup", "success"),
        ("r-org-create", "organization.create", "success"),
        ("r-org-update", "organization.update", "success"),
        ("r-bucket-create", "bucket.create", "success"),
        ("r-bucket-update", "bucket.update", "success"),
        ("r-user-create", "user.create", "success"),
        ("r-user-update", "user.update", "success"),
        ("r-password", "user.set_password", "success"),
        ("r-auth-create", "authorization.create", "success"),
        ("r-auth-update", "authorization.update", "success"),
        ("r-sign-in", "session.sign_in", "success"),
        ("r-sign-in-bad", "session.sign_in", "denied"),
        ("r-sign-out", "session.sign_out", "success"),
        ("r-auth-delete", "authorization.delete", "success"),
        ("r-bucket-delete", "bucket.delete", "success"),
        ("r-user-delete", "user.delete", "success"),
        ("r-org-delete", "organization.delete", "success"),
    ]
    ev = {e["request_id"]: e for e in trail.events()}
    admin_caller = {"caller_authorization_id": setup.authorization.id,
                    "caller_user_id": setup.user.id}
    # Time (UTC, ISO 8601, from the server's clock), peer, method, caller.
    assert ev["r-setup"]["time"] == datetime.fromtimestamp(1_800_000_000, UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    assert ev["r-org-delete"]["time"] == _iso(clock)
    assert all(re.fullmatch(r"ipv[46]:.+:\d+", e["peer"]) for e in ev.values())
    assert ev["r-org-create"]["method"] == "OrganizationService/CreateOrganization"
    for key in ("r-setup", "r-sign-in", "r-sign-in-bad"):  # no caller credential
        assert ev[key]["caller_authorization_id"] is None and ev[key]["caller_user_id"] is None
    for key in ("r-org-create", "r-auth-create", "r-user-delete", "r-org-delete"):
        assert {k: ev[key][k] for k in admin_caller} == admin_caller
    assert all(e["reason"] == "" for e in ev.values() if e["outcome"] == "success")
    # Targets: type, id, and the name where there is one.
    assert ev["r-setup"]["target"] == {"type": "instance"}
    assert {k: ev["r-setup"][k] for k in ("user_id", "org_id", "bucket_id", "authorization_id",
                                          "user", "org", "bucket")} == {
        "user_id": setup.user.id, "org_id": setup.organization.id,
        "bucket_id": setup.bucket.id, "authorization_id": setup.authorization.id,
        "user": ADMIN_USER, "org": "acme", "bucket": "telemetry"}
    assert ev["r-org-create"]["target"] == {"type": "organization", "id": org.id,
                                            "name": "globex"}
    assert ev["r-org-update"]["update_mask"] == ["description"]
    assert ev["r-bucket-create"]["target"] == {"type": "bucket", "id": bucket.id, "name": "b1"}
    assert ev["r-bucket-create"]["org_id"] == org.id
    assert ev["r-bucket-update"]["target"]["name"] == "b2"
    assert ev["r-user-create"]["target"] == {"type": "user", "id": bob.id, "name": "bob"}
    assert ev["r-user-update"]["target"] == {"type": "user", "id": bob.id, "name": "robert"}
    assert ev["r-password"]["target"] == {"type": "user", "id": bob.id}
    made = ev["r-auth-create"]
    assert made["target"] == {"type": "authorization", "id": auth_id}
    assert (made["org_id"], made["user_id"], made["user"]) == (org.id, bob.id, "robert")
    assert len(made["permissions"]) == 45 and f"read:orgs/{org.id}" in made["permissions"]
    assert ev["r-auth-update"]["status"] == "INACTIVE"
    assert ev["r-auth-delete"]["target"] == {"type": "authorization", "id": auth_id}
    assert ev["r-sign-in"]["target"] == {"type": "user", "id": setup.user.id, "name": ADMIN_USER}
    assert ev["r-sign-in-bad"]["target"] == {"type": "user", "name": ADMIN_USER}
    assert ev["r-sign-in-bad"]["reason"] == "ERROR_REASON_UNAUTHENTICATED"
    sign_out = ev["r-sign-out"]
    assert sign_out["target"]["type"] == "session"
    assert sign_out["target"]["id"] == sign_out["caller_authorization_id"]
    assert sign_out["caller_user_id"] == setup.user.id
    assert ev["r-org-delete"]["target"] == {"type": "organization", "id": org.id}


def test_denied_and_failed_calls_are_recorded_with_their_reason(
    running: Running, client: Client, admin: Admin, trail: Trail
) -> None:
    limited_token = client.auths.CreateAuthorization(
        authorization_service_pb2.CreateAuthorizationRequest(
            org_id=admin.org_id, permissions=[_perm(
                types_pb2.ACTION_READ, types_pb2.RESOURCE_TYPE_BUCKETS, admin.org_id,
                admin.bucket_id)]),
        metadata=rid("r-limited", admin.token))
    errors = {
        # UNAUTHENTICATED: no token, a token that is not one; reads count too.
        "r-no-token": _fails(client.auths.GetAuthorization,
                             authorization_service_pb2.GetAuthorizationRequest(
                                 id=admin.authorization_id), metadata=rid("r-no-token")),
        "r-bad-token": _fails(client.users.ListUsers, user_service_pb2.ListUsersRequest(),
                              metadata=rid("r-bad-token", "azt_not-a-token")),
        # PERMISSION_DENIED: a bucket reader creating a user, reading the config.
        "r-create-denied": _fails(client.users.CreateUser,
                                  user_service_pb2.CreateUserRequest(name="eve"),
                                  metadata=rid("r-create-denied", limited_token.token)),
        "r-config-denied": _fails(client.config.GetConfig, config_service_pb2.GetConfigRequest(),
                                  metadata=rid("r-config-denied", limited_token.token)),
        # SignOut with an API token instead of a session.
        "r-sign-out-api": _fails(client.sessions.SignOut, session_service_pb2.SignOutRequest(),
                                 metadata=rid("r-sign-out-api", limited_token.token)),
        # Failures of changes: a duplicate name, setup a second time, a bad id.
        "r-duplicate": _fails(client.users.CreateUser,
                              user_service_pb2.CreateUserRequest(name=ADMIN_USER),
                              metadata=rid("r-duplicate", admin.token)),
        "r-setup-again": _fails(client.setup.Setup, setup_service_pb2.SetupRequest(
            username="x", password="x-password-1", org="x", bucket="x"),
            metadata=rid("r-setup-again")),
        "r-bad-id": _fails(client.auths.DeleteAuthorization,
                           authorization_service_pb2.DeleteAuthorizationRequest(id="nope"),
                           metadata=rid("r-bad-id", admin.token)),
    }
    # A read that fails without a denial (NOT_FOUND) is not recorded; nor is a denied check.
    _fails(client.users.GetUser, user_service_pb2.GetUserRequest(id="0123456789abcdef"),
           metadata=rid("r-not-found", admin.token))
    denied_check = client.access.CheckAccess(access_service_pb2.CheckAccessRequest(
        token=limited_token.token, permission=_perm(
            types_pb2.ACTION_WRITE, types_pb2.RESOURCE_TYPE_BUCKETS, admin.org_id)))
    assert not denied_check.allowed

    assert trail.summary() == [
        ("r-limited", "authorization.create", "success"),
        ("r-no-token", "authorization.get", "denied"),
        ("r-bad-token", "user.list", "denied"),
        ("r-create-denied", "user.create", "denied"),
        ("r-config-denied", "config.get", "denied"),
        ("r-sign-out-api", "session.sign_out", "denied"),
        ("r-duplicate", "user.create", "failure"),
        ("r-setup-again", "setup", "failure"),
        ("r-bad-id", "authorization.delete", "failure"),
    ]
    ev = {e["request_id"]: e for e in trail.events()}
    for key, err in errors.items():  # the reason is the ErrorInfo reason the caller got
        assert ev[key]["reason"] == reason_of(err), key
    assert ev["r-duplicate"]["reason"] == "ERROR_REASON_USER_ALREADY_EXISTS"
    assert ev["r-create-denied"]["reason"] == "ERROR_REASON_PERMISSION_DENIED"
    for key in ("r-no-token", "r-bad-token"):  # the caller is not known
        assert ev[key]["caller_authorization_id"] is None, key
    assert ev["r-no-token"]["target"] == {"type": "authorization", "id": admin.authorization_id}
    for key in ("r-create-denied", "r-config-denied", "r-sign-out-api"):
        assert ev[key]["caller_authorization_id"] == limited_token.authorization.id, key
        assert ev[key]["caller_user_id"] == admin.user_id, key
    assert ev["r-create-denied"]["target"] == {"type": "user", "name": "eve"}
    assert ev["r-limited"]["target"]["id"] == limited_token.authorization.id


class _Aborted(Exception):
    pass


class _Context:
    """Enough of a grpc.ServicerContext for the wrapper."""

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-request-id", "r-unit"),)

    def peer(self) -> str:
        return "ipv4:10.0.0.1:4242"

    def abort_with_status(self, status: grpc.Status) -> None:
        raise _Aborted(status.code)


@pytest.mark.parametrize(("raised", "reason"), [
    (StoreUnavailable(), "ERROR_REASON_STORE_UNAVAILABLE"),
    (RuntimeError("bug"), "ERROR_REASON_INTERNAL"),
])
def test_a_change_the_service_could_not_make_is_an_error_event(
    tmp_path: Path, raised: Exception, reason: str
) -> None:
    path = tmp_path / "audit.jsonl"
    app = SimpleNamespace(audit=Auditor(FileSink(str(path)), FakeClock()), tracing=None)

    def handler(request: Any, context: Any) -> Any:
        raise raised

    wrapped = rpc(app, "SetupService/Setup", handler, authenticated=False)  # type: ignore[arg-type]
    with pytest.raises(_Aborted):
        wrapped(setup_service_pb2.SetupRequest(username="root", password="root-password"),
                _Context())
    app.audit.close()
    [event] = Trail(path).events()
    assert (event["action"], event["outcome"], event["reason"]) == ("setup", "error", reason)
    assert (event["request_id"], event["peer"]) == ("r-unit", "ipv4:10.0.0.1:4242")
    assert event["user"] == "root" and "root-password" not in path.read_text()


# -- no secrets, no forged lines -----------------------------------------------


def test_the_audit_trail_never_holds_a_secret(
    running: Running, client: Client, trail: Trail
) -> None:
    passwords = ["Setup-Pa55word-distinctive", "Bob-Pa55word-distinctive",
                 "Bob-new-Pa55word-distinctive", "Wrong-Pa55word-distinctive"]
    setup = client.setup.Setup(setup_service_pb2.SetupRequest(
        username="root", password=passwords[0], org="acme", bucket="telemetry"))
    admin = md(setup.token)
    tokens = [setup.token]
    for preset in (authorization_service_pb2.PRESET_OPERATOR,
                   authorization_service_pb2.PRESET_ALL_ACCESS):
        tokens.append(client.auths.CreateAuthorization(
            authorization_service_pb2.CreateAuthorizationRequest(
                org_id=setup.organization.id, preset=preset), metadata=admin).token)
    bob = client.users.CreateUser(user_service_pb2.CreateUserRequest(
        name="bob", password=passwords[1]), metadata=admin).user
    client.users.SetPassword(user_service_pb2.SetPasswordRequest(
        id=bob.id, old_password=passwords[1], new_password=passwords[2]), metadata=admin)
    _fails(client.sessions.SignIn, session_service_pb2.SignInRequest(
        username="bob", password=passwords[3]))
    session = client.sessions.SignIn(session_service_pb2.SignInRequest(
        username="bob", password=passwords[2])).session_token
    tokens.append(session)
    client.sessions.SignOut(session_service_pb2.SignOutRequest(), metadata=md(session))
    # Denied calls carrying a real (now unusable) token and a well-formed unknown one.
    _fails(client.users.ListUsers, user_service_pb2.ListUsersRequest(), metadata=md(session))
    # Secrets passed where names go are masked (a second line of defence).
    _fails(client.sessions.SignIn, session_service_pb2.SignInRequest(
        username=tokens[1], password=passwords[0]))

    store = running.server.app.store
    hashes = [store.password_hash(setup.user.id), store.password_hash(bob.id)]
    assert all(h and h.startswith("$argon2id$") for h in hashes)
    secrets = [*tokens, *passwords, *hashes]
    secrets += [hashlib.sha256(t.encode()).hexdigest() for t in tokens]
    secrets += [t[8:] for t in tokens]  # the secret part, past the displayed hint
    text = trail.path.read_text()
    assert len(trail.events()) == 10, trail.summary()  # the calls above were recorded...
    for secret in secrets:
        assert secret not in text, f"a secret in the audit trail: {secret[:6]}..."
    assert "[redacted]" in text  # ...the token typed as a user name is masked


def test_user_text_cannot_forge_a_line(client: Client, admin: Admin, trail: Trail) -> None:
    names = {
        # Rejected (control characters) but recorded as given: the attempt matters.
        "r-lf": "x\n" + FORGED,
        "r-crlf": "x\r\n" + FORGED + "\r\n",
        "r-nel": "x\x85" + FORGED,
        # Rejected too (line/paragraph separators, issue 9), and a line end in JS.
        "r-ls": "y\u2028" + FORGED + "\u2029",
    }
    for key, name in names.items():
        try:
            client.users.CreateUser(user_service_pb2.CreateUserRequest(name=name),
                                    metadata=rid(key, admin.token))
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    # Sign-in takes any user name: escape sequences, DEL, NUL, vertical tab, form feed...
    typed = "z\x1b[2J\x7f\x00\x0b\x0c\x1c\x1d\x1e\r" + FORGED
    _fails(client.sessions.SignIn, session_service_pb2.SignInRequest(
        username=typed, password="whatever-1"), metadata=rid("r-sign-in"))
    names["r-sign-in"] = typed

    raw = trail.path.read_bytes()
    assert all(b == 0x0A or 0x20 <= b < 0x7F for b in raw)  # printable ASCII and LF only
    text = raw.decode("ascii")
    assert len(text.splitlines()) == len(text.split("\n")) - 1 == len(names)
    events = trail.events()
    assert [e["request_id"] for e in events] == list(names)
    assert not any(e["action"] == "forged" for e in events)
    for event in events:  # the text round-trips exactly: escaped, not mangled
        assert event["target"]["name"] == names[event["request_id"]]
    assert [e["outcome"] for e in events] == ["failure"] * 4 + ["denied"]


def test_a_failed_write_to_the_sink_is_logged_not_raised(tmp_path: Path) -> None:
    sink = FileSink(str(tmp_path / "audit.jsonl"))
    auditor = Auditor(sink, FakeClock())
    sink.close()  # as if the disk had gone
    with capture_logs() as logs:
        auditor.record("user.create", Target("user", "0123456789abcdef"), "success")
    assert auditor.write_failures == 1
    assert [e["event"] for e in logs] == ["audit_write_failed"]
    assert logs[0]["action"] == "user.create"


def test_an_event_after_a_torn_write_starts_on_its_own_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import service.app.audit as audit_module

    real_write = audit_module.os.write
    calls = 0

    def disk_fills_halfway(fd: int, data: bytes) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, data[: len(data) // 2])
        if calls == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(audit_module.os, "write", disk_fills_halfway)
    path = tmp_path / "audit.jsonl"
    auditor = Auditor(FileSink(str(path)), FakeClock())
    auditor.record("user.create", Target("user", name="first"), "success")
    auditor.record("user.create", Target("user", name="second"), "success")
    auditor.close()
    assert auditor.write_failures == 1
    torn, whole = path.read_text().split("\n")[:-1]
    assert torn.startswith('{"time"') and '"first"' not in torn  # cut off
    assert json.loads(whole)["target"]["name"] == "second"


# -- where events go: `authzd serve --audit-log`, AUTHZD_AUDIT_LOG ----------------


def _setup_over(target: str) -> str:
    client = Client.connect(target)
    try:
        return client.setup.Setup(setup_service_pb2.SetupRequest(
            username="root", password="root-password-1", org="acme", bucket="telemetry")).token
    finally:
        client.channel.close()


def _audit_lines(lines: list[str]) -> list[dict[str, Any]]:
    """The audit events among a process's stderr lines."""
    out = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "audit":
            out.append(event)
    return out


def test_serve_writes_to_the_audit_log_it_is_given(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"earlier":"event"}\n')  # appended to, never truncated
    server = ServeProcess.start(["--db", str(tmp_path / "a.db"), "--audit-log", str(audit)],
                                env, tmp_path)
    try:
        token = _setup_over(server.target)
    finally:
        assert server.stop() == 0
    lines = audit.read_text().splitlines()
    assert lines[0] == '{"earlier":"event"}' and len(lines) == 2
    event = json.loads(lines[1])
    assert (event["action"], event["outcome"], event["event"]) == ("setup", "success", "audit")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["time"])
    assert token not in audit.read_text()
    # Default ("-"): stderr, one line each, told from log lines by "event": "audit".
    server = ServeProcess.start(["--db", str(tmp_path / "b.db")], env, tmp_path)
    try:
        _setup_over(server.target)
    finally:
        server.stop()
    audited = _audit_lines(server.stderr_lines)
    assert [(e["action"], e["outcome"]) for e in audited] == [("setup", "success")]
    # AUTHZD_AUDIT_LOG=off: none.
    server = ServeProcess.start(["--db", str(tmp_path / "c.db")],
                                {**env, "AUTHZD_AUDIT_LOG": "off"}, tmp_path)
    try:
        _setup_over(server.target)
    finally:
        server.stop()
    assert any('"serving"' in line for line in server.stderr_lines)  # stderr was read...
    assert _audit_lines(server.stderr_lines) == []  # ...and holds no event


def test_serve_refuses_to_start_without_its_audit_log(tmp_path: Path) -> None:
    cli = Cli(tmp_path, clean_env(tmp_path))
    r = cli("serve", "--db", str(tmp_path / "a.db"), "--listen", "127.0.0.1:0",
            "--audit-log", str(tmp_path / "no-such-dir" / "audit.jsonl"), ok=None)
    assert r.returncode == 1
    assert "cannot open the audit log" in r.stderr and "No such file or directory" in r.stderr


def test_a_new_audit_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    FileSink(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o600


# -- recovery commands -------------------------------------------------------------


def test_recovery_commands_are_audited(running: Running, admin: Admin, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    cli = Cli(home, clean_env(home))
    audit = tmp_path / "audit.jsonl"
    db = store_flags(running)
    flag = ["--audit-log", str(audit)]

    r = cli("recovery", "auth", "create-operator", "--org", "acme", "--username", ADMIN_USER,
            *db, *flag)
    token = token_in(r.stdout)
    cli("recovery", "auth", "create-operator", "--org", "nope", "--username", ADMIN_USER,
        *db, *flag, ok=False)
    cli("recovery", "user", "update", "--username", ADMIN_USER, "--password",
        "Recovered-pa55word", *db, env={"AUTHZD_AUDIT_LOG": str(audit)})
    cli("recovery", "user", "list", *db, *flag)
    cli("recovery", "user", "create", "--username", "rescuer", *db, *flag)
    cli("recovery", "org", "create", "--name", "rescue", *db, *flag)
    cli("recovery", "auth", "list", *db, *flag)
    cli("recovery", "org", "list", *db)  # no sink named: not recorded (see the docs)

    events = Trail(audit).events()
    assert [(e["action"], e["outcome"]) for e in events] == [
        ("recovery.create_operator", "success"),
        ("recovery.create_operator", "failure"),
        ("recovery.update_user", "success"),
        ("recovery.list_users", "success"),
        ("recovery.create_user", "success"),
        ("recovery.create_organization", "success"),
        ("recovery.list_authorizations", "success"),
    ]
    assert all(e["request_id"] == "recovery" and e["peer"] == "local" and e["os_user"]
               and e["caller_authorization_id"] is None for e in events)
    minted = events[0]
    assert minted["target"]["type"] == "authorization"
    assert running.server.app.store.get_authorization(minted["target"]["id"]) is not None
    assert (minted["org"], minted["user"], minted["user_id"]) == ("acme", ADMIN_USER,
                                                                  admin.user_id)
    assert events[1]["reason"] == "ERROR_REASON_ORGANIZATION_NOT_FOUND"
    assert events[1]["org"] == "nope"
    assert events[2]["target"] == {"type": "user", "id": admin.user_id, "name": ADMIN_USER}
    assert events[2]["update_mask"] == ["password"]
    assert events[3]["count"] == 1
    store = running.server.app.store
    rescuer, rescue = store.get_user_by_name("rescuer"), store.get_org_by_name("rescue")
    assert rescuer is not None and rescue is not None
    assert events[4]["target"] == {"type": "user", "id": rescuer.id, "name": "rescuer"}
    assert events[5]["target"] == {"type": "organization", "id": rescue.id, "name": "rescue"}
    assert events[6]["count"] == 2  # setup's token and the recovered one
    text = audit.read_text()
    for secret in (token, "Recovered-pa55word", hashlib.sha256(token.encode()).hexdigest()):
        assert secret not in text


def test_recovery_refuses_to_run_unaudited_when_asked_to_audit(
    running: Running, admin: Admin, tmp_path: Path
) -> None:
    cli = Cli(tmp_path, clean_env(tmp_path))
    r = cli("recovery", "user", "create", "--username", "ghost", *store_flags(running),
            "--audit-log", str(tmp_path), ok=False)  # a directory
    assert r.error.startswith(f"error: cannot open the audit log {tmp_path}")
    assert running.server.app.store.get_user_by_name("ghost") is None

