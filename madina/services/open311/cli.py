"""`madina open311 …`: bootstrap a city's Open311 service from the shell, on either engine —
load its catalogue from a JSON file (the admin API's document), show it, add an app's api_key."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import orjson

from madina.context.broker import Broker
from madina.services.open311.catalogue import CatalogueError, parse_catalogue
from madina.services.open311.service import Open311Service


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


def add_commands(commands, store_of: Callable[[argparse.Namespace], object],
                 db_help: str) -> None:
    """Register `open311` on the main parser; `store_of(args)` gives the unopened store."""

    def command(parser: argparse.ArgumentParser, function) -> None:
        parser.add_argument("--tenant", default="", help="NGSI-LD tenant (default: the "
                                                         "default tenant)")
        parser.add_argument("--db", help=db_help)
        parser.set_defaults(func=lambda args: _run(function, store_of, args))

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


def _run(function, store_of, args: argparse.Namespace) -> int:
    store = store_of(args)
    store.open()
    try:
        return function(args, Open311Service(store, Broker(store)))
    finally:
        store.close()
