"""Resident-lookup load with wrk (Debian package) when it is installed: a C load generator,
so the client's own cost does not set the rate as the Python one does."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

LUA = """
points = {%s}
local i = 0
request = function()
  i = i %% #points + 1
  local p = points[i]
  return wrk.format("GET", "/api/v1/risk?lat=" .. p[1] .. "&lon=" .. p[2])
end
done = function(summary, latency, requests)
  io.write(string.format('BENCH {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "errors": %%d, '
    .. '"p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def wrk_load(base: str, points: list[tuple[float, float]], seconds: float, connections: int, workdir: Path) -> dict:
    script = workdir / f"risk-{len(points)}.lua"
    script.write_text(LUA % ",".join(f"{{{lat:.4f},{lon:.4f}}}" for lat, lon in points), encoding="utf-8")
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, int(seconds))}s", "-s", str(script),
                          f"{base}/"], capture_output=True, text=True, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-300:]} {out.stderr[-300:]}")
    return json.loads(line[6:])
