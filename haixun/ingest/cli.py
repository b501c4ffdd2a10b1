"""``haixun ingest``: run the MQTT -> QC -> PostgreSQL service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from haixun.settings import Settings, check_shared_group


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import logging
    import signal

    from prometheus_client import CollectorRegistry

    from haixun.ingest.admission import load_admission_config
    from haixun.ingest.configfile import ConfigFileError
    from haixun.ingest.health import serve_health
    from haixun.ingest.qc import load_qc_config
    from haixun.ingest.service import IngestService

    log = logging.getLogger("haixun.ingest")
    try:
        qc_config = load_qc_config(args.qc_config)
        admission_config = load_admission_config(args.admission_config)
    except ConfigFileError as exc:  # qc.toml or admission.toml: each bad key named
        print(f"haixun ingest: refusing to start: {exc}", file=sys.stderr)
        return 2
    if args.qc_max_age_s is not None:
        qc_config = qc_config.with_max_age(args.qc_max_age_s)
    if args.history_max_days is not None:
        admission_config = admission_config.with_history_max_days(args.history_max_days)
    if args.shared_group is not None:
        try:
            check_shared_group(args.shared_group)
        except ValueError as exc:
            log.error("%s", exc)
            return 2
        settings = settings.model_copy(update={"ingest_shared_group": args.shared_group})
    spool_dir = None
    slot = None
    if args.slot is not None:
        from haixun.ingest.slots import SlotTaken, claim_slot

        try:
            slot = claim_slot(settings.state_dir, settings.ingest_client_id, args.slot)
        except (SlotTaken, ValueError) as exc:
            log.error("%s", exc)
            return 2
        settings = settings.model_copy(update={"ingest_client_id": slot.client_id})
        spool_dir = slot.spool_dir
        log.info("ingest slot %d: client id %s, spool %s", slot.index, slot.client_id, slot.spool_dir)
    registry = CollectorRegistry()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        svc = IngestService(settings, registry=registry, qc_config=qc_config, admission_config=admission_config,
                            spool_dir=spool_dir)
        if args.metrics_port:
            serve_health(svc, args.metrics_host, args.metrics_port)
            log.info("metrics on http://%s:%d/metrics, health on /healthz", args.metrics_host, args.metrics_port)
        await svc.start(wait_connected=None)
        try:
            await stop.wait()
        finally:
            await svc.stop()

    try:
        asyncio.run(run())
    finally:
        if slot is not None:
            slot.release()
    return 0


def configure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="run the MQTT ingest service (QoS 1, QC, spool when the database is down)")
    p.add_argument("--metrics-port", type=int, default=0,
                   help="serve Prometheus /metrics and the /healthz check on this port (0: off)")
    p.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)")
    p.add_argument("--qc-config", type=Path, default=None, help="QC TOML file (default: the packaged qc.toml)")
    p.add_argument("--qc-max-age-s", type=float, default=None,
                   help="flag readings older than this at receipt as suspect; 0 disables (typhoon replay)")
    p.add_argument("--admission-config", type=Path, default=None,
                   help="admission TOML file (default: the packaged admission.toml)")
    p.add_argument("--history-max-days", type=float, default=None,
                   help="refuse readings older than this many days (dead letter too_old); 0 disables")
    p.add_argument("--shared-group", default=None, metavar="NAME",
                   help="one of N workers sharing the load: subscribe as $share/NAME/... (MQTT v5 shared "
                        "subscription; default HAIXUN_INGEST_SHARED_GROUP, empty = plain subscriptions)")
    p.add_argument("--slot", default=None, metavar="auto|N",
                   help="take worker slot N (or the lowest free one: auto) under HAIXUN_STATE_DIR: client id "
                        "<HAIXUN_INGEST_CLIENT_ID>-N and spool spool-N, held by a lock while the worker runs "
                        "(docs/operations.md, Scale-out)")
    p.set_defaults(func=_ingest)
