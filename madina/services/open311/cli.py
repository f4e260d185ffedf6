"""`madina open311 …`: bootstrap a city's Open311 service from the shell, on either engine —
load its catalogue from a JSON file (the admin API's document), show it, add an app's api_key —
and answer a person's GDPR request: export or erase their data (each run recorded in the audit
log as a personal-data access by the operating-system user)."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

from madina.context.broker import Broker
from madina.services.open311 import people
from madina.services.open311.catalogue import CatalogueError, parse_catalogue
from madina.services.open311.entity import entity_id
from madina.services.open311.service import Open311Service
from madina.store.audit import AuditEntry
from madina.store.base import Store


def load(args: argparse.Namespace, open311: Open311Service) -> int:
    try:
        body = orjson.loads(Path(args.file).read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        print(f"madina: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    try:
        catalogue = open311.replace_catalogue(args.tenant, parse_catalogue(body))
    except CatalogueError as exc:
        print(f"madina: {args.file}: {exc}", file=sys.stderr)
        return 1
    jurisdiction = catalogue.jurisdiction
    print(f"catalogue of {jurisdiction.name if jurisdiction else '?'} loaded: "
          f"{len(catalogue.services)} services, {len(catalogue.departments)} departments")
    return 0


def show(args: argparse.Namespace, open311: Open311Service) -> int:
    catalogue = open311.catalogue(args.tenant)
    sys.stdout.write(orjson.dumps(catalogue.to_json(), option=orjson.OPT_INDENT_2).decode())
    sys.stdout.write("\n")
    return 0


def key_add(args: argparse.Namespace, open311: Open311Service) -> int:
    key, secret = open311.create_key(args.tenant, args.name)
    print(f"id: {key.id}\napi_key: {secret}\n(the api_key is shown only now)")
    return 0


def _person(args: argparse.Namespace) -> tuple[str, str]:
    given = [(name, value) for name in people.IDENTIFIERS
             if (value := getattr(args, name)) is not None]
    if len(given) != 1:
        raise SystemExit("madina: name the person by exactly one of --email, --phone, "
                         "--account_id")
    return given[0]


def _audited(store: Store, tenant: str, what: str, ids: list[str]) -> None:
    """A personal-data access from the shell, in the audit log like the API's."""
    store.audit.append([AuditEntry(
        at=datetime.now(UTC), tenant=tenant, subject=f"cli:{getpass.getuser()}",
        subject_tenant=tenant, via="cli", roles=("admin",), action="personal_data",
        method="CLI", path="madina open311", entity_ids=tuple(ids), detail=what)])


def export(args: argparse.Namespace, open311: Open311Service, store: Store) -> int:
    identifier, value = _person(args)
    found = people.export(open311.tables, args.tenant, identifier, value)
    _audited(store, args.tenant, f"Open311 personal data export of one person (by "
                                 f"{identifier})",
             [entity_id(item["service_request_id"]) for item in found["requests"]])
    sys.stdout.write(orjson.dumps(found, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def erase(args: argparse.Namespace, open311: Open311Service, store: Store) -> int:
    identifier, value = _person(args)
    _audited(store, args.tenant, f"Open311 personal data erasure of one person (by "
                                 f"{identifier})", [])
    done = people.erase(open311.tables, args.tenant, identifier, value)
    print(f"erased {done['reporter_rows_erased']} reporter rows, "
          f"{done['alerts_ended']} alerts, {done['emails_dropped']} waiting e-mails; "
          f"{len(done['requests_now_anonymous'])} requests now shown as anonymous")
    return 0


def add_commands(commands, store_of: Callable[[argparse.Namespace], object],
                 db_help: str) -> None:
    """Register `open311` on the main parser; `store_of(args)` gives the unopened store."""

    def command(parser: argparse.ArgumentParser, function, with_store: bool = False) -> None:
        parser.add_argument("--tenant", default="", help="NGSI-LD tenant (default: the "
                                                         "default tenant)")
        parser.add_argument("--db", help=db_help)
        parser.set_defaults(func=lambda args: _run(function, store_of, args, with_store))

    open311 = commands.add_parser("open311", help="manage the Open311 service").add_subparsers(
        dest="open311_command", required=True)
    p = open311.add_parser("load", help="replace a tenant's catalogue with a JSON file's")
    p.add_argument("file", help="catalogue JSON: jurisdiction, groups, services, departments")
    command(p, load)
    p = open311.add_parser("show", help="print a tenant's catalogue as JSON")
    command(p, show)
    key = open311.add_parser("key", help="api_keys of submitting apps").add_subparsers(
        dest="open311_key_command", required=True)
    p = key.add_parser("add", help="add an api_key (printed once)")
    p.add_argument("name")
    command(p, key_add)
    for name, function, what in (("export", export, "print everything held about a person "
                                                    "as JSON (GDPR)"),
                                 ("erase", erase, "erase a person's data; their requests "
                                                  "stay, anonymous (GDPR)")):
        p = open311.add_parser(name, help=what)
        for identifier in people.IDENTIFIERS:
            p.add_argument(f"--{identifier}", help=f"the person's {identifier}")
        command(p, function, with_store=True)


def _run(function, store_of, args: argparse.Namespace, with_store: bool = False) -> int:
    store = store_of(args)
    store.open()
    try:
        open311 = Open311Service(store, Broker(store))
        return function(args, open311, store) if with_store else function(args, open311)
    finally:
        store.close()
