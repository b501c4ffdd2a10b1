"""The ingest's HTTP side: ``/metrics`` (Prometheus) and ``/healthz`` (JSON, 200 or 503).

``/healthz`` is what the compose health check and an orchestrator use: 503
when the writer task is not running (crashed and not yet restarted) or when
messages wait and nothing was stored or spooled for ``service.STALL_S``
seconds. Served from a thread (``http.server``), reading the service's
state without locks (single attribute reads).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from haixun.ingest.service import IngestService


def serve_health(svc: IngestService, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0].rstrip("/")
            if path == "/metrics":
                body, status, ctype = svc.metrics_text(), 200, CONTENT_TYPE_LATEST
            elif path in ("/healthz", "/readyz"):
                ok, details = svc.health()
                body, status, ctype = json.dumps(details).encode(), 200 if ok else 503, "application/json"
            else:
                body, status, ctype = b"not found\n", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="ingest-http", daemon=True).start()
    return server
