"""EngineService: leadership, triggers, scheduled jobs and the compute cycle.

Life cycle (docs/engine.md)::

    standby --(advisory lock granted)--> promote --> leading --(session lost)--> demote --> standby

While leading: a LISTEN task on ``haixun_ingest`` (debounced), an APScheduler
``AsyncIOScheduler`` with the interval/snapshot/prune/tide/feeds jobs, and one
runner task that executes cycles one at a time. A cycle reads through the pool
and writes through the lock session (so a leader that lost its lock cannot
write).

Time: every "now" that judges data (riskcode's ``now``, staleness, dwell,
camera holds, feed/override validity, tide windows, the state's ``at``) is
``settings.clock.now()`` — the wall clock, or the replay clock of a replay
(haixun/clock.py). Latency marks (``decided_at``, committed), the leader's
``last_cycle_at``, decision-history cadence and scheduler intervals stay on
the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool

from haixun.engine import inputs as inputs_mod
from haixun.engine.evaluate import Evaluator, load_evaluator
from haixun.engine.leader import InstanceInfo, LeaderLock
from haixun.engine.metrics import EngineMetrics
from haixun.engine.model import CurrentRow, Evaluation, StationEntry, Trigger
from haixun.engine.options import EngineOptions
from haixun.engine.publish import (
    jsonable,
    open_outages,
    outages,
    plan_cycle,
    plan_outages,
    prune_state_log,
    restore_current,
    write_cycle,
)
from haixun.engine.tide import TideCache
from haixun.lifecycle import Lifecycle
from haixun.settings import Settings
from haixun.store.channels import CONFIG_CHANNEL, INGEST_CHANNEL
from haixun.store.db import open_pool
from haixun.store.engine_inputs import LatencyMark, newest_input_mark
from haixun.store.notify import listen
from haixun.store.readings import apply_retention

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    """Wall-clock now (latency marks); data time comes from ``self.clock``."""
    return datetime.now(UTC)


class EngineService:
    """One engine process (leader or standby). ``async with EngineService(...)``."""

    def __init__(self, settings: Settings, *, options: EngineOptions | None = None,
                 registry: CollectorRegistry | None = None, instance: InstanceInfo | None = None) -> None:
        self.settings = settings
        self.clock = settings.clock
        self.options = options or EngineOptions()
        self.metrics = EngineMetrics(registry if registry is not None else CollectorRegistry())
        self.instance = instance or InstanceInfo()
        self._lock = LeaderLock(settings.database_url, self.instance,
                                heartbeat_timeout_s=self.options.heartbeat_timeout_s)
        self._pool: AsyncConnectionPool | None = None
        self._life = Lifecycle("EngineService")
        self._main: asyncio.Task | None = None
        self._lost = asyncio.Event()
        self.leading = asyncio.Event()       # set while this instance leads (tests wait on it)
        self.retention_runs = 0              # retention rule runs by this instance
        self.became_leader_at: float | None = None  # time.monotonic() of the last promotion
        # leader-only state (reset on every promotion)
        self._tasks: list[asyncio.Task] = []
        self._scheduler: AsyncIOScheduler | None = None
        self._write_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._pending = Trigger()
        self._evaluator: Evaluator | None = None
        self._hysteresis: Any = None
        self._current: dict[tuple[str, str], CurrentRow] = {}
        self._last_stations: dict[str, StationEntry] = {}
        self._last_station_refresh = 0.0
        self._last_snapshot = 0.0
        self._tide: TideCache | None = None
        self._tide_fitting = asyncio.Lock()  # the refit and the new-station check never fit at the same time
        self._last_mark: LatencyMark | None = None
        self._validity_checked: tuple[datetime, datetime] | None = None  # (clock, wall) of the last check
        self._outage_ids: dict[tuple[str, str], int] = {}  # open data-outage alarms (kind, id) -> level_changes.id
        self.last_seq: int | None = None
        self.cycles_done = 0

    # ------------------------------------------------------------------ life cycle
    async def __aenter__(self) -> EngineService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the pool and run for leadership. Once per instance (haixun/lifecycle.py): a second start
        would open a second pool and leadership loop; a failed start closes what it opened."""
        await self._life.start(self._begin, self._shutdown)

    async def stop(self) -> None:
        """Stop computing, give up leadership, close the pool."""
        await self._life.stop(self._shutdown)

    async def _begin(self) -> None:
        self._pool = await open_pool(self.settings.database_url, min_size=1, max_size=4, name="haixun-engine")
        self._main = asyncio.create_task(self._leadership_loop(), name="engine-leadership")

    async def _shutdown(self) -> None:
        if self._main is not None:
            self._main.cancel()
            await asyncio.gather(self._main, return_exceptions=True)
            self._main = None
        await self._demote()
        await self._lock.release()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def is_leader(self) -> bool:
        return self._lock.held and self.leading.is_set()

    @property
    def lock_backend_pid(self) -> int | None:
        """PostgreSQL pid of the lock session (tests terminate it to simulate a crash)."""
        return self._lock.backend_pid if self._lock.held else None

    def metrics_text(self) -> bytes:
        return self.metrics.text()

    # ------------------------------------------------------------------ leadership
    async def _leadership_loop(self) -> None:
        opts = self.options
        while True:
            if not self._lock.held:
                if await self._lock.try_acquire():
                    try:
                        await self._promote()
                    except Exception:
                        log.exception("promotion failed; giving up the lock")
                        await self._demote()
                        await self._lock.release()
                        await asyncio.sleep(opts.lock_poll_s)
                else:
                    await asyncio.sleep(opts.lock_poll_s)
                continue
            try:
                await asyncio.wait_for(self._lost.wait(), timeout=opts.heartbeat_s)
            except TimeoutError:
                pass
            alive = False
            if not self._lost.is_set():
                try:
                    async with self._write_lock:
                        alive = await self._lock.heartbeat()
                except Exception:  # noqa: BLE001
                    log.exception("heartbeat failed")
            if not alive:
                log.error("engine %s: leadership lost, stopping computation", self.instance.instance_id)
                await self._demote()
                await self._lock.release()
                # back off so that a healthy standby wins rather than this (suspect) process
                await asyncio.sleep(opts.lock_poll_s * 3)

    async def _promote(self) -> None:
        assert self._pool is not None
        self._lost.clear()
        self._pending = Trigger()
        self._wake.clear()
        async with self._pool.connection() as conn:
            self._evaluator = await load_evaluator(conn)
            restored = await restore_current(conn)
            self._outage_ids = await open_outages(conn)
            self.metrics.data_outages.set(len(self._outage_ids))
            self._tide = TideCache(self.options)
            await self._tide.load(conn)
            # inputs older than the promotion are not this leader's latency to report
            self._last_mark = await newest_input_mark(conn)
        self._current = {k: row for k, (row, _) in restored.items()}
        self._hysteresis = self._evaluator.restore_state(restored)
        self._last_stations, self._last_station_refresh, self._last_snapshot = {}, 0.0, 0.0
        self._tasks = [asyncio.create_task(self._runner(), name="engine-runner"),
                       asyncio.create_task(self._listener(), name="engine-listen")]
        self._scheduler = self._build_scheduler()
        self._scheduler.start()
        self.became_leader_at = time.monotonic()
        self.metrics.is_leader.set(1)
        self.metrics.leader_changes.inc()
        self.leading.set()
        self.request("start", snapshot=True)
        log.info("engine %s leading (restored %d subjects)", self.instance.instance_id, len(restored))

    async def _demote(self) -> None:
        self.leading.clear()
        self.metrics.is_leader.set(0)
        if self._scheduler is not None:
            try:
                self._scheduler.shutdown(wait=False)
            except Exception:  # noqa: BLE001 - already stopped
                pass
            self._scheduler = None
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._evaluator, self._hysteresis, self._tide = None, None, None
        self._current = {}

    def _build_scheduler(self) -> AsyncIOScheduler:
        opts, now = self.options, datetime.now(UTC)
        sched = AsyncIOScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                             "misfire_grace_time": 30})
        sched.add_job(self.request, "interval", seconds=self.settings.engine_interval_s, args=["interval"],
                      id="cycle")
        sched.add_job(self.request, "interval", seconds=opts.snapshot_every_s, args=["snapshot"],
                      kwargs={"snapshot": True}, id="snapshot")
        sched.add_job(self._prune_job, "interval", seconds=opts.prune_every_s, id="prune", next_run_time=now)
        sched.add_job(self._retention_job, "interval", seconds=opts.retention_every_s, id="retention",
                      next_run_time=now + timedelta(seconds=opts.retention_first_s))
        sched.add_job(self._tide_job, "interval", seconds=opts.tide_refit_every_s, id="tide_refit",
                      next_run_time=now)
        sched.add_job(self._tide_check_job, "interval", seconds=opts.tide_check_every_s, id="tide_check")
        sched.add_job(self._validity_job, "interval", seconds=max(1.0, min(5.0, self.settings.engine_interval_s)),
                      id="feeds")
        return sched

    # ------------------------------------------------------------------ triggers
    def request(self, reason: str, *, stations: list[str] | None = None, snapshot: bool = False) -> None:
        """Ask for a cycle. Ingest requests are debounced; others run next."""
        self._pending.reasons.add(reason)
        if stations:
            self._pending.stations.update(stations)
        if snapshot:
            self._pending.snapshot = True
        self._wake.set()

    async def _listener(self) -> None:
        """LISTEN haixun_ingest (new data) and haixun_config (a threshold version activated: recompute now
        with it, not at the next interval) on a dedicated connection; reconnect on failure."""
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.settings.database_url, autocommit=True)
                async with conn:
                    await listen(conn, INGEST_CHANNEL)
                    await listen(conn, CONFIG_CHANNEL)
                    self.request("listen")  # anything missed while not listening
                    async for note in conn.notifies():
                        if note.channel == CONFIG_CHANNEL:
                            self.request("config")  # the cycle reads the active version (RiskEvaluator.refreshed)
                        else:
                            self.metrics.notifications.inc()
                            self.request("ingest", stations=_stations_of(note.payload))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001
                log.warning("listening on %s failed (%s); reconnecting in 1 s", INGEST_CHANNEL, exc)
                await asyncio.sleep(1.0)

    async def _runner(self) -> None:
        while True:
            await self._wake.wait()
            if self._pending.reasons <= {"ingest"}:
                # coalesce a burst of ingest batches: wait a fixed window from the
                # first one (not from the last, so a steady stream never starves)
                await asyncio.sleep(self.options.debounce_s)
            trigger, self._pending = self._pending, Trigger()
            self._wake.clear()
            try:
                await self.run_cycle(trigger)
            except asyncio.CancelledError:
                raise
            except psycopg.OperationalError as exc:
                log.error("cycle failed on a broken connection (%s)", exc)
                self._lost.set()  # the leadership loop verifies the lock session and demotes
                return
            except Exception:  # noqa: BLE001 - one bad cycle must not stop the engine
                log.exception("engine cycle failed (%s)", trigger.label)
                self.metrics.cycles.labels(trigger.label, "error").inc()

    # ------------------------------------------------------------------ the cycle
    async def run_cycle(self, trigger: Trigger) -> int | None:
        """Gather, evaluate, write. Returns the state_log seq written, or None."""
        assert self._pool is not None
        evaluator, tide = self._evaluator, self._tide
        if evaluator is None or tide is None or not self._lock.held:
            return None
        t0 = time.perf_counter()
        now = self.clock.now()
        snapshot = trigger.snapshot or (time.monotonic() - self._last_snapshot >= self.options.snapshot_every_s)
        async with self._pool.connection() as conn:
            evaluator = await evaluator.refreshed(conn)
            raw, mark = await inputs_mod.gather_with_mark(conn, now, camera_window_s=self.options.camera_window_s)
        # the cycle that first sees an input reports its timestamps (whatever triggered it)
        latency = mark if mark is not None and (self._last_mark is None
                                                or mark.received_at > self._last_mark.received_at) else None
        self._evaluator = evaluator
        predictions = tide.predictions(now)
        evaluation: Evaluation = evaluator.evaluate(raw, predictions, self._hysteresis, now)
        decided_at = utcnow()
        stations = self._station_entries(raw, evaluator, now)
        self.metrics.stations_offline.set(sum(1 for st in stations.values() if not st.get("online")))
        refresh = time.monotonic() - self._last_station_refresh >= self.options.station_refresh_s
        plan = plan_cycle(evaluation, self._current, stations, self._last_stations, wall_now=decided_at,
                          snapshot=snapshot,
                          refresh_stations=refresh,
                          history_every=timedelta(seconds=self.options.history_every_s))
        plan_outages(plan, outages(stations, raw.stations, self._gateways_offline(raw),
                                   {sid: evaluator.station_max_age_s(tuple(raw.latest.get(sid, {})) or info.quantities)
                                    for sid, info in raw.stations.items()}), self._outage_ids)
        seq: int | None = None
        outage_ids = dict(self._outage_ids)
        if not plan.empty:
            async with self._write_lock:
                if not self._lock.held:
                    return None
                seq, _body = await write_cycle(self._lock.conn, evaluation=evaluation, plan=plan, now=now,
                                               decided_at=decided_at, latency=latency,
                                               instance_id=self.instance.instance_id, outage_ids=outage_ids)
            self._outage_ids = outage_ids  # committed
            self.metrics.data_outages.set(len(outage_ids))
            committed = utcnow()
            self.last_seq = seq
            self.metrics.last_seq.set(seq)
            if latency is not None:
                self._observe_latency(latency, decided_at, committed)
        if latency is not None:
            self._last_mark = latency
        # commit succeeded (or nothing to write): advance the in-memory state
        self._hysteresis = evaluation.hysteresis
        for d in plan.changed + plan.history:
            prev = self._current.get(d.key)
            hist = decided_at if d in plan.history or d in plan.changed else (prev.last_history_at if prev else None)
            self._current[d.key] = CurrentRow(d.level, d.raw_level, d.since, jsonable(d.entry), hist)
        if plan.stations:
            self._last_stations.update(plan.stations)
        if refresh or snapshot:
            self._last_station_refresh = time.monotonic()
        if snapshot:
            self._last_snapshot = time.monotonic()
        self.cycles_done += 1
        self.metrics.cycle_seconds.labels(trigger.label).observe(time.perf_counter() - t0)
        self.metrics.cycles.labels(trigger.label, "written" if seq is not None else "unchanged").inc()
        return seq

    def _observe_latency(self, mark: LatencyMark, decided_at: datetime, committed: datetime) -> None:
        h = self.metrics.stage_seconds
        # sensor ts is data time: compare it with the clock's reading at receipt, in wall seconds
        sensor_lag = self.clock.wall_seconds(
            (self.clock.at_wall(mark.received_at.timestamp()) - mark.sensor_ts).total_seconds())
        h.labels("sensor_to_received").observe(max(0.0, sensor_lag))
        h.labels("received_to_stored").observe(max(0.0, (mark.stored_at - mark.received_at).total_seconds()))
        h.labels("stored_to_decided").observe(max(0.0, (decided_at - mark.stored_at).total_seconds()))
        h.labels("received_to_decided").observe(max(0.0, (decided_at - mark.received_at).total_seconds()))
        h.labels("decided_to_committed").observe(max(0.0, (committed - decided_at).total_seconds()))

    @staticmethod
    def _gateways_offline(raw: inputs_mod.RawInputs) -> dict[str, datetime | None]:
        """Gateways whose status says offline, unless a station of theirs delivered after that status."""
        out: dict[str, datetime | None] = {}
        for gw, online in raw.gateways_online.items():
            if online:
                continue
            at = raw.gateways_status_at.get(gw)
            rx = [v.received_at for sid, info in raw.stations.items() if info.gateway_id == gw
                  for v in raw.latest.get(sid, {}).values()]
            if at is None or not rx or max(rx) <= at:
                out[gw] = at
        return out

    def _station_entries(self, raw: inputs_mod.RawInputs, evaluator: Evaluator,
                         now: datetime) -> dict[str, StationEntry]:
        out: dict[str, StationEntry] = {}
        for sid, info in raw.stations.items():
            latest = raw.latest.get(sid, {})
            newest = max((v.ts for v in latest.values()), default=None)
            age = None if newest is None else round(max(0.0, (now - newest).total_seconds()), 1)
            gw_online = raw.gateways_online.get(info.gateway_id, True) if info.gateway_id else True
            if not gw_online:
                # Readings received after the 'offline' prove that the gateway delivers: an
                # 'offline' (spoofed, or a stale last will) never hides a delivering station (issue 14).
                at = raw.gateways_status_at.get(info.gateway_id or "")
                newest_rx = max((v.received_at for v in latest.values()), default=None)
                gw_online = at is not None and newest_rx is not None and newest_rx > at
            max_age = evaluator.station_max_age_s(tuple(latest) or info.quantities)
            out[sid] = {
                "age_s": age,
                "online": bool(gw_online and age is not None and age <= max_age),
                "latest": {q: {"value": v.value, "ts": v.ts, "qc": v.qc} for q, v in sorted(latest.items())},
            }
        return out

    # ------------------------------------------------------------------ scheduled jobs
    async def _prune_job(self) -> None:
        assert self._pool is not None
        async with self._pool.connection() as conn:
            n = await prune_state_log(conn, timedelta(seconds=self.options.state_log_keep_s),
                                     self.clock.now())
        if n:
            log.info("pruned %d state_log rows", n)

    async def _retention_job(self) -> None:
        """The store's retention rule (store_info.retention_days, counted on data time; 0 = off),
        in both storage modes: plain PostgreSQL has no scheduler of its own, and TimescaleDB's
        background job fails on PostgreSQL 15.20 (docs/operations.md "Storage")."""
        assert self._pool is not None
        async with self._pool.connection() as conn:
            dropped = await apply_retention(conn)
        self.retention_runs += 1
        if dropped:
            log.info("retention dropped %d day(s) of readings", dropped)

    async def _tide_job(self) -> None:
        """Refit every tide station (at promotion and every ``tide_refit_every_s``)."""
        tide, pool = self._tide, self._pool
        if tide is None or pool is None:
            return
        async with self._tide_fitting, pool.connection() as conn:
            await self._fit(tide, conn, await tide.tide_stations(conn))
        self.request("tide")

    async def _tide_check_job(self) -> None:
        """Fit stations that have no model yet as soon as their history is long enough."""
        tide, pool = self._tide, self._pool
        if tide is None or pool is None or self._tide_fitting.locked():
            return
        async with self._tide_fitting, pool.connection() as conn:
            ready = await tide.ready_without_model(conn, self.clock.now())
            fitted = await self._fit(tide, conn, ready) if ready else 0
        if fitted:
            self.request("tide")

    async def _fit(self, tide: TideCache, conn: psycopg.AsyncConnection, stations: list[str]) -> int:
        """Fit (utide runs in a worker thread) and store; returns how many models were written."""
        fitted = 0
        for sid in stations:
            ok = await tide.refit(conn, sid, self.clock.now(), write_lock=self._write_lock, lock=self._lock)
            if ok is None:
                break  # no longer the leader
            self.metrics.tide_refits.labels("ok" if ok else "skipped").inc()
            fitted += ok
        return fitted

    async def _validity_job(self) -> None:
        """Recompute as soon as an official feed or override starts or expires."""
        pool = self._pool
        if pool is None or self._evaluator is None:
            return
        now = (self.clock.now(), utcnow())
        last, self._validity_checked = self._validity_checked, now
        async with pool.connection() as conn:
            if last is not None and await inputs_mod.validity_changed_between(conn, last[0], now[0],
                                                                             wall=(last[1], now[1])):
                self.request("feeds")


def _stations_of(payload: str) -> list[str]:
    try:
        data = json.loads(payload)
    except ValueError:
        return []
    stations = data.get("stations") if isinstance(data, dict) else None
    return [s for s in stations if isinstance(s, str)] if isinstance(stations, list) else []
