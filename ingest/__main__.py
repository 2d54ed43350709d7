"""``python -m ingest [--workers N | --worker I | --retire I]``: run the bridge (see ingest/README.md)."""
from __future__ import annotations

import argparse

from ingest.runner import main_worker, run


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m ingest", description=__doc__)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=None, help="worker processes (default ECM_INGEST_WORKERS)")
    g.add_argument("--worker", type=int, default=None, help="run only worker I in this process")
    g.add_argument("--retire", type=int, default=None, help="drain and end the session of worker I")
    a = ap.parse_args()
    if a.worker is not None or a.retire is not None:
        main_worker(a.worker if a.worker is not None else a.retire, retire=a.retire is not None)
    else:
        run(a.workers)


if __name__ == "__main__":
    main()
