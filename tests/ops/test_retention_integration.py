"""Retention (ecm.retention): raw readings expire, rollups and derived measurements stay, and an
old month's KPIs recomputed from ``meter_hourly`` equal the ones computed from raw readings.

A private influxd with a 1 s retention check: readings of three simulated enterprises for two
days of March 2023 go to the ``raw`` policy, the pipeline rolls them up and computes daily and
month-to-date KPIs; then the raw policy is shortened to one hour, the server drops the 2023
shards, and the same days are recomputed with ``meter_day_from_hourly``.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from tests.ops.helpers import client_for, readings_frames, start_influx

pytestmark = pytest.mark.integration
FIRST, LAST = date(2023, 3, 1), date(2023, 3, 2)


def _kpi_monthly(client) -> pd.DataFrame:
    df = client.query_frame("SELECT * FROM kpi_monthly GROUP BY enterprise")
    return df.sort_values("enterprise").reset_index(drop=True)


def _kpi_daily(client) -> pd.DataFrame:
    df = client.query_frame("SELECT energy_tce, co2_t, completeness_frac, data_status FROM kpi_daily GROUP BY enterprise")
    return df.sort_values(["enterprise", "time"]).reset_index(drop=True)


def test_policies_and_shard_durations(tmp_path):
    from ecm.registry import get_registry
    from ecm.retention import show_retention

    reg = get_registry()
    svc = start_influx(tmp_path, "rp_test", reg, raw_retention_days=400)
    try:
        rp = show_retention(client_for(svc, "admin"), "rp_test").set_index("name")
        assert rp.loc["autogen", "duration"] == "0s" and bool(rp.loc["autogen", "default"])   # INF
        assert rp.loc["autogen", "shardGroupDuration"] == f"{52 * 7 * 24}h0m0s"
        assert rp.loc["raw", "duration"] == f"{400 * 24}h0m0s" and not bool(rp.loc["raw", "default"])
        assert rp.loc["raw", "shardGroupDuration"] == f"{30 * 24}h0m0s"
        svc.raw_retention_days = 90            # a changed setting is applied at the next start
        svc.bootstrap()
        rp = show_retention(client_for(svc, "admin"), "rp_test").set_index("name")
        assert rp.loc["raw", "duration"] == f"{90 * 24}h0m0s"
    finally:
        svc.stop()


def test_old_month_recomputed_from_rollups_after_raw_expired(tmp_path):
    import sim_devices
    from ecm.factors import get_factors
    from ecm.influx import quote_ident
    from ecm.periods import day_bounds_utc
    from ecm.pipeline.daily import apply_status, compute_day, write_day
    from ecm.pipeline.hourly import rollup_range
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.pipeline.rollup_source import meter_day_from_hourly, meter_days_for
    from ecm.registry import get_registry
    from ecm.stats import MEASUREMENT, stats_to_frame
    from sim_devices.window import monthly_stats_frame, select_registry

    reg = select_registry(get_registry(), 3)
    factors = get_factors()
    # long enough to accept 2023 points (a write older than the retention is refused: "points beyond
    # retention policy dropped"), then shortened
    svc = start_influx(tmp_path, "rp_drill", reg, raw_retention_days=3650, retention_check_interval="1s")
    try:
        client, admin = client_for(svc), client_for(svc, "admin")
        for q, df in readings_frames(reg, FIRST, LAST, sim_devices.DEFAULT_SEED).items():
            client.write_frame(df, "readings", ["enterprise", "meter", "quantity"])
        client.write_frame(stats_to_frame(monthly_stats_frame(reg, "2023-02", "2023-03", sim_devices.DEFAULT_SEED)),
                           MEASUREMENT, ["enterprise"])
        n_raw = int(client.query_frame(f"SELECT count(energy_kwh) FROM {client.readings_from}")["count"].iloc[0])
        assert n_raw > 1000
        # nothing raw in the default policy: the routing put every reading in "raw"
        assert client.query_frame("SELECT count(energy_kwh) FROM readings").empty

        def month(meter_days=None):
            frames = compute_day(client, reg, factors, FIRST, LAST, gate_readings=False, meter_days=meter_days)
            apply_status(frames)
            write_day(client, frames)
            compute_monthly_compliance(LAST.isoformat(), client=client, registry=reg, factors=factors)
            return _kpi_daily(client), _kpi_monthly(client)

        s, _ = day_bounds_utc(FIRST)
        _, e = day_bounds_utc(LAST)
        rollup_range(client, reg, s, e)
        daily_raw, monthly_raw = month()
        assert len(monthly_raw) == 3 + 1   # 3 firms + district (withheld: no 2022 base in this DB)
        assert monthly_raw.loc[monthly_raw["enterprise"] != "_district", "energy_tce"].notna().all()
        assert (daily_raw["data_status"] == "ok").all()

        # raw retention shortened: the server drops the 2023 raw shards at its next check
        admin.execute(f"ALTER RETENTION POLICY raw ON {quote_ident('rp_drill')} DURATION 1h SHARD DURATION 1h")
        import time
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not client.query_frame(f"SELECT count(energy_kwh) FROM {client.readings_from}").empty:
            time.sleep(0.5)
        assert client.query_frame(f"SELECT count(energy_kwh) FROM {client.readings_from}").empty, "raw not expired"
        assert len(client.query_frame("SELECT count(n_intervals) FROM meter_hourly"))   # rollups kept

        assert meter_days_for(FIRST, 400, today=FIRST + timedelta(days=500)) is meter_day_from_hourly
        assert meter_days_for(FIRST, 400, today=FIRST + timedelta(days=10)) is None
        daily_h, monthly_h = month(meter_day_from_hourly)
        pd.testing.assert_frame_equal(daily_h.drop(columns=["data_status"]), daily_raw.drop(columns=["data_status"]),
                                      check_exact=False, rtol=1e-9)
        assert daily_h["data_status"].tolist() == daily_raw["data_status"].tolist()
        num = [c for c in monthly_raw.columns if pd.api.types.is_numeric_dtype(monthly_raw[c])]
        pd.testing.assert_frame_equal(monthly_h[num], monthly_raw[num], check_exact=False, rtol=1e-9)
        other = [c for c in monthly_raw.columns if c not in num]
        pd.testing.assert_frame_equal(monthly_h[other], monthly_raw[other])

    finally:
        svc.stop()
