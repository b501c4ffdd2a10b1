"""``haixun ingest``: run the MQTT -> QC -> PostgreSQL service."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from haixun.settings import Settings


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import logging
    import signal

    from prometheus_client import CollectorRegistry

    from haixun.ingest.admission import load_admission_config
    from haixun.ingest.health import serve_health
    from haixun.ingest.qc import QcConfigError, load_qc_config
    from haixun.ingest.service import IngestService

    log = logging.getLogger("haixun.ingest")
    try:
        qc_config = load_qc_config(args.qc_config)
    except QcConfigError as exc:
        print(f"haixun ingest: refusing to start: {exc}", file=sys.stderr)
        return 2
    if args.qc_max_age_s is not None:
        qc_config = qc_config.with_max_age(args.qc_max_age_s)
    admission_config = load_admission_config(args.admission_config)
    if args.history_max_days is not None:
        admission_config = admission_config.with_history_max_days(args.history_max_days)
    registry = CollectorRegistry()

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        svc = IngestService(settings, registry=registry, qc_config=qc_config, admission_config=admission_config)
        if args.metrics_port:
            serve_health(svc, args.metrics_host, args.metrics_port)
            log.info("metrics on http://%s:%d/metrics, health on /healthz", args.metrics_host, args.metrics_port)
        await svc.start(wait_connected=None)
        try:
            await stop.wait()
        finally:
            await svc.stop()

    asyncio.run(run())
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
    p.set_defaults(func=_ingest)
