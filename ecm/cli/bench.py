"""`ecm bench ...`: performance benchmarks on throwaway servers.

The ``bench`` group is shared: to add a benchmark, define ``@bench.command("name")`` in this file,
or in another ``ecm/cli`` module do ``from ecm.cli.bench import bench`` and decorate with
``@bench.command(...)`` (that module need not list ``bench`` in its own COMMANDS).
"""
from __future__ import annotations

import click

from ecm.cli.common import echo_json, handle_errors


@click.group("bench")
def bench() -> None:
    """Benchmarks that start their own servers on free ports (never the operator's data)."""


@bench.command("ingest")
@click.option("--quick", is_flag=True, help="A quarter of the message counts (about 1 minute).")
@click.option("--workers", "workers", default="1,2", show_default=True, help="Comma-separated worker counts to run.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON at the end.")
@click.option("--keep", is_flag=True, help="Keep the temp state dir (logs) after the run.")
@handle_errors
def ingest_(quick: bool, workers: str, as_json: bool, keep: bool) -> None:
    """End-to-end MQTT → InfluxDB throughput and latency, as ratios of broker and InfluxDB limits."""
    from ingest.bench import run_bench

    res = run_bench(quick=quick, workers_list=tuple(int(w) for w in workers.split(",")), keep=keep,
                    echo=click.echo)
    if as_json:
        echo_json(res)


COMMANDS = [bench]
