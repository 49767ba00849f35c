"""Talking to the server: one channel, the caller's token, and gRPC errors turned
into one line each. grpc and the stubs are imported here, when a command needs
them, so `authzd --help` and local commands start fast."""

from __future__ import annotations

import os
from typing import Any

from .config import Target
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

    def stub(self, grpc_module: Any, service: str) -> Any:
        """e.g. stub(authorization_service_pb2_grpc, "AuthorizationService")."""
        return getattr(grpc_module, f"{service}Stub")(self.channel)

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
