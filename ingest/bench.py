"""``ecm bench ingest``: end-to-end throughput and latency of the bridge on this machine.

Everything runs on throwaway servers (``ecm.services`` classes, free loopback ports, a temp state
dir), never the operator's data. Publishers are real MQTT clients: ``mosquitto_pub -l`` (C, QoS 1),
one process per enterprise meter, each logged in as its enterprise. Figures:

- ``broker_drain_msg_per_s``: the broker's drain rate to the ``mosquitto_sub`` C client (QoS 1),
  publish start → last message received;
- ``influx_write_points_per_s``: direct bulk ``/write`` of 20,000-line bodies (the same series shape);
- per scenario, ``msg_per_s`` and ``readings_per_s``: first publish → last point queryable
  (count query), publishers held at most ``window`` messages ahead of the bridge's acks;
- latency at a paced 5,000 msg/s: publish → queryable per message, from the count-vs-time curve
  (the k-th stored point is matched with the k-th published, polled every 50 ms) — p50/p99 in ms.

Mosquitto 2.0.11 (Debian 12) stalls a client whose queue passes ~65,535 messages (packet ids wrap),
so publishers never run more than ``window`` (default 30,000) messages ahead.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from ecm.influx import InfluxClient, InfluxConfig
from ecm.registry import get_registry
from ecm.secrets import ensure_secrets
from ecm.services import InfluxService, MosquittoService, free_port
from ecm.settings import PROJECT_ROOT, get_settings
from ingest.stats import percentile

DB = "ecm_bench"
#: electricity main meters publish energy_kwh; one mosquitto_pub process each
PUB_METERS = 4


@dataclass
class Env:
    state: Path
    mq: MosquittoService
    ix: InfluxService
    env: dict
    secrets: dict
    meters: list[tuple[str, str]]  # (enterprise, meter) publishing energy_kwh
    client: InfluxClient = field(init=False)

    def __post_init__(self):
        creds = self.secrets["influx"]["service"]
        self.client = InfluxClient(InfluxConfig(url=self.ix.url, db=DB, user=creds["user"],
                                                password=creds["password"], timeout_s=60, retries=2))


def start_env(keep: bool = False) -> Env:
    s = get_settings()
    reg = get_registry()
    state = Path(tempfile.mkdtemp(prefix="ecm-bench-"))
    ids = reg.enterprise_ids
    mport, iport = free_port(), free_port()
    mq = MosquittoService(state, "127.0.0.1", mport, ids, s.mosquitto_bin)
    ix = InfluxService(state, f"http://127.0.0.1:{iport}", DB, ids, s.influxd_bin)
    mq.start()
    ix.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECM_")}
    env.update({"ECM_STATE_DIR": str(state), "ECM_MQTT_PORT": str(mport), "ECM_INFLUX_URL": ix.url,
                "ECM_INFLUX_DB": DB, "ECM_DISTRICT_FILE": str(s.district_path), "ECM_LOG_LEVEL": "WARNING"})
    meters = [(e.id, m.id) for e in reg.enterprises for m in e.meters
              if m.quantity == "energy_kwh" and m.role == "main"][:PUB_METERS]
    return Env(state, mq, ix, env, ensure_secrets(state, ids), meters)


def stop_env(e: Env, keep: bool = False) -> None:
    e.ix.stop()
    e.mq.stop()
    if not keep:
        shutil.rmtree(e.state, ignore_errors=True)


def _pub(e: Env, enterprise: str, topic: str) -> subprocess.Popen:
    return subprocess.Popen(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(e.mq.port), "-u", enterprise, "-i", enterprise,
                             "-P", e.secrets["mqtt"][enterprise], "-t", topic, "-l", "-q", "1", "-M", "1000",
                             "-V", "5"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)


def _lines(base_ms: int, start: int, n: int, per_msg: int) -> bytes:
    """n messages (one per line) of ``per_msg`` readings, device times base+i ms (unique per meter)."""
    if per_msg == 1:
        return b"".join(b'{"ts":%d,"values":{"energy_kwh":%d.5},"seq":%d}\n' % (base_ms + i, i, i)
                        for i in range(start, start + n))
    out = []
    for i in range(start, start + n):
        t0 = base_ms + i * per_msg
        items = b",".join(b'{"ts":%d,"values":{"energy_kwh":%d.25}}' % (t0 + k, t0 + k) for k in range(per_msg))
        out.append(b'{"readings":[' + items + b']}\n')
    return b"".join(out)


def _count(e: Env, base_ms: int, span_ms: int) -> int:
    df = e.client.query_frame(f"SELECT count(energy_kwh) FROM readings WHERE time >= {base_ms}ms "
                              f"AND time < {base_ms + span_ms}ms")
    return 0 if df.empty else int(df.iloc[0, -1])


def _acked(e: Env, workers: int) -> int:
    n = 0
    for i in range(workers):
        try:
            h = json.loads((e.state / "ingest" / f"health-ingest-{i}.json").read_text())
            n += int(h["stats"].get("messages_acked", 0))
        except (OSError, ValueError, KeyError):
            pass
    return n


def measure_drain(e: Env, n_msgs: int = 60_000) -> float:
    """Broker → mosquitto_sub (QoS 1) drain rate, msg/s, with the same publishers."""
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(e.mq.port), "-u", "ingest", "-P",
                            e.secrets["mqtt"]["ingest"], "-t", "ecm/v1/#", "-q", "1", "-C", str(n_msgs), "-V", "5"],
                           stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    per = n_msgs // len(e.meters)
    base = int(time.time() * 1000) - 86_400_000
    t0 = time.perf_counter()
    pubs = [_pub(e, ent, f"ecm/v1/{ent}/{m}/reading") for ent, m in e.meters]
    for p in pubs:
        p.stdin.write(_lines(base, 0, per, 1))
        p.stdin.close()
    try:
        sub.wait(120)
    except subprocess.TimeoutExpired:
        sub.kill()
        return float("nan")
    dt = time.perf_counter() - t0
    for p in pubs:
        p.wait(30)
    return per * len(e.meters) / dt


def measure_influx(e: Env, n_points: int = 200_000, chunk: int = 20_000) -> float:
    """Direct bulk /write rate, points/s (ms precision, readings-shaped series)."""
    t_base = int(time.time() * 1000) - 3 * 86_400_000
    lines = [f"bench_direct,enterprise=e01,meter=m{i % 40},quantity=energy_kwh energy_kwh={i}.5,"
             f"received_ms={t_base}i {t_base + i}" for i in range(n_points)]
    bodies = ["\n".join(lines[i:i + chunk]).encode() for i in range(0, n_points, chunk)]
    t0 = time.perf_counter()
    for b in bodies:
        status, text = e.client.write_body(b)
        if status != 204:
            raise RuntimeError(f"influx write failed: {status} {text}")
    return n_points / (time.perf_counter() - t0)


def _bridge(e: Env, workers: int) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "ingest", "--workers", str(workers)], cwd=PROJECT_ROOT, env=e.env)
    deadline = time.time() + 30
    ready = set()
    while time.time() < deadline and len(ready) < workers:
        for i in range(workers):
            try:
                if json.loads((e.state / "ingest" / f"health-ingest-{i}.json").read_text()).get("subscribed"):
                    ready.add(i)
            except (OSError, ValueError):
                pass
        time.sleep(0.1)
    if len(ready) < workers:
        p.kill()
        raise RuntimeError("bridge did not subscribe within 30 s")
    return p


def run_scenario(e: Env, *, n_msgs: int, per_msg: int, workers: int, rate: float | None = None,
                 window: int = 30_000, base_ms: int, chunk: int = 100) -> dict:
    """Publish n_msgs (spread over the publisher meters) and wait until all are queryable.

    ``rate`` (msg/s) paces publishing (latency run); otherwise publishers stay at most ``window``
    messages ahead of the bridge's acks. Returns throughput and (paced) latency percentiles.
    """
    acked0 = _acked(e, workers)
    pubs = [_pub(e, ent, f"ecm/v1/{ent}/{m}/reading") for ent, m in e.meters]
    per_pub = n_msgs // len(pubs)
    total = per_pub * len(pubs)
    span = per_pub * per_msg + 1000
    pub_times: list[tuple[float, int]] = []  # (time, cumulative messages published)
    curve: list[tuple[float, int]] = []  # (time, points queryable)
    done = threading.Event()

    def poll():
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            c = _count(e, base_ms, span)
            curve.append((time.perf_counter(), c))
            if c >= total * per_msg:
                break
            time.sleep(0.05)
        done.set()

    t0 = time.perf_counter()
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    sent = 0
    while sent < per_pub:
        k = min(chunk, per_pub - sent)
        if rate:
            due = t0 + (sent * len(pubs)) / rate
            while time.perf_counter() < due:
                time.sleep(0.001)
        else:
            while sent * len(pubs) - (_acked(e, workers) - acked0) > window:
                time.sleep(0.02)
        for p in pubs:
            p.stdin.write(_lines(base_ms, sent, k, per_msg))
            p.stdin.flush()
        sent += k
        pub_times.append((time.perf_counter(), sent * len(pubs)))
    for p in pubs:
        p.stdin.close()
    done.wait()
    t_end = curve[-1][0]
    for p in pubs:
        p.wait(30)
    stored = curve[-1][1]
    out = {"messages": total, "readings_per_msg": per_msg, "workers": workers, "stored_points": stored,
           "seconds": round(t_end - t0, 2), "msg_per_s": round(total / (t_end - t0)),
           "readings_per_s": round(stored / (t_end - t0))}
    if rate:
        out["offered_msg_per_s"] = rate
        out.update(_latency(pub_times, curve, per_msg))
    return out


def _latency(pub_times, curve, per_msg: int) -> dict:
    """p50/p99 publish → queryable (ms), matching the k-th stored point to the k-th published."""
    lat = []
    j = 0
    for t_pub, cum_msgs in pub_times:
        need = cum_msgs * per_msg
        while j < len(curve) and curve[j][1] < need:
            j += 1
        if j == len(curve):
            break
        lat.append((curve[j][0] - t_pub) * 1000)
    lat.sort()
    return {"latency_p50_ms": round(percentile(lat, .5)), "latency_p99_ms": round(percentile(lat, .99)),
            "latency_resolution_ms": 50}


def run_bench(quick: bool = False, workers_list=(1, 2), keep: bool = False, echo=print) -> dict:
    """The whole benchmark; returns the figures (also printed by ``echo``)."""
    e = start_env()
    res: dict = {"cpus": os.cpu_count(), "loadavg_1m_start": round(os.getloadavg()[0], 2)}
    scale = 0.25 if quick else 1.0
    try:
        res["broker_drain_msg_per_s"] = round(measure_drain(e, int(60_000 * scale) // 4 * 4))
        echo(f"limit: broker → mosquitto_sub drain {res['broker_drain_msg_per_s']:,} msg/s")
        res["influx_write_points_per_s"] = round(measure_influx(e, int(200_000 * scale)))
        echo(f"limit: direct InfluxDB /write {res['influx_write_points_per_s']:,} points/s")
        base = int(time.time() * 1000) - 2 * 86_400_000
        scen = []
        for w in workers_list:
            p = _bridge(e, w)
            try:
                for name, kw in (("single", dict(n_msgs=int(200_000 * scale), per_msg=1)),
                                 ("batch25", dict(n_msgs=int(40_000 * scale), per_msg=25)),
                                 ("paced5k", dict(n_msgs=int(50_000 * scale), per_msg=1, rate=5000.0))):
                    base += 3_600_000
                    r = {"scenario": name, **run_scenario(e, workers=w, base_ms=base, **kw)}
                    r["ratio_to_broker_drain"] = round(r["msg_per_s"] / res["broker_drain_msg_per_s"], 3)
                    r["ratio_to_influx_write"] = round(r["readings_per_s"] / res["influx_write_points_per_s"], 3)
                    scen.append(r)
                    echo(_fmt(r))
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(60)
        res["scenarios"] = scen
        res["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    finally:
        stop_env(e, keep)
    return res


def _fmt(r: dict) -> str:
    s = (f"{r['scenario']:8s} workers={r['workers']} {r['messages']:,} msgs × {r['readings_per_msg']}: "
         f"{r['msg_per_s']:,} msg/s, {r['readings_per_s']:,} readings/s "
         f"(×{r['ratio_to_broker_drain']} of broker drain, ×{r['ratio_to_influx_write']} of direct write)")
    if "latency_p99_ms" in r:
        s += f"; latency p50 {r['latency_p50_ms']} ms, p99 {r['latency_p99_ms']} ms at {r['offered_msg_per_s']:.0f} msg/s"
    return s
