"""One rule picks the database for serve, recovery and backup
(settings.database_location): a flag beats the environment; with neither
flag the URL's variable beats the path's; both flags are refused."""

from __future__ import annotations

import argparse

import pytest

from service.settings import Settings, add_arguments, database_location, from_args, worker_argv

URL = "postgresql://u:pw@db/authzd"
BOTH = {"AUTHZD_DATABASE_URL": URL, "AUTHZD_DB": "env.db"}


@pytest.mark.parametrize(("db", "url", "environ", "expected"), [
    (None, None, {}, ("authzd.db", "")),
    (None, None, {"AUTHZD_DB": "env.db"}, ("env.db", "")),
    (None, None, BOTH, ("authzd.db", URL)),
    ("flag.db", None, BOTH, ("flag.db", "")),
    (None, "postgresql://flag/x", BOTH, ("authzd.db", "postgresql://flag/x")),
])
def test_a_flag_beats_the_environment_and_the_url_the_path(
    db: str | None, url: str | None, environ: dict[str, str], expected: tuple[str, str]
) -> None:
    assert database_location(db, url, environ) == expected


def test_both_flags_are_refused() -> None:
    with pytest.raises(ValueError, match="--db and --database-url name two databases"):
        database_location("a.db", URL, {})


def serve_settings(argv: list[str], environ: dict[str, str]) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments(parser, environ)
    return from_args(parser.parse_args(argv), environ)


def test_serve_applies_the_rule_and_workers_inherit_the_choice() -> None:
    by_flag = serve_settings(["--db", "flag.db"], BOTH)
    assert (by_flag.db, by_flag.database_url) == ("flag.db", "")
    by_env = serve_settings([], BOTH)
    assert by_env.database_url == URL
    # A worker is handed the same database: the URL through its environment and
    # no --db (which would beat it); a path as --db with an empty URL.
    argv, env = worker_argv(by_env)
    assert "--db" not in argv and env["AUTHZD_DATABASE_URL"] == URL
    worker = serve_settings(argv, {**BOTH, **env})
    assert (worker.db, worker.database_url) == ("authzd.db", URL)
    argv, env = worker_argv(by_flag)
    assert argv[argv.index("--db") + 1] == "flag.db" and env["AUTHZD_DATABASE_URL"] == ""
    worker = serve_settings(argv, {**BOTH, **env})
    assert (worker.db, worker.database_url) == ("flag.db", "")
