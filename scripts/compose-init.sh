#!/usr/bin/env bash
# Generate .env and .compose/ (secrets, mosquitto passwd/acl, Airflow admin password) for
# `docker compose up`. Idempotent; --force regenerates every secret. See compose/init.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
exec "$PY" compose/init.py "$@"
