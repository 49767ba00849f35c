"""UserService end to end (SPEC §1, §4, §6): who may create, see, change and
delete users; cascades; the last Operator; passwords."""

from __future__ import annotations

import grpc
import pytest
from authzd.v1 import access_service_pb2 as access_pb
from authzd.v1 import authorization_service_pb2 as auth_pb
from authzd.v1 import types_pb2
from authzd.v1 import user_service_pb2 as user_pb
from google.protobuf import field_mask_pb2

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, error_info, md
from tests.helpers import assert_error, check, create_user, mint, perm, set_password, sign_in

READ, WRITE = types_pb2.ACTION_READ, types_pb2.ACTION_WRITE
USERS, BUCKETS, ORGS = (
    types_pb2.RESOURCE_TYPE_USERS,
    types_pb2.RESOURCE_TYPE_BUCKETS,
    types_pb2.RESOURCE_TYPE_ORGS,
)
ACTIVE, INACTIVE = types_pb2.STATUS_ACTIVE, types_pb2.STATUS_INACTIVE
ALLOWED = access_pb.DECISION_REASON_ALLOWED
TOKEN_UNKNOWN = access_pb.DECISION_REASON_TOKEN_UNKNOWN
USER_INACTIVE = access_pb.DECISION_REASON_USER_INACTIVE


# -- helpers ---------------------------------------------------------------


def list_all_users(client, token: str, page_size: int = 0) -> list:
    out, page_token, pages = [], "", 0
    while True:
        r = client.users.ListUsers(
            user_pb.ListUsersRequest(page_size=page_size, page_token=page_token),
            metadata=md(token),
        )
        pages += 1
        assert pages < 100, "pagination does not end"
        if page_size:
            assert len(r.users) <= page_size
        out.extend(r.users)
        if not r.next_page_token:
            return out
        page_token = r.next_page_token


def update_user(client, token: str, user: types_pb2.User, paths: list[str]):
    return client.users.UpdateUser(
        user_pb.UpdateUserRequest(user=user, update_mask=field_mask_pb2.FieldMask(paths=paths)),
        metadata=md(token),
    ).user


def all_access(client, admin, user_id: str) -> str:
    token, _ = mint(client, admin.token, admin.org_id, user_id, preset=auth_pb.PRESET_ALL_ACCESS)
    return token


# -- create ------------------------------------------------------------------


def test_operator_creates_user(client, admin, clock) -> None:
    user = create_user(client, admin.token, "alice", password="alice-password")
    assert len(user.id) == 16 and user.id != admin.user_id
    assert int(user.id, 16) != 0 and user.id == user.id.lower()
    assert user.name == "alice"
    assert user.status == ACTIVE  # UNSPECIFIED means ACTIVE
    assert user.has_password is True
    assert user.create_time.seconds == int(clock.time())

    got = client.users.GetUser(user_pb.GetUserRequest(id=user.id), metadata=md(admin.token)).user
    assert got == user

    nopw = create_user(client, admin.token, "bob")
    assert nopw.has_password is False
    inactive = create_user(client, admin.token, "carol", status=INACTIVE)
    assert inactive.status == INACTIVE
    got = client.users.GetUser(user_pb.GetUserRequest(id=inactive.id), metadata=md(admin.token))
    assert got.user.status == INACTIVE


def test_all_access_token_cannot_create_user(client, admin, running) -> None:
    bob = create_user(client, admin.token, "bob")
    token = all_access(client, admin, bob.id)
    before = running.snapshot()
    with pytest.raises(grpc.RpcError) as exc:
        create_user(client, token, "mallory")
    assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")
    assert error_info(exc.value).metadata["permission"] == "write:users"
    assert running.snapshot() == before


def test_read_write_bucket_token_cannot_create_user(client, admin) -> None:
    token, _ = mint(
        client,
        admin.token,
        admin.org_id,
        perms=[perm(READ, BUCKETS, admin.org_id, admin.bucket_id)],
    )
    with pytest.raises(grpc.RpcError) as exc:
        create_user(client, token, "mallory")
    assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")


def test_duplicate_user_name(client, admin, running) -> None:
    create_user(client, admin.token, "alice")
    before = running.snapshot()
    with pytest.raises(grpc.RpcError) as exc:
        create_user(client, admin.token, "alice", password="another-password")
    assert_error(exc, grpc.StatusCode.ALREADY_EXISTS, "ERROR_REASON_USER_ALREADY_EXISTS")
    with pytest.raises(grpc.RpcError) as exc:
        create_user(client, admin.token, ADMIN_USER)
    assert_error(exc, grpc.StatusCode.ALREADY_EXISTS, "ERROR_REASON_USER_ALREADY_EXISTS")
    assert running.snapshot() == before
    # Names are compared exactly: another case is another user.
    assert create_user(client, admin.token, "Alice").name == "Alice"


# -- get / list ------------------------------------------------------------


def test_all_access_token_sees_only_its_own_user(client, admin) -> None:
    bob = create_user(client, admin.token, "bob")
    token = all_access(client, admin, bob.id)

    got = client.users.GetUser(user_pb.GetUserRequest(id=bob.id), metadata=md(token)).user
    assert (got.id, got.name) == (bob.id, "bob")

    for other in (admin.user_id, create_user(client, admin.token, "carol").id):
        with pytest.raises(grpc.RpcError) as exc:
            client.users.GetUser(user_pb.GetUserRequest(id=other), metadata=md(token))
        assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")

    # Invisible and missing look the same.
    with pytest.raises(grpc.RpcError) as exc:
        client.users.GetUser(user_pb.GetUserRequest(id="0123456789abcdef"), metadata=md(token))
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")

    assert [u.id for u in list_all_users(client, token)] == [bob.id]


def test_bucket_token_sees_no_user(client, admin) -> None:
    token, _ = mint(
        client,
        admin.token,
        admin.org_id,
        perms=[perm(READ, BUCKETS, admin.org_id, admin.bucket_id)],
    )
    # Not even its own owner: it holds no read:users permission.
    with pytest.raises(grpc.RpcError) as exc:
        client.users.GetUser(user_pb.GetUserRequest(id=admin.user_id), metadata=md(token))
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")
    assert list_all_users(client, token) == []


def test_user_with_explicit_read_permission(client, admin) -> None:
    bob = create_user(client, admin.token, "bob")
    carol = create_user(client, admin.token, "carol")
    token, _ = mint(client, admin.token, admin.org_id, perms=[perm(READ, USERS, id=carol.id)])
    got = client.users.GetUser(user_pb.GetUserRequest(id=carol.id), metadata=md(token)).user
    assert got.name == "carol"
    with pytest.raises(grpc.RpcError) as exc:
        client.users.GetUser(user_pb.GetUserRequest(id=bob.id), metadata=md(token))
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")
    assert [u.name for u in list_all_users(client, token)] == ["carol"]
    # read does not imply write
    with pytest.raises(grpc.RpcError) as exc:
        update_user(client, token, types_pb2.User(id=carol.id, name="caroline"), ["name"])
    assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")
    assert error_info(exc.value).metadata["permission"] == f"write:users/{carol.id}"


def test_list_users_pagination(client, admin) -> None:
    created = [create_user(client, admin.token, f"user-{i}").id for i in range(6)]
    assert len(created) + 1 == 7
    everyone = sorted([admin.user_id, *created])

    assert sorted(u.id for u in list_all_users(client, admin.token)) == everyone
    for size in (1, 2, 3, 7, 1000, 5000):
        paged = [u.id for u in list_all_users(client, admin.token, page_size=size)]
        assert paged == everyone, size  # no duplicates, no gaps, ordered by id

    # 7 users in pages of 3: 3 + 3 + 1, and the page with the last one ends the list.
    sizes, token = [], ""
    while True:
        r = client.users.ListUsers(
            user_pb.ListUsersRequest(page_size=3, page_token=token), metadata=md(admin.token)
        )
        sizes.append(len(r.users))
        token = r.next_page_token
        if not token:
            break
    assert sizes == [3, 3, 1]
    # 7 users in pages of 7 or 1000: one page, no token.
    for size in (7, 1000):
        r = client.users.ListUsers(
            user_pb.ListUsersRequest(page_size=size), metadata=md(admin.token)
        )
        assert (len(r.users), r.next_page_token) == (7, "")


def test_list_users_filter_by_name(client, admin) -> None:
    create_user(client, admin.token, "alice")
    r = client.users.ListUsers(user_pb.ListUsersRequest(name="alice"), metadata=md(admin.token))
    assert [u.name for u in r.users] == ["alice"]
    r = client.users.ListUsers(user_pb.ListUsersRequest(name="nobody"), metadata=md(admin.token))
    assert list(r.users) == [] and r.next_page_token == ""


def test_pagination_skips_invisible_users(client, admin) -> None:
    # bob's id may sort anywhere among many invisible users; paging still finds it.
    for i in range(5):
        create_user(client, admin.token, f"filler-{i}")
    bob = create_user(client, admin.token, "bob")
    token = all_access(client, admin, bob.id)
    assert [u.id for u in list_all_users(client, token, page_size=1)] == [bob.id]
    # bob is the last visible user: the one page says so.
    r = client.users.ListUsers(user_pb.ListUsersRequest(page_size=1), metadata=md(token))
    assert ([u.id for u in r.users], r.next_page_token) == ([bob.id], "")


# -- update ------------------------------------------------------------------


def test_update_user_name_and_status(client, admin, clock) -> None:
    bob = create_user(client, admin.token, "bob")
    bob_token = all_access(client, admin, bob.id)
    clock.advance(120)

    renamed = update_user(client, admin.token, types_pb2.User(id=bob.id, name="robert"), ["name"])
    assert renamed.name == "robert" and renamed.status == ACTIVE
    assert renamed.update_time.seconds == bob.update_time.seconds + 120
    assert renamed.create_time == bob.create_time
    got = client.users.GetUser(user_pb.GetUserRequest(id=bob.id), metadata=md(admin.token)).user
    assert got.name == "robert"

    # The mask decides: status is set but not named, so it stays.
    same = update_user(
        client, admin.token, types_pb2.User(id=bob.id, name="bobby", status=INACTIVE), ["name"]
    )
    assert (same.name, same.status) == ("bobby", ACTIVE)

    p = perm(READ, USERS, id=bob.id)
    assert check(client, bob_token, p).reason == ALLOWED
    off = update_user(client, admin.token, types_pb2.User(id=bob.id, status=INACTIVE), ["status"])
    assert (off.name, off.status) == ("bobby", INACTIVE)
    # The user's tokens are denied at once, and it cannot call admin RPCs.
    assert check(client, bob_token, p).reason == USER_INACTIVE
    with pytest.raises(grpc.RpcError) as exc:
        client.users.GetUser(user_pb.GetUserRequest(id=bob.id), metadata=md(bob_token))
    assert_error(exc, grpc.StatusCode.UNAUTHENTICATED, "ERROR_REASON_UNAUTHENTICATED")

    on = update_user(client, admin.token, types_pb2.User(id=bob.id, status=ACTIVE), ["status"])
    assert on.status == ACTIVE
    assert check(client, bob_token, p).reason == ALLOWED


def test_update_user_without_mask_updates_set_fields(client, admin) -> None:
    bob = create_user(client, admin.token, "bob")
    r = update_user(client, admin.token, types_pb2.User(id=bob.id, name="robert"), [])
    assert (r.name, r.status) == ("robert", ACTIVE)


def test_update_user_rename_to_existing_name(client, admin, running) -> None:
    bob = create_user(client, admin.token, "bob")
    before = running.snapshot()
    with pytest.raises(grpc.RpcError) as exc:
        update_user(client, admin.token, types_pb2.User(id=bob.id, name=ADMIN_USER), ["name"])
    assert_error(exc, grpc.StatusCode.ALREADY_EXISTS, "ERROR_REASON_USER_ALREADY_EXISTS")
    assert running.snapshot() == before
    got = client.users.GetUser(user_pb.GetUserRequest(id=bob.id), metadata=md(admin.token))
    assert got.user.name == "bob"


def test_update_user_bad_mask(client, admin) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    for paths in (["password"], ["id"], ["has_password"], ["name", "create_time"]):
        with pytest.raises(grpc.RpcError) as exc:
            update_user(client, admin.token, types_pb2.User(id=bob.id, name="x"), paths)
        assert_error(exc, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_REASON_INVALID_UPDATE_MASK")
        assert error_info(exc.value).metadata["field"] == "update_mask"
    # nothing to update
    with pytest.raises(grpc.RpcError) as exc:
        update_user(client, admin.token, types_pb2.User(id=bob.id), [])
    assert_error(exc, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_REASON_INVALID_UPDATE_MASK")


def test_all_access_user_may_rename_itself_but_not_others(client, admin) -> None:
    bob = create_user(client, admin.token, "bob")
    token = all_access(client, admin, bob.id)
    r = update_user(client, token, types_pb2.User(id=bob.id, name="robert"), ["name"])
    assert r.name == "robert"
    with pytest.raises(grpc.RpcError) as exc:
        update_user(client, token, types_pb2.User(id=admin.user_id, name="pwned"), ["name"])
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")
    with pytest.raises(grpc.RpcError) as exc:
        client.users.DeleteUser(user_pb.DeleteUserRequest(id=admin.user_id), metadata=md(token))
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")
    got = client.users.GetUser(user_pb.GetUserRequest(id=admin.user_id), metadata=md(admin.token))
    assert got.user.name == ADMIN_USER


# -- delete ------------------------------------------------------------------


def test_delete_user_cascades_tokens_and_sessions(client, admin, running) -> None:
    carol = create_user(client, admin.token, "carol", password="carol-password")
    t_all, a_all = mint(
        client, admin.token, admin.org_id, carol.id, preset=auth_pb.PRESET_ALL_ACCESS
    )
    read_bucket = perm(READ, BUCKETS, admin.org_id, admin.bucket_id)
    t_bucket, a_bucket = mint(client, admin.token, admin.org_id, carol.id, perms=[read_bucket])
    session = sign_in(client, "carol", "carol-password")
    # bob's things must survive
    bob = create_user(client, admin.token, "bob", password="bob-password")
    t_bob, _ = mint(client, admin.token, admin.org_id, bob.id, perms=[read_bucket])
    bob_session = sign_in(client, "bob", "bob-password")

    own = perm(READ, USERS, id=carol.id)
    assert check(client, t_all, own).reason == ALLOWED
    assert check(client, t_bucket, read_bucket).reason == ALLOWED
    assert check(client, session, own).reason == ALLOWED

    rev_before, counts_before = running.snapshot()
    client.users.DeleteUser(user_pb.DeleteUserRequest(id=carol.id), metadata=md(admin.token))
    rev_after, counts_after = running.snapshot()

    # One write transaction removed the user, its 2 tokens and its session.
    assert rev_after == rev_before + 1
    assert counts_after["users"] == counts_before["users"] - 1
    assert counts_after["authorizations"] == counts_before["authorizations"] - 2
    assert counts_after["sessions"] == counts_before["sessions"] - 1

    # At once: the tokens and the session are unknown.
    for token, p in ((t_all, own), (t_bucket, read_bucket), (session, own)):
        r = check(client, token, p)
        assert (r.allowed, r.reason) == (False, TOKEN_UNKNOWN)
        with pytest.raises(grpc.RpcError) as exc:
            list_all_users(client, token)
        assert_error(exc, grpc.StatusCode.UNAUTHENTICATED, "ERROR_REASON_UNAUTHENTICATED")

    for auth_id in (a_all, a_bucket):
        with pytest.raises(grpc.RpcError) as exc:
            client.auths.GetAuthorization(
                auth_pb.GetAuthorizationRequest(id=auth_id), metadata=md(admin.token)
            )
        assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_AUTHORIZATION_NOT_FOUND")
    with pytest.raises(grpc.RpcError) as exc:
        client.users.GetUser(user_pb.GetUserRequest(id=carol.id), metadata=md(admin.token))
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")
    with pytest.raises(grpc.RpcError) as exc:
        client.users.DeleteUser(user_pb.DeleteUserRequest(id=carol.id), metadata=md(admin.token))
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")

    assert check(client, t_bob, read_bucket).reason == ALLOWED
    assert check(client, bob_session, perm(READ, USERS, id=bob.id)).reason == ALLOWED
    # The name is free again.
    assert create_user(client, admin.token, "carol").name == "carol"


def test_cannot_delete_or_deactivate_owner_of_last_operator_token(client, admin, running) -> None:
    before = running.snapshot()
    with pytest.raises(grpc.RpcError) as exc:
        client.users.DeleteUser(
            user_pb.DeleteUserRequest(id=admin.user_id), metadata=md(admin.token)
        )
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_LAST_OPERATOR")
    with pytest.raises(grpc.RpcError) as exc:
        update_user(
            client, admin.token, types_pb2.User(id=admin.user_id, status=INACTIVE), ["status"]
        )
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_LAST_OPERATOR")
    assert running.snapshot() == before

    # A second Operator token owned by the same user does not help.
    mint(client, admin.token, admin.org_id, preset=auth_pb.PRESET_OPERATOR)
    with pytest.raises(grpc.RpcError) as exc:
        client.users.DeleteUser(
            user_pb.DeleteUserRequest(id=admin.user_id), metadata=md(admin.token)
        )
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_LAST_OPERATOR")

    # Renaming the user is fine, and the Operator token still works.
    r = update_user(client, admin.token, types_pb2.User(id=admin.user_id, name="root"), ["name"])
    assert (r.name, r.status) == ("root", ACTIVE)


def test_delete_operator_owner_once_another_user_holds_operator(client, admin) -> None:
    dave = create_user(client, admin.token, "dave")
    dave_op, _ = mint(client, admin.token, admin.org_id, dave.id, preset=auth_pb.PRESET_OPERATOR)

    client.users.DeleteUser(user_pb.DeleteUserRequest(id=admin.user_id), metadata=md(dave_op))
    instance = perm(WRITE, types_pb2.RESOURCE_TYPE_INSTANCE)
    assert check(client, admin.token, instance).reason == TOKEN_UNKNOWN
    assert check(client, dave_op, instance).reason == ALLOWED

    # Now dave holds the last one.
    with pytest.raises(grpc.RpcError) as exc:
        update_user(client, dave_op, types_pb2.User(id=dave.id, status=INACTIVE), ["status"])
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_LAST_OPERATOR")


def test_inactive_operator_token_does_not_count_as_a_way_in(client, admin) -> None:
    dave = create_user(client, admin.token, "dave")
    _, dave_op_id = mint(client, admin.token, admin.org_id, dave.id, preset=auth_pb.PRESET_OPERATOR)
    client.auths.UpdateAuthorization(
        auth_pb.UpdateAuthorizationRequest(
            authorization=types_pb2.Authorization(id=dave_op_id, status=INACTIVE),
            update_mask=field_mask_pb2.FieldMask(paths=["status"]),
        ),
        metadata=md(admin.token),
    )
    with pytest.raises(grpc.RpcError) as exc:
        client.users.DeleteUser(
            user_pb.DeleteUserRequest(id=admin.user_id), metadata=md(admin.token)
        )
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_LAST_OPERATOR")


# -- passwords ---------------------------------------------------------------


def assert_sign_in_fails(client, username: str, password: str) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        sign_in(client, username, password)
    assert_error(exc, grpc.StatusCode.UNAUTHENTICATED, "ERROR_REASON_UNAUTHENTICATED")


def test_user_changes_own_password_with_old_one(client, admin, running) -> None:
    before = running.snapshot()
    with pytest.raises(grpc.RpcError) as exc:
        set_password(client, admin.token, admin.user_id, "new-password-1", old="wrong-password")
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_WRONG_PASSWORD")
    with pytest.raises(grpc.RpcError) as exc:
        set_password(client, admin.token, admin.user_id, "new-password-1")  # no old password
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_WRONG_PASSWORD")
    assert running.snapshot() == before
    assert sign_in(client, ADMIN_USER, ADMIN_PASSWORD).startswith("azs_")

    set_password(client, admin.token, admin.user_id, "new-password-1", old=ADMIN_PASSWORD)
    assert sign_in(client, ADMIN_USER, "new-password-1").startswith("azs_")
    assert_sign_in_fails(client, ADMIN_USER, ADMIN_PASSWORD)


def test_all_access_user_changes_own_password(client, admin) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    token = all_access(client, admin, bob.id)
    with pytest.raises(grpc.RpcError) as exc:
        set_password(client, token, bob.id, "bob-new-password", old="not-bobs")
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_WRONG_PASSWORD")
    set_password(client, token, bob.id, "bob-new-password", old="bob-password")
    assert sign_in(client, "bob", "bob-new-password")
    # bob cannot set anyone else's password, and cannot tell whether they exist
    with pytest.raises(grpc.RpcError) as exc:
        set_password(client, token, admin.user_id, "hijacked-password", old=ADMIN_PASSWORD)
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")
    assert sign_in(client, ADMIN_USER, ADMIN_PASSWORD)


def test_session_user_changes_own_password(client, admin) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    session = sign_in(client, "bob", "bob-password")
    with pytest.raises(grpc.RpcError) as exc:
        set_password(client, session, bob.id, "bob-new-password", old="wrong-password")
    assert_error(exc, grpc.StatusCode.FAILED_PRECONDITION, "ERROR_REASON_WRONG_PASSWORD")
    set_password(client, session, bob.id, "bob-new-password", old="bob-password")
    assert sign_in(client, "bob", "bob-new-password")


def test_operator_sets_another_users_password_without_old_one(client, admin) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    set_password(client, admin.token, bob.id, "reset-by-admin")
    assert sign_in(client, "bob", "reset-by-admin")
    assert_sign_in_fails(client, "bob", "bob-password")

    # A user without a password gets one and can then sign in.
    carol = create_user(client, admin.token, "carol")
    assert_sign_in_fails(client, "carol", "carol-password")
    set_password(client, admin.token, carol.id, "carol-password")
    assert sign_in(client, "carol", "carol-password")
    got = client.users.GetUser(user_pb.GetUserRequest(id=carol.id), metadata=md(admin.token))
    assert got.user.has_password is True


def test_set_password_needs_write_permission(client, admin) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    reader, _ = mint(client, admin.token, admin.org_id, perms=[perm(READ, USERS, id=bob.id)])
    with pytest.raises(grpc.RpcError) as exc:
        set_password(client, reader, bob.id, "hijacked-password")
    assert_error(exc, grpc.StatusCode.PERMISSION_DENIED, "ERROR_REASON_PERMISSION_DENIED")
    assert error_info(exc.value).metadata["permission"] == f"write:users/{bob.id}"
    assert sign_in(client, "bob", "bob-password")


def test_set_password_unknown_user(client, admin) -> None:
    with pytest.raises(grpc.RpcError) as exc:
        set_password(client, admin.token, "0123456789abcdef", "some-password")
    assert_error(exc, grpc.StatusCode.NOT_FOUND, "ERROR_REASON_USER_NOT_FOUND")


@pytest.mark.parametrize("length", [0, 1, 7, 257, 1000])
def test_password_length_limits(client, admin, running, length: int) -> None:
    bob = create_user(client, admin.token, "bob", password="bob-password")
    before = running.snapshot()
    bad = "p" * length
    if length:  # empty on create means "no password", which is allowed
        with pytest.raises(grpc.RpcError) as exc:
            create_user(client, admin.token, "carol", password=bad)
        assert_error(exc, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_REASON_INVALID_PASSWORD")
        assert error_info(exc.value).metadata["field"] == "password"
    with pytest.raises(grpc.RpcError) as exc:
        set_password(client, admin.token, bob.id, bad)
    assert_error(exc, grpc.StatusCode.INVALID_ARGUMENT, "ERROR_REASON_INVALID_PASSWORD")
    assert error_info(exc.value).metadata["field"] == "new_password"
    assert running.snapshot() == before
    assert sign_in(client, "bob", "bob-password")


def test_password_boundaries_accepted(client, admin) -> None:
    eight = "12345678"
    create_user(client, admin.token, "eight", password=eight)
    assert sign_in(client, "eight", eight)
    # 256 characters, most of them multi-byte: characters count, not bytes.
    wide = "ü" * 200 + "x" * 56
    assert len(wide) == 256 and len(wide.encode()) > 256
    create_user(client, admin.token, "wide", password=wide)
    assert sign_in(client, "wide", wide)


def test_256_character_password_is_not_truncated(client, admin) -> None:
    bob = create_user(client, admin.token, "bob")
    long_password = "".join(chr(ord("a") + i % 26) for i in range(255)) + "!"
    assert len(long_password) == 256
    set_password(client, admin.token, bob.id, long_password)
    assert sign_in(client, "bob", long_password)
    # Any truncation (bcrypt's 72 bytes, or a cut at 255) would accept these.
    for prefix in (long_password[:255], long_password[:72], long_password[:128]):
        assert_sign_in_fails(client, "bob", prefix)
    assert_sign_in_fails(client, "bob", long_password[:255] + "?")
