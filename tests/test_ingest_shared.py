"""Ingest scale-out pieces: workers sharing one MQTT v5 shared subscription, and worker slots.

The whole scale-out (3 worker processes, one killed; 2 API processes; the engine) is
tests/test_scale_out.py; these are the parts on their own, quick.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haixun.contract import format_ts
from haixun.ingest.service import IngestService
from haixun.ingest.slots import SlotTaken, claim_slot
from haixun.settings import Settings, check_shared_group
from tests.support.db import add_stations, scalar, wait_for_count
from tests.support.metrics import metric
from tests.support.mqtt import obs_json, publish_all
from tests.support.wait import eventually_sync

REPO = Path(__file__).resolve().parent.parent


async def test_two_workers_of_a_group_share_the_messages_once(settings: Settings, mqtt_endpoint) -> None:
    stations = [f"S{i:02d}" for i in range(20)]
    add_stations(settings.database_url, stations)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    msgs = [(settings.topic("obs", s), obs_json(format_ts(t0 + timedelta(minutes=k)), {"tide_level": 2.0 + 0.01 * k}))
            for s in stations for k in range(20)]
    group = f"g{settings.topic_root}"
    workers = [IngestService(settings.model_copy(update={"ingest_shared_group": group,
                                                         "ingest_client_id": f"{settings.ingest_client_id}-{i}"}),
                             spool_dir=settings.state_dir / f"spool-{i}") for i in range(2)]
    assert workers[0].subscription_filters()[0] == f"$share/{group}/{settings.topic_root}/v1/obs/+"
    for w in workers:
        await w.start()
    try:
        await publish_all(mqtt_endpoint, msgs)
        n = await wait_for_count(settings.database_url, "SELECT count(*) FROM readings", len(msgs), timeout=40)
        assert n == len(msgs)
        received = [metric(w.metrics_text().decode(), "haixun_ingest_received_messages_total") for w in workers]
        duplicates = [metric(w.metrics_text().decode(), "haixun_ingest_duplicate_readings_total") for w in workers]
    finally:
        for w in workers:
            await w.stop()
    # each message went to one worker of the group (plain subscriptions: both would get all 400)
    assert sum(received) == len(msgs), received
    assert all(r > 0 for r in received), received
    assert duplicates == [0, 0]
    assert scalar(settings.database_url, "SELECT count(*) FROM readings") == len(msgs)


def test_shared_group_names_follow_mqtt_v5() -> None:
    assert check_shared_group("haixun-ingest") == "haixun-ingest"
    for bad in ("a/b", "a+", "#", " a"):
        with pytest.raises(ValueError):
            check_shared_group(bad)
        with pytest.raises(ValueError):
            Settings(ingest_shared_group=bad)


def test_slots_are_exclusive_and_freed_when_the_holder_dies(tmp_path: Path) -> None:
    first = claim_slot(tmp_path, "haixun-ingest", "auto")
    second = claim_slot(tmp_path, "haixun-ingest", "auto")
    try:
        assert (first.index, first.client_id, first.spool_dir) == (0, "haixun-ingest-0", tmp_path / "spool-0")
        assert (second.index, second.client_id) == (1, "haixun-ingest-1")
        with pytest.raises(SlotTaken):
            claim_slot(tmp_path, "haixun-ingest", "1")
        with pytest.raises(ValueError):
            claim_slot(tmp_path, "haixun-ingest", "-1")
        # a worker holding slot 2 is killed (SIGKILL): its replacement takes slot 2, its session and spool
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sys, time; from pathlib import Path; from haixun.ingest.slots import "
             "claim_slot; s = claim_slot(Path(sys.argv[1]), 'haixun-ingest', 'auto'); print(s.index, flush=True); "
             "time.sleep(60)", str(tmp_path)],
            cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, text=True)
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "2"
        with pytest.raises(SlotTaken):
            claim_slot(tmp_path, "haixun-ingest", "2")
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        # the kernel drops the lock with the process
        again = eventually_sync(lambda: claim_slot(tmp_path, "haixun-ingest", "auto"), ignore=(SlotTaken,),
                                what="the killed holder's slot free again")
        assert again.index == 2
        again.release()
    finally:
        first.release()
        second.release()
    reused = claim_slot(tmp_path, "haixun-ingest", "auto")  # released slots are free again, lowest first
    assert reused.index == 0
    reused.release()
