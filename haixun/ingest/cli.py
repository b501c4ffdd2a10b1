"""``haixun ingest``: run the MQTT -> QC -> PostgreSQL service."""

from __future__ import annotations

import argparse
from pathlib import Path

from haixun.settings import Settings


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import logging
    import signal

    from prometheus_client import CollectorRegistry, start_http_server

    from haixun.ingest.qc import load_qc_config
    from haixun.ingest.service import IngestService

    log = logging.getLogger("haixun.ingest")
    qc_config = load_qc_config(args.qc_config)
    if args.qc_max_age_s is not None:
        qc_config = qc_config.with_max_age(args.qc_max_age_s)
    registry = CollectorRegistry()
    if args.metrics_port:
        start_http_server(args.metrics_port, addr=args.metrics_host, registry=registry)
        log.info("metrics on http://%s:%d/metrics", args.metrics_host, args.metrics_port)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        svc = IngestService(settings, registry=registry, qc_config=qc_config)
        await svc.start(wait_connected=None)
        try:
            await stop.wait()
        finally:
            await svc.stop()

    asyncio.run(run())
    return 0


def configure(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="run the MQTT ingest service (QoS 1, QC, spool when the database is down)")
    p.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus metrics on this port (0: off)")
    p.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)")
    p.add_argument("--qc-config", type=Path, default=None, help="QC TOML file (default: the packaged qc.toml)")
    p.add_argument("--qc-max-age-s", type=float, default=None,
                   help="flag readings older than this at receipt as suspect; 0 disables (typhoon replay)")
    p.set_defaults(func=_ingest)
