"""``haixun gateways ...``: broker users, ACL and TLS certificates from the geography.

    haixun gateways list                         gateways and what each may publish
    haixun gateways init --dir DIR               users for every gateway + ingest + monitor, ACL (keeps passwords)
    haixun gateways rotate GW [GW ...] --dir DIR new password for gateways (or haixun-ingest / haixun-monitor)
    haixun gateways acl --dir DIR                rewrite the ACL after a geography change
    haixun gateways certs --dir DIR --host H     private CA + server certificate for the TLS listener

After init/rotate/acl: SIGHUP the broker (``docker compose kill -s HUP mqtt``)
and give each gateway its password from DIR/credentials.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from haixun.settings import Settings


def _rights(args: argparse.Namespace):
    from haixun.data.geography import load_geography
    from haixun.gateways.broker import gateway_rights

    geo = load_geography(args.geography)
    return geo, gateway_rights(geo)


def _root(args: argparse.Namespace, settings: Settings) -> str:
    return args.topic_root or settings.topic_root


def _list(args: argparse.Namespace, settings: Settings) -> int:
    _, rights = _rights(args)
    root = _root(args, settings)
    if args.json:
        print(json.dumps({gw: r.topics(root) for gw, r in rights.items()}, indent=2))
        return 0
    for gw, r in rights.items():
        print(f"{gw}: stations {', '.join(r.stations) or '-'}; cameras {', '.join(r.cameras) or '-'}")
    return 0


def _init(args: argparse.Namespace, settings: Settings) -> int:
    from haixun.gateways.broker import BrokerAuthDir, init

    geo, rights = _rights(args)
    new = init(args.dir, rights, _root(args, settings), source=f"{geo.source} {geo.version}",
               rotate_existing=args.rotate_all)
    d = BrokerAuthDir(args.dir)
    d.chown_for(args.broker_uid, args.client_uid)
    print(f"{len(new)} new password(s) ({', '.join(sorted(new)) or 'none'}); "
          f"{len(rights)} gateways in {d.acl}; secrets in {d.credentials} (mode 0600)")
    print("reload the broker: SIGHUP (docker compose kill -s HUP mqtt)")
    return 0


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    from haixun.gateways.broker import BrokerAuthError, rotate

    _, rights = _rights(args)
    try:
        new = rotate(args.dir, args.users, rights)
    except BrokerAuthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"new password(s) for {', '.join(sorted(new))} in {Path(args.dir) / 'credentials.json'}; "
          "SIGHUP the broker, then install them on the gateways")
    return 0


def _acl(args: argparse.Namespace, settings: Settings) -> int:
    from haixun.gateways.broker import BrokerAuthDir

    geo, rights = _rights(args)
    d = BrokerAuthDir(args.dir)
    target = d.write_acl(rights, _root(args, settings), source=f"{geo.source} {geo.version}", fmt=args.format)
    missing = [gw for gw in rights if gw not in d.users()]
    print(f"wrote {target} ({len(rights)} gateways)")
    if missing:
        print(f"warning: no password yet for {missing}: run `haixun gateways init --dir {args.dir}`", file=sys.stderr)
    return 0


def _certs(args: argparse.Namespace, settings: Settings) -> int:
    from haixun.gateways.broker import make_certs

    files = make_certs(Path(args.dir) / "certs", args.host or ["localhost", "127.0.0.1"], days=args.days,
                       broker_uid=args.broker_uid)
    print("wrote " + ", ".join(str(f) for f in files) + " (ca.key stays with you; never commit any of them)")
    return 0


def _clear_errors(func):
    """A BrokerAuthError (no mosquitto_passwd/openssl, a bad user name) is a message, not a traceback."""
    def run(args: argparse.Namespace, settings: Settings) -> int:
        from haixun.gateways.broker import BrokerAuthError

        try:
            return int(func(args, settings) or 0)
        except BrokerAuthError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return run


def configure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gateways", help="broker users, ACL and TLS certificates for the gateways of the geography")
    gsub = p.add_subparsers(dest="gateways_command", metavar="ACTION", required=True)

    def common(q: argparse.ArgumentParser, *, folder: bool = True) -> None:
        q.add_argument("--geography", type=Path, default=None, help="geography GeoJSON (default: the packaged one)")
        q.add_argument("--topic-root", default=None, help="first topic level (default: HAIXUN_TOPIC_ROOT)")
        if folder:
            q.add_argument("--dir", type=Path, required=True,
                           help="folder of passwd, acl and credentials.json (never commit it)")

    q = gsub.add_parser("list", help="gateways and their stations/cameras")
    common(q, folder=False)
    q.add_argument("--json", action="store_true", help="the topics each gateway may publish, as JSON")
    q.set_defaults(func=_clear_errors(_list))

    q = gsub.add_parser("init", help="users for all gateways + haixun-ingest + haixun-monitor, and the ACL")
    common(q)
    q.add_argument("--rotate-all", action="store_true", help="new passwords for everyone, not only new users")
    q.add_argument("--broker-uid", type=int, default=None,
                   help="chown passwd/acl to the broker's user (1883 in eclipse-mosquitto; needs root)")
    q.add_argument("--client-uid", type=int, default=None,
                   help="chown credentials.json to the haixun services' user (10001 in docker/Dockerfile)")
    q.set_defaults(func=_clear_errors(_init))

    q = gsub.add_parser("rotate", help="new password for the named gateways (or service users)")
    common(q)
    q.add_argument("users", nargs="+", metavar="GATEWAY")
    q.set_defaults(func=_clear_errors(_rotate))

    q = gsub.add_parser("acl", help="rewrite the ACL from the geography")
    common(q)
    q.add_argument("--format", choices=("mosquitto", "emqx"), default="mosquitto",
                   help="mosquitto: DIR/acl (default); emqx: DIR/acl.conf for EMQX 5 file authorization")
    q.set_defaults(func=_clear_errors(_acl))

    q = gsub.add_parser("certs", help="private CA + broker server certificate (openssl) in DIR/certs")
    q.add_argument("--dir", type=Path, required=True)
    q.add_argument("--host", action="append", help="name or address gateways connect to (repeatable)")
    q.add_argument("--days", type=int, default=825, help="validity (default 825 days)")
    q.add_argument("--broker-uid", type=int, default=None,
                   help="chown server.key to the broker's user (1883 in eclipse-mosquitto; needs root)")
    q.set_defaults(func=_clear_errors(_certs))
