"""The nightly (incremental) baselines run writes what the full run writes, on real InfluxDB.

History of a few simulated enterprises (``ecm.bench.baselines.history_frames``: the simulator's
truth as ``line_daily`` and ``kpi_daily``) in its own database; a full run on day D − 1 stores the
CUSUM/detection state, the nightly run on D starts from it, then a full run on D recomputes
everything: the rewritten ``baseline_daily`` days and the day's ``measure_savings`` must be equal.
The nightly run reuses the stored fits and the measures' savings carries and reads only the
rewritten days; a change inside the baseline period is detected and recomputed in full.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ecm.periods import day_bounds_utc

pytestmark = pytest.mark.integration

DB = "ecm_baselines_incr_test"
DAY = date(2024, 9, 30)


def _read(client, measurement: str, first: date, last: date, by: str) -> pd.DataFrame:
    from ecm.influx import time_literal

    s, _ = day_bounds_utc(first)
    _, e = day_bounds_utc(last)
    df = client.query_frame(f"SELECT * FROM {measurement} WHERE time >= {time_literal(s)} AND time < {time_literal(e)} "
                            f"GROUP BY {by}")
    return df.sort_values(["time", *by.split(", ")]).reset_index(drop=True)


def test_nightly_run_equals_full_run(stack):
    import sim_devices
    from ecm.bench.baselines import history_frames
    from ecm.influx import InfluxClient, InfluxConfig
    from ecm.pipeline.baselines import MEAS_BASELINE_STATE, NIGHTLY_REWRITE_DAYS, run_baselines
    from ecm.registry import get_registry

    admin = stack.client("admin")
    admin.execute(f'CREATE DATABASE "{DB}"', db="")
    svc = stack.secrets()["influx"]["service"]
    admin.execute(f'GRANT ALL ON "{DB}" TO "{svc["user"]}"', db="")
    client = InfluxClient(InfluxConfig(url=stack.influx_url, db=DB, user=svc["user"], password=svc["password"],
                                       timeout_s=120))
    reg = sim_devices.select_registry(get_registry(), 12)
    ld, kpi = history_frames(reg, date(2022, 1, 1), DAY, sim_devices.DEFAULT_SEED)

    def timed(df):
        t = pd.to_datetime(df["day_cst"]).dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
        return df.drop(columns=["day_cst"]).assign(time=t.to_numpy())

    for unit, g in ld.groupby("unit"):
        w = g[["day_cst", "enterprise", "line", "energy_tce", "output"]].rename(columns={"output": f"output_{unit}"})
        client.write_frame(timed(w.assign(completeness_frac=1.0)), "line_daily", ["enterprise", "line"])
    client.write_frame(timed(kpi), "kpi_daily", ["enterprise"])
    measures = [m for e in reg.enterprises for m in e.measures if m.date <= DAY]
    assert measures, "the case needs measures with savings"

    prev = run_baselines(DAY - timedelta(days=1), client=client, registry=reg)
    assert not prev["incremental"]           # nothing stored yet: the whole history
    assert not client.query_frame(f"SELECT * FROM {MEAS_BASELINE_STATE}").empty
    first = DAY - timedelta(days=NIGHTLY_REWRITE_DAYS - 1)
    inc = run_baselines(DAY, client=client, registry=reg)
    assert inc["incremental"]
    inc_daily = _read(client, "baseline_daily", first, DAY, "enterprise, scope, line")
    inc_sav = _read(client, "measure_savings", DAY, DAY, "level, enterprise, measure")
    full = run_baselines(DAY, client=client, registry=reg, full=True)
    assert not full["incremental"]
    full_daily = _read(client, "baseline_daily", first, DAY, "enterprise, scope, line")
    full_sav = _read(client, "measure_savings", DAY, DAY, "level, enterprise, measure")
    assert len(inc_daily) == len(full_daily) == NIGHTLY_REWRITE_DAYS * full["scopes"]
    assert full_daily["drift_up"].notna().any() and (full_daily["cusum_tce"].abs() > 0).all()
    for c in ("energy_tce", "expected_tce", "residual_tce", "cusum_tce", "drift_up", "drift_down"):
        np.testing.assert_allclose(inc_daily[c].astype(float), full_daily[c].astype(float), rtol=1e-12, atol=0,
                                   err_msg=c)
    pd.testing.assert_frame_equal(inc_daily, full_daily)
    assert (full_sav["level"] == "measure").sum() == len(measures)
    pd.testing.assert_frame_equal(inc_sav, full_sav)
    # it read only the rewritten days, plus the whole history of the line whose measure started
    # within them (its baseline still has rewritable days): no baseline period, no other history
    lines = reg.lines_frame()
    hist = set()
    for e in reg.enterprises:
        for m in e.measures:
            if first < m.date <= DAY:   # its baseline ends after the stored state's day: no carry
                hist |= {m.line} if m.line else set(lines.index[lines["enterprise"] == e.id])
    assert hist, "the case needs a measure started within the rewritten days"
    n_hist = int(ld[ld["line"].isin(hist) & (pd.to_datetime(ld["day_cst"]).dt.date < first)].shape[0])
    assert inc["line_days_loaded"] == NIGHTLY_REWRITE_DAYS * len(lines) + n_hist
    # the next night continues from the state this full run stored
    nxt = DAY + timedelta(days=1)
    assert run_baselines(nxt, client=client, registry=reg)["incremental"]
    # a re-published day inside the baseline period (2022) changes the fit of its line and
    # enterprise, so every expected day since: the next night sees it and recomputes in full
    line = sorted(lines.index)[0]
    day0 = date(2022, 6, 15)
    row = ld[(ld["line"] == line) & (pd.to_datetime(ld["day_cst"]).dt.date == day0)]
    unit = row["unit"].iloc[0]
    w = row[["day_cst", "enterprise", "line", "energy_tce", "output"]].rename(columns={"output": f"output_{unit}"})
    client.write_frame(timed(w.assign(energy_tce=w["energy_tce"] * 1.3, completeness_frac=1.0)), "line_daily",
                       ["enterprise", "line"])
    after = run_baselines(nxt + timedelta(days=1), client=client, registry=reg)
    assert not after["incremental"] and after["baseline_data_changed"] == 2
    # states older than the kept days are deleted by the next run
    old = pd.DataFrame({"day_cst": [str(DAY - timedelta(days=200))], "scope": ["line"], "scope_id": ["gone"],
                        "inputs_key": ["old"]})
    client.write_frame(timed(old), MEAS_BASELINE_STATE, ["scope", "scope_id"])
    assert not client.query_frame(f"SELECT * FROM {MEAS_BASELINE_STATE} WHERE scope_id = 'gone'").empty
    assert run_baselines(nxt + timedelta(days=2), client=client, registry=reg)["incremental"]
    assert client.query_frame(f"SELECT * FROM {MEAS_BASELINE_STATE} WHERE scope_id = 'gone'").empty
