#!/usr/bin/env bash
# Run the whole test suite against real Mosquitto and InfluxDB (started by the fixtures).
# Extra arguments go to pytest. Exit 5 (no tests collected) is a failure, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "test.sh: pytest collected no tests; failing" >&2
  exit 1
fi
exit $rc
