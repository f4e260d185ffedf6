"""`madina user …` and `madina key …`: identities managed from the shell, on either engine."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from madina.auth.passwords import hash_password
from madina.auth.principal import Role
from madina.auth.tokens import secret_hash
from madina.store.identities import ApiKey, IdentityStore, User

ROLES = [role.value for role in Role]


@contextmanager
def _identities(store_of: Callable[[argparse.Namespace], object],
                args: argparse.Namespace) -> Iterator[IdentityStore]:
    store = store_of(args)
    store.open()
    try:
        yield store.identities
    finally:
        store.close()


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SystemExit("madina: the passwords differ")
    return first


def user_add(args, identities: IdentityStore) -> int:
    password = _password(args)
    if len(password) < 8:
        print("madina: the password needs at least 8 characters", file=sys.stderr)
        return 1
    user = User(args.tenant, args.name, hash_password(password), tuple(args.role),
                tuple(args.department))
    if not identities.add_user(user):
        print(f"madina: user {args.name!r} already exists", file=sys.stderr)
        return 1
    print(f"user {args.name} added")
    return 0


def user_list(args, identities: IdentityStore) -> int:
    for user in identities.list_users(args.tenant):
        state = "disabled" if user.disabled else "active"
        print(f"{user.tenant or '-'}\t{user.name}\t{','.join(user.roles)}\t"
              f"{','.join(user.departments) or '-'}\t{state}")
    return 0


def user_disable(args, identities: IdentityStore) -> int:
    if not identities.set_user_disabled(args.tenant, args.name, True):
        print(f"madina: no user {args.name!r}", file=sys.stderr)
        return 1
    identities.revoke_subject(args.tenant, args.name)
    print(f"user {args.name} disabled")
    return 0


def key_add(args, identities: IdentityStore) -> int:
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    identities.add_api_key(ApiKey(key_id, args.tenant, args.name, secret_hash(secret),
                                  tuple(args.role), tuple(args.entity)))
    print(f"id: {key_id}\nsecret: {secret}\n(the secret is shown only now)")
    return 0


def key_list(args, identities: IdentityStore) -> int:
    for key in identities.list_api_keys(args.tenant):
        state = "disabled" if key.disabled else "active"
        print(f"{key.id}\t{key.tenant or '-'}\t{key.name}\t{','.join(key.roles)}\t"
              f"{','.join(key.entity_ids) or '-'}\t{state}")
    return 0


def key_disable(args, identities: IdentityStore) -> int:
    if not identities.set_api_key_disabled(args.id, True):
        print(f"madina: no key {args.id!r}", file=sys.stderr)
        return 1
    print(f"key {args.id} disabled")
    return 0


def add_commands(commands, store_of: Callable[[argparse.Namespace], object],
                 db_help: str) -> None:
    """Register `user` and `key` on the main parser; `store_of(args)` opens the store."""

    def command(parser, function) -> None:
        parser.add_argument("--db", help=db_help)
        parser.set_defaults(func=lambda args: _run(function, store_of, args))

    users = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True)
    p = users.add_parser("add", help="add a user (password from a prompt or --password-stdin)")
    p.add_argument("name")
    p.add_argument("--role", action="append", choices=ROLES, required=True)
    p.add_argument("--tenant", default="")
    p.add_argument("--department", action="append", default=[])
    p.add_argument("--password-stdin", action="store_true")
    command(p, user_add)
    p = users.add_parser("list", help="list users")
    p.add_argument("--tenant", default=None)
    command(p, user_list)
    p = users.add_parser("disable", help="disable a user and end its sign-ins")
    p.add_argument("name")
    p.add_argument("--tenant", default="")
    command(p, user_disable)

    keys = commands.add_parser("key", help="manage API keys").add_subparsers(
        dest="key_command", required=True)
    p = keys.add_parser("add", help="add an API key (prints its secret once)")
    p.add_argument("name")
    p.add_argument("--role", action="append", choices=ROLES, required=True)
    p.add_argument("--tenant", default="")
    p.add_argument("--entity", action="append", default=[],
                   help="an entity id a device key may write (repeatable)")
    command(p, key_add)
    p = keys.add_parser("list", help="list API keys")
    p.add_argument("--tenant", default=None)
    command(p, key_list)
    p = keys.add_parser("disable", help="disable an API key")
    p.add_argument("id")
    command(p, key_disable)


def _run(function, store_of, args: argparse.Namespace) -> int:
    with _identities(store_of, args) as identities:
        return function(args, identities)
