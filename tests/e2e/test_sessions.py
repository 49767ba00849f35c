"""SessionService end to end (SPEC §1, §2, §4, §6): sign-in, the session's
permissions (evaluated at check time), expiry, sign-out, failures, throttling."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import bucket_service_pb2 as bucket_pb
from authzd.v1 import session_service_pb2 as session_pb
from authzd.v1 import types_pb2
from authzd.v1 import user_service_pb2 as user_pb
from google.protobuf import field_mask_pb2

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, md, reason_of
from tests.helpers import check, create_user, mint, perm, sign_in

READ, WRITE = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
USERS, BUCKETS, ORGS, INSTANCE = (
    types_pb2.RESOURCE_TYPE_USERS,
    types_pb2.RESOURCE_TYPE_BUCKETS,
    types_pb2.RESOURCE_TYPE_ORGS,
    types_pb2.RESOURCE_TYPE_INSTANCE,
)
ACTIVE, INACTIVE = types_pb2.STATUS_ACTIVE, types_pb2.STATUS_INACTIVE
R = access_pb
SESSION_TOKEN = re.compile(r"azs_[0-9A-Za-z]{49}")
TTL = 60 * 60


# -- helpers ---------------------------------------------------------------


def sign_in_response(client, username: str, password: str) -> session_pb.SignInResponse:
    return client.sessions.SignIn(session_pb.SignInRequest(username=username, password=password))


def assert_unauthenticated(exc: pytest.ExceptionInfo) -> None:
    err = exc.value
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED, (err.code(), err.details())
    assert err.details() == "unauthorized access"
    assert reason_of(err) == "ERROR_REASON_UNAUTHENTICATED"


def assert_sign_in_refused(client, username: str, password: str) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        sign_in(client, username, password)
    assert_unauthenticated(exc)


def set_auth_status(client, token: str, auth_id: str, status: int) -> None:
    client.auths.UpdateAuthorization(
        auth_pb.UpdateAuthorizationRequest(
            authorization=types_pb2.Authorization(id=auth_id, status=status),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        metadata=md(token),
    )


def get_user(client, token: str, user_id: str, scheme: str = "Token") -> types_pb2.User:
    return client.users.GetUser(user_pb.GetUserRequest(id=user_id), metadata=md(token, scheme)).user


# -- sign in ---------------------------------------------------------------


def test_sign_in_returns_session_token(client, admin, clock) -> None:
    r = sign_in_response(client, ADMIN_USER, ADMIN_PASSWORD)
    assert SESSION_TOKEN.fullmatch(r.session_token), r.session_token
    assert len(r.session_token) == 53
    assert abs(r.expire_time.ToMicroseconds() / 1e6 - (clock.time() + TTL)) < 1
    assert (r.user.id, r.user.name, r.user.status) == (admin.user_id, ADMIN_USER, ACTIVE)
    assert r.user.has_password is True
    # Each sign-in is a new session.
    assert sign_in(client, ADMIN_USER, ADMIN_PASSWORD) != r.session_token


def test_session_token_is_an_admin_credential(client, admin) -> None:
    session = sign_in(client, ADMIN_USER, ADMIN_PASSWORD)
    for scheme in ("Bearer", "bearer", "Token", "TOKEN"):
        assert get_user(client, session, admin.user_id, scheme).name == ADMIN_USER
    # The admin's Operator token is part of the union: everything is allowed.
    r = client.buckets.ListBuckets(bucket_pb.ListBucketsRequest(), metadata=md(session, "Bearer"))
    assert [b.id for b in r.buckets] == [admin.bucket_id]
    created = create_user(client, session, "bob")
    assert created.name == "bob"


def test_session_check_access_uses_union_of_the_users_tokens(client, admin) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    other = client.buckets.CreateBucket(
        bucket_pb.CreateBucketRequest(org_id=admin.org_id, name="other"), metadata=md(admin.token)
    ).bucket
    read_b = perm(READ, BUCKETS, admin.org_id, admin.bucket_id)
    write_other = perm(WRITE, BUCKETS, admin.org_id, other.id)
    mint(client, admin.token, admin.org_id, bob.id, perms=[read_b])
    mint(client, admin.token, admin.org_id, bob.id, perms=[write_other])
    # admin's Operator token must not leak into bob's session
    session = sign_in(client, "bob", "bob-password")

    for p in (read_b, write_other, perm(READ, USERS, id=bob.id), perm(WRITE, USERS, id=bob.id)):
        r = check(client, session, p)
        assert (r.allowed, r.reason) == (True, R.DECISION_REASON_ALLOWED), p
        assert r.user_id == bob.id
        assert r.matched_permission == p

    for p in (
        perm(WRITE, BUCKETS, admin.org_id, admin.bucket_id),  # write does not come from read
        perm(READ, BUCKETS, admin.org_id, other.id),  # nor read from write
        perm(READ, USERS, id=admin.user_id),
        perm(READ, ORGS, id=admin.org_id),
        perm(READ, BUCKETS),
        perm(WRITE, INSTANCE),
    ):
        r = check(client, session, p)
        assert (r.allowed, r.reason) == (False, R.DECISION_REASON_NO_MATCHING_PERMISSION), p


def test_session_of_user_without_tokens_has_only_its_own_user(client, admin) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    session = sign_in(client, "bob", "bob-password")
    assert check(client, session, perm(READ, USERS, id=bob.id)).allowed
    assert check(client, session, perm(WRITE, USERS, id=bob.id)).allowed
    assert not check(client, session, perm(READ, USERS)).allowed
    assert get_user(client, session, bob.id, "Bearer").name == "bob"
    with pytest.raises(grpc.RpcError) as exc:
        get_user(client, session, admin.user_id, "Bearer")
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    assert reason_of(exc.value) == "ERROR_REASON_USER_NOT_FOUND"
    r = client.users.ListUsers(user_pb.ListUsersRequest(), metadata=md(session, "Bearer"))
    assert [u.id for u in r.users] == [bob.id]


def test_deactivating_or_deleting_a_token_narrows_a_live_session(client, admin) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    p1 = perm(READ, BUCKETS, admin.org_id, admin.bucket_id)
    p2 = perm(WRITE, BUCKETS, admin.org_id, admin.bucket_id)
    _, a1 = mint(client, admin.token, admin.org_id, bob.id, perms=[p1])
    _, a2 = mint(client, admin.token, admin.org_id, bob.id, perms=[p2])
    session = sign_in(client, "bob", "bob-password")
    assert check(client, session, p1).allowed and check(client, session, p2).allowed

    set_auth_status(client, admin.token, a2, INACTIVE)
    assert check(client, session, p1).allowed
    r = check(client, session, p2)
    assert (r.allowed, r.reason) == (False, R.DECISION_REASON_NO_MATCHING_PERMISSION)

    set_auth_status(client, admin.token, a2, ACTIVE)
    assert check(client, session, p2).allowed

    client.auths.DeleteAuthorization(
        auth_pb.DeleteAuthorizationRequest(id=a1), metadata=md(admin.token)
    )
    assert not check(client, session, p1).allowed
    assert check(client, session, p2).allowed

    # and a token minted later widens it at once
    p3 = perm(READ, ORGS, id=admin.org_id)
    assert not check(client, session, p3).allowed
    mint(client, admin.token, admin.org_id, bob.id, perms=[p3])
    assert check(client, session, p3).allowed


def test_expired_token_drops_out_of_the_session(client, admin, clock) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    p = perm(READ, BUCKETS, admin.org_id, admin.bucket_id)
    mint(client, admin.token, admin.org_id, bob.id, perms=[p], expire_seconds=600, now=clock.time())
    session = sign_in(client, "bob", "bob-password")
    assert check(client, session, p).allowed
    clock.advance(599)
    assert check(client, session, p).allowed
    clock.advance(2)
    r = check(client, session, p)
    assert (r.allowed, r.reason) == (False, R.DECISION_REASON_NO_MATCHING_PERMISSION)
    # the session itself still works
    assert check(client, session, perm(READ, USERS, id=bob.id)).allowed


def test_session_expires_after_ttl(client, admin, clock) -> None:
    session = sign_in(client, ADMIN_USER, ADMIN_PASSWORD)
    own = perm(READ, USERS, id=admin.user_id)
    clock.advance(TTL - 1)
    assert check(client, session, own).allowed
    assert get_user(client, session, admin.user_id).id == admin.user_id

    clock.advance(2)
    r = check(client, session, own)
    assert (r.allowed, r.reason) == (False, R.DECISION_REASON_TOKEN_EXPIRED)
    with pytest.raises(grpc.RpcError) as exc:
        get_user(client, session, admin.user_id, "Bearer")
    assert_unauthenticated(exc)
    # The API token is not affected, and a fresh sign-in works.
    assert get_user(client, admin.token, admin.user_id).id == admin.user_id
    fresh = sign_in(client, ADMIN_USER, ADMIN_PASSWORD)
    assert check(client, fresh, own).allowed


def test_session_of_deactivated_user(client, admin) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    session = sign_in(client, "bob", "bob-password")
    own = perm(READ, USERS, id=bob.id)
    assert check(client, session, own).allowed
    client.users.UpdateUser(
        user_pb.UpdateUserRequest(
            user=types_pb2.User(id=bob.id, status=INACTIVE),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        metadata=md(admin.token),
    )
    # A deactivation ends the user's sessions (issue 9): the token is gone.
    r = check(client, session, own)
    assert (r.allowed, r.reason) == (False, R.DECISION_REASON_TOKEN_UNKNOWN)
    with pytest.raises(grpc.RpcError) as exc:
        get_user(client, session, bob.id)
    assert_unauthenticated(exc)


# -- sign out ----------------------------------------------------------------


def test_sign_out_ends_only_that_session(client, admin) -> None:
    s1 = sign_in(client, ADMIN_USER, ADMIN_PASSWORD)
    s2 = sign_in(client, ADMIN_USER, ADMIN_PASSWORD)
    own = perm(READ, USERS, id=admin.user_id)
    client.sessions.SignOut(session_pb.SignOutRequest(), metadata=md(s1, "Bearer"))

    r = check(client, s1, own)
    assert (r.allowed, r.reason) == (False, R.DECISION_REASON_TOKEN_UNKNOWN)
    with pytest.raises(grpc.RpcError) as exc:
        get_user(client, s1, admin.user_id)
    assert_unauthenticated(exc)
    with pytest.raises(grpc.RpcError) as exc:  # twice
        client.sessions.SignOut(session_pb.SignOutRequest(), metadata=md(s1, "Bearer"))
    assert_unauthenticated(exc)

    assert check(client, s2, own).allowed
    assert check(client, admin.token, own).allowed


def test_sign_out_needs_a_session(client, admin) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        client.sessions.SignOut(session_pb.SignOutRequest())
    assert_unauthenticated(exc)
    # An API token is not a session: it is not signed out (nor deleted).
    with pytest.raises(grpc.RpcError) as exc:
        client.sessions.SignOut(session_pb.SignOutRequest(), metadata=md(admin.token))
    assert_unauthenticated(exc)
    assert check(client, admin.token, perm(READ, USERS, id=admin.user_id)).allowed


# -- failures ----------------------------------------------------------------


def test_sign_in_failures_all_look_the_same(client, admin, running) -> None:
    create_user(client, admin.token, "nopass")  # no password: cannot sign in
    carol = create_user(client, admin.token, "carol", password="carol-password")
    client.users.UpdateUser(
        user_pb.UpdateUserRequest(
            user=types_pb2.User(id=carol.id, status=INACTIVE),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        metadata=md(admin.token),
    )
    cases = [
        ("nobody", "whatever-password"),  # unknown user
        (ADMIN_USER, "wrong-password"),  # wrong password
        (ADMIN_USER, ""),  # empty password
        (ADMIN_USER, ADMIN_PASSWORD[:-1]),  # prefix
        (ADMIN_USER.upper(), ADMIN_PASSWORD),  # names are exact
        ("carol", "carol-password"),  # inactive user, right password
        ("nopass", ""),  # user without password
        ("", ""),
        ("", ADMIN_PASSWORD),
    ]
    for username, password in cases:
        assert_sign_in_refused(client, username, password)
    assert sign_in(client, ADMIN_USER, ADMIN_PASSWORD)


# -- throttling --------------------------------------------------------------


def test_throttling_after_ten_failures(client, admin, clock) -> None:
    create_user(client, admin.token, "bob", password="bob-password")
    for _ in range(10):
        assert_sign_in_refused(client, "bob", "wrong-password")
    # Now even the right password is refused...
    assert_sign_in_refused(client, "bob", "bob-password")
    # ...for this account only.
    assert sign_in(client, ADMIN_USER, ADMIN_PASSWORD)
    # Once the back-off has passed, the right password works again.
    clock.advance(10 * 60)
    assert sign_in(client, "bob", "bob-password")


def test_nine_failures_do_not_throttle(client, admin) -> None:
    create_user(client, admin.token, "bob", password="bob-password")
    for _ in range(9):
        assert_sign_in_refused(client, "bob", "wrong-password")
    assert sign_in(client, "bob", "bob-password")


def test_success_resets_the_failure_count(client, admin) -> None:
    create_user(client, admin.token, "bob", password="bob-password")
    for _ in range(9):
        assert_sign_in_refused(client, "bob", "wrong-password")
    assert sign_in(client, "bob", "bob-password")
    # Without the reset this would be failure number 10 and throttle the account.
    assert_sign_in_refused(client, "bob", "wrong-password")
    assert sign_in(client, "bob", "bob-password")
    for _ in range(9):
        assert_sign_in_refused(client, "bob", "wrong-password")
    assert sign_in(client, "bob", "bob-password")


def test_throttle_backs_off_further_on_more_failures(client, admin, clock) -> None:
    create_user(client, admin.token, "bob", password="bob-password")
    for _ in range(10):
        assert_sign_in_refused(client, "bob", "wrong-password")
    # Keep failing each time the back-off ends: the account stays throttled.
    for _ in range(5):
        clock.advance(10 * 60)
        assert_sign_in_refused(client, "bob", "wrong-password")
        assert_sign_in_refused(client, "bob", "bob-password")
    clock.advance(10 * 60)
    assert sign_in(client, "bob", "bob-password")


def test_throttling_does_not_touch_existing_credentials(client, admin) -> None:
    session = sign_in(client, ADMIN_USER, ADMIN_PASSWORD)
    for _ in range(12):
        assert_sign_in_refused(client, ADMIN_USER, "wrong-password")
    assert_sign_in_refused(client, ADMIN_USER, ADMIN_PASSWORD)
    own = perm(READ, USERS, id=admin.user_id)
    assert check(client, session, own).allowed
    assert check(client, admin.token, own).allowed


def test_concurrent_failures_are_all_counted(client, admin) -> None:
    # Parallel guesses must not slip past the throttle through lost updates of
    # the failure count: ten failures at once throttle like ten in a row.
    create_user(client, admin.token, "bob", password="bob-password")

    def guess(i: int) -> grpc.StatusCode:
        try:
            sign_in(client, "bob", f"wrong-password-{i}")
        except grpc.RpcError as err:
            return err.code()
        return grpc.StatusCode.OK

    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(guess, range(10)))
    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 10
    assert_sign_in_refused(client, "bob", "bob-password")
