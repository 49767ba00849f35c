"""Optional installs are refused in one line naming the extra (settings.
require_extra), and `--workers` on port 0 holds the port it picks
(cli/ports.reserve), without a subprocess or a fresh virtualenv."""

from __future__ import annotations

import errno
import importlib.util
import socket

import pytest

from service.cli.ports import reserve
from service.settings import MissingExtra, Settings, require_extra


@pytest.fixture
def nothing_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if psycopg2 and prometheus_client were not installed."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name in ("psycopg2", "prometheus_client") else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_a_setting_without_its_extra_names_the_flag_and_the_command(nothing_optional) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MissingExtra) as exc:
        require_extra("database_url")
    assert str(exc.value) == ("--database-url needs the postgres extra (psycopg2 is not "
                              "installed): pip install 'authzd[postgres]'")
    with pytest.raises(MissingExtra, match=r"^--metrics-listen needs the metrics extra"):
        Settings(metrics_listen="127.0.0.1:0").check_extras()
    Settings().check_extras()  # nothing set that needs an extra: no error


def test_installed_extras_pass() -> None:
    Settings(database_url="postgresql://u@h/d", metrics_listen="127.0.0.1:0").check_extras()


def test_reserve_holds_the_port_it_picks() -> None:
    listen, held = reserve("127.0.0.1:0")
    assert held is not None
    try:
        port = int(listen.rpartition(":")[2])
        assert listen == f"127.0.0.1:{port}" and port == held.getsockname()[1]
        # Held: a plain bind (what any other program's port 0 or fixed port
        # does) is refused ...
        with socket.socket() as other, pytest.raises(OSError) as refused:
            other.bind(("127.0.0.1", port))
        assert refused.value.errno == errno.EADDRINUSE
        # ... while a server binding with SO_REUSEADDR (as grpc does) still can.
        with socket.socket() as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", port))
            server.listen()
    finally:
        held.close()


def test_reserve_keeps_a_fixed_port() -> None:
    assert reserve("127.0.0.1:50051") == ("127.0.0.1:50051", None)
