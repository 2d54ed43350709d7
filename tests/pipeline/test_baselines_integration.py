"""Baselines, CUSUM and savings on the simulated district against the simulator's ground truth.

The default district from 2022-01-01 to 2026-08-31 (daily registers), with one injected
efficiency drift, goes the real path: simulator → MQTT → ingest → InfluxDB → daily KPIs
(``line_daily``, ``kpi_daily``) → ``ecm.pipeline.baselines`` → InfluxDB. Its own database on the
session's InfluxDB server, so the other pipeline tests' data are untouched.

* every registered measure's estimated savings (read back from ``measure_savings``) has the
  simulator's true avoided energy (counterfactual − actual, main meters × GB/T 2589 coefficients)
  inside its reported 90 % band;
* the drifting line raises ``ecm.baseline.drift`` no later than the days the CUSUM threshold
  implies for the true excess (+ a margin for noise), and not before the drift starts;
* no other scope raises one over the year 2023 (the false-alarm count over the whole span is printed).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ecm.periods import TZ, day_bounds_utc

pytestmark = pytest.mark.integration

DB = "ecm_baselines_test"
FIRST, LAST = date(2022, 1, 1), date(2026, 8, 31)
DRIFT_LINE, DRIFT_RATE, DRIFT_START = "e03_l1", 0.01, date(2024, 1, 1)
DRIFT = f"drift={DRIFT_RATE}@{DRIFT_LINE}:{DRIFT_START.isoformat()}"
# GB/T 2589-2020 Annex A 当量值 coefficients, kgce per unit (independent of config/factors.yaml)
KGCE = {"energy_kwh": 0.1229, "gas_m3": 1.2143, "coal_t": 714.3, "lpg_kg": 1.7143, "diesel_kg": 1.4571,
        "steam_t": 94.1, "heat_gj": 34.12}
NOISE_MARGIN_DAYS = 30


@pytest.fixture(scope="module")
def district(stack):
    """The district in its own database, KPIs computed, baselines run as of LAST."""
    import sim_devices
    from ecm.cli.demo import wait_bridge_ready, wait_landed
    from ecm.pipeline.baselines import run_baselines
    from ecm.pipeline.daily import run_days
    from ecm.registry import get_registry
    from ecm.secrets import load_secrets
    from ecm.settings import reset_settings_cache

    admin = stack.client("admin")
    admin.execute(f'CREATE DATABASE "{DB}"', db="")
    svc = load_secrets(stack.state_dir)["influx"]["service"]["user"]
    admin.execute(f'GRANT ALL ON "{DB}" TO "{svc}"', db="")
    old = os.environ.get("ECM_INFLUX_DB")
    os.environ["ECM_INFLUX_DB"] = DB
    reset_settings_cache()
    try:
        reg = get_registry()
        client = stack.client()
        env = dict(os.environ, ECM_INGEST_MAX_AGE_S=str(20 * 365 * 86400))
        log = open(stack.state_dir / "ingest-baselines.log", "ab")
        bridge = subprocess.Popen([sys.executable, "-m", "ingest"], env=env, stdout=log, stderr=log,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_bridge_ready(stack.state_dir, bridge)
            out = sim_devices.backfill(reg, FIRST, LAST, seed=sim_devices.DEFAULT_SEED, faults=[DRIFT],
                                       interval_s=86400, host=stack.mqtt_host, port=stack.mqtt_port,
                                       state_dir=stack.state_dir, progress=False, publish_stats=False)
            wait_landed(client, day_bounds_utc(FIRST)[0], out["readings"], timeout_s=600)
        finally:
            bridge.send_signal(signal.SIGTERM)
            bridge.wait(60)
        days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
        run_days(days, client=client, registry=reg, gate="history")
        summary = run_baselines(LAST, client=client, registry=reg)
        print(f"\nbaseline step: {summary}")
        yield {"client": client, "registry": reg, "summary": summary}
    finally:
        if old is None:
            os.environ.pop("ECM_INFLUX_DB", None)
        else:
            os.environ["ECM_INFLUX_DB"] = old
        reset_settings_cache()


def _true_savings_tce(reg, faults) -> pd.Series:
    import sim_devices

    t = sim_devices.savings_truth_frame(reg, FIRST, LAST, sim_devices.DEFAULT_SEED, faults=faults)
    t = t[(t["role"] == "main") & t["quantity"].isin(KGCE) & (t["day_cst"] >= t["measure_date"])]
    return ((t["counterfactual"] - t["actual"]) * t["quantity"].map(KGCE) / 1000.0).groupby(t["measure"]).sum()


def test_every_measure_truth_inside_reported_90pct_band(district):
    from sim_devices.faults import FaultConfig

    reg, client = district["registry"], district["client"]
    d0, _ = day_bounds_utc(LAST)
    got = client.query_frame(f"SELECT * FROM measure_savings WHERE time = '{d0.isoformat()}' AND level = 'measure' "
                             "GROUP BY enterprise, measure")
    truth = _true_savings_tce(reg, FaultConfig.parse([DRIFT]))
    ids = {m.id for e in reg.enterprises for m in e.measures}
    assert set(got["measure"]) == ids == set(truth.index)
    got = got.set_index("measure")
    lines = []
    for mid in sorted(ids):
        r = got.loc[mid]
        lines.append(f"{mid:8s} {r['measure_date']} {r['model_kind']:15s} R²={r['r2']:.2f} CV={r['cv_rmse']:.1%} "
                     f"estimate {r['savings_tce']:9.1f} tce, 90% band [{r['low90_tce']:9.1f}, {r['high90_tce']:9.1f}]"
                     f", truth {truth[mid]:9.1f} tce ({r['days']:.0f} days)")
    print("\n" + "\n".join(lines))
    outside = [mid for mid in ids if not got.loc[mid, "low90_tce"] <= truth[mid] <= got.loc[mid, "high90_tce"]]
    assert not outside, "\n".join(lines)
    assert (got["significant"] == 1).all(), got[["savings_tce", "u68_tce"]]
    # the district roll-up is the sum of the measures
    dist = client.query_frame(f"SELECT savings_tce, savings_co2_t FROM measure_savings WHERE time = '{d0.isoformat()}' "
                              "AND level = 'district'")
    assert dist["savings_tce"].iloc[0] == pytest.approx(got["savings_tce"].sum())
    assert dist["savings_co2_t"].iloc[0] > 0


def _baseline_daily(client, scope: str) -> pd.DataFrame:
    df = client.query_frame(f"SELECT energy_tce, expected_tce, cusum_tce, drift_alarm FROM baseline_daily "
                            f"WHERE scope = '{scope}' GROUP BY enterprise, scope, line" if scope == "line" else
                            f"SELECT energy_tce, expected_tce, cusum_tce, drift_alarm FROM baseline_daily "
                            f"WHERE scope = '{scope}' GROUP BY enterprise, scope")
    df["day"] = df["time"].dt.tz_convert(TZ).dt.date
    df["scope_id"] = df["line"] if scope == "line" else df["enterprise"]
    return df


def test_drift_detected_within_implied_days_and_no_false_alarms(district):
    import sim_devices
    from ecm.accounting.baselines import drift_detection_days
    from sim_devices.faults import FaultConfig

    reg, client = district["registry"], district["client"]
    daily = pd.concat([_baseline_daily(client, "line"), _baseline_daily(client, "enterprise")], ignore_index=True)
    models = client.query_frame("SELECT sigma_long_tce, model_kind FROM baseline_model WHERE purpose = 'enpi' "
                                "GROUP BY enterprise, scope, line")
    alarms = daily[daily["drift_alarm"] == 1]
    drifting = alarms[alarms["scope_id"].isin([DRIFT_LINE, "e03"])]
    others = alarms[~alarms["scope_id"].isin([DRIFT_LINE, "e03"])]

    # the excess the drift adds, from the truth with and without it (e03 has one line: main meters)
    first = DRIFT_START
    t0 = sim_devices.truth_frame(reg, first, LAST, sim_devices.DEFAULT_SEED)
    t1 = sim_devices.truth_frame(reg, first, LAST, sim_devices.DEFAULT_SEED, faults=FaultConfig.parse([DRIFT]))

    def tce(t):
        t = t[(t["enterprise"] == "e03") & (t["role"] == "main") & t["quantity"].isin(KGCE)]
        return (t["amount"] * t["quantity"].map(KGCE) / 1000.0).groupby(t["day_cst"]).sum()

    excess = (tce(t1) - tce(t0)).sort_index().to_numpy()
    sigma = models.loc[models["line"] == DRIFT_LINE, "sigma_long_tce"].iloc[0]
    implied = drift_detection_days(excess, sigma)
    line_alarms = drifting[drifting["scope_id"] == DRIFT_LINE].sort_values("day")
    first_alarm = line_alarms["day"].iloc[0] if len(line_alarms) else None
    took = (first_alarm - DRIFT_START).days + 1 if first_alarm else None
    n_2023 = int((others["day"] < date(2024, 1, 1)).sum())
    print(f"\ndrift {DRIFT_RATE:.0%}/month on {DRIFT_LINE} from {DRIFT_START}: σ_L = {sigma:.2f} tce/day, threshold "
          f"implies {implied} days; first alarm {first_alarm} after {took} days; e03 enterprise scope alarms "
          f"{sorted(drifting.loc[drifting['scope_id'] == 'e03', 'day'].astype(str))[:3]}")
    print(f"false alarms (no-drift scopes): {n_2023} in 2023, {len(others)} over 2023-01-01..{LAST} "
          f"({others[['scope_id', 'day']].astype(str).values.tolist()})")
    assert implied is not None
    assert first_alarm is not None and first_alarm >= DRIFT_START
    assert took <= implied + NOISE_MARGIN_DAYS, (took, implied)
    assert n_2023 == 0, others


def test_cusum_is_cumulative_residual_from_the_baseline_end(district):
    daily = _baseline_daily(district["client"], "line")
    g = daily[daily["scope_id"] == "e10_l1"].sort_values("day")
    after = g[g["day"] > date(2022, 12, 31)]
    assert g.loc[g["day"] <= date(2022, 12, 31), "cusum_tce"].isna().all()
    np.testing.assert_allclose(after["cusum_tce"], np.cumsum(after["energy_tce"] - after["expected_tce"]), rtol=1e-6,
                               atol=1e-6)
