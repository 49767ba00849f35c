"""Hostile input to every RPC (issue 5, "Hostile input").

For every RPC of every authzd service (and grpc.health.v1.Health/Check),
hypothesis sends requests built from the method's own descriptor with garbage in
every field: unicode and NUL in strings, ids of the wrong shape, the real ids of
the instance, unknown enum numbers, extreme integers and timestamps, huge
repeated fields (within the size limits), and also raw bytes that are not the
message at all (random, or a valid message mangled). Each goes with no
credentials, a garbage header, or the Operator token. For every answer:

- the status is one the service means to give (never INTERNAL, UNKNOWN,
  UNAVAILABLE or a hang), and an authzd error carries its ErrorInfo;
- a refused request changed nothing: `running.snapshot()` (revision, row counts)
  is the same before and after;
- no error message quotes the Operator token (unless the request held it);

and after each RPC's examples the server is SERVING and the Operator token still
works (no garbage got past the guards that keep the instance reachable). Runs on
every backend of the `running` fixture.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from typing import Any

import grpc
import pytest
from authzd.v1 import config_service_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ADMIN_PASSWORD, ADMIN_USER, Admin, Running, error_info, md
from tests.serving import SERVING, health_status

STRUCTURED_EXAMPLES = 40
RAW_EXAMPLES = 15
CALL_TIMEOUT = 10.0
ID = re.compile(r"[0-9a-f]{16}")

_SERVICES = ["access", "authorization", "user", "organization", "bucket", "setup", "session",
             "config"]
METHODS: list[MethodDescriptor] = [
    method
    for name in _SERVICES
    for service in importlib.import_module(
        f"authzd.v1.{name}_service_pb2").DESCRIPTOR.services_by_name.values()
    for method in service.methods
] + [health_pb2.DESCRIPTOR.services_by_name["Health"].methods_by_name["Check"]]

# The only statuses a request may get, whatever it holds: never INTERNAL,
# UNKNOWN, UNAVAILABLE (the store is up) or DEADLINE_EXCEEDED (a hang).
ALLOWED_CODES = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}

FUZZ_SETTINGS = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large, HealthCheck.large_base_example],
)

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _strings(known: list[str]) -> st.SearchStrategy[str]:
    # The first branches come up most: the instance's real names and ids reach
    # deeper than noise does.
    return st.one_of(
        st.sampled_from(known),
        st.text(max_size=40),
        st.from_regex(r"[0-9a-f]{16}", fullmatch=True),  # a well-formed id of nothing
        st.from_regex(r"[0-9a-fA-FxX ]{0,20}", fullmatch=True),  # ids of the wrong shape
        st.text(max_size=10).map(lambda s: f"{s}\x00{s}"),
        st.sampled_from(known).map(lambda s: s + "\x00"),
        st.integers(200, 20_000).map(lambda n: "a" * n),
        st.text(alphabet=st.characters(min_codepoint=0x80, codec="utf-8"), min_size=1, max_size=20),
    )


def _scalar(f: FieldDescriptor, known: list[str], depth: int,
            short: bool) -> st.SearchStrategy[Any]:
    if f.type == FieldDescriptor.TYPE_MESSAGE:
        if f.message_type.GetOptions().map_entry:
            return st.just(None)  # no request has a map; keep the builder total
        return _message(f.message_type, known, depth + 1, short)
    if f.type == FieldDescriptor.TYPE_STRING:
        return st.sampled_from(known) if short else _strings(known)
    if f.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if f.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if f.type == FieldDescriptor.TYPE_ENUM:
        numbers = [v.number for v in f.enum_type.values]
        return st.one_of(st.sampled_from(numbers), st.integers(-(2**31), 2**31 - 1),
                         st.integers(-3, 40))
    if f.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE):
        return st.floats(width=32 if f.type == FieldDescriptor.TYPE_FLOAT else 64)
    lo, hi = _INT_RANGES[f.type]
    return st.one_of(st.integers(lo, hi), st.integers(max(lo, -3), min(hi, 2000)),
                     st.sampled_from([lo, hi]))


def _field(f: FieldDescriptor, known: list[str], depth: int,
           short: bool) -> st.SearchStrategy[Any]:
    one = _scalar(f, known, depth, short)
    if not f.is_repeated:
        return one
    small = st.lists(one, max_size=4)
    if short:
        return small
    # Huge: one short element (a few hundred bytes at most) 1,000 to 10,050
    # times, around the count limits and within twice the largest size limit.
    huge = _scalar(f, known, depth, True).flatmap(
        lambda v: st.integers(1000, 10_050).map(lambda n: [v] * n))
    return st.one_of(small, small, small, huge)


def _message(desc: Descriptor, known: list[str], depth: int = 0,
             short: bool = False) -> st.SearchStrategy[dict]:
    if depth > 3:
        return st.just({})
    garbage = st.fixed_dictionaries(
        {}, optional={f.name: _field(f, known, depth, short) for f in desc.fields})
    if desc.full_name != "authzd.v1.Permission":
        return garbage
    # Half of the permissions are well-formed, so requests get past validation
    # to the decisions and the permission checks.
    ids = st.sampled_from(["", *[k for k in known if ID.fullmatch(k)]]) | st.from_regex(
        ID, fullmatch=True)
    valid = st.fixed_dictionaries({
        "action": st.integers(1, 2),
        "resource": st.fixed_dictionaries({"type": st.integers(1, 23), "org_id": ids,
                                           "id": ids}),
    })
    return st.tuples(st.integers(0, 99), valid, garbage).map(
        lambda t: t[1] if t[0] < 50 else t[2])


def _fill(msg: Message, values: dict[str, Any]) -> Message:
    for name, value in values.items():
        f = msg.DESCRIPTOR.fields_by_name[name]
        if value is None:
            continue
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            if f.is_repeated:
                for v in value:
                    _fill(getattr(msg, name).add(), v)
            else:
                getattr(msg, name).SetInParent()
                _fill(getattr(msg, name), value)
        elif f.is_repeated:
            getattr(msg, name).extend(value)
        else:
            setattr(msg, name, value)
    return msg


_HEADER = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80)


def _credentials(admin: Admin) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    """Mostly the Operator token: past authentication is where the use cases are.
    (A percentage, not one_of: hypothesis avoids repeating an example, so a
    constant branch would come up only a few times.)"""

    def pick(t: tuple[int, str]) -> tuple[tuple[str, str], ...]:
        percent, garbage = t
        if percent < 60:
            return md(admin.token)
        if percent < 70:
            return md(admin.token, "Bearer")
        if percent < 80:
            return ()
        if percent < 90:
            return (("authorization", garbage),)
        return md(garbage)

    return st.tuples(st.integers(0, 99), _HEADER).map(pick)


def _known(admin: Admin) -> list[str]:
    return [
        "", " ", admin.org_id, admin.user_id, admin.bucket_id, admin.authorization_id,
        admin.token, admin.token[:-1] + ("A" if admin.token[-1] != "A" else "B"),
        ADMIN_USER, ADMIN_PASSWORD, "acme", "telemetry", "0" * 16, "F" * 16,
        "read:buckets", "write:instance", "status", "description", "name", "password",
        "user.status", "*", "azt_", "azs_" + "0" * 49, "\u202e", "\ud7ff", "\U0001f600",
    ]


class Caller:
    """Sends one request to one method and checks the answer."""

    def __init__(self, running: Running, admin: Admin, method: MethodDescriptor) -> None:
        self.running = running
        self.admin = admin
        self.method = method
        self.request_cls = message_factory.GetMessageClass(method.input_type)
        response_cls = message_factory.GetMessageClass(method.output_type)
        path = f"/{method.containing_service.full_name}/{method.name}"
        channel = running.client.channel
        self.typed = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=response_cls.FromString)
        self.raw = channel.unary_unary(path)  # bytes in, bytes out
        self.authzd = method.containing_service.full_name.startswith("authzd.")
        self.codes: Counter[str] = Counter()

    def send(self, stub: Any, request: Any, metadata: tuple[tuple[str, str], ...]) -> None:
        before = self.running.snapshot()
        try:
            stub(request, metadata=metadata, timeout=CALL_TIMEOUT)
            self.codes["OK"] += 1
        except grpc.RpcError as err:
            code = err.code()
            self.codes[code.name] += 1
            assert code in ALLOWED_CODES, f"{self.method.full_name}: {code} {err.details()}"
            # The token never shows in an error, unless the caller put it there.
            sent = request if isinstance(request, bytes) else request.SerializeToString()
            if self.admin.token.encode() not in sent:
                assert self.admin.token not in (err.details() or "")
            # Every authzd error has its ErrorInfo; only grpc's own refusal of a
            # message far past the size limits has none.
            if self.authzd and "larger than max" not in (err.details() or ""):
                assert error_info(err).domain == "authzd"
            assert self.running.snapshot() == before, (
                f"{self.method.full_name} refused with {code} but changed the store")

    def after(self) -> None:
        print(f"{self.running.backend} {_name(self.method)}: {dict(self.codes)}")
        assert sum(self.codes.values()) > 0
        assert health_status(self.running.client.channel) == SERVING
        self.running.client.config.GetConfig(
            config_service_pb2.GetConfigRequest(), metadata=md(self.admin.token), timeout=5)


def _name(m: MethodDescriptor) -> str:
    return f"{m.containing_service.name}.{m.name}"


@pytest.mark.parametrize("method", METHODS, ids=_name)
def test_structured_garbage(running: Running, admin: Admin, method: MethodDescriptor) -> None:
    caller = Caller(running, admin, method)

    @settings(max_examples=STRUCTURED_EXAMPLES, **FUZZ_SETTINGS)  # type: ignore[arg-type]
    @given(values=_message(method.input_type, _known(admin)), metadata=_credentials(admin))
    def run(values: dict[str, Any], metadata: tuple[tuple[str, str], ...]) -> None:
        caller.send(caller.typed, _fill(caller.request_cls(), values), metadata)

    run()
    caller.after()


def _flip(t: tuple[bytes, int, int]) -> bytes:
    data, at, byte = t
    at %= len(data) + 1
    return data[:at] + bytes([byte]) + data[at + 1:]


def _cut(t: tuple[bytes, int]) -> bytes:
    data, at = t
    return data[: at % (len(data) + 1)]


def _mangled(method: MethodDescriptor, admin: Admin) -> st.SearchStrategy[bytes]:
    """Random bytes, or a valid request with one byte changed, or cut short."""
    cls = message_factory.GetMessageClass(method.input_type)
    valid = _message(method.input_type, _known(admin)).map(
        lambda v: _fill(cls(), v).SerializeToString())
    return st.one_of(
        st.binary(max_size=300),
        st.tuples(valid, st.integers(0, 2**16), st.integers(0, 255)).map(_flip),
        st.tuples(valid, st.integers(0, 2**16)).map(_cut),
    )


@pytest.mark.parametrize("method", METHODS, ids=_name)
def test_raw_bytes(running: Running, admin: Admin, method: MethodDescriptor) -> None:
    caller = Caller(running, admin, method)

    @settings(max_examples=RAW_EXAMPLES, **FUZZ_SETTINGS)  # type: ignore[arg-type]
    @given(payload=_mangled(method, admin), metadata=_credentials(admin))
    def run(payload: bytes, metadata: tuple[tuple[str, str], ...]) -> None:
        caller.send(caller.raw, payload, metadata)

    run()
    caller.after()


@pytest.mark.parametrize("path", [
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
])
def test_streaming_services_refuse_bytes_that_are_not_their_message(
    running: Running, path: str
) -> None:
    """grpc's own streaming services get the same parsing (not INTERNAL)."""
    channel = running.client.channel
    if path.endswith("Watch"):
        call = channel.unary_stream(path)(b"\xff\xff\xff", timeout=5)
    else:
        call = channel.stream_stream(path)(iter([b"\xff\xff\xff"]), timeout=5)
    with pytest.raises(grpc.RpcError) as exc:
        list(call)
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_info(exc.value).reason == "ERROR_REASON_INVALID_ARGUMENT"
    assert health_status(channel) == SERVING
