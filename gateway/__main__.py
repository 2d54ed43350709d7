"""``python -m gateway --config gateway.yaml``: the service (what `ecm gateway run` starts)."""
from __future__ import annotations

import argparse
import os
import sys


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m gateway")
    ap.add_argument("--config", required=True)
    ap.add_argument("--log-level", default=os.environ.get("ECM_LOG_LEVEL", "INFO"))
    a = ap.parse_args()
    from ecm.errors import EcmError
    from gateway.service import run, setup_logging

    setup_logging(a.log_level)
    try:
        run(a.config)
    except EcmError as exc:
        print(f"error: {exc} ({exc.hint})", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
