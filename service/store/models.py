"""peewee models. Times are integer microseconds since the Unix epoch (UTC), which
keeps SQLite and PostgreSQL identical and sorts correctly."""

from __future__ import annotations

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DatabaseProxy,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

database = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaMigration(BaseModel):
    version = IntegerField(primary_key=True)
    applied_at = BigIntegerField()


class Revision(BaseModel):
    """One row whose value every write transaction bumps first: the change signal
    other processes poll, and (being the first write) the lock that serializes
    writers on every backend."""

    id = IntegerField(primary_key=True)
    value = BigIntegerField()


class OrganizationRow(BaseModel):
    id = CharField(max_length=16, primary_key=True)
    name = CharField(max_length=256, unique=True)
    description = TextField(default="")
    create_time = BigIntegerField()
    update_time = BigIntegerField()

    class Meta:
        table_name = "organization"


class UserRow(BaseModel):
    id = CharField(max_length=16, primary_key=True)
    name = CharField(max_length=256, unique=True)
    status = IntegerField()
    password_hash = TextField(null=True)
    failed_signins = IntegerField(default=0)
    throttled_until = BigIntegerField(default=0)
    create_time = BigIntegerField()
    update_time = BigIntegerField()

    class Meta:
        table_name = "user"


class BucketRow(BaseModel):
    id = CharField(max_length=16, primary_key=True)
    org = ForeignKeyField(OrganizationRow, column_name="org_id", on_delete="CASCADE")
    name = CharField(max_length=256)
    description = TextField(default="")
    create_time = BigIntegerField()
    update_time = BigIntegerField()
    # `<type>:<everySeconds>` per line (migration 3).
    retention_rules = TextField(default="")

    class Meta:
        table_name = "bucket"
        indexes = ((("org", "name"), True),)


class AuthorizationRow(BaseModel):
    id = CharField(max_length=16, primary_key=True)
    org = ForeignKeyField(OrganizationRow, column_name="org_id", on_delete="CASCADE", index=True)
    user = ForeignKeyField(UserRow, column_name="user_id", on_delete="CASCADE", index=True)
    description = TextField(default="")
    status = IntegerField()
    # Text form, one permission per line, in grant order (SPEC §1).
    permissions = TextField()
    # Whether permissions include write:instance; guards "the last way in".
    instance_writer = BooleanField(default=False, index=True)
    token_digest = CharField(max_length=64, unique=True)
    token_hint = CharField(max_length=8)
    create_time = BigIntegerField()
    update_time = BigIntegerField()
    expire_time = BigIntegerField(null=True)
    last_used_time = BigIntegerField(null=True)

    class Meta:
        table_name = "authorization"


class SessionRow(BaseModel):
    id = CharField(max_length=16, primary_key=True)
    user = ForeignKeyField(UserRow, column_name="user_id", on_delete="CASCADE", index=True)
    token_digest = CharField(max_length=64, unique=True)
    create_time = BigIntegerField()
    expire_time = BigIntegerField()

    class Meta:
        table_name = "session"


class SigninThrottleRow(BaseModel):
    """Failed sign-ins by a user name that has no account (or no password), so
    that the 11th failure of an unknown name looks like that of a known one
    (SPEC §4). Keyed by the SHA-256 of the name: the caller's text is not kept."""

    key = CharField(max_length=64, primary_key=True)
    failures = IntegerField(default=0)
    throttled_until = BigIntegerField(default=0)
    last_failure = BigIntegerField(default=0)

    class Meta:
        table_name = "signin_throttle"


# The tables of migration 1 (a released migration: never add to this list).
ALL_MODELS = [Revision, OrganizationRow, UserRow, BucketRow, AuthorizationRow, SessionRow]
