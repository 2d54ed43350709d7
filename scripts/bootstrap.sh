#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine lacks, then the Python deps into ./.venv.
# Idempotent: a second run only checks. Used by scripts/demo.sh, scripts/test.sh and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(influxdb influxdb-client mosquitto mosquitto-clients poppler-utils fonts-noto-cjk
          libpango-1.0-0 libpangoft2-1.0-0 docker-compose python3-venv
          redis-server postgresql)  # the Celery scale-out test's broker and Airflow metadata DB
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.ecm-deps-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Python dependencies (a few minutes on a fresh machine)" >&2
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/pip install -q -e ".[test]" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import ecm, airflow, great_expectations, paho.mqtt" 
  rm -f .venv/.ecm-deps-*
  touch "$stamp"
fi
