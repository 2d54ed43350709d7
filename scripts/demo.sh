#!/usr/bin/env bash
# The main job: bootstrap (Debian packages + .venv) and run the whole pipeline on the simulated fleet.
# Extra arguments go to `ecm demo` (e.g. --days 7).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/ecm demo "$@"
