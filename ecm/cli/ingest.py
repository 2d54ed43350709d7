"""`ecm ingest run|status`: the MQTT → InfluxDB bridge (see ingest/README.md)."""
from __future__ import annotations

import json
import time

import click

from ecm.cli.common import echo_json, handle_errors


@click.group("ingest")
def ingest() -> None:
    """MQTT → InfluxDB bridge: at-least-once, idempotent, quarantines bad input."""


@ingest.command("run")
@click.option("--workers", type=int, default=None, help="Worker processes sharing $share/ingest (default ECM_INGEST_WORKERS).")
@handle_errors
def run_(workers: int | None) -> None:
    """Run the bridge in the foreground until SIGTERM/Ctrl-C (flushes, acks, keeps the session)."""
    import ingest as bridge

    bridge.run(workers)


@ingest.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def status(as_json: bool) -> None:
    """Latest figures of each worker (health files; ingest_stats when there are none). Exit 1 when
    no worker reported in the last 30 s or a spool is near full."""
    from ecm.settings import get_settings

    files = sorted((get_settings().state_path / "ingest").glob("health-*.json"))
    docs = []
    for f in files:
        try:
            docs.append(json.loads(f.read_text()))
        except (OSError, ValueError):
            continue
    if not docs:
        from ecm.influx import InfluxClient

        from ecm.schema import MEAS_INGEST_STATS

        df = InfluxClient.from_settings().query_frame(f"SELECT last(*) FROM {MEAS_INGEST_STATS} GROUP BY worker")
        if df.empty:
            click.echo("no ingest worker has reported yet (start one with `ecm ingest run`)", err=True)
            raise SystemExit(1)
        docs = [{"worker": r["worker"], "stats": {k.removeprefix("last_"): v for k, v in r.items()
                                                  if k.startswith("last_")}, "source": MEAS_INGEST_STATS}
                for r in df.to_dict("records")]
    now_ms = int(time.time() * 1000)
    ok = True
    for d in docs:
        d["age_s"] = round((now_ms - d.get("time_ms", 0)) / 1000, 1) if "time_ms" in d else None
        live = d.get("age_s") is not None and d["age_s"] < 30 and not d.get("stopped")
        d["ok"] = bool(live and d.get("connected") and not d["stats"].get("spool_alarm"))
        ok &= d["ok"]
    if as_json:
        echo_json(docs)
    else:
        for d in docs:
            s = d["stats"]
            click.echo(f"{d['worker']:12s} {'ok ' if d['ok'] else 'BAD'} age={d.get('age_s')}s "
                       f"connected={d.get('connected')} msgs_in={s.get('messages_in', 0)} "
                       f"acked={s.get('messages_acked', 0)} points={s.get('points_written', 0)} "
                       f"rejects={s.get('rejects_total', 0)} spool_bytes={s.get('spool_bytes', 0)} "
                       f"influx_up={s.get('influx_up')} e2e_p99_ms={s.get('e2e_latency_p99_ms')}")
            for dev, v in (d.get("devices") or {}).items():
                click.echo(f"    device {dev}: {v['state']} (last seen {v['last_seen_ms']})")
    if not ok:
        raise SystemExit(1)


COMMANDS = [ingest]
