"""Where the CLI finds its server and token: flags > environment > config file.

The config file (JSON, mode 0600) is written by `authzd setup` and holds the host,
the token and the default organization, so later commands need no flags.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import CliError

DEFAULT_HOST = "127.0.0.1:50051"


def default_config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "authzd" / "config.json"


def config_path(args: argparse.Namespace) -> Path:
    given = getattr(args, "config_path", None) or os.environ.get("AUTHZD_CONFIG_PATH")
    return Path(given).expanduser() if given else default_config_path()


def load_config(path: Path) -> dict[str, Any]:
    """The saved values, or {} when there is no config file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CliError(f"cannot read the config file {path}: {exc.strerror}") from None
    try:
        values = json.loads(text)
    except ValueError:
        values = None
    if not isinstance(values, dict):
        raise CliError(
            f"the config file {path} is not a JSON object — fix it, remove it, "
            "or pass --config-path"
        )
    return values


def save_config(path: Path, values: dict[str, Any]) -> None:
    """Write atomically with mode 0600 (it holds a token); the directory is made 0700."""
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
        path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(values, out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True)
class Target:
    """The server to talk to and the credential to send."""

    host: str
    token: str
    token_source: str  # where the token came from, for error messages
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    default_org: str = ""

    @property
    def tls(self) -> bool:
        return bool(self.tls_ca or self.tls_cert or self.tls_key)


def _pick(
    args: argparse.Namespace, attr: str, env: str, saved: dict[str, Any], key: str
) -> tuple[str, str]:
    """(value, source) by precedence: flag > environment > config file."""
    value = getattr(args, attr, None)
    if value:
        return str(value), "--" + attr.replace("_", "-")
    value = os.environ.get(env)
    if value:
        return value, env
    value = saved.get(key)
    if isinstance(value, str) and value:
        return value, "the config file"
    return "", ""


def resolve_target(args: argparse.Namespace) -> Target:
    path = config_path(args)
    saved = load_config(path)
    host, _ = _pick(args, "host", "AUTHZD_HOST", saved, "host")
    token, source = _pick(args, "token", "AUTHZD_TOKEN", saved, "token")
    if source == "the config file":
        source = f"the config file {path}"
    # Not AUTHZD_TLS_CERT/KEY: `authzd serve` reads those for the server's own pair.
    tls = [_pick(args, f"tls_{k}", env, saved, f"tls_{k}")[0] for k, env in (
        ("ca", "AUTHZD_TLS_CA"), ("cert", "AUTHZD_TLS_CLIENT_CERT"),
        ("key", "AUTHZD_TLS_CLIENT_KEY"))]
    return Target(
        host=host or DEFAULT_HOST,
        token=token,
        token_source=source,
        tls_ca=tls[0],
        tls_cert=tls[1],
        tls_key=tls[2],
        # The saved org belongs to the saved server; not to one named elsewhere.
        default_org=str(saved.get("org") or "")
        if not saved.get("host") or host in ("", saved.get("host")) else "",
    )
