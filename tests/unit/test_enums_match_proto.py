"""Domain enums and error reasons carry the numbers and names of the proto enums, so
the transport layer can convert by value without a table."""

from __future__ import annotations

from typing import Any

import pytest
from authzd.v1 import access_service_pb2, error_reason_pb2, types_pb2

from service.domain import errors
from service.domain.decision import Reason
from service.domain.models import Status
from service.domain.permissions import Action, ResourceType


def proto_values(enum: Any, prefix: str) -> dict[str, int]:
    return {
        name.removeprefix(prefix): number
        for name, number in enum.items()
        if not name.endswith("_UNSPECIFIED")
    }


@pytest.mark.parametrize(
    ("domain", "proto", "prefix"),
    [
        (Action, types_pb2.Action, "ACTION_"),
        (ResourceType, types_pb2.ResourceType, "RESOURCE_TYPE_"),
        (Status, types_pb2.Status, "STATUS_"),
        (Reason, access_service_pb2.DecisionReason, "DECISION_REASON_"),
    ],
)
def test_domain_enum_equals_proto_enum(domain: Any, proto: Any, prefix: str) -> None:
    assert {m.name: int(m) for m in domain} == proto_values(proto, prefix)
    assert proto.Value(f"{prefix}UNSPECIFIED") == 0


def test_error_reasons_are_in_the_catalogue() -> None:
    catalogue = set(proto_values(error_reason_pb2.ErrorReason, "ERROR_REASON_"))
    classes: list[type[errors.AuthzdError]] = [
        errors.AuthzdError,
        errors.InvalidArgument,
        errors.Unauthenticated,
        errors.PermissionDenied,
        errors.LimitExceeded,
        errors.StoreUnavailable,
    ]
    used = {cls.reason for cls in classes} | {"INVALID_ID", "INVALID_PERMISSION"}
    assert used - catalogue == set()


def test_error_codes_and_messages() -> None:
    assert errors.Unauthenticated().message == "unauthorized access"
    assert errors.Unauthenticated().code is errors.Code.UNAUTHENTICATED
    denied = errors.PermissionDenied("write:instance")
    assert denied.code is errors.Code.PERMISSION_DENIED
    assert "write:instance" in denied.message
    assert denied.metadata == {"permission": "write:instance"}
    assert errors.StoreUnavailable().code is errors.Code.UNAVAILABLE
    assert errors.NotFound("x", reason="USER_NOT_FOUND").reason == "USER_NOT_FOUND"
    assert errors.NotFound("x", reason="USER_NOT_FOUND").code is errors.Code.NOT_FOUND
