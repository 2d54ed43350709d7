"""``ecm bench gateway``: CPU of one gateway polling N emulated Modbus devices, and the drain of a
1-hour backlog through a real broker, ingest bridge and InfluxDB (throwaway servers, temp state dir).

- Devices: ``python -m gateway.emulators`` in its own process (4 Modbus TCP servers, N/4 unit ids
  each, counters advancing every second); each device is read for energy and power every interval.
- CPU: the gateway process's user + system CPU seconds (``/proc/<pid>/stat``) over the measuring
  window, after one interval of warm-up, divided by wall seconds = share of one core.
- Drain: the gateway is stopped; one hour of readings of every device (interval spacing) is
  committed to its queue file, as an outage would leave it; then the gateway is started (and keeps
  polling) and we time queue → empty (every row PUBACKed) and → all points queryable in InfluxDB.
Targets (issue #16): CPU < 10 % of a core at 200 devices / 10 s; drain < 60 s.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ecm.schema import MEAS_READINGS
from ecm.settings import PROJECT_ROOT, get_settings

CPU_TARGET_FRAC = 0.10
DRAIN_TARGET_S = 60.0
SERVERS = 4


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def proc_cpu_s(pid: int) -> float:
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def _wait(pred, timeout_s: float, what: str, interval_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval_s)
    raise RuntimeError(f"bench: {what} not reached in {timeout_s:.0f} s")


def _pending(db: Path) -> int:
    c = sqlite3.connect(str(db), timeout=30)
    try:
        return c.execute("SELECT count(*) FROM queue").fetchone()[0]
    finally:
        c.close()


def run_bench(devices: int = 200, interval_s: float = 10.0, duration_s: float = 60.0, backlog_hours: float = 1.0,
              echo=print) -> dict:
    from ecm.stack import Bridge, Stack
    from gateway.store import Queue

    s = get_settings()
    state = Path(tempfile.mkdtemp(prefix="ecm-bench-gw-"))
    procs: list[subprocess.Popen] = []
    stack = None
    res: dict = {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "devices": devices, "interval_s": interval_s}
    try:
        # registry: the district plus 2 meters (energy, power) per emulated device, all of e01
        reg = yaml.safe_load(Path(s.district_path).read_text(encoding="utf-8"))
        e01 = next(e for e in reg["enterprises"] if e["id"] == "e01")
        for i in range(1, devices + 1):
            e01["meters"] += [{"id": f"e01_bench_e{i:03d}", "carrier": "electricity", "unit": "kwh", "kind": "counter",
                               "role": "sub", "interval_s": int(interval_s), "register_digits": 7},
                              {"id": f"e01_bench_p{i:03d}", "carrier": "electricity", "unit": "kw", "kind": "gauge",
                               "interval_s": int(interval_s)}]
        district = state / "district.yaml"
        district.write_text(yaml.safe_dump(reg, allow_unicode=True, sort_keys=False), encoding="utf-8")
        ids = [e["id"] for e in reg["enterprises"]]
        echo("starting mosquitto, influxd, the ingest bridge and the device emulators ...")
        stack = Stack.ephemeral(state_dir=state, db="ecm_bench", district_file=district, enterprise_ids=ids).start()
        mport = stack.mqtt_port
        secrets = stack.secrets()
        env = stack.env(clean=True, ECM_LOG_LEVEL="WARNING", GATEWAY_MQTT_PASSWORD=secrets["mqtt"]["e01"],
                        PYTHONPATH=str(PROJECT_ROOT))
        log = open(state / "bench.log", "ab")
        bridge = Bridge(env, log=state / "bench.log").start()
        procs.append(bridge.proc)
        ports_file = state / "ports.json"
        per = -(-devices // SERVERS)
        emu = subprocess.Popen([sys.executable, "-m", "gateway.emulators", "--servers", str(SERVERS), "--units",
                                str(per), "--ports-file", str(ports_file)], env=env, stdout=log, stderr=log)
        procs.append(emu)
        ports = _wait(lambda: ports_file.exists() and json.loads(ports_file.read_text()), 60, "emulators")
        bridge.wait_ready()

        devs = []
        for i in range(devices):
            devs.append({"id": f"m{i + 1:03d}", "profile": "din_rail_3ph_int", "transport": "modbus_tcp",
                         "host": "127.0.0.1", "port": ports[i // per], "unit": i % per + 1, "timeout_s": 5,
                         "schedule": {"energy": interval_s, "power": interval_s},
                         "meters": {"energy_import": f"e01_bench_e{i + 1:03d}", "power_total": f"e01_bench_p{i + 1:03d}"}})
        cfg = {"enterprise": "e01", "mqtt": {"host": "127.0.0.1", "port": mport},
               "store": {"path": "queue.db", "max_mb": 512}, "jitter_frac": 0.1, "devices": devs}
        (state / "gateway.yaml").write_text(yaml.safe_dump(cfg))

        def start_gateway():
            p = subprocess.Popen([sys.executable, "-m", "gateway", "--config", str(state / "gateway.yaml"),
                                  "--log-level", "WARNING"], env=env, stdout=log, stderr=log)
            procs.append(p)
            return p

        # ---- phase A: CPU while polling
        gw = start_gateway()
        warm = interval_s + 5
        echo(f"polling {devices} devices (energy + power) every {interval_s:g} s: {warm:.0f} s warm-up, "
             f"then {duration_s:.0f} s measured ...")
        time.sleep(warm)
        c0, e0, w0, l0 = proc_cpu_s(gw.pid), proc_cpu_s(emu.pid), time.monotonic(), os.getloadavg()[0]
        time.sleep(duration_s)
        c1, e1, w1, l1 = proc_cpu_s(gw.pid), proc_cpu_s(emu.pid), time.monotonic(), os.getloadavg()[0]
        health = json.loads((state / "queue.health.json").read_text())
        cpu_frac = (c1 - c0) / (w1 - w0)
        polls = sum(d["reads_ok"] for d in health["devices"].values())
        failed = sum(d["reads_failed"] for d in health["devices"].values())
        res.update({"cpu_frac_of_core": round(cpu_frac, 4), "cpu_ratio_to_target": round(cpu_frac / CPU_TARGET_FRAC, 3),
                    "emulator_cpu_frac_of_core": round((e1 - e0) / (w1 - w0), 4),
                    "reads_ok": polls, "reads_failed": failed, "loadavg_1m": [round(l0, 2), round(l1, 2)]})
        echo(f"  gateway CPU {cpu_frac * 100:.2f} % of one core (target < {CPU_TARGET_FRAC * 100:.0f} %, "
             f"ratio {cpu_frac / CPU_TARGET_FRAC:.2f}); emulators {res['emulator_cpu_frac_of_core'] * 100:.1f} %; "
             f"reads ok {polls}, failed {failed}; load average {l0:.2f} → {l1:.2f}")
        gw.send_signal(signal.SIGTERM)
        gw.wait(60)

        # ---- phase B: drain a backlog
        qpath = state / "queue.db"
        n_slots = int(backlog_hours * 3600 / interval_s)
        now = int(time.time() * 1000)
        t_lo = now - int(backlog_hours * 3600 * 1000)
        q = Queue(qpath, 512 * 1024 * 1024)
        rows = []
        for k in range(n_slots):
            ts = t_lo + int(k * interval_s * 1000)
            for i in range(1, devices + 1):
                rows += [(f"e01_bench_e{i:03d}", "energy_kwh", ts + i, 1000.0 + k * 0.5 + i),
                         (f"e01_bench_p{i:03d}", "power_kw", ts + i, 10.0 + i)]
            if len(rows) >= 20000:
                q.put(rows)
                rows = []
        q.put(rows)
        backlog = q.pending()
        q.close()
        echo(f"draining a backlog of {backlog} readings ({backlog_hours:g} h × {devices} devices × 2 points) ...")
        cfg_client = stack.client()

        def landed() -> int:
            df = cfg_client.query_frame(f"SELECT count(energy_kwh) FROM {MEAS_READINGS} WHERE time >= {t_lo - 1}ms "
                                        f"AND time < {t_lo + n_slots * int(interval_s * 1000)}ms")
            return 0 if df.empty else int(df.iloc[0, -1])

        t0 = time.monotonic()
        gw = start_gateway()
        _wait(lambda: _pending(qpath) < devices * 2, 600, "backlog drained", 0.1)
        t_acked = time.monotonic() - t0
        _wait(lambda: landed() >= n_slots * devices, 900, "backlog landed", 0.5)
        t_landed = time.monotonic() - t0
        res.update({"backlog_readings": backlog, "drain_acked_s": round(t_acked, 2),
                    "drain_ratio_to_target": round(t_acked / DRAIN_TARGET_S, 3), "drain_landed_s": round(t_landed, 2),
                    "drain_readings_per_s": round(backlog / t_acked)})
        echo(f"  backlog PUBACKed in {t_acked:.1f} s ({backlog / t_acked:,.0f} readings/s; target < {DRAIN_TARGET_S:.0f} s, "
             f"ratio {t_acked / DRAIN_TARGET_S:.2f}); all queryable in InfluxDB after {t_landed:.1f} s")
        echo(f"  CPU: {res['cpu_model']} ({res['cpus']} logical CPUs, shared: load average above shows contention)")
        return res
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        if stack is not None:
            stack.stop()
        shutil.rmtree(state, ignore_errors=True)
