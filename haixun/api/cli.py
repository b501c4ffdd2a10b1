"""``haixun api``, ``haixun user add``, ``haixun apikey add|list|revoke``."""

from __future__ import annotations

import argparse
import copy
import getpass
import sys
from typing import TYPE_CHECKING, Any

from haixun.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _log_config(level: str) -> dict[str, Any]:
    """uvicorn's own logging setup plus the root logger as ``haixun`` sets it up: uvicorn applies it in
    every process, so each ``--workers`` process logs like a single one."""
    import uvicorn.config

    config: dict[str, Any] = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["formatters"]["haixun"] = {"format": LOG_FORMAT}
    config["handlers"]["haixun"] = {"class": "logging.StreamHandler", "formatter": "haixun",
                                    "stream": "ext://sys.stderr"}
    config["root"] = {"handlers": ["haixun"], "level": level.upper()}
    return config


def app_from_env() -> FastAPI:
    """The app of one ``haixun api --workers N`` process (settings from the environment, as the CLI reads them)."""
    from haixun.api.app import create_app

    return create_app(Settings())


def uvicorn_options(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """uvicorn.run's options of ``haixun api`` (besides the app, workers and forwarded addresses)."""
    # http/loop "auto": httptools and uvloop (both in uvicorn[standard]) when installed, else h11/asyncio.
    # The access log is off unless asked for: one log line per request costs more than a cached lookup;
    # when on, the location scrubber (logfilter) keeps the resident's coordinates out of it.
    # ws_per_message_deflate: settings.ws_per_message_deflate (off: one compression per client per message).
    return dict(host=args.host or settings.api_host, port=args.port or settings.api_port, proxy_headers=True,
                log_level=args.log_level.lower(), log_config=_log_config(args.log_level), access_log=args.access_log,
                http="auto", loop="auto", ws_per_message_deflate=settings.ws_per_message_deflate)


def _api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from haixun.api import logfilter
    from haixun.api.app import create_app
    from haixun.api.auth import InsecureSecret, check_jwt_secret, check_metrics_token

    try:
        check_jwt_secret(settings.jwt_secret)
        check_metrics_token(settings.metrics_token)
    except InsecureSecret as exc:
        print(f"haixun api: refusing to start: {exc}", file=sys.stderr)
        return 2
    logfilter.install()
    options = uvicorn_options(args, settings)
    if args.forwarded_allow_ips is not None:
        # behind a load balancer: trust its X-Forwarded-For, so connection caps and login throttling see the
        # resident's address, not the balancer's (docs/operations.md, Scale-out)
        options["forwarded_allow_ips"] = args.forwarded_allow_ips
    if args.workers > 1:
        # each process has its own pool, LISTEN connection, live state, risk cache and websocket clients
        uvicorn.run("haixun.api.cli:app_from_env", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(create_app(settings), **options)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    pw = getpass.getpass("password: ")
    if pw != getpass.getpass("again: "):
        raise SystemExit("passwords differ")
    return pw


def _user_add(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from haixun.api.auth import hash_password
    from haixun.store import accounts

    try:
        digest = hash_password(_read_password(args))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        created = accounts.upsert_user(conn, username=args.username, password_hash=digest, role=args.role,
                                       actor=f"cli:{getpass.getuser()}")
    print(f"{'created' if created else 'updated'} user {args.username} ({args.role})")
    return 0


def _key_add(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from haixun.api.keys import add_api_key

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        key, prefix = add_api_key(conn, name=args.name, role=args.role, sources=args.source or [],
                                  actor=f"cli:{getpass.getuser()}")
    print(key)
    print(f"(API key {args.name!r}, role {args.role}, prefix {prefix}: shown only now)", file=sys.stderr)
    return 0


def _key_list(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from haixun.store import accounts

    with psycopg.connect(settings.database_url) as conn:
        for k in accounts.api_keys(conn):
            print("\t".join(str(x) for x in (k.prefix, k.name, k.role, k.sources, k.active, k.created_at,
                                              k.last_used_at)))
    return 0


def _key_revoke(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from haixun.api.keys import revoke_api_keys

    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        n = len(revoke_api_keys(conn, actor=f"cli:{getpass.getuser()}", prefix=args.prefix))
    print("revoked" if n else "no active key with that prefix")
    return 0 if n else 1


def configure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("api", help="run the HTTP/websocket API (uvicorn)")
    p.add_argument("--host", default=None, help="listen address (default HAIXUN_API_HOST)")
    p.add_argument("--port", type=int, default=None, help="port (default HAIXUN_API_PORT)")
    p.add_argument("--workers", type=int, default=1,
                   help="API processes sharing the port (default 1; each keeps its own live state, see docs/api.md)")
    p.add_argument("--forwarded-allow-ips", default=None, metavar="IPS",
                   help="comma-separated addresses (or *) of load balancers whose X-Forwarded-For is trusted "
                        "(default: uvicorn's, 127.0.0.1)")
    p.add_argument("--access-log", action="store_true",
                   help="log every request (uvicorn access log, locations scrubbed); off by default")
    p.set_defaults(func=_api)

    u = sub.add_parser("user", help="API users").add_subparsers(dest="user_cmd", metavar="CMD")
    ua = u.add_parser("add", help="create or update a user (password prompted)")
    ua.add_argument("username")
    ua.add_argument("--role", required=True, choices=("viewer", "duty", "admin"))
    ua.add_argument("--password-stdin", action="store_true", help="read the password from the first stdin line")
    ua.set_defaults(func=_user_add)

    k = sub.add_parser("apikey", help="API keys for machines").add_subparsers(dest="key_cmd", metavar="CMD")
    ka = k.add_parser("add", help="create a key and print it once")
    ka.add_argument("name")
    ka.add_argument("--role", required=True, choices=("viewer", "duty", "admin", "feed"))
    ka.add_argument("--source", action="append", help="feed source this key may post to (repeatable; default all)")
    ka.set_defaults(func=_key_add)
    kl = k.add_parser("list", help="list keys (never the secrets)")
    kl.set_defaults(func=_key_list)
    kr = k.add_parser("revoke", help="revoke a key by prefix")
    kr.add_argument("prefix")
    kr.set_defaults(func=_key_revoke)
