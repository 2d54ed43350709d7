"""`ecm gateway check|run|status` and `ecm bench gateway`: the edge gateway (see gateway/README.md)."""
from __future__ import annotations

import json
import time

import click

from ecm.cli.bench import bench
from ecm.cli.common import echo_json, handle_errors

config_option = click.option("--config", "config", required=True, type=click.Path(dir_okay=False),
                             help="Site config gateway.yaml.")


@click.group("gateway")
def gateway() -> None:
    """Edge gateway: Modbus, DL/T 645-2007 and OPC UA meters → the MQTT contract, store and forward."""


@gateway.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON rows.")
@handle_errors
def check_(config: str, as_json: bool) -> None:
    """Validate the config, read every device once and print values, units and quality (commissioning).
    Exit 1 when any published point could not be read."""
    from gateway.config import load_config
    from gateway.service import check

    site = load_config(config)
    rows = check(site)
    if as_json:
        echo_json(rows)
    else:
        click.echo(f"{'device':16s} {'point':20s} {'meter':22s} {'value':>16s} {'unit':6s} quality")
        for r in rows:
            v = "" if r["value"] is None else f"{r['value']:.6g}" if abs(r["value"]) < 1e6 else f"{r['value']:.2f}"
            q = r["quality"] + (f" ({r['error']})" if r["error"] else "")
            click.echo(f"{r['device']:16s} {r['point']:20s} {r['meter'] or '-':22s} {v:>16s} {r['unit']:6s} {q}")
    if any(r["meter"] and r["quality"] != "good" for r in rows):
        raise SystemExit(1)


@gateway.command("run")
@config_option
@handle_errors
def run_(config: str) -> None:
    """Run the gateway in the foreground until SIGTERM/Ctrl-C (in-flight messages are awaited; the
    queue on disk keeps the rest)."""
    from ecm.settings import get_settings
    from gateway.service import run, setup_logging

    setup_logging(get_settings().log_level)
    run(config)


@gateway.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the health JSON.")
@handle_errors
def status_(config: str, as_json: bool) -> None:
    """The running gateway's health file: connection, queue, drops, devices. Exit 1 when stale (> 30 s),
    disconnected or a device is offline."""
    from gateway.config import load_config

    site = load_config(config)
    try:
        h = json.loads(site.health_path.read_text())
    except (OSError, ValueError):
        click.echo(f"error: no health file at {site.health_path} (is `ecm gateway run` running?)", err=True)
        raise SystemExit(1) from None
    age = (time.time() * 1000 - h["time_ms"]) / 1000
    offline = [d for d, s in h["devices"].items() if s["state"] != "online"]
    ok = age < 30 and h["connected"] and not offline
    if as_json:
        echo_json({**h, "age_s": round(age, 1), "ok": ok})
    else:
        q = h["queue"]
        click.echo(f"{h['gateway']} {'ok' if ok else 'BAD'} age={age:.1f}s connected={h['connected']} "
                   f"pending={q['pending']} dropped={q['dropped']} acked={q['acked']} "
                   f"disk={q['used_bytes'] / 1e6:.1f}/{q['max_bytes'] / 1e6:.1f} MB clock_skew_s={h['clock_skew_s']}")
        for d, s in h["devices"].items():
            click.echo(f"    {d}: {s['state']} ok={s['reads_ok']} failed={s['reads_failed']}"
                       + (f" last error: {s['last_error']}" if s["last_error"] else ""))
    if not ok:
        raise SystemExit(1)


@bench.command("gateway")
@click.option("--devices", default=200, show_default=True, help="Emulated Modbus devices.")
@click.option("--interval", "interval_s", default=10.0, show_default=True, help="Poll interval, s.")
@click.option("--duration", "duration_s", default=60.0, show_default=True, help="Polling phase length, s.")
@click.option("--backlog-hours", default=1.0, show_default=True, help="Backlog to drain, hours of all devices.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON at the end.")
@handle_errors
def bench_gateway(devices: int, interval_s: float, duration_s: float, backlog_hours: float, as_json: bool) -> None:
    """CPU share of one core while polling N emulated Modbus devices, and the drain time of a backlog
    through a real broker and ingest bridge (throwaway servers)."""
    from gateway.bench import run_bench

    res = run_bench(devices=devices, interval_s=interval_s, duration_s=duration_s,
                    backlog_hours=backlog_hours, echo=click.echo)
    if as_json:
        echo_json(res)


COMMANDS = [gateway]
