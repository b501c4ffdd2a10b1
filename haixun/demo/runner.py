"""``haixun demo``: everything on one machine with one command.

1. database and broker: real ones when reachable (or given), else embedded;
2. ``migrate`` (in process) and ``load-geo`` (child, one-shot);
3. one replay clock (simulated start = now, ``--speed``) passed to every
   child as ``HAIXUN_CLOCK``; a feed API key for the replay's bulletins;
4. children ``ingest``, ``engine``, ``api``, then ``simulate replay``
   (``--backfill-days 30``, ``--api-url``/``--api-key``; ``python -m
   haixun.cli ...`` with HAIXUN_* env; logs in ``<state_dir>/demo-logs``). A
   command not in this installation yet is reported and the rest runs;
5. a progress line every few seconds until Ctrl-C / SIGTERM (or, with
   ``--check``, until the storm check passes or ``--duration`` runs out);
6. stop: children (reverse order), then the broker, then the database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from haixun.clock import Clock
from haixun.demo.check import DatabaseWitness, WebsocketWitness, verdict
from haixun.demo.cleanup import record_run, remove_previous_run
from haixun.demo.commands import CommandCatalog
from haixun.demo.embedded_postgres import port_is_free
from haixun.demo.progress import ProgressSampler
from haixun.demo.replay import BACKFILL_DAYS, CLOCK_LEAD_S, ReplayPlan, demo_feed_key, drill_bulletin, feeds_url
from haixun.demo.services import DemoServices, ServiceChoice, ServiceUnavailable
from haixun.demo.story import check_story
from haixun.demo.supervisor import Supervisor, haixun_argv
from haixun.settings import Settings
from haixun.web import assets_installed

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    speed: float = 60.0
    fresh: bool = False
    embedded_db: bool = False
    embedded_broker: bool = False
    port: int = 8000
    check: bool = False
    duration_s: float | None = None
    progress_every_s: float = 5.0
    replay_args: tuple[str, ...] = ()
    child_log_level: str = "INFO"
    backfill_days: float = BACKFILL_DAYS  # 0: no history (the engine then fits no tide model)


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    command: tuple[str, ...]
    long_running: bool = True


LOAD_GEO = Component("load-geo", ("load-geo",), long_running=False)
INGEST = Component("ingest", ("ingest",))
ENGINE = Component("engine", ("engine",))
API = Component("api", ("api",))
REPLAY = Component("simulator", ("simulate", "replay"))
SERVICES = (INGEST, ENGINE, API)


@dataclass
class RunState:
    missing: list[str] = field(default_factory=list)
    crashed: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)


class Printer:
    """User-facing lines on stdout (the demo's console), flushed at once."""

    def __init__(self, stream: object = None) -> None:
        self._stream = stream or sys.stdout

    def __call__(self, text: str) -> None:
        print(f"[demo] {text}", file=self._stream, flush=True)  # type: ignore[call-overload]


def child_env(settings: Settings, services: DemoServices, options: DemoOptions) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "HAIXUN_DATABASE_URL": services.database_url,
        "HAIXUN_MQTT_URL": services.mqtt_url,
        "HAIXUN_MQTT_PROTOCOL": services.mqtt_protocol,
        "HAIXUN_TOPIC_ROOT": settings.topic_root,
        "HAIXUN_STATE_DIR": str(settings.state_dir),
        "HAIXUN_API_HOST": "127.0.0.1",
        "HAIXUN_API_PORT": str(options.port),
        "PYTHONUNBUFFERED": "1",
        "HAIXUN_JWT_SECRET": demo_jwt_secret(settings),
    })
    if services.mqtt_credentials_file is not None:  # the embedded broker's users (gateway simulators)
        env["HAIXUN_MQTT_CREDENTIALS_FILE"] = str(services.mqtt_credentials_file)
    return env


def demo_jwt_secret(settings: Settings) -> str:
    """The operator's HAIXUN_JWT_SECRET when it is a real one, else a fresh random one for this demo run
    (`haixun api` refuses to start without a real secret; demo logins do not outlive the demo)."""
    from haixun.api.auth import InsecureSecret, check_jwt_secret

    try:
        check_jwt_secret(settings.jwt_secret)
        return settings.jwt_secret
    except InsecureSecret:
        return secrets.token_hex(32)


def component_argv(component: Component, catalog: CommandCatalog, options: DemoOptions,
                   feed_key: str | None = None, backfilled: bool = False,
                   replay_argv: Sequence[str] | None = None) -> list[str]:
    """``replay_argv``: the replay's own arguments as the plan made them (default: --replay-args)."""
    argv = list(component.command)
    if component is API:
        if catalog.accepts(API.command, "--host"):
            argv += ["--host", "127.0.0.1"]
        if catalog.accepts(API.command, "--port"):
            argv += ["--port", str(options.port)]
    if component is REPLAY:
        if catalog.accepts(REPLAY.command, "--speed"):
            argv += ["--speed", f"{options.speed:g}"]  # informative: HAIXUN_CLOCK sets the pace
        if not backfilled and catalog.accepts(REPLAY.command, "--backfill-days"):
            argv += ["--backfill-days", str(BACKFILL_DAYS)]
        if feed_key is not None and catalog.accepts(REPLAY.command, "--api-key"):
            argv += ["--api-url", feeds_url(options.port), "--api-key", feed_key]
        argv += list(options.replay_args if replay_argv is None else replay_argv)
    return haixun_argv(argv, options.child_log_level)


async def http_status(host: str, port: int, path: str, timeout_s: float = 2.0) -> int | None:
    """Status code of ``GET path`` (plain HTTP/1.1), None if nothing answers."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (TimeoutError, OSError):
        return None
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout_s)
        parts = line.decode("latin-1").split()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    except (TimeoutError, OSError, ValueError):
        return None
    finally:
        writer.close()


def broker_connections(pid: int, port: int) -> int:
    """Established TCP connections of process ``pid`` to ``port`` on loopback."""
    import psutil

    try:
        conns = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0
    return sum(1 for c in conns if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)


class DemoRun:
    def __init__(self, settings: Settings, options: DemoOptions, say: Callable[[str], None]) -> None:
        self.settings = settings
        self.options = options
        self.say = say
        self.state = RunState()
        self.stop_event = asyncio.Event()
        self.catalog = CommandCatalog()
        self.services: DemoServices | None = None
        self.supervisor: Supervisor | None = None
        self.clock: Clock | None = None
        self.feed_key: str | None = None
        self.plan: ReplayPlan | None = None
        self.replay_wall_start: datetime | None = None
        self.drill_task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------
    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._request_stop, sig)
        try:
            return await self._run()
        finally:
            await asyncio.to_thread(self._shutdown)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _request_stop(self, sig: signal.Signals) -> None:
        if not self.stop_event.is_set():
            self.say(f"{sig.name}: stopping (children, then broker, then database)...")
        self.stop_event.set()

    def _shutdown(self) -> None:
        began = time.monotonic()
        if self.supervisor is not None:
            self.supervisor.stop_all()
        if self.services is not None:
            self.services.stop()
        if self.supervisor is not None or self.services is not None:
            self.say(f"stopped everything in {time.monotonic() - began:.1f} s")

    async def _run(self) -> int:
        opts = self.options
        if not port_is_free(opts.port):
            self.say(f"port {opts.port} on 127.0.0.1 is in use: choose another with --port")
            return 2
        choice = ServiceChoice(embedded_db=opts.embedded_db, embedded_broker=opts.embedded_broker, fresh=opts.fresh)
        try:
            self.services = await asyncio.to_thread(DemoServices.resolve, self.settings, choice)
        except ServiceUnavailable as exc:
            self.say(str(exc))
            return 2
        for note in self.services.notes:
            self.say(note)
        if self.stop_event.is_set():
            return 130

        from haixun.store.migrate import migrate

        began = time.monotonic()
        # a replay database: retention off (its readings are never dropped for their age)
        mode = await asyncio.to_thread(migrate, self.services.database_url, retention_days=0)
        self.say(f"migrated (readings: {mode}, retention off) in {time.monotonic() - began:.2f} s")

        log_dir = self.settings.state_dir / "demo-logs"
        self.supervisor = Supervisor(child_env(self.settings, self.services, opts), log_dir)
        self.say(f"component logs: {log_dir}/<component>.log")

        if not await self._load_geography():
            return 1 if opts.check else await self._idle_until_stopped()
        await self._remove_previous_run()
        self.plan = await asyncio.to_thread(ReplayPlan.build, opts, self.catalog)
        await self._backfill_before_the_clock()
        if self.stop_event.is_set():
            return 130
        await self._prepare_replay()
        await self._start_services()
        await self._start_replay()  # from the history's end: calm pre-roll while the engine starts
        await self._wait_for_api_and_engine()
        return await self._monitor()

    # -- steps --------------------------------------------------------------
    async def _remove_previous_run(self) -> None:
        """An earlier run's replay data never mixes with this one (docs/operations.md)."""
        assert self.services is not None
        try:
            removed = await asyncio.to_thread(remove_previous_run, self.settings.state_dir, self.services.database_url)
        except psycopg.Error as exc:
            self.say(f"could not remove the earlier run's replay data ({exc})")
            return
        if removed:
            self.say("removed the earlier run's replay data: " + ", ".join(f"{k} {v}" for k, v in removed.items()))

    async def _backfill_before_the_clock(self) -> None:
        """History first (ingest on the system clock; the history ends at the replay start, which is
        now or earlier), then the replay clock starts: no storm hour is skipped while it loads."""
        assert self.supervisor is not None and self.services is not None and self.plan is not None
        if self.options.backfill_days <= 0 or not (
                self.catalog.has(REPLAY.command) and self.catalog.accepts(REPLAY.command, "--backfill-only")
                and self._available(INGEST)):
            return
        plan = self.plan
        assert plan.history_end is not None
        await asyncio.to_thread(record_run, self.settings.state_dir, self.services.database_url,
                                plan.history_end - timedelta(days=self.options.backfill_days), plan.end)
        began = time.monotonic()
        self.supervisor.env.pop("HAIXUN_CLOCK", None)
        ingest = self.supervisor.start(INGEST.name, component_argv(INGEST, self.catalog, self.options))
        await self._wait_for_ingest(ingest.process.pid)
        argv = haixun_argv(["simulate", "replay", "--start", plan.history_end.isoformat(), "--backfill-days",
                            str(self.options.backfill_days), "--backfill-only", "--no-feeds", "--no-cameras", *plan.window_args],
                           self.options.child_log_level)
        self.say(f"backfill: {self.options.backfill_days:g} days of hourly history up to "
                 f"{plan.history_end.isoformat()} (the replay clock waits for it)")
        child = self.supervisor.start("backfill", argv)
        while child.returncode is None and not self.stop_event.is_set():
            await asyncio.sleep(0.25)
        code = child.returncode
        tail = child.log_tail(40)
        self.supervisor.stop("backfill")  # (already exited unless Ctrl-C came)
        if self.stop_event.is_set():
            return
        if code != 0:
            self.say(f"backfill failed (exit {code}); see {child.log_path}:\n{child.log_tail()}")
        stored = await self._wait_for_history(plan.history_end, _backfill_count(tail))
        self.supervisor.stop(INGEST.name)
        self.say(f"backfill stored ({stored} readings) in {time.monotonic() - began:.1f} s")

    async def _wait_for_history(self, start: datetime, expected: int | None, timeout_s: float = 300.0) -> int:
        """Until ingest has stored the history: at least ``expected`` readings and no growth for 3 s
        (no growth for 15 s if it never gets there)."""
        assert self.services is not None
        deadline = time.monotonic() + timeout_s
        last, still = -1, time.monotonic()
        async with await psycopg.AsyncConnection.connect(self.services.database_url, autocommit=True) as conn:
            while time.monotonic() < deadline and not self.stop_event.is_set():
                cur = await conn.execute("SELECT count(*) FROM readings WHERE ts < %s", (start,))
                row = await cur.fetchone()
                n = int(row[0]) if row else 0
                if n != last:
                    last, still = n, time.monotonic()
                elif n > 0 and time.monotonic() - still >= (3.0 if expected is not None and n >= expected else 15.0):
                    return n  # (``expected`` counts observations; each carries one reading per quantity)
                await asyncio.sleep(0.5)
        return max(last, 0)

    async def _prepare_replay(self) -> None:
        """The shared replay clock (into every child's env) and the replay's feed key."""
        assert self.services is not None and self.supervisor is not None
        if not self.catalog.has(REPLAY.command):
            return
        assert self.plan is not None
        # The clock reaches the replay start CLOCK_LEAD_S from now: ingest, engine (tide fits) and API
        # start on it meanwhile (before the start the clock shows earlier times, with no live data).
        wall = datetime.now(UTC).replace(microsecond=0)
        self.replay_wall_start = wall + timedelta(seconds=CLOCK_LEAD_S)
        assert self.plan.history_end is not None
        self.clock = Clock.replay(self.plan.history_end, self.options.speed, wall_start=wall)
        self.supervisor.env["HAIXUN_CLOCK"] = self.clock.spec()
        self.say(f"replay clock HAIXUN_CLOCK={self.clock.spec()} (every component judges data on it)")
        if self.catalog.accepts(REPLAY.command, "--api-key"):
            try:
                self.feed_key = await asyncio.to_thread(demo_feed_key, self.services.database_url)
            except psycopg.Error as exc:
                self.say(f"could not create the replay's feed API key ({exc}); bulletins will be refused")

    def _available(self, component: Component) -> bool:
        if self.catalog.has(component.command):
            return True
        cmd = " ".join(component.command)
        self.say(f"`haixun {cmd}` is not available in this installation yet: {component.name} is skipped")
        self.state.missing.append(component.name)
        return False

    async def _load_geography(self) -> bool:
        assert self.supervisor is not None
        if not self._available(LOAD_GEO):
            return True  # the rest can still run (stations unknown to ingest get dead-lettered)
        began = time.monotonic()
        code, child = await asyncio.to_thread(self.supervisor.run_once, LOAD_GEO.name,
                                              component_argv(LOAD_GEO, self.catalog, self.options), 300.0)
        if code != 0:
            self.say(f"load-geo failed (exit {code}); see {child.log_path}:\n{child.log_tail()}")
            self.state.crashed.append(LOAD_GEO.name)
            return False
        self.say(f"loaded the Pinghu geography in {time.monotonic() - began:.1f} s")
        return True

    async def _start_services(self) -> None:
        assert self.supervisor is not None and self.services is not None
        for component in SERVICES:
            if component is INGEST and not self.catalog.has(INGEST.command):
                continue
            if self._available(component):
                self.supervisor.start(component.name, component_argv(component, self.catalog, self.options))
        ingest = self.supervisor.get(INGEST.name)
        if ingest is not None:
            await self._wait_for_ingest(ingest.process.pid)

    async def _wait_for_api_and_engine(self) -> None:
        assert self.supervisor is not None
        if self.supervisor.get(API.name) is not None:
            await self._wait_for_api()
        if self.supervisor.get(ENGINE.name) is not None and self.clock is not None:
            await self._wait_for_engine()

    async def _wait_for_engine(self) -> None:
        """Until the engine has written a state (its tide models fitted), at most until the replay starts."""
        assert self.services is not None and self.replay_wall_start is not None
        async with await psycopg.AsyncConnection.connect(self.services.database_url, autocommit=True) as conn:
            while not self.stop_event.is_set():
                left = (self.replay_wall_start - datetime.now(UTC)).total_seconds()
                try:
                    cur = await conn.execute("SELECT count(*) FROM current_levels")
                    row = await cur.fetchone()
                    ready = bool(row and row[0])
                except psycopg.errors.UndefinedTable:
                    ready = False
                if ready:
                    self.say(f"engine ready; the storm window starts in {max(left, 0):.0f} s (calm pre-roll until then)")
                    return
                if left <= 0:
                    self.say("the engine has not written a state yet, and the storm window has begun")
                    return
                await asyncio.sleep(0.5)

    async def _wait_for_ingest(self, pid: int, timeout_s: float = 30.0) -> None:
        """Until ingest holds a connection to the broker (so the replay's first messages are not lost)."""
        assert self.services is not None
        port = self._broker_port()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.stop_event.is_set():
            if port is None or broker_connections(pid, port) > 0:
                await asyncio.sleep(0.5)  # CONNACK -> SUBSCRIBE round trip
                return
            child = self.supervisor.get(INGEST.name) if self.supervisor else None
            if child is None or not child.alive:
                return
            await asyncio.sleep(0.2)
        self.say(f"ingest has not connected to the broker after {timeout_s:.0f} s; starting the replay anyway")

    def _broker_port(self) -> int | None:
        assert self.services is not None
        from haixun.settings import MqttEndpoint

        ep = MqttEndpoint.from_url(self.services.mqtt_url)
        return ep.port if ep.host in ("127.0.0.1", "localhost", "::1") else None

    async def _wait_for_api(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.stop_event.is_set():
            if await http_status("127.0.0.1", self.options.port, "/healthz") == 200:
                base = f"http://127.0.0.1:{self.options.port}"
                self.say(f"duty screen:   {base}/screen")
                self.say(f"resident page: {base}/")
                self.say(f"API docs:      {base}/docs")
                if not assets_installed():
                    self.say("WARNING: the web assets are not built, so the pages cannot draw the map, charts or "
                             "Chinese text: run `python -m haixun.web.build_assets` (scripts/demo.sh does it)")
                return
            api = self.supervisor.get(API.name) if self.supervisor else None
            if api is None or not api.alive:
                return  # reported by the monitor
            await asyncio.sleep(0.25)
        self.say(f"the API did not answer /healthz on port {self.options.port} within {timeout_s:.0f} s")

    async def _start_replay(self) -> None:
        assert self.supervisor is not None and self.plan is not None
        if self._available(REPLAY):
            argv = component_argv(REPLAY, self.catalog, self.options, feed_key=self.feed_key,
                                  backfilled=self.catalog.accepts(REPLAY.command, "--backfill-only"),
                                  replay_argv=self.plan.replay_argv)
            self.supervisor.start(REPLAY.name, argv)
            p = self.plan
            self.say(f"replaying typhoon In-fa (2021) at {self.options.speed:g}x: storm time "
                     f"{p.storm_time(p.start):%d %b %H:%M} .. {p.storm_time(p.end):%d %b %H:%M} CST "
                     f"(landfall {p.storm_time(p.landfall):%d %b %H:%M}) on the replay clock "
                     f"{p.start:%Y-%m-%d %H:%M} .. {p.end:%Y-%m-%d %H:%M} UTC")
            if p.drill:
                self.drill_task = asyncio.create_task(self._post_drill())

    async def _post_drill(self) -> None:
        """--check: a yellow bulletin for one segment, then its blue Update and its Cancel (docs/operations.md)."""
        from haixun.simulators.feeds import post_bulletin

        assert self.plan is not None and self.clock is not None
        for i, (at, msg_type, level) in enumerate(self.plan.drill):
            delay = self.clock.wall_delay_until(at)
            try:
                await asyncio.wait_for(self.stop_event.wait(), timeout=max(0.0, delay))
                return
            except TimeoutError:
                pass
            status = await post_bulletin(feeds_url(self.options.port), drill_bulletin(self.plan, i), self.feed_key)
            self.say(f"check drill: {msg_type} {level} bulletin for the drill segment -> HTTP {status}")

    async def _idle_until_stopped(self) -> int:
        self.say("nothing else to run; press Ctrl-C to stop")
        await self.stop_event.wait()
        return 1

    # -- monitoring -----------------------------------------------------------
    async def _monitor(self) -> int:
        assert self.services is not None and self.supervisor is not None
        opts = self.options
        sampler = ProgressSampler()
        db_witness = DatabaseWitness(self.clock)
        ws_witness: WebsocketWitness | None = None
        ws_task: asyncio.Task[None] | None = None
        if opts.check and self.supervisor.get(API.name) is not None:
            ws_witness = WebsocketWitness(f"ws://127.0.0.1:{opts.port}/ws/live")
            ws_task = asyncio.create_task(ws_witness.run(self.stop_event))
        if opts.check and self.state.missing:
            self.say("--check cannot pass without: " + ", ".join(self.state.missing))
        duration_s = opts.duration_s
        if duration_s is None and opts.check and self.plan is not None:
            duration_s = (self.plan.end - self.plan.start).total_seconds() / opts.speed + 120.0
        deadline = time.monotonic() + duration_s if duration_s else None
        finished_at: float | None = None
        conn = await psycopg.AsyncConnection.connect(self.services.database_url, autocommit=True)
        try:
            while not self.stop_event.is_set():
                self._report_exits()
                replay_done = REPLAY.name in self.state.finished
                if replay_done and finished_at is None:
                    finished_at = time.monotonic()
                    self.say("the replay has finished: the storm is over (Ctrl-C stops the demo)"
                             if not opts.check else "the replay has finished; judging the story")
                try:
                    progress = await sampler.sample(conn)
                    self.say(progress.line() + self._phase(replay_done) + self._children_summary())
                    if opts.check:
                        await db_witness.poll(conn)
                except psycopg.OperationalError as exc:
                    self.say(f"database not answering: {exc}")
                if opts.check and finished_at is not None and time.monotonic() - finished_at >= 2 * opts.progress_every_s:
                    break  # the engine has caught up with the last readings
                if opts.check and self.state.missing:
                    break  # cannot pass; do not burn the whole duration
                if deadline is not None and time.monotonic() >= deadline:
                    self.say(f"--duration {duration_s:g} s reached")
                    break
                wait = opts.progress_every_s
                if deadline is not None:
                    wait = max(0.0, min(wait, deadline - time.monotonic()))
                try:
                    await asyncio.wait_for(self.stop_event.wait(), timeout=wait)
                except TimeoutError:
                    pass
        finally:
            await conn.close()
        interrupted = self.stop_event.is_set()
        self.stop_event.set()
        if ws_task is not None:
            await ws_task
        if self.drill_task is not None:
            await self.drill_task
        if not opts.check:
            return 130 if interrupted else 0
        result = verdict(db_witness, ws_witness, self.state.missing, self.state.crashed)
        lines, ok = list(result.lines), result.ok
        if self.plan is not None and self.plan.story is not None:
            story = self.plan.story
            if self.clock is not None:  # the part of the window the replay clock reached
                story = dataclasses.replace(story, end=min(story.end, self.clock.now()))
            for name, changes, initial, hazards, reds in self._witness_tracks(db_witness, ws_witness):
                v = check_story(story, changes, name, initial, hazards, reds)
                lines += v.summary_lines()
                ok = ok and v.ok
        for line in lines:
            self.say(("check: " if ok else "check FAILED: ") + line)
        self.say("check passed" if ok else "check failed")
        return 0 if ok else 1

    @staticmethod
    def _witness_tracks(db: DatabaseWitness, ws: WebsocketWitness | None):
        yield "level_changes", db.segment_changes, db.segment_initial, db.segment_hazards, db.segment_reds
        if ws is not None:
            yield "websocket", ws.segment_changes, {}, None, None

    def _phase(self, replay_done: bool) -> str:
        if self.plan is None or self.plan.story is None or self.clock is None:
            return ""
        if replay_done:
            return " | phase: after (replay finished)"
        now = self.clock.now()
        storm = self.plan.storm_time(now)
        return f" | phase: {self.plan.story.phase_at(now)} (storm time {storm:%d %b %H:%M} CST)"

    def _report_exits(self) -> None:
        assert self.supervisor is not None
        for child in self.supervisor.newly_exited():
            code = child.returncode
            if code == 0:
                self.state.finished.append(child.name)
                self.say(f"{child.name} finished")
            else:
                self.state.crashed.append(child.name)
                self.say(f"{child.name} exited with code {code}; last lines of {child.log_path}:\n{child.log_tail()}")

    def _children_summary(self) -> str:
        assert self.supervisor is not None
        down = [c.name for c in self.supervisor.children if not c.alive and c.returncode != 0]
        return f" | down: {', '.join(down)}" if down else ""


def _backfill_count(log_tail: str) -> int | None:
    """``backfill_observations=N`` from the backfill child's summary line."""
    m = re.findall(r"backfill_observations=(\d+)", log_tail)
    return int(m[-1]) if m else None


def run_demo(settings: Settings, options: DemoOptions, say: Callable[[str], None] | None = None) -> int:
    printer = say or Printer()
    return asyncio.run(DemoRun(settings, options, printer).run())
