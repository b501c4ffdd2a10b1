"""Broker authentication generated from the geography (issue 14 item 3).

One broker user per gateway (user name = gateway id), one for ingest
(``haixun-ingest``, read-only) and one for monitoring (``haixun-monitor``,
``$SYS`` only). The ACL lets a gateway publish only

* ``<root>/v1/obs/<station>`` for the stations of the geography it serves,
* ``<root>/v1/event/<camera>`` for its cameras,
* ``<root>/v1/status/<gateway>``, its own presence (and last will),

and read nothing. No anonymous access (``allow_anonymous false`` in the
shipped configs). Files, in one folder (never committed; mode 0600/0644):

* ``passwd``: Mosquitto's password file (PBKDF2-SHA512 hashes made by
  ``mosquitto_passwd -U``, so no secret ever appears on a command line);
* ``acl``: Mosquitto's ACL file;
* ``credentials.json``: the plain passwords, ``{"users": {name: password}}``,
  for installing on the gateways and for the project's own clients
  (``HAIXUN_MQTT_CREDENTIALS_FILE``, haixun/mqttauth.py).

Mosquitto re-reads ``passwd`` and ``acl`` on SIGHUP.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from haixun.contract import CONTRACT_VERSION, event_topic, obs_topic, status_topic
from haixun.errors import HaixunError
from haixun.mqttauth import INGEST_USER, MONITOR_USER

PASSWD, ACL, CREDENTIALS, MONITOR_PASSWORD = "passwd", "acl", "credentials.json", "monitor.password"
SERVICE_USERS = (INGEST_USER, MONITOR_USER)


class BrokerAuthError(HaixunError, RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class GatewayRights:
    gateway_id: str
    stations: tuple[str, ...]
    cameras: tuple[str, ...]

    def topics(self, root: str) -> list[str]:
        return ([obs_topic(root, s) for s in self.stations] + [event_topic(root, c) for c in self.cameras]
                + [status_topic(root, self.gateway_id)])


def gateway_rights(geo: object) -> dict[str, GatewayRights]:
    """gateway id -> its stations and cameras, from a ``haixun.data.geography.Geography``."""
    stations: dict[str, list[str]] = {}
    cameras: dict[str, list[str]] = {}
    for st in geo.stations:  # type: ignore[attr-defined]
        if st.gateway_id:
            stations.setdefault(st.gateway_id, []).append(st.id)
    for cam in geo.cameras:  # type: ignore[attr-defined]
        if cam.gateway_id:
            cameras.setdefault(cam.gateway_id, []).append(cam.id)
    return {gw: GatewayRights(gw, tuple(sorted(stations.get(gw, ()))), tuple(sorted(cameras.get(gw, ()))))
            for gw in sorted(set(stations) | set(cameras))}


def acl_text(rights: Mapping[str, GatewayRights], root: str, *, source: str = "") -> str:
    """Mosquitto ACL: per-gateway write rights, ingest reads the contract's topics, monitor reads $SYS."""
    lines = [
        "# Mosquitto ACL written by `haixun gateways acl` from the geography" + (f" ({source})" if source else ""),
        "# Do not edit: regenerate after a geography change, then SIGHUP the broker.",
        "# No line for anonymous clients: with allow_anonymous false they cannot connect at all.",
        "",
        f"user {INGEST_USER}",
        f"topic read {root}/{CONTRACT_VERSION}/#",
        "",
        f"user {MONITOR_USER}",
        "topic read $SYS/#",
        "",
    ]
    for gw, r in rights.items():
        lines.append(f"user {gw}")
        lines += [f"topic write {t}" for t in r.topics(root)]
        lines.append("")
    return "\n".join(lines)


def emqx_acl_text(rights: Mapping[str, GatewayRights], root: str, *, source: str = "") -> str:
    """The same rights for EMQX 5's file authorization (``acl.conf``, Erlang terms), ending in deny all."""
    def topics(ts: Iterable[str]) -> str:
        return "[" + ", ".join(json.dumps(t) for t in ts) + "]"

    lines = [
        "%% EMQX acl.conf written by `haixun gateways acl --format emqx`" + (f" ({source})" if source else ""),
        "%% Set authorization.no_match = deny and put the file source first (docs/operations.md).",
        f'{{allow, {{username, "{INGEST_USER}"}}, subscribe, {topics([f"{root}/{CONTRACT_VERSION}/#"])}}}.',
        f'{{allow, {{username, "{MONITOR_USER}"}}, subscribe, {topics(["$SYS/#"])}}}.',
    ]
    for gw, r in rights.items():
        lines.append(f'{{allow, {{username, "{gw}"}}, publish, {topics(r.topics(root))}}}.')
    lines.append("{deny, all}.")
    return "\n".join(lines) + "\n"


def _check_user(name: str) -> None:
    if not name or any(c in name for c in ":\n\r\t #+/") or len(name) > 64:
        raise BrokerAuthError(f"unusable broker user name {name!r}")


def new_password() -> str:
    return secrets.token_urlsafe(24)  # 192 bits


def _mosquitto_passwd() -> str:
    found = shutil.which("mosquitto_passwd") or next(
        (p for p in ("/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd") if os.access(p, os.X_OK)), None)
    if not found:
        raise BrokerAuthError("mosquitto_passwd not found (Debian: apt-get install mosquitto)")
    return found


def hash_passwords(users: Mapping[str, str]) -> dict[str, str]:
    """user -> Mosquitto password-file hash, made by ``mosquitto_passwd -U`` on a private temp file."""
    for u in users:
        _check_user(u)
    if not users:  # mosquitto_passwd -U fails on an empty file (a re-run of init with nothing new)
        return {}
    with tempfile.TemporaryDirectory(prefix="haixun-passwd-") as tmp:
        f = Path(tmp) / "plain"
        fd = os.open(f, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(f"{u}:{p}\n" for u, p in users.items())
        proc = subprocess.run([_mosquitto_passwd(), "-U", str(f)], capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise BrokerAuthError(f"mosquitto_passwd -U failed: {proc.stderr.strip() or proc.stdout.strip()}")
        out_lines = f.read_text(encoding="utf-8").splitlines()
    hashed: dict[str, str] = {}
    for line in out_lines:
        if ":" in line:
            u, h = line.split(":", 1)
            hashed[u] = h
    missing = set(users) - set(hashed)
    if missing:
        raise BrokerAuthError(f"mosquitto_passwd gave no hash for {sorted(missing)}")
    return hashed


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


class BrokerAuthDir:
    """The folder of ``passwd``, ``acl`` and ``credentials.json``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    @property
    def passwd(self) -> Path:
        return self.folder / PASSWD

    @property
    def acl(self) -> Path:
        return self.folder / ACL

    @property
    def credentials(self) -> Path:
        return self.folder / CREDENTIALS

    def users(self) -> dict[str, str]:
        if not self.credentials.exists():
            return {}
        data = json.loads(self.credentials.read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.get("users", {}).items()}

    def _hashes(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.passwd.exists():
            for line in self.passwd.read_text(encoding="utf-8").splitlines():
                if ":" in line and not line.startswith("#"):
                    u, h = line.split(":", 1)
                    out[u] = h
        return out

    def set_passwords(self, new: Mapping[str, str], *, remove: Iterable[str] = ()) -> None:
        """Add or replace users' passwords (hash in ``passwd``, plain in ``credentials.json``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        hashes = self._hashes()
        users = self.users()
        hashes.update(hash_passwords(new))
        users.update(new)
        for u in remove:
            hashes.pop(u, None)
            users.pop(u, None)
        # The broker reads passwd as its own user (0644; the hashes are
        # PBKDF2-SHA512); credentials.json holds the secrets themselves (0600).
        _write_private(self.passwd, "".join(f"{u}:{h}\n" for u, h in sorted(hashes.items())), 0o644)
        _write_private(self.credentials, json.dumps({"users": dict(sorted(users.items()))}, indent=2) + "\n")
        if MONITOR_USER in users:  # for the broker's health check (docker-compose.yml)
            _write_private(self.folder / MONITOR_PASSWORD, users[MONITOR_USER])

    def chown_for(self, broker_uid: int | None, client_uid: int | None) -> None:
        """Let the broker's user (1883 in eclipse-mosquitto) read passwd/acl/server.key and the
        haixun services' user (10001 in docker/Dockerfile) read credentials.json."""
        if broker_uid is not None:
            for p in (self.passwd, self.acl, self.folder / "certs" / "server.key"):
                if p.exists():
                    os.chown(p, broker_uid, -1)
        if client_uid is not None and self.credentials.exists():
            os.chown(self.credentials, client_uid, -1)

    def write_acl(self, rights: Mapping[str, GatewayRights], root: str, *, source: str = "",
                  fmt: str = "mosquitto") -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        if fmt == "emqx":
            target = self.folder / "acl.conf"
            _write_private(target, emqx_acl_text(rights, root, source=source), 0o644)
            return target
        _write_private(self.acl, acl_text(rights, root, source=source), 0o644)
        return self.acl


def init(folder: Path, rights: Mapping[str, GatewayRights], root: str, *, source: str = "",
         rotate_existing: bool = False) -> dict[str, str]:
    """Users for every gateway and service: keep existing passwords unless ``rotate_existing``. Returns new ones."""
    d = BrokerAuthDir(folder)
    have = d.users()
    wanted = [*SERVICE_USERS, *rights]
    new = {u: new_password() for u in wanted if rotate_existing or u not in have}
    stale = [u for u in have if u not in wanted]  # gateways gone from the geography lose their access
    d.set_passwords(new, remove=stale)
    d.write_acl(rights, root, source=source)
    return new


def rotate(folder: Path, users: Iterable[str], rights: Mapping[str, GatewayRights]) -> dict[str, str]:
    known = set(SERVICE_USERS) | set(rights)
    users = list(users)
    unknown = [u for u in users if u not in known]
    if unknown:
        raise BrokerAuthError(f"not a gateway of the geography nor a service user: {unknown} "
                              "(add the gateway to the geography, load-geo, then `haixun gateways init`)")
    new = {u: new_password() for u in users}
    BrokerAuthDir(folder).set_passwords(new)
    return new


def make_certs(folder: Path, hosts: list[str], *, days: int = 825, broker_uid: int | None = None) -> list[Path]:
    """A private CA and a server certificate for the broker's TLS listener (openssl).

    Writes ``ca.crt``, ``ca.key`` (keep offline), ``server.crt``, ``server.key``
    in ``folder``. ``hosts``: the names/addresses gateways connect to (SAN).
    """
    openssl = shutil.which("openssl")
    if not openssl:
        raise BrokerAuthError("openssl not found")
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = folder / "ca.key", folder / "ca.crt"
    key, csr, crt = folder / "server.key", folder / "server.csr", folder / "server.crt"
    san = ",".join(("IP:" if _is_ip(h) else "DNS:") + h for h in hosts)

    def run(*args: str) -> None:
        proc = subprocess.run([openssl, *args], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise BrokerAuthError(f"openssl {args[0]} failed: {proc.stderr.strip()}")

    if not (ca_key.exists() and ca_crt.exists()):
        run("req", "-x509", "-newkey", "rsa:3072", "-nodes", "-keyout", str(ca_key), "-out", str(ca_crt),
            "-days", str(days), "-subj", "/CN=haixun broker CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:3072", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={hosts[0]}")
    ext = folder / "server.ext"
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(crt), "-days", str(days), "-extfile", str(ext))
    for p in (csr, ext):
        p.unlink(missing_ok=True)
    os.chmod(ca_key, 0o600)
    # The broker (its own user, e.g. uid 1883 in eclipse-mosquitto) must read
    # the key: 0600 here, `chown 1883 server.key` for the container (docs/operations.md).
    os.chmod(key, 0o600)
    if broker_uid is not None:
        os.chown(key, broker_uid, -1)
    return [ca_crt, crt, key]


def _is_ip(h: str) -> bool:
    import ipaddress
    try:
        ipaddress.ip_address(h)
    except ValueError:
        return False
    return True
