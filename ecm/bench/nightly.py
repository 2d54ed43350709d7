"""``ecm bench nightly``: the nightly accounting run at district scale, on throwaway servers.

Seeds one Beijing day of N enterprises × M meters at 1-minute resolution through the real path
(simulator → MQTT → ingest → InfluxDB), then runs the daily DAG's two heavy tasks (raw-readings
quality gate, KPI computation with the aggregates gate) and the monthly compliance in a fresh child
process, and prints wall time per step and the child's own peak memory (VmHWM).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from ecm.bench import RssSampler, host_info
from ecm.errors import EcmError

CHILD = r"""
import json, resource, sys, time
from datetime import date
from ecm.pipeline.daily import compute_daily_kpis, run_quality_gate
from ecm.pipeline.monthly import compute_monthly_compliance
day = sys.argv[1]
out = {}
def rss():
    # VmHWM: this process's own peak resident set (ru_maxrss would include the parent's peak,
    # which Linux carries across fork+exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out["rss_after_imports_mb"] = rss()
t = time.perf_counter(); blocked = run_quality_gate([day]); out["quality_gate_s"] = time.perf_counter() - t
out["rss_after_gate_mb"] = rss()
t = time.perf_counter(); compute_daily_kpis([day], blocked); out["daily_kpis_s"] = time.perf_counter() - t
out["rss_after_kpis_mb"] = rss()
t = time.perf_counter(); compute_monthly_compliance(day); out["monthly_compliance_s"] = time.perf_counter() - t
out["blocked_enterprises"] = len(blocked.get(day, []))
from ecm.influx import InfluxClient
from ecm.schema import MEAS_DQ_RESULT
dq = InfluxClient.from_settings().query_frame(f"SELECT count(success) AS n FROM {MEAS_DQ_RESULT} WHERE success = 0 GROUP BY expectation")
out["failed_expectations"] = dict(zip(dq["expectation"], dq["n"])) if len(dq) else {}
smp = InfluxClient.from_settings().query_frame(f"SELECT observed FROM {MEAS_DQ_RESULT} WHERE success = 0 LIMIT 5")
out["failure_samples"] = smp["observed"].tolist() if len(smp) else []
out["peak_rss_mb"] = rss()
print(json.dumps(out))
"""


def run_nightly(n_ent: int = 200, n_meters: int = 25, day: str = "2026-03-10", interval_s: int = 60,
                echo=print) -> dict:
    """Seed one day of ``n_ent`` × ``n_meters`` at ``interval_s``, run the nightly work in a child,
    return its figures. Servers and the temp dir (with its secrets) are removed at the end."""
    import shutil

    import yaml

    import sim_devices
    from ecm.influx import InfluxClient
    from ecm.periods import day_bounds_utc
    from ecm.registry import load_registry
    from ecm.settings import resource_dir
    from ecm.stack import Stack, wait_landed

    tmp = Path(tempfile.mkdtemp(prefix="ecm-bench-nightly-"))
    base = yaml.safe_load((resource_dir("config") / "district.yaml").read_text(encoding="utf-8"))
    reg_file = tmp / "district.yaml"
    scaled = sim_devices.scaled_registry(base, n_ent, n_meters)
    for e in scaled["enterprises"]:  # every meter reports at the benchmark interval
        for m in e["meters"]:
            m["interval_s"] = interval_s
    reg_file.write_text(yaml.safe_dump(scaled, allow_unicode=True))
    reg = load_registry(reg_file)
    stack = Stack.ephemeral(state_dir=tmp / "state", db="bench", district_file=reg_file,
                            enterprise_ids=reg.enterprise_ids)
    stack.activate(clean=True, ECM_REPORTS_DIR=str(tmp / "reports"))
    d = date.fromisoformat(day)
    n_meters_total = len(reg.meters_frame())
    try:
        stack.start()
        mq_port = stack.mqtt_port
        bridge = stack.bridge(log=tmp / "ingest.log", ECM_INGEST_MAX_AGE_S=str(20 * 365 * 86400))
        rss = RssSampler(bridge.proc.pid).start()
        echo(f"seeding {n_ent} enterprises × {n_meters_total // n_ent} meters at {interval_s} s for {day} "
             "(simulator → MQTT → ingest → InfluxDB)")
        t0 = time.perf_counter()
        res = sim_devices.backfill(reg, d, d, seed=1, interval_s=interval_s, host="127.0.0.1", port=mq_port,
                                   state_dir=tmp / "state", publish_stats=False)
        landed = wait_landed(InfluxClient.from_settings(), day_bounds_utc(d)[0], res["readings"], timeout_s=1800)
        seed_s = time.perf_counter() - t0
        bridge.stop(120)
        bridge_peak_mb = rss.stop()
        from ecm.stats import MEASUREMENT, stats_to_frame

        stats = sim_devices.monthly_stats_frame(reg, f"{d.year}-01", f"{d:%Y-%m}", 1)
        InfluxClient.from_settings().write_frame(stats_to_frame(stats), MEASUREMENT, ["enterprise"])
        echo(f"seeded {landed:,} readings in {seed_s:.1f} s ({landed / seed_s:,.0f} readings/s end to end); "
             f"bridge peak RSS {bridge_peak_mb:.0f} MB (target ≤ 300 MB)")
        t0 = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", CHILD, day], capture_output=True, text=True, env=dict(os.environ))
        wall = time.perf_counter() - t0
        if child.returncode != 0:
            raise EcmError(f"nightly run failed: {child.stderr.strip().splitlines()[-1] if child.stderr.strip() else ''}",
                           hint=child.stderr[-3000:])
        out = json.loads(child.stdout.strip().splitlines()[-1])
        out.update({"readings": landed, "enterprises": n_ent, "meters": n_meters_total, "nightly_wall_s": round(wall, 1),
                    "seed_s": round(seed_s, 1), "bridge_peak_rss_mb": round(bridge_peak_mb), **host_info()})
        echo(f"nightly run: {wall:.1f} s wall (quality gate {out['quality_gate_s']:.1f} s, daily KPIs "
             f"{out['daily_kpis_s']:.1f} s, monthly compliance {out['monthly_compliance_s']:.1f} s); "
             f"peak RSS {out['peak_rss_mb']:.0f} MB; targets ≤ 120 s, ≤ 2048 MB")
        return out
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
