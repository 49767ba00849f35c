"""Talking to the server: one channel, the caller's token, and gRPC errors turned
into one line each. grpc and the stubs are imported here, when a command needs
them, so `authzd --help` and local commands start fast."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .config import Target

if TYPE_CHECKING:
    from authzd.v1.access_service_pb2_grpc import AccessServiceStub
    from authzd.v1.authorization_service_pb2_grpc import AuthorizationServiceStub
    from authzd.v1.bucket_service_pb2_grpc import BucketServiceStub
    from authzd.v1.config_service_pb2_grpc import ConfigServiceStub
    from authzd.v1.organization_service_pb2_grpc import OrganizationServiceStub
    from authzd.v1.session_service_pb2_grpc import SessionServiceStub
    from authzd.v1.setup_service_pb2_grpc import SetupServiceStub
    from authzd.v1.user_service_pb2_grpc import UserServiceStub
from .errors import CliError

TIMEOUT_SECONDS = 30.0
NO_TOKEN = "unauthorized access: no token — run `authzd setup` or pass --token"


def _read(path: str, flag: str) -> bytes:
    try:
        with open(os.path.expanduser(path), "rb") as f:
            return f.read()
    except OSError as exc:
        raise CliError(f"cannot read {flag} {path}: {exc.strerror}") from None


class Client:
    """A channel to one server; `call` sends the token and maps errors."""

    def __init__(self, target: Target) -> None:
        # grpc's C core logs to stderr on its own; the CLI reports errors itself.
        os.environ.setdefault("GRPC_VERBOSITY", "NONE")
        import grpc

        self._grpc = grpc
        self.target = target
        if target.tls:
            if bool(target.tls_cert) != bool(target.tls_key):
                raise CliError("--tls-cert and --tls-key go together (a client certificate "
                               "and its key)")
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read(target.tls_ca, "--tls-ca") if target.tls_ca else None,
                private_key=_read(target.tls_key, "--tls-key") if target.tls_key else None,
                certificate_chain=_read(target.tls_cert, "--tls-cert") if target.tls_cert
                else None,
            )
            self.channel = grpc.secure_channel(target.host, creds)
        else:
            self.channel = grpc.insecure_channel(target.host)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # One typed stub per service on the one channel (as authzed-py's Client
    # composes its stubs); each module is imported when first used.

    @cached_property
    def access(self) -> AccessServiceStub:
        from authzd.v1 import access_service_pb2_grpc

        return access_service_pb2_grpc.AccessServiceStub(self.channel)

    @cached_property
    def auths(self) -> AuthorizationServiceStub:
        from authzd.v1 import authorization_service_pb2_grpc

        return authorization_service_pb2_grpc.AuthorizationServiceStub(self.channel)

    @cached_property
    def buckets(self) -> BucketServiceStub:
        from authzd.v1 import bucket_service_pb2_grpc

        return bucket_service_pb2_grpc.BucketServiceStub(self.channel)

    @cached_property
    def config(self) -> ConfigServiceStub:
        from authzd.v1 import config_service_pb2_grpc

        return config_service_pb2_grpc.ConfigServiceStub(self.channel)

    @cached_property
    def orgs(self) -> OrganizationServiceStub:
        from authzd.v1 import organization_service_pb2_grpc

        return organization_service_pb2_grpc.OrganizationServiceStub(self.channel)

    @cached_property
    def sessions(self) -> SessionServiceStub:
        from authzd.v1 import session_service_pb2_grpc

        return session_service_pb2_grpc.SessionServiceStub(self.channel)

    @cached_property
    def setup(self) -> SetupServiceStub:
        from authzd.v1 import setup_service_pb2_grpc

        return setup_service_pb2_grpc.SetupServiceStub(self.channel)

    @cached_property
    def users(self) -> UserServiceStub:
        from authzd.v1 import user_service_pb2_grpc

        return user_service_pb2_grpc.UserServiceStub(self.channel)

    def call(self, method: Any, request: Any, *, auth: bool = True) -> Any:
        metadata: tuple[tuple[str, str], ...] = ()
        if auth:
            if not self.target.token:
                raise CliError(NO_TOKEN)
            metadata = (("authorization", f"Token {self.target.token}"),)
        try:
            return method(request, metadata=metadata, timeout=TIMEOUT_SECONDS)
        except self._grpc.RpcError as err:
            error = self._error(err)
            error.code = err.code().name
            raise error from None

    def _error(self, err: Any) -> CliError:
        grpc = self._grpc
        code = err.code()
        details = (err.details() or "").strip()
        host = self.target.host
        # A status the server made carries ErrorInfo details; one made by the
        # client library (no connection, bad TLS) does not.
        from_server = any(k == "grpc-status-details-bin" for k, _ in err.trailing_metadata() or ())
        if code == grpc.StatusCode.UNAVAILABLE and not from_server:
            return CliError(self._unreachable(details))
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return CliError(f"authzd at {host} did not answer within {TIMEOUT_SECONDS:.0f}s — "
                            "is it overloaded, or is --host wrong?")
        if code == grpc.StatusCode.UNAUTHENTICATED:
            return CliError(
                f"unauthorized access: authzd refused the token from {self.target.token_source} "
                "(unknown, inactive, expired, or its user is inactive) — pass another with "
                "--token, or mint one with `authzd recovery auth create-operator`"
            )
        if code == grpc.StatusCode.PERMISSION_DENIED:
            return CliError(f"{details} — use a token that holds it")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return CliError(f"authzd at {host} does not offer this call ({details}) — "
                            "is it an older version?")
        return CliError(details or f"the call failed ({code.name})")

    def _unreachable(self, details: str) -> str:
        """Why the connection failed, from the client library's text."""
        host = self.target.host
        if "handshake failed" in details.lower():
            if "CERTIFICATE_VERIFY_FAILED" in details:
                return (f"TLS with authzd at {host} failed: its certificate is not signed by "
                        "--tls-ca (or does not name that host)")
            if "WRONG_VERSION_NUMBER" in details:
                return (f"TLS with authzd at {host} failed: it does not seem to serve TLS — "
                        "drop --tls-ca/--tls-cert/--tls-key")
            return (f"TLS with authzd at {host} failed — check --tls-ca, and --tls-cert/--tls-key "
                    "if it asks for a client certificate")
        if "Socket closed" in details:
            if not self.target.tls:
                return (f"authzd at {host} closed the connection — if it serves TLS, pass "
                        "--tls-ca (env AUTHZD_TLS_CA)")
            if not self.target.tls_cert:
                return (f"authzd at {host} closed the connection — if it asks for a client "
                        "certificate (mTLS), pass --tls-cert and --tls-key")
        return (f"cannot reach authzd at {host} — is `authzd serve` running? Pass --host or set "
                "AUTHZD_HOST to use another")
