"""The pure-Python fallback broker: ``python -m haixun.demo.amqtt_server --port N``.

Runs amqtt (MQTT 3.1.1 only, no MQTT 5, no ``$share``) on 127.0.0.1 with
anonymous access and no ``$SYS`` or packet-logging plugins, until SIGTERM or
SIGINT. Run as a child process by :class:`haixun.demo.embedded_broker.EmbeddedBroker`
so that its event loop does not share a core with the demo's own work.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

log = logging.getLogger("haixun.demo.amqtt")


def broker_config(host: str, port: int) -> dict[str, Any]:
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 0}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def serve(host: str, port: int) -> None:
    from amqtt.broker import Broker

    broker = Broker(broker_config(host, port))
    await broker.start()
    log.info("amqtt broker listening on %s:%d", host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("amqtt broker stopping")
    await broker.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m haixun.demo.amqtt_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("transitions").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(args.host, args.port))
    except OSError as exc:  # e.g. port in use
        print(f"amqtt broker could not listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
