"""`ecm bench <name>`: every performance benchmark, each on its own throwaway servers.

The code lives in ``ecm.bench`` (imported only from here); to add a benchmark, add a module there
and a ``@bench.command`` here.
"""
from __future__ import annotations

from pathlib import Path

import click

from ecm.cli.common import echo_json, handle_errors


@click.group("bench")
def bench() -> None:
    """Benchmarks that start their own servers on free ports (never the operator's data)."""
    import signal
    import sys

    # SIGTERM (a timeout, a supervisor) unwinds like Ctrl-C: every benchmark's `finally` stops its
    # servers and removes its temp dir, secrets included
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


@bench.command("ingest")
@click.option("--quick", is_flag=True, help="A quarter of the message counts (about 2 minutes).")
@click.option("--workers", "workers", default="1,2", show_default=True, help="Comma-separated worker counts to run.")
@click.option("--backlog", default=200_000, show_default=True, help="Messages queued before the bridge starts (0: skip).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON at the end.")
@handle_errors
def ingest_(quick: bool, workers: str, backlog: int, as_json: bool) -> None:
    """MQTT → InfluxDB bridge throughput, latency and memory, as ratios of this run's broker and InfluxDB limits."""
    from ecm.bench.ingest import run_bench

    res = run_bench(quick=quick, workers_list=tuple(int(w) for w in workers.split(",")), backlog=backlog,
                    echo=click.echo)
    if as_json:
        echo_json(res)


@bench.command("nightly")
@click.option("--enterprises", "n_ent", default=200, show_default=True)
@click.option("--meters", "n_meters", default=25, show_default=True, help="Meters per enterprise.")
@click.option("--day", default="2026-03-10", show_default=True, help="Beijing day to simulate.")
@click.option("--interval-s", default=60, show_default=True, help="Reading interval of every meter.")
@click.option("--keep-state", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the seeded servers' state here; a later run with the same directory and shape "
                   "reuses it and skips the seeding (profiling iterations).")
@click.option("--seed", "seed", type=click.Choice(["mqtt", "direct", "hourly"]), default="mqtt",
              show_default=True,
              help="How the day's readings land: the real path (sim → MQTT → ingest); direct /write to "
                   "InfluxDB (city scale, where MQTT seeding would take hours); or hourly: meter_hourly "
                   "computed in-process by the hourly rollup's functions, raw readings only for the last "
                   "2 hours, rolled up from raw by ecm_hourly_rollup's dag.test (one production hour, timed).")
@click.option("--chunk-enterprises", type=int, default=None,
              help="Enterprises per mapped task of the daily DAG (default 50).")
@click.option("--rollups", type=click.Choice(["hourly", "day", "nightly"]), default="day", show_default=True,
              help="Before the nightly DAGs: hourly = the day's 24 hourly-DAG rollups (as through the day); "
                   "day = the day's hours in one pass; nightly = none (the daily DAG's rollup_hours task "
                   "rolls up every hour lacking one, inside the nightly figure).")
@click.option("--dags", default=None, help="Comma-separated nightly DAGs to run (default: all four, in asset order).")
@handle_errors
def nightly(n_ent: int, n_meters: int, day: str, interval_s: int, keep_state: Path | None, seed: str,
            chunk_enterprises: int | None, rollups: str, dags: str | None) -> None:
    """Nightly run (hourly rollups, then every nightly DAG through dag.test) for N enterprises × M
    meters at 1-minute data: time, peak memory per task, ratios to the 60 s / 1 GB targets."""
    from ecm.bench.nightly import run_nightly

    echo_json(run_nightly(n_ent, n_meters, day, interval_s, echo=lambda m: click.echo(m, err=True),
                          keep_state=keep_state, seed=seed, chunk_enterprises=chunk_enterprises,
                          rollups=rollups, dags=tuple(dags.split(",")) if dags else None))


@bench.command("lineproto")
@click.option("--rows", default=1_000_000, show_default=True)
@handle_errors
def lineproto(rows: int) -> None:
    """Line protocol of a readings frame: ecm.lineproto against influxdb_client's DataFrame serializer."""
    from ecm.bench.lineproto import run_lineproto

    echo_json(run_lineproto(rows, echo=lambda m: click.echo(m, err=True)))


@bench.command("sim")
@click.option("--backfill-enterprises", type=int, default=50, show_default=True)
@click.option("--days", type=int, default=30, show_default=True)
@click.option("--interval-s", type=int, default=900, show_default=True, help="Backfill resolution, seconds.")
@click.option("--rt-enterprises", type=int, default=200, show_default=True)
@click.option("--rt-meters", type=int, default=25, show_default=True, help="Meters per enterprise (real time, 60 s).")
@click.option("--rt-minutes", type=int, default=10, show_default=True, help="Simulated minutes of the real-time test.")
@handle_errors
def sim_(backfill_enterprises, days, interval_s, rt_enterprises, rt_meters, rt_minutes) -> None:
    """Simulator backfill readings/s and real-time CPU per simulated minute (private broker)."""
    from ecm.bench.sim import bench as sim_bench
    from ecm.registry import get_registry

    echo_json(sim_bench(get_registry(), backfill_enterprises=backfill_enterprises, days=days, interval_s=interval_s,
                        rt_enterprises=rt_enterprises, rt_meters=rt_meters, rt_minutes=rt_minutes))


@bench.command("report")
@click.option("--enterprises", "n", type=int, default=200, show_default=True, help="Synthetic enterprises.")
@click.option("--documents", type=click.Choice(["all", "district"]), default="all", show_default=True,
              help="all: the district document and one per enterprise, as the nightly DAG renders; "
                   "district: the district document alone.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the rendered report here (default: a temp folder, removed).")
@handle_errors
def report_(n: int, documents: str, out_dir: Path | None) -> None:
    """Render the nightly report set of N synthetic enterprises (N + 1 documents by default) and print
    seconds, documents/s, CPU seconds and the ratio to the report's 20 s share of the 60 s nightly run."""
    from ecm.bench import host_line
    from ecm.bench.report import NIGHTLY_TARGET_S, REPORT_SHARE_S, run_bench

    click.echo(host_line())
    r = run_bench(n, out_dir, documents=documents)
    la = " ".join(map(str, r["host_after"]["loadavg"]))
    click.echo(f"report, {n} enterprises, {r['documents']} documents ({documents}), {r['workers']} workers: "
               f"{r['seconds']:.1f} s (models {r['models_s']:.1f} s, publish {r['publish_s']:.1f} s), "
               f"{r['documents_per_s']:.1f} documents/s, CPU {r['cpu_s']:.1f} s")
    click.echo(f"ratio: {r['ratio_to_report_share']:.2f} × the {REPORT_SHARE_S:.0f} s report share, "
               f"{r['ratio_to_nightly_target']:.2f} × the {NIGHTLY_TARGET_S:.0f} s nightly target; "
               f"load average after {la}")


@bench.command("quality")
@handle_errors
def quality_() -> None:
    """GX suites over one synthetic default-district day: seconds per step (goal < 10 s)."""
    from ecm.bench import host_line
    from ecm.bench.quality import bench as quality_bench

    click.echo(host_line())
    for k, v in quality_bench().items():
        click.echo(f"{k:>24}: {v:.3f}" if not k.startswith("n_") else f"{k:>24}: {int(v)}")


@bench.command("baselines")
@click.option("--enterprises", "n_ent", type=int, default=200, show_default=True, help="Simulated enterprises.")
@click.option("--day", default="2026-03-10", show_default=True, help="Beijing day of the nightly run (history from 2022-01-01).")
@handle_errors
def baselines_(n_ent: int, day: str) -> None:
    """One nightly baselines step (baselines, CUSUM, savings) over the history of N enterprises (budget 10 s)."""
    from ecm.bench.baselines import run_bench

    echo_json(run_bench(n_ent, day, echo=lambda m: click.echo(m, err=True)))


@bench.command("history")
@click.option("--first", default="2022-01-01", show_default=True, help="First Beijing day of the imported history.")
@click.option("--last", default="2025-12-31", show_default=True, help="Last Beijing day of the imported history.")
@click.option("--layout", type=click.Choice(["before", "after", "both"]), default="both", show_default=True,
              help="before: 7-day shards, DELETE always, a month per pass; after: ecm.retention, ecm.history.")
@handle_errors
def history_(first: str, last: str, layout: str) -> None:
    """The demo's history import: days/s per year (first vs last: flat = 1.0) and the ratio to a direct /write."""
    from ecm.bench.history import main

    main(["--first", first, "--last", last, "--layout", layout])


COMMANDS = [bench]
