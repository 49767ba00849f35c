"""Small helpers the commands share: id flags with hints, paging, org choice."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from typing import Any

from service.domain.ids import is_valid_id

from .config import Target
from .errors import CliError

PAGE_SIZE = 1000


def id_flag(value: str, flag: str, kind: str, noun: str, name_flag: str = "") -> str:
    """The value if it is an id; else an error that says where ids are found."""
    if is_valid_id(value):
        return value
    instead = f" (or pass the name with {name_flag})" if name_flag else ""
    raise CliError(f"{value!r} is not {kind} ID ({flag} takes 16 lowercase hex characters); "
                   f"find IDs with `authzd {noun} list`{instead}")


def pages(call: Callable[[str], Any], items: str) -> Iterator[Any]:
    """Every item of a paged list: `call(page_token)` returns one page."""
    token = ""
    while True:
        page = call(token)
        yield from getattr(page, items)
        token = page.next_page_token
        if not token:
            return


def add_org_flags(p: argparse.ArgumentParser, what: str, default_note: bool = True) -> None:
    g = p.add_mutually_exclusive_group()
    note = " (default: the org saved by `authzd setup`)" if default_note else ""
    g.add_argument("--org", help=f"{what} by name{note}")
    g.add_argument("--org-id", metavar="ID", help=f"{what} by ID")


def org_choice(args: argparse.Namespace, target: Target, *, required: bool) -> dict[str, str]:
    """{"org_id": ...} or {"org": ...} for a request; the saved org when none is given."""
    if args.org_id:
        return {"org_id": id_flag(args.org_id, "--org-id", "an organization", "org", "--org")}
    if args.org:
        return {"org": args.org}
    if target.default_org and required:
        return {"org": target.default_org}
    if required:
        raise CliError("which organization? pass --org NAME or --org-id ID")
    return {}


def add_page_size(p: argparse.ArgumentParser) -> None:
    p.add_argument("--page-size", type=int, default=PAGE_SIZE, metavar="N",
                   help=f"results per request (default {PAGE_SIZE}); every page is fetched")
