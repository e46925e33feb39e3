"""`messenger admin ...`: accounts and server admins from the shell.

Every command works against DATABASE_URL or, without it, the embedded default (it starts the
embedded PostgreSQL, or reuses the one a running server started). Each prints one line and
exits 0, or prints one line to stderr and exits non-zero (1: the command failed, e.g. an
unknown username; 2: bad usage or configuration). Passwords come from a hidden prompt when
standard input is a terminal, else from the first line of standard input; never from argv,
where every user of the machine could read them in the process list.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import msgspec

from . import admin, db, users
from . import settings as settings_mod
from .errors import AppError

PASSWORD_MIN, PASSWORD_MAX = 8, 256


class CommandError(Exception):
    """A message for stderr and the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("admin", help="manage accounts and server admins (see `messenger admin -h`)")
    cmds = p.add_subparsers(dest="admin_command", required=True)
    c = cmds.add_parser("create-user", help="create a verified account; the password is asked for")
    c.add_argument("email")
    c.add_argument("username")
    c.add_argument("--admin", action="store_true", help="make the account a server admin")
    c.set_defaults(func=run, action=_create_user)
    c = cmds.add_parser("set-password", help="set a new password (asked for); every session of the user ends")
    c.add_argument("username")
    c.set_defaults(func=run, action=_set_password)
    c = cmds.add_parser("deactivate", help="refuse login and end every session (sockets close at once)")
    c.add_argument("username")
    c.add_argument("--reason", default=None)
    c.set_defaults(func=run, action=_deactivate)
    c = cmds.add_parser("reactivate", help="allow a deactivated account to log in again")
    c.add_argument("username")
    c.set_defaults(func=run, action=_reactivate)
    c = cmds.add_parser("grant", help="make a user a server admin")
    c.add_argument("username")
    c.set_defaults(func=run, action=_grant)
    c = cmds.add_parser("revoke", help="take server admin away from a user")
    c.add_argument("username")
    c.set_defaults(func=run, action=_revoke)


Action = Callable[[argparse.Namespace, db.Database, settings_mod.Settings], Awaitable[str]]


def run(args: argparse.Namespace) -> int:
    settings = settings_mod.load()
    action: Action = args.action
    try:
        password = _read_password() if action in (_create_user, _set_password) else None
        args.password = password
        with database_url(settings) as dsn:
            line = asyncio.run(_with_database(dsn, action, args, settings))
    except CommandError as exc:
        print(f"messenger admin: {exc}", file=sys.stderr)
        return exc.status
    except AppError as exc:
        print(f"messenger admin: {exc.message}", file=sys.stderr)
        return 1
    print(line)
    return 0


@contextmanager
def database_url(settings: settings_mod.Settings) -> Iterator[str]:
    """DATABASE_URL, or the embedded default's (started here, or the running server's).

    The schema is brought up to date first, as `messenger serve` does, so the CLI works on a
    database no server has started on yet.
    """
    if settings.database_url is not None:
        asyncio.run(db.migrate(settings.database_url))
        yield settings.database_url
        return
    from . import embedded

    pg = embedded.start(settings.data_dir)
    try:
        asyncio.run(db.migrate(pg.dsn))
        yield pg.dsn
    finally:
        pg.stop()


async def _with_database(dsn: str, action: Action, args: argparse.Namespace, settings: settings_mod.Settings) -> str:
    database = await db.Database.connect(dsn, min_size=1, max_size=2)
    try:
        return await action(args, database, settings)
    finally:
        await database.close()


def _read_password() -> str:
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password (again): ") != password:
            raise CommandError("the passwords do not match")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise CommandError(f"a password has {PASSWORD_MIN} to {PASSWORD_MAX} characters", 2)
    return password


def _check(value: str, tp: object, what: str) -> str:
    try:
        checked: str = msgspec.convert(value, tp)
    except msgspec.ValidationError:
        raise CommandError(f"not a valid {what}: {value!r}", 2) from None
    return checked


async def _user(database: db.Database, username: str) -> int:
    try:
        return await admin.user_id_by_username(database, username)
    except admin.NoSuchUser:
        raise CommandError(f"no user named {username!r}") from None


async def _create_user(args: argparse.Namespace, database: db.Database, settings: settings_mod.Settings) -> str:
    email = _check(args.email, users.Email, "email address")
    username = _check(args.username, users.Username, "username (3-32 of A-Z a-z 0-9 _ .)")
    user_id = await admin.create_user(
        database,
        email=email,
        username=username,
        password=args.password,
        admin=args.admin,
        rounds=settings.bcrypt_rounds,
    )
    role = "server admin" if args.admin else "user"
    return f"created {role} {username} <{email}> (id {user_id}), verified"


async def _set_password(args: argparse.Namespace, database: db.Database, settings: settings_mod.Settings) -> str:
    user_id = await _user(database, args.username)
    await admin.set_password(
        database, admin.NotifyEnder(database), user_id, args.password, rounds=settings.bcrypt_rounds
    )
    return f"password of {args.username} set; every session of theirs ended"


async def _deactivate(args: argparse.Namespace, database: db.Database, settings: settings_mod.Settings) -> str:
    user_id = await _user(database, args.username)
    await admin.deactivate(database, admin.NotifyEnder(database), user_id, args.reason)
    return f"deactivated {args.username}: login refused, every session ended"


async def _reactivate(args: argparse.Namespace, database: db.Database, settings: settings_mod.Settings) -> str:
    await admin.reactivate(database, await _user(database, args.username))
    return f"reactivated {args.username}: they can log in again"


async def _grant(args: argparse.Namespace, database: db.Database, settings: settings_mod.Settings) -> str:
    await admin.set_admin(database, await _user(database, args.username), True)
    return f"{args.username} is now a server admin"


async def _revoke(args: argparse.Namespace, database: db.Database, settings: settings_mod.Settings) -> str:
    await admin.set_admin(database, await _user(database, args.username), False)
    return f"{args.username} is no longer a server admin"
