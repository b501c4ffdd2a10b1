#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need, makes sure
# the local PostgreSQL and Mosquitto run, then runs the whole suite against
# them. Extra arguments go to pytest (e.g. `bash scripts/test.sh -k ingest`).
#
# Then the storage, ingest, engine and API tests run a second time against a
# private TimescaleDB server (readings in timescale mode), started with
# ../shared/timescaledb/start.sh (or $HAIXUN_TIMESCALE_DIR/start.sh) in a
# temporary folder and stopped at the end. Without that build the second run
# is skipped with a printed reason (HAIXUN_TEST_TIMESCALE=off skips it too).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${HAIXUN_VENV:-.venv}"
PY="${PYTHON:-python3}"

log() { printf '[test] %s\n' "$*"; }

port_open() { "$PY" - "$1" "$2" <<'PYEOF'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PYEOF
}

# 1. Services (this kind of machine starts them; start them if they stopped).
if ! port_open 127.0.0.1 5432; then
  log "PostgreSQL not running: starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
if ! port_open 127.0.0.1 1883; then
  log "Mosquitto not running: starting it"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
fi
for _ in $(seq 1 30); do port_open 127.0.0.1 5432 && port_open 127.0.0.1 1883 && break; sleep 1; done
port_open 127.0.0.1 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
port_open 127.0.0.1 1883 || { echo "Mosquitto is not reachable on 127.0.0.1:1883" >&2; exit 1; }

# 2. Debian's Chromium for the browser tests (Playwright drives it; no browser download).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || { echo "could not install chromium (needed by tests/test_web*.py)" >&2; exit 1; }
  else
    echo "Chromium is missing: run 'sudo apt-get install chromium' (needed by the browser tests)" >&2
    exit 1
  fi
fi

# 3. The project in a virtual environment.
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
# The versions of requirements.lock (scripts/lock regenerates it), the demo's extra included (tests/test_demo*.py).
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c requirements.lock -e ".[dev,demo]"

# 3a. With HAIXUN_CHECK=1 (.ci/run): the static checks first (ruff, mypy, layer
# contracts: scripts/check); a failure stops here, before the services are used.
if [ "${HAIXUN_CHECK:-0}" = 1 ]; then
  log "static checks (scripts/check)"
  HAIXUN_VENV="$VENV" bash scripts/check
fi

# 3b. The pages' third-party assets (Leaflet, uPlot, Swagger UI, a Noto Sans SC
# subset) from the npm registry, pinned by haixun/web/npm/package-lock.json
# (docs/web.md). npm comes from Debian if it is missing.
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian npm for the web assets"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null) \
      || { echo "could not install npm (needed to install the web assets)" >&2; exit 1; }
  else
    echo "npm is missing: run 'sudo apt-get install npm' (needed to install the web assets)" >&2
    exit 1
  fi
fi
"$VENV/bin/python" -m haixun.web.build_assets --if-missing >/dev/null

# 4. A private TimescaleDB server for the second run (and the timescale tests of the first).
TS_BUILD=""
if [ -n "${HAIXUN_TIMESCALE_DIR:-}" ]; then TS_CANDIDATES=("$HAIXUN_TIMESCALE_DIR")
else TS_CANDIDATES=(../shared/timescaledb ../../shared/timescaledb); fi
for d in "${TS_CANDIDATES[@]}"; do
  if [ -f "$d/start.sh" ]; then TS_BUILD="$(cd "$d" && pwd)"; break; fi
done
TS_URL=""
TS_DIR=""
if [ "${HAIXUN_TEST_TIMESCALE:-on}" = off ]; then
  log "SKIPPED: the TimescaleDB run (HAIXUN_TEST_TIMESCALE=off)"
elif [ -z "$TS_BUILD" ]; then
  log "SKIPPED: the TimescaleDB run (storage/ingest/engine/API tests on TimescaleDB): no start.sh in ${TS_CANDIDATES[*]}"
else
  TS_DIR="$(mktemp -d /tmp/haixun-test-tsdb.XXXXXX)"
  trap 'bash "$TS_BUILD/stop.sh" "$TS_DIR" >/dev/null 2>&1 || true; rm -rf "$TS_DIR"' EXIT
  TS_PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  TS_URL="$(bash "$TS_BUILD/start.sh" "$TS_PORT" "$TS_DIR" | tail -n1)" \
    || { echo "could not start TimescaleDB with $TS_BUILD/start.sh" >&2; exit 1; }
  log "TimescaleDB for tests: $TS_URL ($TS_BUILD)"
  export HAIXUN_TEST_TIMESCALE_PG="$TS_URL" HAIXUN_TIMESCALE_DIR="$TS_BUILD"
fi

# 5. The suite. pytest's exit code 5 (no tests collected) is a failure here.
set +e
"$VENV/bin/python" -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi

# 6. Storage, ingest, engine and API tests again, readings in a TimescaleDB hypertable.
if [ -n "$TS_URL" ]; then
  log "second run: storage, ingest, engine and API tests on TimescaleDB ($TS_URL)"
  began=$(date +%s)
  set +e
  HAIXUN_TEST_PG="$TS_URL" HAIXUN_TEST_MODE=timescale "$VENV/bin/python" -m pytest "$@" \
    tests/test_store*.py tests/test_migrate.py tests/test_ingest*.py tests/test_engine*.py tests/test_api*.py
  ts_rc=$?
  set -e
  log "TimescaleDB run: exit $ts_rc in $(( $(date +%s) - began )) s"
  if [ "$ts_rc" = 5 ]; then
    echo "pytest collected no tests in the TimescaleDB run: failing" >&2
    ts_rc=1
  fi
  [ "$rc" = 0 ] && rc=$ts_rc
fi
exit "$rc"
