"""Shared helpers of the ops tests: a private InfluxDB and simulated raw readings written directly."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd


def start_influx(state: Path, db: str, registry, **kw):
    """A private influxd from the Debian package (own state dir, free loopback port)."""
    from ecm.services import InfluxService, free_port

    svc = InfluxService(state, f"http://127.0.0.1:{free_port()}", db, registry.enterprise_ids, **kw)
    svc.start()
    return svc


def client_for(svc, role: str = "service", raw_rp: str = "raw"):
    from ecm.influx import InfluxClient, InfluxConfig
    from ecm.secrets import load_secrets

    creds = load_secrets(svc.state_dir)["influx"][role]
    return InfluxClient(InfluxConfig(url=svc.url, db=svc.db, user=creds["user"], password=creds["password"],
                                     timeout_s=60, retries=2, raw_rp=raw_rp))


def readings_frames(registry, first: date, last: date, seed: int):
    """Raw counter readings of ``registry`` (simulator tracks at each meter's own interval) from the
    day before ``first`` (carry-in) to the midnight closing ``last``, one frame per quantity."""
    from sim_devices.calendar import DAY_S, day_index
    from sim_devices.publisher import rows_between
    from sim_devices.window import build_window, sim_s_to_ms

    t_lo, t_hi = (day_index(first) - 1) * DAY_S, (day_index(last) + 1) * DAY_S + 1
    parts = []
    for w in build_window(registry, first - timedelta(days=1), last, seed):
        rows = rows_between(w.tracks, t_lo, t_hi, None)
        meters = [t.meter for t in w.tracks]
        df = pd.DataFrame({"time": pd.to_datetime(sim_s_to_ms(rows.ts), unit="ms", utc=True),
                           "meter": [meters[i].id for i in rows.meter], "value": rows.value})
        parts.append(df)
    df = pd.concat(parts, ignore_index=True)
    m = registry.meters_frame()
    df = df.merge(m[["enterprise", "quantity", "kind"]], left_on="meter", right_index=True)
    df = df[df["kind"] == "counter"]
    return {q: g.rename(columns={"value": q})[["time", "enterprise", "meter", "quantity", q]]
            for q, g in df.groupby("quantity")}
