"""Servicers: convert proto <-> domain and call the use cases; nothing else."""

from __future__ import annotations

from typing import Any

import grpc
from authzd.v1 import (
    authorization_service_pb2 as auth_pb,
)
from authzd.v1 import (
    bucket_service_pb2 as bucket_pb,
)
from authzd.v1 import (
    config_service_pb2 as config_pb,
)
from authzd.v1 import (
    organization_service_pb2 as org_pb,
)
from authzd.v1 import (
    session_service_pb2 as session_pb,
)
from authzd.v1 import (
    setup_service_pb2 as setup_pb,
)
from authzd.v1 import (
    user_service_pb2 as user_pb,
)

from service.app import authorizations, buckets, orgs, sessions, setup, users
from service.app import config as config_uc
from service.app.caller import Caller
from service.app.context import App

from .convert import (
    authorization_to_proto,
    bucket_to_proto,
    from_timestamp,
    org_to_proto,
    permission_from_proto,
    timestamp,
    user_to_proto,
)

Ctx = grpc.ServicerContext


class AuthorizationServicer:
    def __init__(self, app: App) -> None:
        self.app = app

    def CreateAuthorization(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        perms = [permission_from_proto(f"permissions[{i}]", p) for i, p in
                 enumerate(req.permissions)]
        auth, token = authorizations.create(
            self.app,
            caller,
            org_id=req.org_id,
            org=req.org,
            user_id=req.user_id,
            user=req.user,
            description=req.description,
            permissions=perms,
            preset=req.preset,
            expire_time=from_timestamp(req.expire_time) if req.HasField("expire_time") else None,
        )
        return auth_pb.CreateAuthorizationResponse(
            authorization=authorization_to_proto(auth), token=token
        )

    def GetAuthorization(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        auth = authorizations.get(self.app, caller, req.id)
        return auth_pb.GetAuthorizationResponse(authorization=authorization_to_proto(auth))

    def ListAuthorizations(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        items, next_token = authorizations.list_(
            self.app,
            caller,
            user_id=req.user_id,
            user=req.user,
            org_id=req.org_id,
            org=req.org,
            auth_id=req.id,
            page_size=req.page_size,
            page_token=req.page_token,
        )
        return auth_pb.ListAuthorizationsResponse(
            authorizations=[authorization_to_proto(a) for a in items],
            next_page_token=next_token,
        )

    def UpdateAuthorization(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        a = req.authorization
        auth = authorizations.update(
            self.app, caller, a.id, list(req.update_mask.paths), a.status, a.description
        )
        return auth_pb.UpdateAuthorizationResponse(authorization=authorization_to_proto(auth))

    def DeleteAuthorization(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        authorizations.delete(self.app, caller, req.id)
        return auth_pb.DeleteAuthorizationResponse()


class UserServicer:
    def __init__(self, app: App) -> None:
        self.app = app

    def CreateUser(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        user = users.create(self.app, caller, req.name, req.password, req.status)
        return user_pb.CreateUserResponse(user=user_to_proto(user))

    def GetUser(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        return user_pb.GetUserResponse(user=user_to_proto(users.get(self.app, caller, req.id)))

    def ListUsers(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        items, next_token = users.list_(
            self.app, caller, req.page_size, req.page_token, req.name
        )
        return user_pb.ListUsersResponse(
            users=[user_to_proto(u) for u in items], next_page_token=next_token
        )

    def UpdateUser(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        u = req.user
        user = users.update(
            self.app, caller, u.id, list(req.update_mask.paths), u.name, u.status
        )
        return user_pb.UpdateUserResponse(user=user_to_proto(user))

    def DeleteUser(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        users.delete(self.app, caller, req.id)
        return user_pb.DeleteUserResponse()

    def SetPassword(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        users.set_password(self.app, caller, req.id, req.old_password, req.new_password)
        return user_pb.SetPasswordResponse()


class OrganizationServicer:
    def __init__(self, app: App) -> None:
        self.app = app

    def CreateOrganization(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        org = orgs.create(self.app, caller, req.name, req.description)
        return org_pb.CreateOrganizationResponse(organization=org_to_proto(org))

    def GetOrganization(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        org = orgs.get(self.app, caller, req.id)
        return org_pb.GetOrganizationResponse(organization=org_to_proto(org))

    def ListOrganizations(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        items, next_token = orgs.list_(self.app, caller, req.page_size, req.page_token, req.name)
        return org_pb.ListOrganizationsResponse(
            organizations=[org_to_proto(o) for o in items], next_page_token=next_token
        )

    def UpdateOrganization(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        o = req.organization
        org = orgs.update(
            self.app, caller, o.id, list(req.update_mask.paths), o.name, o.description
        )
        return org_pb.UpdateOrganizationResponse(organization=org_to_proto(org))

    def DeleteOrganization(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        orgs.delete(self.app, caller, req.id)
        return org_pb.DeleteOrganizationResponse()


class BucketServicer:
    def __init__(self, app: App) -> None:
        self.app = app

    def CreateBucket(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        bucket = buckets.create(
            self.app, caller, req.org_id, req.org, req.name, req.description
        )
        return bucket_pb.CreateBucketResponse(bucket=bucket_to_proto(bucket))

    def GetBucket(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        return bucket_pb.GetBucketResponse(
            bucket=bucket_to_proto(buckets.get(self.app, caller, req.id))
        )

    def ListBuckets(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        items, next_token = buckets.list_(
            self.app, caller, req.org_id, req.org, req.page_size, req.page_token, req.name
        )
        return bucket_pb.ListBucketsResponse(
            buckets=[bucket_to_proto(b) for b in items], next_page_token=next_token
        )

    def UpdateBucket(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        b = req.bucket
        bucket = buckets.update(
            self.app, caller, b.id, list(req.update_mask.paths), b.name, b.description
        )
        return bucket_pb.UpdateBucketResponse(bucket=bucket_to_proto(bucket))

    def DeleteBucket(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        buckets.delete(self.app, caller, req.id)
        return bucket_pb.DeleteBucketResponse()


class SetupServicer:
    def __init__(self, app: App) -> None:
        self.app = app

    def GetSetupStatus(self, req: Any, ctx: Ctx) -> Any:
        return setup_pb.GetSetupStatusResponse(allowed=setup.allowed(self.app))

    def Setup(self, req: Any, ctx: Ctx) -> Any:
        r = setup.setup(self.app, req.username, req.password, req.org, req.bucket)
        return setup_pb.SetupResponse(
            user=user_to_proto(r.user),
            organization=org_to_proto(r.org),
            bucket=bucket_to_proto(r.bucket),
            authorization=authorization_to_proto(r.authorization),
            token=r.token,
        )


class SessionServicer:
    def __init__(self, app: App) -> None:
        self.app = app

    def SignIn(self, req: Any, ctx: Ctx) -> Any:
        r = sessions.sign_in(self.app, req.username, req.password)
        return session_pb.SignInResponse(
            session_token=r.token,
            expire_time=timestamp(r.session.expire_time),
            user=user_to_proto(r.user),
        )

    def SignOut(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        sessions.sign_out(self.app, caller)
        return session_pb.SignOutResponse()


class ConfigServicer:
    def __init__(self, app: App) -> None:
        self.app = app

    def GetConfig(self, req: Any, ctx: Ctx, caller: Caller) -> Any:
        entries, version = config_uc.get_config(self.app, caller)
        return config_pb.GetConfigResponse(
            entries=[config_pb.ConfigEntry(key=k, value=v) for k, v in sorted(entries.items())],
            version=version,
        )


# Methods that need no caller credential.
UNAUTHENTICATED_METHODS = {"GetSetupStatus", "Setup", "SignIn"}
