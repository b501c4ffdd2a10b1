"""Start/stop the websocket client child (bench/ws_clients.py) for open-ended recording."""

from __future__ import annotations

import json
import subprocess
import sys

from bench.common import REPO, ComponentUnavailable


def start_clients_proc(url: str, n: int, deltas: int, limit_s: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "bench.ws_clients", "--url", url, "--clients", str(n),
                             "--deltas", str(deltas), "--limit-s", str(limit_s)],
                            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("ready"):
        proc.kill()
        raise ComponentUnavailable(f"websocket client did not connect: {line[:200]}")
    return proc


def stop_clients_proc(proc: subprocess.Popen, timeout_s: float = 60.0) -> dict:
    """Tell the clients to stop (``stop`` on stdin) and return their JSON result."""
    out, _ = proc.communicate("stop\n", timeout=timeout_s)
    return json.loads(out.strip().splitlines()[-1])
