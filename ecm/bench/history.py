"""``python -m ecm.bench.history``: days/s of the demo's history import, first year vs last year.

The demo's history step on a private InfluxDB (free loopback port, temp state dir, removed at the
end), over daily-register readings of the default district written directly (the simulator's
tracks, no broker: the import is what is measured). Figures per year: days, seconds, days/s, and
the ratio last/first year (flat = 1.0), for two layouts:

- ``before`` (the start of the previous session): 7-day shard groups (InfluxDB's default for an
  INF policy), a DELETE of every partition before writing it, and ``run_days(...,
  gate="history")``: a month per vectorised pass;
- ``after``: the policies of ``ecm.retention`` (52-week shard groups for derived data),
  ``InfluxClient.delete_range`` skipping partitions that hold no points, and
  ``ecm.history.import_days``: a calendar year per pass, writes overlapping the next compute.

Same-run limit: a direct ``/write`` of the same days' input readings (line protocol serialised
beforehand), as days/s; every import figure is also given as a ratio to it. Prints the host's CPU
model and load: on a shared machine compare the ratios, not the seconds.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from ecm.schema import MEAS_READINGS


def _readings(registry, first: date, last: date, seed: int):
    from sim_devices.calendar import DAY_S, day_index
    from sim_devices.publisher import rows_between
    from sim_devices.window import build_window, sim_s_to_ms

    t_lo, t_hi = (day_index(first) - 1) * DAY_S, (day_index(last) + 1) * DAY_S + 1
    meters = registry.meters_frame()
    for w in build_window(registry, first - timedelta(days=1), last, seed):
        rows = rows_between(w.tracks, t_lo, t_hi, 86400)
        ids = [t.meter.id for t in w.tracks]
        df = pd.DataFrame({"time": pd.to_datetime(sim_s_to_ms(rows.ts), unit="ms", utc=True),
                           "meter": [ids[i] for i in rows.meter], "value": rows.value})
        df = df.merge(meters[["enterprise", "quantity", "kind"]], left_on="meter", right_index=True)
        for q, g in df[df["kind"] == "counter"].groupby("quantity"):
            yield g.rename(columns={"value": q})[["time", "enterprise", "meter", "quantity", q]]


def _lines(df: pd.DataFrame) -> list[str]:
    """Line protocol of a readings frame, serialised as ``InfluxClient.write_frame`` does."""
    from influxdb_client.client.write.dataframe_serializer import data_frame_to_list_of_points
    from influxdb_client.client.write_api import PointSettings

    frame = df.set_index(pd.DatetimeIndex(df["time"])).drop(columns=["time"])
    return data_frame_to_list_of_points(frame, PointSettings(), precision="ms", data_frame_measurement_name=MEAS_READINGS,
                                        data_frame_tag_columns=["enterprise", "meter", "quantity"])


def run(layout: str, first: date, last: date, seed: int, workdir: Path) -> dict:
    import sim_devices
    from ecm.factors import get_factors
    from ecm.history import import_days
    from ecm.influx import InfluxClient, InfluxConfig
    from ecm.pipeline.daily import run_days
    from ecm.registry import get_registry
    from ecm.secrets import load_secrets
    from ecm.services import InfluxService, free_port
    from ecm.stats import MEASUREMENT, stats_to_frame
    from sim_devices.window import monthly_stats_frame

    reg, factors = get_registry(), get_factors()
    state = workdir / layout
    svc = InfluxService(state, f"http://127.0.0.1:{free_port()}", "bench", reg.enterprise_ids)
    svc.start()
    try:
        sec = load_secrets(state)["influx"]
        admin = InfluxClient(InfluxConfig(url=svc.url, db="bench", user=sec["admin"]["user"],
                                          password=sec["admin"]["password"], timeout_s=300))
        client = InfluxClient(InfluxConfig(url=svc.url, db="bench", user=sec["service"]["user"],
                                           password=sec["service"]["password"], timeout_s=300))
        if layout == "before":
            admin.execute('ALTER RETENTION POLICY "autogen" ON "bench" SHARD DURATION 7d', db="bench")
            client.skip_empty_deletes = False
        bodies = [_lines(df) for df in _readings(reg, first, last, seed or sim_devices.DEFAULT_SEED)]
        t_w = time.perf_counter()
        for lines in bodies:
            client.write_lines(lines)
        write_s = time.perf_counter() - t_w
        stats = monthly_stats_frame(reg, f"{first:%Y-%m}", f"{last:%Y-%m}", seed or sim_devices.DEFAULT_SEED)
        client.write_frame(stats_to_frame(stats), MEASUREMENT, ["enterprise"])
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        done: list[tuple[date, float]] = []
        t0 = time.perf_counter()
        tick = lambda d: done.append((d, time.perf_counter() - t0))  # noqa: E731
        if layout == "before":
            run_days(days, client=client, registry=reg, factors=factors, gate="history", progress=tick)
        else:
            import_days(days, client=client, registry=reg, factors=factors, progress=tick)
        done.sort()
        shards = admin.query_frame("SHOW SHARDS", db="bench")
        n_shards = int((shards["database"] == "bench").sum()) if "database" in shards.columns else len(shards)
    finally:
        svc.stop()
    limit = len(days) / write_s
    total = max(t for _, t in done)
    out = {"layout": layout, "days": len(days), "seconds": round(total, 1),
           "days_per_s": round(len(days) / total, 2), "shards": n_shards,
           "limit_direct_write_days_per_s": round(limit, 1),
           "ratio_to_limit": round(len(days) / total / limit, 3), "years": {}}
    prev = 0.0
    per_year: dict[int, list[float]] = {}
    for d, t in done:
        per_year.setdefault(d.year, []).append(t - prev)
        prev = t
    for y, secs in sorted(per_year.items()):
        out["years"][y] = {"days": len(secs), "seconds": round(sum(secs), 1), "days_per_s": round(len(secs) / sum(secs), 2)}
    ys = sorted(out["years"])
    out["last_over_first"] = round(out["years"][ys[-1]]["days_per_s"] / out["years"][ys[0]]["days_per_s"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    from ecm.bench import host_line

    ap = argparse.ArgumentParser(prog="python -m ecm.bench.history", description=__doc__.splitlines()[0])
    ap.add_argument("--first", default="2022-01-01")
    ap.add_argument("--last", default="2025-12-31")
    ap.add_argument("--layout", choices=["before", "after", "both"], default="both")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    first, last = date.fromisoformat(args.first), date.fromisoformat(args.last)
    work = Path(tempfile.mkdtemp(prefix="ecm-bench-history-"))
    try:
        print(host_line(), flush=True)
        results = []
        for layout in (["before", "after"] if args.layout == "both" else [args.layout]):
            r = run(layout, first, last, args.seed, work)
            results.append(r)
            print(json.dumps(r), flush=True)
        if len(results) == 2:
            print(f"speed-up after/before: {results[1]['days_per_s'] / results[0]['days_per_s']:.2f}x overall; "
                  f"last/first year: before {results[0]['last_over_first']}, after {results[1]['last_over_first']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
