"""Process management: N workers as child processes, retiring sessions of removed workers.

Each worker i owns the persistent MQTT session ``<client id>-i``. Mosquitto keeps routing a share of
``$share/ingest/...`` messages to an offline member's session, so when the worker count shrinks the
sessions of the removed workers are *retired*: a short-lived worker takes the session over,
unsubscribes, writes what was queued, and disconnects with session expiry 0. The highest worker count
ever used is kept in ``ECM_STATE_DIR/ingest/workers.json``.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ecm.logs import setup_logging
from ecm.settings import get_settings

log = logging.getLogger("ingest.runner")
RETIRE_IDLE_S = 3.0


def _workers_file() -> Path:
    return get_settings().state_path / "ingest" / "workers.json"


def _recorded_workers() -> int:
    try:
        return int(json.loads(_workers_file().read_text())["workers_max"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _record_workers(n: int) -> None:
    f = _workers_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(".tmp")
    tmp.write_text(json.dumps({"workers_max": n}))
    os.replace(tmp, f)


def main_worker(index: int, retire: bool = False) -> None:
    """Run one worker in this process until SIGTERM (or, retiring, until its queue is empty).

    The SIGTERM/SIGINT handler is the process's, installed once, and sets one event that every
    worker incarnation shares: a signal during a restart back-off (crash loop) or during start-up
    is never lost, and the process ends within seconds in any state."""
    from ingest.service import Worker

    setup_logging()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    delay = 1.0
    while not stop.is_set():
        w = None
        try:
            w = Worker(index, retire=retire, stop_event=stop)
            w.run(idle_exit_s=RETIRE_IDLE_S if retire else None)
            return
        except Exception as exc:  # noqa: BLE001 - a bug or I/O error: restart; unacked messages are redelivered
            log.exception("worker_failed_restarting", extra={"worker": w.client_id if w else index,
                                                             "error": type(exc).__name__})
        if stop.wait(delay):  # back off (1 s doubling to 30 s), but wake at once on SIGTERM
            break
        delay = min(delay * 2, 30.0)
    log.info("worker_process_stopped", extra={"worker": index})


def _spawn(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ingest", *args])


def run(workers: int | None = None) -> None:
    """Run the bridge with ``workers`` processes (default ``ECM_INGEST_WORKERS``) until SIGTERM."""
    n = max(1, workers or get_settings().ingest_workers)
    prev = _recorded_workers()
    _record_workers(max(n, prev))
    retire = list(range(n, prev))
    if n == 1 and not retire:
        main_worker(0)
        return
    setup_logging()
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    procs = {i: _spawn(["--worker", str(i)]) for i in range(n)}
    retirees = {i: _spawn(["--retire", str(i)]) for i in retire}
    while not stopping:
        time.sleep(0.2)
        for i, p in list(procs.items()):
            if p.poll() is not None and not stopping:
                log.error("worker_died_restarting", extra={"worker": i, "returncode": p.returncode})
                time.sleep(1.0)
                procs[i] = _spawn(["--worker", str(i)])
        for i, p in list(retirees.items()):
            if p.poll() is not None:
                del retirees[i]
                if p.returncode == 0 and not retirees:
                    _record_workers(n)
    for p in [*procs.values(), *retirees.values()]:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in [*procs.values(), *retirees.values()]:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
