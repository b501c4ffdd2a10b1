"""The simulators on the shared replay clock (HAIXUN_CLOCK): the replay takes
the clock it is given, or builds one and prints its spec; gateways publish
simulated timestamps on that clock (ticks it already passed go out at once)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from haixun.clock import Clock
from haixun.contract import parse_obs
from haixun.settings import Settings
from haixun.simulators import cli as sim_cli
from haixun.simulators.gateway import Gateway, GatewayOptions
from haixun.simulators.geo import load_sim_geography
from haixun.simulators.source import ModelSource
from tests.support.mqtt import Collector

START = datetime(2021, 7, 25, 6, tzinfo=UTC)


def _replay_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sim_cli.configure(parser.add_subparsers())
    return parser.parse_args(["simulate", "replay", *argv])


def test_replay_uses_the_shared_clock(settings: Settings, capsys: pytest.CaptureFixture[str]):
    shared = Clock.replay(START, 600.0, wall_start=datetime(2030, 1, 1, tzinfo=UTC))
    s = settings.model_copy(update={"clock_spec": shared.spec()})
    _, _, cfg = sim_cli._build(_replay_args("--speed", "60"), s, replay=True)
    assert cfg.clock == shared and cfg.speed == 600.0 and cfg.sim_start == START
    # the default window: calm 08:00 CST 24 July 2021 .. calm 06:00 CST 27 July, from the clock's start
    assert cfg.until == START + timedelta(hours=70)
    assert "HAIXUN_CLOCK=" not in capsys.readouterr().err  # nothing to share: it came from outside


def test_replay_builds_a_clock_and_prints_its_spec(settings: Settings, capsys: pytest.CaptureFixture[str]):
    before = datetime.now(UTC)
    _, _, cfg = sim_cli._build(_replay_args("--speed", "60", "--start", "2021-07-25T14:00:00+08:00"), settings,
                               replay=True)
    assert cfg.clock is not None and cfg.clock.speed == 60.0 and cfg.clock.sim_start == START
    assert before - timedelta(seconds=1) <= cfg.clock.wall_start <= datetime.now(UTC)
    err = capsys.readouterr().err
    spec = [line for line in err.splitlines() if line.startswith("HAIXUN_CLOCK=")][0].split("=", 1)[1]
    assert Clock.parse(spec) == cfg.clock  # whole seconds: another process gets the identical clock


async def test_gateway_on_a_running_shared_clock_catches_up_then_paces(settings: Settings):
    geo = load_sim_geography()
    gid = "gw-zhapu"
    stations = [s for s in geo.stations if s.gateway_id == gid]
    until = START + timedelta(minutes=14)
    async with Collector(settings) as col:
        # the shared clock started 1 wall-second ago at 600x: 10 simulated minutes have passed
        clock = Clock.replay(START, 600.0, wall_start=datetime.now(UTC) - timedelta(seconds=1))
        gw = Gateway(settings, gid, stations, ModelSource(geo, 0.0, None, 0).observe, clock, GatewayOptions(),
                     start=START)
        started = clock.now()
        stats = await asyncio.wait_for(gw.run(until), 60)
        # it paced the ticks still to come: it ends when the clock reaches the last one, not before
        assert started < until <= clock.now()
        await col.wait_for(lambda: sum(len(col.obs(s.id)) for s in stations) >= stats.messages)
    # and caught up on the 10 already due: every simulated minute once, in order
    for s in stations:
        ts = [parse_obs(s.id, p)[0].ts for p in col.obs(s.id)]
        assert ts == [START + timedelta(minutes=k) for k in range(15)]


def test_default_replay_window_runs_calm_to_calm_through_the_overnight_high_water(settings: Settings):
    """Issue 12: the default replay starts in calm weather hours before the first rise, includes the
    overnight high water of 25/26 July and the landfall, and ends calm (the old default: 6 h before landfall)."""
    from haixun.simulators import typhoon as ty

    shared = Clock.replay(START, 600.0, wall_start=datetime(2030, 1, 1, tzinfo=UTC))
    s = settings.model_copy(update={"clock_spec": shared.spec()})
    _, source, cfg = sim_cli._build(_replay_args(), s, replay=True)
    model = lambda t: datetime.fromtimestamp(source.model_time(t), ty.CST)  # noqa: E731
    assert model(cfg.sim_start) == datetime(2021, 7, 24, 8, tzinfo=ty.CST)
    assert model(cfg.until) == datetime(2021, 7, 27, 6, tzinfo=ty.CST)
    assert model(cfg.sim_start) < datetime(2021, 7, 25, 22, 40, tzinfo=ty.CST) < ty.INFA_LANDFALL_PINGHU < model(cfg.until)
    for t in (cfg.sim_start, cfg.until):
        wind = max(source.station_state(st.id, t).wind_speed for st in source.geo.stations if "wind_speed" in st.quantities)
        assert wind < 10.8, "calm (below Beaufort 6) at both ends"
