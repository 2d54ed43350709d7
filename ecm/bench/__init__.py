"""Benchmarks behind ``ecm bench <name>`` (imported only by the CLI, never by production code).

Each benchmark starts its own servers through :class:`ecm.stack.Stack` (free loopback ports, a
temporary state dir removed afterwards, secrets included) and prints every figure beside a limit
measured in the same run, with the host's CPU model and load average — absolute rates on a shared
machine say little on their own.

- ``ingest``  — ``ecm.bench.ingest``: the MQTT → InfluxDB bridge against mosquitto_sub and /write
- ``nightly`` — ``ecm.bench.nightly``: one district day seeded through the bridge, then the nightly run
- ``sim``     — ``ecm.bench.sim``: simulator backfill rate and real-time CPU
- ``report``  — ``ecm.bench.report``: rendering the nightly report set (district + N enterprises)
- ``quality`` — ``ecm.bench.quality``: the GX suites over one synthetic district day
- ``baselines`` — ``ecm.bench.baselines``: one nightly baselines step over 4 years of ``line_daily``
"""
from __future__ import annotations

import os
import platform
import threading


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict:
    """CPU model, logical CPUs and the 1/5/15-minute load averages, for every benchmark's output."""
    la = os.getloadavg()
    return {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "loadavg": [round(x, 2) for x in la]}


def host_line() -> str:
    h = host_info()
    return f"host: {h['cpu_model']}, {h['cpus']} CPUs, load average {' '.join(map(str, h['loadavg']))}"


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    return kids


def tree_status_mb(pid: int, fields: tuple[str, ...] = ("VmRSS",)) -> list[dict[str, float]]:
    """``/proc/<p>/status`` memory ``fields`` (MiB) of ``pid`` and each descendant alive now."""
    kids = _children()
    todo, out = [pid], []
    keys = tuple(f + ":" for f in fields)
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            with open(f"/proc/{p}/status") as fh:
                out.append({ln.split(":", 1)[0]: int(ln.split()[1]) / 1024 for ln in fh if ln.startswith(keys)})
        except OSError:
            pass
    return out


def tree_pss_mb(pid: int) -> float:
    """Proportional set size of ``pid`` and all its descendants, MiB: pages shared between forked
    processes are counted once in the sum (their RSS counts them in every process)."""
    kids = _children()
    todo, tot = [pid], 0.0
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                tot += next((int(ln.split()[1]) for ln in fh if ln.startswith("Pss:")), 0) / 1024
        except OSError:
            pass
    return tot


def tree_rss_mb(pid: int) -> float:
    """Resident set of ``pid`` and all its descendants, MiB (0 when gone)."""
    return sum(d.get("VmRSS", 0.0) for d in tree_status_mb(pid))


class RssSampler:
    """Peak resident set of a process tree (a bridge and its workers), sampled every ``interval_s``."""

    def __init__(self, pid: int, interval_s: float = 0.25):
        self.pid, self.interval_s, self.peak_mb = pid, interval_s, 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
            self._stop.wait(self.interval_s)

    def start(self) -> "RssSampler":
        self._t.start()
        return self

    def stop(self) -> float:
        self._stop.set()
        self._t.join(5)
        return self.peak_mb
