"""One declaration per setting (service/settings.py): the flags, environment,
worker hand-off, GetConfig redaction and README's table all come from it."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

from service.settings import (
    FIELDS,
    Settings,
    add_arguments,
    env_name,
    from_args,
    worker_argv,
)

ROOT = Path(__file__).resolve().parents[2]


def parse(argv: list[str], environ: dict[str, str] | None = None) -> Settings:
    p = argparse.ArgumentParser()
    add_arguments(p, environ or {})
    return from_args(p.parse_args(argv), environ or {})


def test_defaults_are_the_dataclass_defaults() -> None:
    assert parse([]) == Settings()


def test_flags_win_over_environment_which_wins_over_defaults() -> None:
    env = {"AUTHZD_THREADS": "8", "AUTHZD_EXT_AUTHZ": "off", "AUTHZD_OTEL": "true",
           "AUTHZD_POLL_INTERVAL": "0.5"}
    s = parse([], env)
    assert (s.threads, s.ext_authz, s.otel, s.poll_interval) == (8, False, True, 0.5)
    s = parse(["--threads", "12", "--ext-authz", "on"], env)
    assert (s.threads, s.ext_authz) == (12, True)
    assert parse(["--no-preload"]).preload is False


def test_a_bad_environment_value_is_one_line() -> None:
    try:
        parse([], {"AUTHZD_THREADS": "many"})
    except SystemExit as exc:
        assert str(exc) == "error: AUTHZD_THREADS='many' is not a valid int"
    else:
        raise AssertionError("accepted")


def test_workers_get_exactly_the_settings_and_secrets_by_environment() -> None:
    # (No db: with a URL the path is not used, and a worker is given none.)
    s = Settings(database_url="postgresql://u:pw@h/d", threads=8, preload=False,
                 ext_authz=False, otel=True, workers=1, reuseport=True, siblings_dir="/tmp/s")
    argv, env = worker_argv(s)
    assert "pw" not in " ".join(argv)
    assert env == {env_name("database_url"): "postgresql://u:pw@h/d"}
    # The worker, parsing them with the secret in its environment and anything
    # else there ignored, gets the same settings.
    assert parse(argv, {**env, "AUTHZD_THREADS": "99"}) == s


def test_every_setting_has_a_flag_help_and_redaction_of_secrets() -> None:
    for f in dataclasses.fields(Settings):
        assert f.metadata["help"], f.name
    assert FIELDS["database_url"].metadata["secret"]
    shown = Settings(database_url="postgresql://u:pw@h/d?sslpassword=k").redacted()
    assert shown["database_url"] == "postgresql://u:***@h/d?sslpassword=***"
    assert set(shown) == set(FIELDS)


def test_readme_table_is_current() -> None:
    result = subprocess.run([sys.executable, "scripts/gen_config_docs.py", "--check"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
