"""``ecm bench ingest``: the bridge's throughput, latency and memory against this run's own limits.

Everything runs on a throwaway :class:`ecm.stack.Stack` (free loopback ports, temp state dir with
its secrets, removed at the end). The offered load comes from C publishers: ``mosquitto_pub -l``
(QoS 1), one process per enterprise meter, each logged in as its enterprise, reading message files
prepared before the clock starts, so the publisher is never the bottleneck. Figures:

- limits, same run: ``broker_drain_msg_per_s`` — the same publishers and files drained by one
  ``mosquitto_sub`` (C, QoS 1), first publish → last message received; ``influx_write_points_per_s``
  — direct ``/write`` of the batch scenario's points as the bridge would write them (same body size);
  each measured just before the scenario it bounds, as the machine may be shared;
- per scenario: ``msg_per_s``, ``readings_per_s`` (first publish → last point queryable, polled by
  count every 100 ms) and their ratios to the two limits; ``bridge_peak_rss_mb`` (bridge process
  tree, sampled every 250 ms); CPU seconds the bridge spent per message;
- ``paced``: publish → queryable p50/p99 at a steady offered rate (file fed at that rate);
- ``backlog``: messages queued in the bridge's session while it is stopped, then drained: peak RSS.

Every figure is printed with the host's CPU model and load average: on a shared machine the ratios
to the same run's limits are what compare across runs.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

from ecm.bench import RssSampler, host_info, host_line
from ecm.mqtt import gateway_client_id
from ecm.stack import Bridge, Stack
from ingest.service import WRITE_CHUNK_LINES
from ingest.stats import percentile

DB = "ecm_bench"
#: publishing meters: electricity main meters (energy_kwh), one mosquitto_pub process each
PUBLISHERS = 4
WRITE_BODY_LINES = WRITE_CHUNK_LINES  # as the bridge writes


class Run:
    """The stack, its publishers' identities and the bridge environment for one benchmark run."""

    def __init__(self, workers_env: dict | None = None):
        from ecm.registry import get_registry

        reg = get_registry()
        self.stack = Stack.ephemeral(db=DB, prefix="ecm-bench-ingest-").start()
        self.dir = self.stack.state_dir / "bench"
        self.dir.mkdir()
        self.secrets = self.stack.secrets()
        self.meters = [(e.id, m.id) for e in reg.enterprises for m in e.meters
                       if m.quantity == "energy_kwh" and m.role == "main"][:PUBLISHERS]
        self.client = self.stack.client(timeout_s=120)
        self.bridge_env = self.stack.env(clean=True, ECM_LOG_LEVEL="WARNING", ECM_INGEST_MAX_AGE_S=str(30 * 86400),
                                         **(workers_env or {}))
        self.base_ms = int(time.time() * 1000) - 20 * 86_400_000  # each scenario takes a fresh hour

    def next_base(self) -> int:
        self.base_ms += 3_600_000
        return self.base_ms

    # -- offered load ---------------------------------------------------------------
    def prepare(self, name: str, base_ms: int, n_msgs: int, per_msg: int) -> list[Path]:
        """One file per publisher: ``n_msgs / PUBLISHERS`` lines, each a message of ``per_msg``
        readings with unique device times (base + k ms) per meter."""
        per_pub = n_msgs // len(self.meters)
        files = []
        for j in range(len(self.meters)):
            f = self.dir / f"{name}-{j}.jsonl"
            with open(f, "wb") as fh:
                fh.write(_lines(base_ms, per_pub, per_msg))
            files.append(f)
        return files

    def publisher(self, j: int, stdin) -> subprocess.Popen:
        ent, meter = self.meters[j]
        return subprocess.Popen(["mosquitto_pub", "-h", self.stack.mqtt_host, "-p", str(self.stack.mqtt_port),
                                 "-u", ent, "-P", self.secrets["mqtt"][ent], "-i", gateway_client_id(ent),
                                 "-t", f"ecm/v1/{ent}/{meter}/reading", "-l", "-q", "1", "-M", "1000", "-V", "5"],
                                stdin=stdin, stdout=subprocess.DEVNULL)

    def publish_files(self, files: list[Path]) -> list[subprocess.Popen]:
        procs = []
        for j, f in enumerate(files):
            with open(f, "rb") as fh:
                procs.append(self.publisher(j, fh))
        return procs

    def count(self, base_ms: int, span_ms: int) -> int:

        df = self.client.query_frame(f"SELECT count(energy_kwh) FROM {self.client.readings_from} WHERE time >= {base_ms}ms "
                                     f"AND time < {base_ms + span_ms}ms")
        return 0 if df.empty else int(df.iloc[0, -1])

    def wait_count(self, base_ms: int, span_ms: int, want: int, timeout_s: float = 900,
                   curve: list | None = None, tail: tuple[int, int, int] | None = None) -> float:
        """perf_counter time when ``want`` points are queryable (count polled every 100 ms).

        ``tail`` = (start ms, span ms, points): first wait for that small window (the last message of
        every publisher) so the poll does not load InfluxDB with counts over the whole run."""
        deadline = time.perf_counter() + timeout_s
        while tail and self.count(tail[0], tail[1]) < tail[2] and time.perf_counter() < deadline:
            time.sleep(0.1)
        while True:
            c = self.count(base_ms, span_ms)
            t = time.perf_counter()
            if curve is not None:
                curve.append((t, c))
            if c >= want:
                return t
            if t > deadline:
                raise RuntimeError(f"only {c:,} of {want:,} points queryable after {timeout_s:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        self.stack.stop()


def _tail(r: Run, base_ms: int, total: int, per_msg: int) -> tuple[int, int, int]:
    """The device-time window of every publisher's last message, and its point count."""
    per_pub = total // len(r.meters)
    return base_ms + (per_pub - 1) * per_msg, per_msg, per_msg * len(r.meters)


def _lines(base_ms: int, n: int, per_msg: int) -> bytes:
    if per_msg == 1:
        return b"".join(b'{"ts":%d,"values":{"energy_kwh":%d.5},"seq":%d}\n' % (base_ms + i, i, i) for i in range(n))
    out = []
    for i in range(n):
        t0 = base_ms + i * per_msg
        items = b",".join(b'{"ts":%d,"values":{"energy_kwh":%d.25}}' % (t0 + k, t0 + k) for k in range(per_msg))
        out.append(b'{"readings":[' + items + b']}\n')
    return b"".join(out)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its descendants still running."""
    from ecm.bench import _children

    kids, todo, tot = _children(), [pid], 0.0
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            with open(f"/proc/{p}/stat") as fh:
                f = fh.read().rsplit(")", 1)[1].split()
            tot += (int(f[11]) + int(f[12])) / tick
        except (OSError, ValueError, IndexError):
            pass
    return tot


# -- limits ---------------------------------------------------------------------------
def measure_drain(r: Run, n_msgs: int) -> float:
    """Broker → mosquitto_sub (QoS 1) drain, msg/s, with the scenario's publishers and files."""
    files = r.prepare("drain", r.next_base(), n_msgs, 1)
    total = n_msgs // len(r.meters) * len(r.meters)
    sub = subprocess.Popen(["mosquitto_sub", "-h", r.stack.mqtt_host, "-p", str(r.stack.mqtt_port), "-u", "ingest",
                            "-P", r.secrets["mqtt"]["ingest"], "-t", "ecm/v1/#", "-q", "1", "-C", str(total),
                            "-V", "5"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)  # subscribed
    t0 = time.perf_counter()
    pubs = r.publish_files(files)
    try:
        sub.wait(300)
    except subprocess.TimeoutExpired:
        sub.kill()
        raise RuntimeError("mosquitto_sub did not receive every message in 300 s") from None
    dt = time.perf_counter() - t0
    for p in pubs:
        p.wait(30)
    return total / dt


def measure_write(r: Run, n_msgs: int, per_msg: int) -> float:
    """Direct /write of the batch scenario's points, serialised as the bridge writes them, points/s."""
    base, now = r.next_base(), int(time.time() * 1000)
    lines = []
    per_pub = n_msgs // len(r.meters)
    for ent, meter in r.meters:
        for i in range(per_pub * per_msg):
            lines.append(f"readings,enterprise={ent},meter={meter},quantity=energy_kwh "
                         f"energy_kwh={base + i}.25,received_ms={now}i {base + i}")
    bodies = ["\n".join(lines[i:i + WRITE_BODY_LINES]).encode() for i in range(0, len(lines), WRITE_BODY_LINES)]
    t0 = time.perf_counter()
    for b in bodies:
        status, text = r.client.write_body(b)
        if status != 204:
            raise RuntimeError(f"influx write failed: {status} {text}")
    return len(lines) / (time.perf_counter() - t0)


# -- scenarios ------------------------------------------------------------------------
def run_flood(r: Run, bridge: Bridge, name: str, n_msgs: int, per_msg: int) -> dict:
    """Files published as fast as the C publishers go, bridge running: time to all queryable."""
    base = r.next_base()
    files = r.prepare(name, base, n_msgs, per_msg)
    total = n_msgs // len(r.meters) * len(r.meters)
    span = total * per_msg + 10_000
    rss = RssSampler(bridge.proc.pid).start()
    cpu0 = _cpu_s(bridge.proc.pid)
    t0 = time.perf_counter()
    pubs = r.publish_files(files)
    t_end = r.wait_count(base, span, total * per_msg, tail=_tail(r, base, total, per_msg))
    cpu = _cpu_s(bridge.proc.pid) - cpu0
    for p in pubs:
        p.wait(60)
    dt = t_end - t0
    return {"scenario": name, "messages": total, "readings_per_msg": per_msg, "seconds": round(dt, 2),
            "msg_per_s": round(total / dt), "readings_per_s": round(total * per_msg / dt),
            "bridge_cpu_us_per_msg": round(cpu / total * 1e6, 1),
            "bridge_cpu_us_per_reading": round(cpu / (total * per_msg) * 1e6, 2),
            "bridge_peak_rss_mb": round(rss.stop())}


def run_paced(r: Run, bridge: Bridge, rate: float, n_msgs: int) -> dict:
    """The file fed to the publishers at ``rate`` msg/s in 50 ms slices; latency publish → queryable
    from the count-vs-time curve (the k-th stored point matched with the k-th published)."""
    base = r.next_base()
    files = r.prepare("paced", base, n_msgs, 1)
    per_pub = n_msgs // len(r.meters)
    total = per_pub * len(r.meters)
    data = [f.read_bytes().splitlines(keepends=True) for f in files]
    pubs = [r.publisher(j, subprocess.PIPE) for j in range(len(files))]
    curve: list = []
    done = threading.Event()
    out: dict = {}

    def poll():
        try:
            out["t_end"] = r.wait_count(base, total + 10_000, total, curve=curve)
        finally:
            done.set()

    threading.Thread(target=poll, daemon=True).start()
    sent, sent_at, t0 = 0, [], time.perf_counter()
    slice_n = max(1, int(rate * 0.05 / len(pubs)))
    while sent < per_pub:
        due = t0 + sent * len(pubs) / rate
        while time.perf_counter() < due:
            time.sleep(0.001)
        k = min(slice_n, per_pub - sent)
        for p, lines in zip(pubs, data):
            p.stdin.write(b"".join(lines[sent:sent + k]))
            p.stdin.flush()
        sent += k
        sent_at.append((time.perf_counter(), sent * len(pubs)))
    for p in pubs:
        p.stdin.close()
    done.wait()
    for p in pubs:
        p.wait(60)
    lat, j = [], 0
    for t_pub, cum in sent_at:
        while j < len(curve) and curve[j][1] < cum:
            j += 1
        if j == len(curve):
            break
        lat.append((curve[j][0] - t_pub) * 1000)
    lat.sort()
    return {"scenario": "paced", "messages": total, "readings_per_msg": 1, "offered_msg_per_s": rate,
            "latency_p50_ms": round(percentile(lat, .5)), "latency_p99_ms": round(percentile(lat, .99)),
            "latency_resolution_ms": 100}


def run_backlog(r: Run, workers: int, n_msgs: int, per_msg: int) -> dict:
    """``n_msgs`` queued in the bridge's stopped session, then the bridge started: time to drain
    and the bridge's peak RSS while draining."""
    base = r.next_base()
    files = r.prepare("backlog", base, n_msgs, per_msg)
    total = n_msgs // len(r.meters) * len(r.meters)
    for p in r.publish_files(files):
        p.wait(600)
    b = Bridge(r.bridge_env, log=r.stack.state_dir / "ingest-bench.log")
    t0 = time.perf_counter()
    b.start("--workers", str(workers))
    rss = RssSampler(b.proc.pid).start()
    try:
        t_end = r.wait_count(base, total * per_msg + 10_000, total * per_msg, tail=_tail(r, base, total, per_msg))
    finally:
        peak = rss.stop()
        b.stop()
    dt = t_end - t0
    return {"scenario": "backlog", "messages": total, "readings_per_msg": per_msg, "seconds": round(dt, 2),
            "msg_per_s": round(total / dt), "readings_per_s": round(total * per_msg / dt),
            "bridge_peak_rss_mb": round(peak)}


def run_bench(quick: bool = False, workers_list=(1, 2), echo=print, backlog: int = 200_000) -> dict:
    """The whole benchmark; returns the figures (also printed by ``echo``).

    The machine may be shared, so each scenario is measured right after its own limit (drain before
    ``single``, direct write before ``batch25``) and its ratio is to that adjacent limit."""
    scale = 0.25 if quick else 1.0
    n_single, n_batch, n_paced = int(200_000 * scale), int(40_000 * scale), int(50_000 * scale)
    r = Run()
    res: dict = {"host_start": host_info(), "scenarios": []}
    echo(host_line())
    try:
        for i, w in enumerate(workers_list):
            b = Bridge(r.bridge_env, log=r.stack.state_dir / "ingest-bench.log").start("--workers", str(w)).wait_ready()
            try:
                lim = {"broker_drain_msg_per_s": round(measure_drain(r, n_single))}
                echo(f"limit: broker → mosquitto_sub drain {lim['broker_drain_msg_per_s']:,} msg/s "
                     f"({n_single:,} msgs, {len(r.meters)} mosquitto_pub)")
                row = run_flood(r, b, "single", n_single, 1)
                lim["influx_write_points_per_s"] = round(measure_write(r, n_batch, 25))
                echo(f"limit: direct InfluxDB /write {lim['influx_write_points_per_s']:,} points/s "
                     f"({n_batch * 25:,} points, {WRITE_BODY_LINES:,}-line bodies)")
                rows = [row, run_flood(r, b, "batch25", n_batch, 25)]
                for row in rows:
                    res["scenarios"].append(_ratios(lim, {"workers": w, **row, **lim}))
                    echo(_fmt(res["scenarios"][-1]))
                res["scenarios"].append({"workers": w, **run_paced(r, b, 5000.0, n_paced)})
                echo(_fmt(res["scenarios"][-1]))
            finally:
                b.stop()
            if i == 0 and backlog:  # before any retirement of extra workers' sessions adds processes
                lim = {"broker_drain_msg_per_s": round(measure_drain(r, n_single)),
                       "influx_write_points_per_s": round(measure_write(r, n_batch, 25))}
                row = _ratios(lim, {"workers": w, **run_backlog(r, w, int(backlog * scale), 1), **lim})
                res["scenarios"].append(row)
                echo(_fmt(row))
        res["host_end"] = host_info()
        echo(host_line())
    finally:
        r.stop()
    return res


def _ratios(res: dict, row: dict) -> dict:
    if "msg_per_s" in row:
        row["ratio_to_broker_drain"] = round(row["msg_per_s"] / res["broker_drain_msg_per_s"], 3)
        row["ratio_to_influx_write"] = round(row["readings_per_s"] / res["influx_write_points_per_s"], 3)
    return row


def _fmt(r: dict) -> str:
    s = f"{r['scenario']:8s} workers={r['workers']} {r['messages']:,} msgs × {r['readings_per_msg']}: "
    if "msg_per_s" in r:
        s += (f"{r['msg_per_s']:,} msg/s, {r['readings_per_s']:,} readings/s (×{r['ratio_to_broker_drain']} of "
              f"broker drain, ×{r['ratio_to_influx_write']} of direct write); bridge peak RSS {r['bridge_peak_rss_mb']} MB")
    if "bridge_cpu_us_per_msg" in r:
        s += f", {r['bridge_cpu_us_per_msg']} µs CPU/msg"
    if "latency_p99_ms" in r:
        s += f"latency p50 {r['latency_p50_ms']} ms, p99 {r['latency_p99_ms']} ms at {r['offered_msg_per_s']:.0f} msg/s"
    return s
