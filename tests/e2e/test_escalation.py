"""No escalation (issue 9, SPEC §2 rule 6 and §4): each case of the adversarial
review, end to end through gRPC on both stores. Each test failed on the code
before the fix."""

from __future__ import annotations

import os
import stat

import grpc
import pytest
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import bucket_service_pb2 as bucket_pb
from authzd.v1 import session_service_pb2 as session_pb
from authzd.v1 import types_pb2
from authzd.v1 import user_service_pb2 as user_pb

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, md, raw_query, sqlite_only
from tests.helpers import (
    ACTIVE,
    INACTIVE,
    READ,
    WRITE,
    assert_error,
    check,
    create_bucket,
    create_org,
    create_user,
    fails,
    mint,
    perm,
    reason,
    same_not_found,
    set_password,
    set_status,
    set_user_status,
    sign_in,
)

T = types_pb2
ALL_ACCESS, OPERATOR = auth_pb.PRESET_ALL_ACCESS, auth_pb.PRESET_OPERATOR
USERS, BUCKETS, DASHBOARDS = (
    T.RESOURCE_TYPE_USERS,
    T.RESOURCE_TYPE_BUCKETS,
    T.RESOURCE_TYPE_DASHBOARDS,
)
AUTHS, ORGS, INSTANCE = (
    T.RESOURCE_TYPE_AUTHORIZATIONS,
    T.RESOURCE_TYPE_ORGS,
    T.RESOURCE_TYPE_INSTANCE,
)
NOT_FOUND, DENIED = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED
PASSWORD = "bob-password-1"


def _bob(client, admin):
    """User bob with an All-Access token of the admin's org (acme)."""
    bob = create_user(client, admin.token, "bob", PASSWORD)
    token, auth_id = mint(client, admin.token, admin.org_id, bob.id, preset=ALL_ACCESS)
    return bob, token, auth_id


# -- 1. All-Access → Operator (critical) ------------------------------------


def test_org_scoped_user_grant_does_not_reach_the_user(client, admin) -> None:
    """All-Access of acme mints read+write orgs/<acme>/users/<ada> (ada = the
    instance owner). Before: that token could SetPassword(ada), sign in as ada and
    mint Operator tokens. Now the grant matches only requests naming acme."""
    bob, aa, _ = _bob(client, admin)
    ada = admin.user_id
    minted, _ = mint(
        client,
        aa,
        admin.org_id,
        bob.id,
        perms=[perm(READ, USERS, admin.org_id, ada), perm(WRITE, USERS, admin.org_id, ada)],
    )
    assert (
        reason(client, minted, perm(WRITE, USERS, id=ada))
        == "DECISION_REASON_NO_MATCHING_PERMISSION"
    )
    err = fails(set_password, client, minted, ada, "taken-over-1")
    assert err.code() in (NOT_FOUND, DENIED)
    fails(sign_in, client, ADMIN_USER, "taken-over-1")
    assert sign_in(client, ADMIN_USER, ADMIN_PASSWORD)  # ada's password is unchanged
    err = fails(client.users.GetUser, user_pb.GetUserRequest(id=ada), metadata=md(minted))
    assert_error(err, NOT_FOUND, "USER_NOT_FOUND")


def test_org_scoped_id_grant_does_not_match_org_less_requests(client, admin) -> None:
    """The same shape for every type: orgs/A/dashboards/X does not give read:dashboards/X."""
    bob, aa, _ = _bob(client, admin)
    x = "0d0d0d0d0d0d0d0d"
    minted, _ = mint(
        client, aa, admin.org_id, bob.id, perms=[perm(READ, DASHBOARDS, admin.org_id, x)]
    )
    assert check(client, minted, perm(READ, DASHBOARDS, admin.org_id, x)).allowed
    assert not check(client, minted, perm(READ, DASHBOARDS, id=x)).allowed
    assert not check(client, minted, perm(READ, DASHBOARDS, "0e0e0e0e0e0e0e0e", x)).allowed


def test_all_access_cannot_mint_an_org_less_grant_or_operator(client, admin) -> None:
    bob, aa, _ = _bob(client, admin)
    err = fails(
        mint, client, aa, admin.org_id, bob.id, perms=[perm(WRITE, USERS, id=admin.user_id)]
    )
    assert_error(err, DENIED, "PERMISSION_DENIED")
    err = fails(mint, client, aa, admin.org_id, bob.id, preset=OPERATOR)
    assert_error(err, DENIED, "PERMISSION_DENIED")
    assert "only an Operator token can create an Operator token" in err.details()


# -- 2. Manage only what you could have created (high) ---------------------


def test_all_access_cannot_revive_a_revoked_operator_token(client, admin) -> None:
    bob, aa, _ = _bob(client, admin)
    op_token, op_id = mint(client, admin.token, admin.org_id, bob.id, preset=OPERATOR)
    set_status(client, admin.token, op_id, INACTIVE)
    assert reason(client, op_token, perm(READ, BUCKETS)) == "DECISION_REASON_TOKEN_INACTIVE"
    err = fails(set_status, client, aa, op_id, ACTIVE)
    assert_error(err, DENIED, "PERMISSION_DENIED")
    assert "could have created" in err.details()
    assert reason(client, op_token, perm(READ, BUCKETS)) == "DECISION_REASON_TOKEN_INACTIVE"
    # Visible (Get works), so the answer is PERMISSION_DENIED, not NOT_FOUND.
    got = client.auths.GetAuthorization(auth_pb.GetAuthorizationRequest(id=op_id), metadata=md(aa))
    assert got.authorization.status == INACTIVE


def test_all_access_cannot_deactivate_or_delete_a_stronger_token(client, admin) -> None:
    ada_aa, _ = mint(client, admin.token, admin.org_id, admin.user_id, preset=ALL_ACCESS)
    # Two Operator tokens of ada, so the last-Operator guard is not what refuses.
    _, second_op = mint(client, admin.token, admin.org_id, admin.user_id, preset=OPERATOR)
    for call in (
        lambda: set_status(client, ada_aa, admin.authorization_id, INACTIVE),
        lambda: client.auths.DeleteAuthorization(
            auth_pb.DeleteAuthorizationRequest(id=second_op), metadata=md(ada_aa)
        ),
    ):
        err = fails(call)
        assert_error(err, DENIED, "PERMISSION_DENIED")
    assert check(client, admin.token, perm(WRITE, INSTANCE)).allowed


def test_a_token_still_manages_what_it_could_create(client, admin) -> None:
    bob, aa, _ = _bob(client, admin)
    ro_token, ro_id = mint(
        client, aa, admin.org_id, bob.id, perms=[perm(READ, BUCKETS, admin.org_id, admin.bucket_id)]
    )
    set_status(client, aa, ro_id, INACTIVE)
    assert reason(client, ro_token, perm(READ, BUCKETS, admin.org_id, admin.bucket_id)) == (
        "DECISION_REASON_TOKEN_INACTIVE"
    )
    set_status(client, aa, ro_id, ACTIVE)
    assert check(client, ro_token, perm(READ, BUCKETS, admin.org_id, admin.bucket_id)).allowed


# -- 3. A narrow token of a password-less user cannot take the account -----


def test_narrow_token_cannot_set_a_password_on_a_passwordless_user(client, admin) -> None:
    svc = create_user(client, admin.token, "svc")  # no password
    mint(client, admin.token, admin.org_id, svc.id, preset=ALL_ACCESS)
    ro, _ = mint(
        client,
        admin.token,
        admin.org_id,
        svc.id,
        perms=[perm(READ, BUCKETS, admin.org_id, admin.bucket_id)],
    )
    err = fails(set_password, client, ro, svc.id, "svc-password-1")
    assert err.code() in (NOT_FOUND, DENIED)
    err = fails(sign_in, client, "svc", "svc-password-1")
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


def test_self_route_always_needs_the_old_password(client, admin) -> None:
    """Even a token holding write:users/<own id> (All-Access) gives the old one."""
    bob, aa, _ = _bob(client, admin)
    err = fails(set_password, client, aa, bob.id, "new-password-1")
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "WRONG_PASSWORD")
    set_password(client, aa, bob.id, "new-password-1", old=PASSWORD)
    assert sign_in(client, "bob", "new-password-1")


def test_password_reset_needs_coverage_of_the_users_tokens(client, admin) -> None:
    """A password signs in with the union of all the user's tokens: an All-Access
    token of acme must not reset the password of a user who also holds a token
    of another org (the session would reach that org)."""
    svc = create_user(client, admin.token, "svc")  # no password: no self route
    aa, _ = mint(client, admin.token, admin.org_id, svc.id, preset=ALL_ACCESS)
    other = create_org(client, admin.token, "globex")
    mint(client, admin.token, other.id, svc.id, preset=ALL_ACCESS)
    err = fails(set_password, client, aa, svc.id, "svc-password-1")
    assert_error(err, DENIED, "PERMISSION_DENIED")
    assert other.id not in err.details()  # names nothing the caller cannot read
    fails(sign_in, client, "svc", "svc-password-1")
    # With only acme's tokens, acme's All-Access token covers them: allowed.
    svc2 = create_user(client, admin.token, "svc2")
    aa2, _ = mint(client, admin.token, admin.org_id, svc2.id, preset=ALL_ACCESS)
    set_password(client, aa2, svc2.id, "svc-password-2")
    assert sign_in(client, "svc2", "svc-password-2")


# -- 4. SetPassword shares the sign-in throttle -----------------------------


def test_old_password_guesses_are_throttled_with_sign_in(client, admin) -> None:
    bob, aa, _ = _bob(client, admin)
    for i in range(10):
        err = fails(set_password, client, aa, bob.id, "new-password-1", old=f"guess-{i:04}")
        assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "WRONG_PASSWORD")
    # The right one is now refused, and sign-in is throttled by the same count.
    err = fails(set_password, client, aa, bob.id, "new-password-1", old=PASSWORD)
    assert_error(err, grpc.StatusCode.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED")
    err = fails(sign_in, client, "bob", PASSWORD)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


def test_old_password_guesses_after_sign_in_failures_are_refused(client, admin, clock) -> None:
    bob, aa, _ = _bob(client, admin)
    for _ in range(10):
        fails(sign_in, client, "bob", "wrong-password")
    err = fails(set_password, client, aa, bob.id, "new-password-1", old=PASSWORD)
    assert_error(err, grpc.StatusCode.RESOURCE_EXHAUSTED, "LIMIT_EXCEEDED")
    clock.advance(2)  # past the first back-off (1 s)
    set_password(client, aa, bob.id, "new-password-1", old=PASSWORD)
    assert sign_in(client, "bob", "new-password-1")


# -- 5. Existence does not leak across orgs --------------------------------


def _two_orgs(client, admin):
    """bob's All-Access token of acme; globex (another org) with user carol."""
    bob, aa, _ = _bob(client, admin)
    globex = create_org(client, admin.token, "globex")
    carol = create_user(client, admin.token, "carol", "carol-password-1")
    mint(client, admin.token, globex.id, carol.id, preset=ALL_ACCESS)
    return bob, aa, globex, carol


def test_create_authorization_in_an_invisible_org_answers_like_a_missing_one(client, admin) -> None:
    _, aa, globex, _ = _two_orgs(client, admin)
    p = [perm(READ, BUCKETS)]
    invisible = fails(
        client.auths.CreateAuthorization,
        auth_pb.CreateAuthorizationRequest(org="globex", permissions=p),
        metadata=md(aa),
    )
    missing = fails(
        client.auths.CreateAuthorization,
        auth_pb.CreateAuthorizationRequest(org="nosuch", permissions=p),
        metadata=md(aa),
    )
    same_not_found(invisible, missing, "globex", "nosuch")
    assert globex.id not in invisible.details()
    invisible = fails(
        client.auths.CreateAuthorization,
        auth_pb.CreateAuthorizationRequest(org_id=globex.id, permissions=p),
        metadata=md(aa),
    )
    missing = fails(
        client.auths.CreateAuthorization,
        auth_pb.CreateAuthorizationRequest(org_id="0f0f0f0f0f0f0f0f", permissions=p),
        metadata=md(aa),
    )
    same_not_found(invisible, missing, globex.id, "0f0f0f0f0f0f0f0f")


def test_create_authorization_for_an_invisible_user_answers_like_a_missing_one(
    client, admin
) -> None:
    _, aa, _, carol = _two_orgs(client, admin)
    p = [perm(READ, BUCKETS, admin.org_id)]
    invisible = fails(
        client.auths.CreateAuthorization,
        auth_pb.CreateAuthorizationRequest(org_id=admin.org_id, user="carol", permissions=p),
        metadata=md(aa),
    )
    missing = fails(
        client.auths.CreateAuthorization,
        auth_pb.CreateAuthorizationRequest(org_id=admin.org_id, user="nosuch", permissions=p),
        metadata=md(aa),
    )
    same_not_found(invisible, missing, "carol", "nosuch")
    assert carol.id not in invisible.details()


def test_create_bucket_in_an_invisible_org_answers_like_a_missing_one(client, admin) -> None:
    _, aa, _, _ = _two_orgs(client, admin)
    invisible = fails(
        client.buckets.CreateBucket,
        bucket_pb.CreateBucketRequest(org="globex", name="b"),
        metadata=md(aa),
    )
    missing = fails(
        client.buckets.CreateBucket,
        bucket_pb.CreateBucketRequest(org="nosuch", name="b"),
        metadata=md(aa),
    )
    same_not_found(invisible, missing, "globex", "nosuch")


@pytest.mark.parametrize("field", ["org", "org_id", "user", "user_id"])
def test_list_filters_answer_invisible_like_missing(client, admin, field) -> None:
    _, aa, globex, carol = _two_orgs(client, admin)
    visible_key = {"org": "globex", "org_id": globex.id, "user": "carol", "user_id": carol.id}[
        field
    ]
    missing_key = {
        "org": "nosuch",
        "org_id": "0f0f0f0f0f0f0f0f",
        "user": "nosuch",
        "user_id": "0f0f0f0f0f0f0f0f",
    }[field]
    invisible = fails(
        client.auths.ListAuthorizations,
        auth_pb.ListAuthorizationsRequest(**{field: visible_key}),
        metadata=md(aa),
    )
    missing = fails(
        client.auths.ListAuthorizations,
        auth_pb.ListAuthorizationsRequest(**{field: missing_key}),
        metadata=md(aa),
    )
    same_not_found(invisible, missing, visible_key, missing_key)
    if field.startswith("org"):
        invisible = fails(
            client.buckets.ListBuckets,
            bucket_pb.ListBucketsRequest(**{field: visible_key}),
            metadata=md(aa),
        )
        missing = fails(
            client.buckets.ListBuckets,
            bucket_pb.ListBucketsRequest(**{field: missing_key}),
            metadata=md(aa),
        )
        same_not_found(invisible, missing, visible_key, missing_key)
    # The caller's own org and user still filter normally.
    own = client.auths.ListAuthorizations(
        auth_pb.ListAuthorizationsRequest(org_id=admin.org_id), metadata=md(aa)
    )
    assert own.authorizations


def test_unknown_user_names_are_throttled_like_accounts(
    client, admin, running, monkeypatch
) -> None:
    """The 11th failure of an unknown name answers like that of a known one:
    throttled, without the hash an unthrottled attempt costs."""
    hasher = running.server.app.hasher
    spent: list[str] = []
    real_spend, real_verify = hasher.spend_like_verify, hasher.verify
    monkeypatch.setattr(
        hasher, "spend_like_verify", lambda pw: (spent.append("spend"), real_spend(pw))[1]
    )
    monkeypatch.setattr(
        hasher, "verify", lambda h, pw: (spent.append("verify"), real_verify(h, pw))[1]
    )
    create_user(client, admin.token, "known", "known-password-1")
    for name in ("known", "nobody-here"):
        for _ in range(10):
            fails(sign_in, client, name, "wrong-password")
        assert len(spent) == 10
        spent.clear()
        err = fails(sign_in, client, name, "wrong-password")
        assert err.code() == grpc.StatusCode.UNAUTHENTICATED
        assert err.details() == "unauthorized access"
        assert spent == [], name  # throttled: no hash, same for both
    assert raw_query(running.location, "SELECT COUNT(*) FROM signin_throttle")[0][0] == 1


# -- 6. The last-Operator guard is not emptied by expiry --------------------


def test_an_expiring_operator_token_is_not_the_way_in(client, admin, clock) -> None:
    now = int(clock.now().timestamp())
    expiring, _ = mint(
        client, admin.token, admin.org_id, admin.user_id, preset=OPERATOR, expire_seconds=4, now=now
    )
    err = fails(
        client.auths.DeleteAuthorization,
        auth_pb.DeleteAuthorizationRequest(id=admin.authorization_id),
        metadata=md(expiring),
    )
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")
    err = fails(set_status, client, expiring, admin.authorization_id, INACTIVE)
    assert_error(err, grpc.StatusCode.FAILED_PRECONDITION, "LAST_OPERATOR")
    clock.advance(5)
    assert check(client, admin.token, perm(WRITE, INSTANCE)).allowed


# -- 7. Sessions end with a password change or a deactivation --------------


def test_password_reset_ends_the_users_sessions(client, admin) -> None:
    carol = create_user(client, admin.token, "carol", "carol-password-1")
    mint(client, admin.token, admin.org_id, carol.id, preset=ALL_ACCESS)
    session = sign_in(client, "carol", "carol-password-1")
    assert check(client, session, perm(READ, BUCKETS, admin.org_id)).allowed
    set_password(client, admin.token, carol.id, "carol-password-2")
    assert (
        reason(client, session, perm(READ, BUCKETS, admin.org_id))
        == "DECISION_REASON_TOKEN_UNKNOWN"
    )


def test_self_change_keeps_only_the_callers_session(client, admin) -> None:
    carol = create_user(client, admin.token, "carol", "carol-password-1")
    mint(client, admin.token, admin.org_id, carol.id, preset=ALL_ACCESS)
    mine = sign_in(client, "carol", "carol-password-1")
    other = sign_in(client, "carol", "carol-password-1")
    set_password(client, mine, carol.id, "carol-password-2", old="carol-password-1")
    p = perm(READ, BUCKETS, admin.org_id)
    assert check(client, mine, p).allowed
    assert reason(client, other, p) == "DECISION_REASON_TOKEN_UNKNOWN"


def test_deactivation_ends_sessions_for_good(client, admin) -> None:
    carol = create_user(client, admin.token, "carol", "carol-password-1")
    mint(client, admin.token, admin.org_id, carol.id, preset=ALL_ACCESS)
    session = sign_in(client, "carol", "carol-password-1")
    set_user_status(client, admin.token, carol.id, INACTIVE)
    set_user_status(client, admin.token, carol.id, ACTIVE)
    assert (
        reason(client, session, perm(READ, BUCKETS, admin.org_id))
        == "DECISION_REASON_TOKEN_UNKNOWN"
    )
    err = fails(client.sessions.SignOut, session_pb.SignOutRequest(), metadata=md(session))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED


# -- 8. Look-alike names ------------------------------------------------------

LOOK_ALIKES = [
    " ada0",
    "ada0 ",
    "ada0\u200b",
    "\ufeffada0",
    "ad\u202emin",
    "a\u2028b",
    "a\u2029b",
    "a\x07b",
    "0a1b2c3d4e5f6071",
    "0A1B2C3D4E5F6071",
]


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_look_alike_names_are_refused(client, admin, name) -> None:
    err = fails(create_user, client, admin.token, name)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert err.details().startswith("name: ")
    err = fails(create_org, client, admin.token, name)
    assert err.details().startswith("name: ")
    err = fails(create_bucket, client, admin.token, admin.org_id, name)
    assert err.details().startswith("name: ")


def test_an_org_cannot_be_named_like_another_orgs_id(client, admin) -> None:
    err = fails(create_org, client, admin.token, admin.org_id)
    assert_error(err, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")


def test_names_are_nfc_normalised(client, admin) -> None:
    decomposed = "Jose\u0301"
    user = create_user(client, admin.token, decomposed)
    assert user.name == "Jos\u00e9"
    err = fails(create_user, client, admin.token, "Jos\u00e9")
    assert err.code() == grpc.StatusCode.ALREADY_EXISTS


def test_rows_named_before_the_rules_keep_working(client, admin, running) -> None:
    user = create_user(client, admin.token, "legacy0", "legacy-password-1")
    raw_query(running.location, f"UPDATE \"user\" SET name = ' legacy0' WHERE id = '{user.id}'")
    running.server.app.access.invalidate()
    assert sign_in(client, " legacy0", "legacy-password-1")
    got = client.users.GetUser(user_pb.GetUserRequest(id=user.id), metadata=md(admin.token))
    assert got.user.name == " legacy0"


# -- 9. The database is not world-readable -----------------------------------


@sqlite_only
def test_database_files_are_created_0600(client, admin, running) -> None:
    create_user(client, admin.token, "someone", "someone-password-1")
    for suffix in ("", "-wal", "-shm"):
        path = running.db_path + suffix
        assert os.path.exists(path), path
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == 0o600, (path, oct(mode))
