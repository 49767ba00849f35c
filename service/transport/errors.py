"""Domain error -> gRPC status with a google.rpc.ErrorInfo detail."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from service.domain.errors import AuthzdError

DOMAIN = "authzd"
REASON_PREFIX = "ERROR_REASON_"

_CODES = {c.name: c for c in grpc.StatusCode}


def to_status(err: AuthzdError) -> grpc.Status:
    code = _CODES[err.code.value]
    info = error_details_pb2.ErrorInfo(
        reason=REASON_PREFIX + err.reason, domain=DOMAIN, metadata=err.metadata
    )
    detail = any_pb2.Any()
    detail.Pack(info)
    return rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=err.message, details=[detail])
    )
