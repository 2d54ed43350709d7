"""``ecm bench sim``: simulator backfill rate (readings/s) and real-time CPU per simulated minute.

Runs against a private Mosquitto (``ecm.stack.Stack``, broker only) on a free loopback port in a
temporary state dir, with credentials for the scaled registry, so it never touches the
operator's broker. Figures depend on machine load; the output includes CPU model and load average.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from ecm.bench import host_info
from ecm.registry import parse_registry
from ecm.stack import Stack
from sim_devices.api import backfill, run
from sim_devices.fleet import scaled_registry


def bench(base_registry, *, backfill_enterprises: int = 50, days: int = 30, interval_s: int = 900,
          rt_enterprises: int = 200, rt_meters: int = 25, rt_minutes: int = 10, seed: int = 1,
          progress: bool = True) -> dict:
    """Backfill ``backfill_enterprises`` × ``days`` at ``interval_s``; then ``rt_enterprises`` ×
    ``rt_meters`` meters at 60 s for ``rt_minutes`` simulated minutes as fast as possible
    (CPU seconds per simulated minute = fraction of one core needed in real time × 60)."""
    data = base_registry.model_dump(mode="json")
    reg_bf = parse_registry(scaled_registry(data, backfill_enterprises), "<bench>")
    reg_rt = parse_registry(scaled_registry(data, rt_enterprises, meters_per_enterprise=rt_meters), "<bench-rt>")
    ids = sorted(set(reg_bf.enterprise_ids) | set(reg_rt.enterprise_ids))
    stack = Stack.ephemeral(enterprise_ids=ids, prefix="ecm-bench-sim-")
    try:
        stack.start(influx=False)
        port, state = stack.mqtt_port, stack.state_dir
        start = date(2024, 3, 1)
        bf = backfill(reg_bf, start, start + timedelta(days=days - 1), seed=seed, interval_s=interval_s,
                      host="127.0.0.1", port=port, state_dir=state, progress=progress)
        rt = run(reg_rt, seed=seed, interval_s=60, host="127.0.0.1", port=port, state_dir=state,
                 duration_s=rt_minutes * 60, speed=None, block_s=60, progress=progress,
                 start_at=datetime(2024, 3, 5, 10, 0, tzinfo=timezone(timedelta(hours=8))))
    finally:
        stack.stop()
    cpu_per_min = rt["cpu_s"] / rt_minutes
    return {
        "backfill": {"enterprises": backfill_enterprises, "days": days, "interval_s": interval_s,
                     "meters": bf["meters"], "readings": bf["readings"], "messages": bf["messages"],
                     "seconds": bf["seconds"], "readings_per_s": bf["readings_per_s"]},
        "realtime": {"enterprises": rt_enterprises, "meters": sum(len(e.meters) for e in reg_rt.enterprises),
                     "interval_s": 60, "sim_minutes": rt_minutes, "readings": rt["readings"],
                     "cpu_s": rt["cpu_s"], "cpu_s_per_sim_minute": round(cpu_per_min, 3),
                     "core_frac_at_real_time": round(cpu_per_min / 60.0, 4)},
        **host_info(),
    }
