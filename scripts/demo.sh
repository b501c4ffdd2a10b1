#!/usr/bin/env bash
# The run command (README): installs haixun in .venv if needed and starts the
# demo (`haixun demo`): real local services when reachable, embedded
# PostgreSQL and MQTT broker otherwise. Extra arguments go to `haixun demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HAIXUN_VENV:-.venv}"
if [ ! -x "$VENV/bin/haixun" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e .
fi
exec "$VENV/bin/haixun" demo "$@"
