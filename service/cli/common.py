"""Small helpers the commands share: id flags with hints, paging, org choice."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from service.domain.ids import ZERO_ID, is_valid_id
from service.domain.models import Status

from .config import Target
from .errors import CliError

PAGE_SIZE = 1000


def id_flag(value: str, flag: str, kind: str, noun: str, name_flag: str = "") -> str:
    """The value, lower-cased, if it is an id; else an error that says where ids
    are found."""
    lowered = value.strip().lower()
    if is_valid_id(lowered):
        return lowered
    instead = f" (or pass the name with {name_flag})" if name_flag else ""
    why = "no ID is all zeros" if lowered == ZERO_ID else f"{flag} takes 16 hex characters"
    raise CliError(f"{value!r} is not {kind} ID ({why}); "
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


# `--status active|inactive` → the proto/domain number (service.domain.models.Status).
STATUSES = {s.name.lower(): int(s) for s in Status}


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


def org_name(client: Any, org_id: str) -> str:
    """An organization's name for a message; its id when this token cannot read it."""
    from authzd.v1 import organization_service_pb2 as pb

    stub = client.orgs
    try:
        return str(client.call(stub.GetOrganization, pb.GetOrganizationRequest(id=org_id))
                   .organization.name)
    except CliError:
        return org_id


_ORG_ID_IN_MESSAGE = re.compile(r"\b(organization) ([0-9a-f]{16})\b")


@contextmanager
def org_names_in_errors(client: Any) -> Iterator[None]:
    """Server errors name an organization by id (`... in organization 534b...`);
    say its name instead, which is what the user typed."""
    try:
        yield
    except CliError as err:
        match = _ORG_ID_IN_MESSAGE.search(err.message)
        if not match:
            raise
        named = _ORG_ID_IN_MESSAGE.sub(
            lambda m: f"{m.group(1)} {org_name(client, m.group(2))}", err.message)
        raise CliError(named, err.code) from None
