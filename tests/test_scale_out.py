"""Scale-out on this machine (issue 18): 3 ingest workers on one MQTT v5 shared subscription of a private
Mosquitto, the engine, 2 API processes and websocket clients on both.

Mid-stream one ingest worker is killed (SIGKILL) and restarted (it takes its slot back: the same
persistent session and spool), and one API process is killed (SIGKILL). Then:

* every accepted reading (PUBACKed by the broker to the publisher) is stored exactly once;
* every websocket client, reconnecting to the surviving API process with ``?since=<last seq>`` as it
  would through a load balancer, applied every state after its last snapshot exactly once and in order,
  and ends with the state the database holds (state_log's last snapshot + the deltas after it).

Behavioural only: no timing is asserted (waits have generous limits and only fail a stuck run).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import psycopg
import pytest
import websockets

from haixun.api.live import merge_state
from haixun.contract import format_ts
from haixun.data.geography import load_geography
from haixun.data.sync import sync_to_db
from haixun.settings import MqttEndpoint, Settings
from tests.support.api import TEST_JWT_SECRET
from tests.support.db import scalar, wait_for_count
from tests.support.mqtt import PrivateBroker
from tests.support.net import free_port
from tests.support.proc import stop_process
from tests.support.wait import eventually

REPO = Path(__file__).resolve().parent.parent
MESSAGES_PER_STATION = 240           # x 13 stations = 3,120 messages, ~13,000 readings
KILL_WORKER_AT = 0.25                # fraction of the stream published when ingest worker 1 is killed
RESTART_WORKER_AT = 0.5
KILL_API_AT = 0.7
CLIENTS_PER_API = 2

# plausible values per quantity (QC flags are not what this test is about; a flag never drops a reading)
BASE_VALUES = {"tide_level": 2.0, "water_temperature": 26.0, "air_pressure": 1004.0, "wind_speed": 8.0,
               "wind_gust": 12.0, "wind_dir": 120.0, "rainfall": 0.0, "air_temperature": 28.0,
               "visibility": 8000.0, "wave_height": 1.2, "wave_period": 6.0}


class Service:
    """One ``haixun`` command as a child process (SIGKILL-able), its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "haixun.cli", "--log-level", "INFO", *self.args],
                                         cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def _metric(text: str | None, name: str) -> float:
    for line in (text or "").splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return -1.0


def _metric_sum(text: str | None, name: str) -> float:
    """Sum over every label set of ``name``."""
    return sum(float(line.split()[-1]) for line in (text or "").splitlines()
               if line.startswith(name + "{") or line.startswith(name + " "))


@dataclass
class Progress:
    published: int = 0   # PUBACKed by the broker


async def _publish(ep: MqttEndpoint, messages: list[tuple[str, str]], progress: Progress, client_id: str) -> None:
    """QoS 1, one at a time; on a broker error reconnect and resend from the first unconfirmed message."""
    while progress.published < len(messages):
        try:
            async with aiomqtt.Client(ep.host, ep.port, identifier=client_id, timeout=10,
                                      protocol=aiomqtt.ProtocolVersion.V5) as c:
                while progress.published < len(messages):
                    topic, payload = messages[progress.published]
                    await c.publish(topic, payload, qos=1)
                    progress.published += 1
                    if progress.published % 50 == 0:
                        await asyncio.sleep(0.02)  # a stream, not one burst: the kills land mid-stream
        except aiomqtt.MqttError:
            await asyncio.sleep(0.2)


@dataclass
class WsClient:
    """A duty screen: follows /ws/live, reconnects with ?since=<last seq> to the next API that answers."""

    name: str
    urls: list[str]                      # its API first, then the others (what a load balancer would do)
    seq: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    received: list[tuple[str, int]] = field(default_factory=list)   # (type, seq) of state messages
    connections: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def apply(self, m: dict[str, Any]) -> None:
        if m["type"] == "snapshot":
            self.body = copy.deepcopy(m["body"])
        else:
            merge_state(self.body, m["body"])
        self.body["seq"] = m["seq"]
        self.seq = m["seq"]
        self.received.append((m["type"], m["seq"]))

    async def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            url = self.urls[i % len(self.urls)] + "/ws/live" + (f"?since={self.seq}" if self.seq is not None else "")
            try:
                async with websockets.connect(url, open_timeout=5, ping_interval=None, max_size=None) as ws:
                    self.connections.append(url)
                    while not self.stop.is_set():
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 0.5)
                        except TimeoutError:
                            continue
                        m = json.loads(raw)
                        if m["type"] in ("snapshot", "delta"):
                            self.apply(m)
            except (OSError, websockets.WebSocketException, TimeoutError):
                i += 1  # this API is gone: the next one
                await asyncio.sleep(0.2)


def _db_state(db_url: str) -> tuple[int, dict[str, Any], list[int]]:
    """(last seq, the state it stands for, every seq) from state_log: last snapshot + the deltas after it."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        rows = conn.execute("SELECT seq, kind, body FROM state_log ORDER BY seq").fetchall()
    seqs = [int(r[0]) for r in rows]
    start = max(i for i, r in enumerate(rows) if r[1] == "snapshot")
    body: dict[str, Any] = {}
    for seq, kind, b in rows[start:]:
        b = b if isinstance(b, dict) else json.loads(b)
        if kind == "snapshot":
            body = copy.deepcopy(b)
        else:
            merge_state(body, b)
        body["seq"] = int(seq)
    return seqs[-1], body, seqs


def _check_order(client: WsClient, seqs: list[int]) -> None:
    """Deltas follow each other with no state_log row skipped or repeated; a snapshot never goes back."""
    position = {s: i for i, s in enumerate(seqs)}
    prev: int | None = None
    for kind, seq in client.received:
        assert seq in position, f"{client.name}: seq {seq} is not in state_log"
        if prev is not None:
            if kind == "delta":
                assert position[seq] == position[prev] + 1, f"{client.name}: delta {seq} after {prev}"
            else:
                assert seq >= prev, f"{client.name}: snapshot {seq} older than {prev}"
        prev = seq


def _messages(settings: Settings, geo_stations: list[tuple[str, tuple[str, ...]]]) -> list[tuple[str, str]]:
    """Station by station interleaved, one minute apart per station, the newest last; distinct (station,
    quantity, ts) keys, so the stored count is exact."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=MESSAGES_PER_STATION + 5)
    out = []
    for k in range(MESSAGES_PER_STATION):
        ts = format_ts(start + timedelta(minutes=k))
        for sid, quantities in geo_stations:
            obs = {q: round(BASE_VALUES[q] + (0.3 * math.sin(k / 20) if q == "tide_level" else 0.0), 3)
                   for q in quantities if q in BASE_VALUES}
            out.append((settings.topic("obs", sid), json.dumps({"ts": ts, "obs": obs})))
    return out


@pytest.mark.slow
async def test_scale_out_loses_nothing_and_every_screen_ends_on_the_database_state(settings: Settings,
                                                                                  tmp_path: Path) -> None:
    geo = load_geography()
    with psycopg.connect(settings.database_url) as conn:
        sync_to_db(conn, geo)
    stations = [(s.id, tuple(s.quantities)) for s in geo.stations]
    messages = _messages(settings, stations)
    expected_readings = sum(len(json.loads(p)["obs"]) for _, p in messages)

    broker = PrivateBroker(tmp_path / "broker", free_port())
    broker.start()
    ep = MqttEndpoint.from_url(broker.url)
    state_dir = tmp_path / "ingest-state"   # shared by the workers, as the compose volume: one slot each
    env = dict(os.environ, PYTHONPATH=str(REPO), HAIXUN_DATABASE_URL=settings.database_url,
               HAIXUN_MQTT_URL=broker.url, HAIXUN_TOPIC_ROOT=settings.topic_root, HAIXUN_STATE_DIR=str(state_dir),
               HAIXUN_INGEST_CLIENT_ID=f"ingest-{settings.topic_root}", HAIXUN_JWT_SECRET=TEST_JWT_SECRET)
    env.pop("HAIXUN_CLOCK", None)
    group = f"g-{settings.topic_root}"
    ingest_ports = [free_port() for _ in range(3)]
    workers = [Service(f"ingest{i}", ["ingest", "--shared-group", group, "--slot", "auto", "--metrics-port",
                                      str(port)], env, tmp_path) for i, port in enumerate(ingest_ports)]
    engine_port = free_port()
    engine = Service("engine", ["engine", "--metrics-port", str(engine_port)], env, tmp_path)
    api_ports = [free_port() for _ in range(2)]
    apis = [Service(f"api{i}", ["api", "--port", str(port)], env, tmp_path) for i, port in enumerate(api_ports)]
    services = [*workers, engine, *apis]
    clients: list[WsClient] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for w in workers:   # one after the other: slots 0, 1, 2 in order
            w.start()
            i = workers.index(w)
            await eventually(lambda i=i: _metric(_get(f"http://127.0.0.1:{ingest_ports[i]}/metrics"),
                                               "haixun_ingest_mqtt_connected") == 1, timeout=60, step=0.2)
        engine.start()
        for a in apis:
            a.start()
        for port in api_ports:
            await eventually(lambda port=port: _get(f"http://127.0.0.1:{port}/healthz") is not None, timeout=90,
                           step=0.2)
        await eventually(lambda: scalar(settings.database_url, "SELECT count(*) FROM state_log"), timeout=90, step=0.2)
        urls = [f"ws://127.0.0.1:{p}" for p in api_ports]
        for a in range(2):
            for n in range(CLIENTS_PER_API):
                clients.append(WsClient(f"screen{a}.{n}", [urls[a], urls[1 - a]]))
        tasks = [asyncio.create_task(c.run()) for c in clients]
        await eventually(lambda: all(c.seq is not None for c in clients), timeout=30)

        progress = Progress()
        publisher = asyncio.create_task(_publish(ep, messages, progress, f"pub-{settings.topic_root}"))
        total = len(messages)
        await eventually(lambda: progress.published >= KILL_WORKER_AT * total or publisher.done(), timeout=120)
        workers[1].kill9()                      # in-flight messages unacknowledged; its share queues in its session
        await eventually(lambda: progress.published >= RESTART_WORKER_AT * total or publisher.done(), timeout=120)
        workers[1].start()                      # slot 1 is free again: the same session and spool
        await eventually(lambda: progress.published >= KILL_API_AT * total or publisher.done(), timeout=120)
        apis[0].kill9()
        await asyncio.wait_for(publisher, 180)
        assert progress.published == total

        stored = await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", expected_readings,
                                      timeout=120)
        assert stored == expected_readings
        slot1 = (state_dir / "ingest-slots" / "1.lock").read_text().strip()
        assert workers[1].proc is not None and slot1 == str(workers[1].proc.pid)  # the restart took slot 1 back
        # the engine has run on the last batch: a cycle that started after everything was stored, then it stops
        def cycles() -> float:
            return _metric_sum(_get(f"http://127.0.0.1:{engine_port}/metrics"), "haixun_engine_cycles_total")
        done_cycles = cycles()
        await eventually(lambda: cycles() > done_cycles, timeout=60, step=0.2)
        engine.stop()
        final_seq, final_body, seqs = _db_state(settings.database_url)
        await eventually(lambda: all(c.seq == final_seq for c in clients), timeout=60, step=0.1)
        for c in clients:
            c.stop.set()
        await asyncio.gather(*tasks)
        shares = [_metric(_get(f"http://127.0.0.1:{p}/metrics"), "haixun_ingest_received_messages_total")
                  for p in ingest_ports]
    finally:
        for c in clients:
            c.stop.set()
        for t in tasks:
            t.cancel()
        for s in services:
            s.stop()
        broker.stop()

    assert scalar(settings.database_url, "SELECT count(*) FROM readings") == expected_readings
    assert scalar(settings.database_url, "SELECT count(*) FROM (SELECT 1 FROM readings GROUP BY station_id, "
                                         "quantity, ts HAVING count(*) > 1) d") == 0
    assert scalar(settings.database_url, "SELECT count(*) FROM dead_letters") == 0
    assert all(s > 0 for s in shares), shares   # every worker took a share (worker 1: since its restart)
    # shared, not copied: plain subscriptions would give each worker every message
    assert shares[0] < total and shares[2] < total, shares
    for c in clients:
        _check_order(c, seqs)
        assert c.seq == final_seq and c.body == final_body, c.name
    moved = [c for c in clients if c.urls[0] == f"ws://127.0.0.1:{api_ports[0]}"]
    assert all(len(c.connections) >= 2 and c.connections[-1].startswith(c.urls[1]) for c in moved), \
        [c.connections for c in moved]
    print(f"scale-out: {total} messages, {expected_readings} readings stored once; worker shares after the "
          f"restart {shares}; {len(seqs)} states; clients {[len(c.received) for c in clients]} state messages")
