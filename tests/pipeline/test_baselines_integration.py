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
* no scope without drift raises one over 2023-01-01..2026-08-31 (the simulated plants that age
  1-1.2 %/yr really drift; their alarms are printed as detections).
"""
from __future__ import annotations

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
    from ecm.influx import InfluxClient, InfluxConfig
    from ecm.pipeline.baselines import run_baselines
    from ecm.pipeline.daily import run_days
    from ecm.registry import get_registry
    from ecm.stack import wait_landed

    admin = stack.client("admin")
    admin.execute(f'CREATE DATABASE "{DB}"', db="")
    svc = stack.secrets()["influx"]["service"]
    admin.execute(f'GRANT ALL ON "{DB}" TO "{svc["user"]}"', db="")
    client = InfluxClient(InfluxConfig(url=stack.influx_url, db=DB, user=svc["user"], password=svc["password"],
                                       timeout_s=120))
    reg = get_registry()
    bridge = stack.bridge(log=stack.state_dir / "ingest-baselines.log", ECM_INFLUX_DB=DB,
                          ECM_INGEST_MAX_AGE_S=str(20 * 365 * 86400))
    try:
        out = sim_devices.backfill(reg, FIRST, LAST, seed=sim_devices.DEFAULT_SEED, faults=[DRIFT],
                                   interval_s=86400, host=stack.mqtt_host, port=stack.mqtt_port,
                                   state_dir=stack.state_dir, progress=False, publish_stats=False)
        wait_landed(client, day_bounds_utc(FIRST)[0], out["readings"], timeout_s=900)
    finally:
        bridge.stop()
    days = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    run_days(days, client=client, registry=reg, gate="history")
    summary = run_baselines(LAST, client=client, registry=reg, full=True)
    print(f"\nbaseline step: {summary}")
    return {"client": client, "registry": reg, "summary": summary}


def _true_savings_tce(reg, faults, periods: dict) -> pd.Series:
    """Σ (counterfactual − actual) × coefficient of main meters over each measure's reporting period."""
    import sim_devices

    t = sim_devices.savings_truth_frame(reg, FIRST, LAST, sim_devices.DEFAULT_SEED, faults=faults)
    t = t[(t["role"] == "main") & t["quantity"].isin(KGCE)]
    lo = t["measure"].map({k: v[0] for k, v in periods.items()})
    hi = t["measure"].map({k: v[1] for k, v in periods.items()})
    t = t[(t["day_cst"] >= lo) & (t["day_cst"] <= hi)]
    return ((t["counterfactual"] - t["actual"]) * t["quantity"].map(KGCE) / 1000.0).groupby(t["measure"]).sum()


def test_every_measure_truth_inside_reported_90pct_band(district):
    from sim_devices.faults import FaultConfig

    reg, client = district["registry"], district["client"]
    d0, _ = day_bounds_utc(LAST)
    got = client.query_frame(f"SELECT * FROM measure_savings WHERE time = '{d0.isoformat()}' AND level = 'measure' "
                             "GROUP BY enterprise, measure")
    ids = {m.id for e in reg.enterprises for m in e.measures}
    assert set(got["measure"]) == ids
    got = got.set_index("measure")
    periods = {m: (got.loc[m, "reporting_start"], got.loc[m, "reporting_end"]) for m in ids}
    truth = _true_savings_tce(reg, FaultConfig.parse([DRIFT]), periods)
    lines = []
    for mid in sorted(ids, key=lambda m: got.loc[m, "reporting_start"]):
        r = got.loc[mid]
        lines.append(f"{mid:7s} {r['reporting_start']}..{r['reporting_end']} {r['model_kind']} R²={r['r2']:.2f} "
                     f"trend {r['trend_per_year']:+.2%}/yr: estimate {r['savings_tce']:8.1f} tce, 90% band "
                     f"[{r['low90_tce']:8.1f}, {r['high90_tce']:8.1f}], truth {truth[mid]:8.1f} tce, "
                     f"significant={int(r['significant'])}")
    print("\n" + "\n".join(lines))
    outside = [mid for mid in ids if not got.loc[mid, "low90_tce"] <= truth[mid] <= got.loc[mid, "high90_tce"]]
    assert not outside, "\n".join(lines)
    # e04's first measure ends where its second begins; e02's ageing (1 %/yr) is found and extrapolated
    assert got.loc["e04_r1", "reporting_end"] == "2024-08-31"
    assert got.loc["e02_r1", "trend_per_year"] == pytest.approx(0.01, abs=0.004)
    assert (got.drop(index="e02_r1")["trend_per_year"] == 0).all()
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
    # lines whose simulated plant ages (aging_per_year > 0: e02, e07, e13) really drift; an alarm
    # there is a detection, not a false alarm
    from sim_devices.fleet import enterprise_config

    ageing = {e for e in reg.enterprise_ids if enterprise_config(e).get("aging_per_year", 0) > 0}
    aged = alarms[alarms["enterprise"].isin(ageing)]
    others = alarms[~alarms["scope_id"].isin([DRIFT_LINE, "e03"]) & ~alarms["enterprise"].isin(ageing)]

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
    print(f"\nageing plants {sorted(ageing)} (1-1.2 %/yr): alarms "
          f"{aged[['scope_id', 'day']].astype(str).values.tolist()}")
    print(f"\ndrift {DRIFT_RATE:.0%}/month on {DRIFT_LINE} from {DRIFT_START}: σ_L = {sigma:.2f} tce/day, threshold "
          f"implies {implied} days; first alarm {first_alarm} after {took} days; e03 enterprise scope alarms "
          f"{sorted(drifting.loc[drifting['scope_id'] == 'e03', 'day'].astype(str))[:3]}")
    print(f"false alarms (no-drift scopes): {n_2023} in 2023, {len(others)} over 2023-01-01..{LAST} "
          f"({others[['scope_id', 'day']].astype(str).values.tolist()})")
    assert implied is not None
    assert first_alarm is not None and first_alarm >= DRIFT_START
    assert took <= implied + NOISE_MARGIN_DAYS, (took, implied)
    assert n_2023 == 0, others
    assert len(others) == 0, others   # none on drift-free lines over 2023-01-01..2026-08-31 either


def test_cusum_is_cumulative_residual_from_the_baseline_end(district):
    daily = _baseline_daily(district["client"], "line")
    g = daily[daily["scope_id"] == "e10_l1"].sort_values("day")
    after = g[g["day"] > date(2022, 12, 31)]
    assert g.loc[g["day"] <= date(2022, 12, 31), "cusum_tce"].isna().all()
    np.testing.assert_allclose(after["cusum_tce"], np.cumsum(after["energy_tce"] - after["expected_tce"]), rtol=1e-6,
                               atol=1e-6)


def test_board_panel_queries_return_the_stored_figures(district):
    """Every panel query of dashboards/baselines_panels.py, macros filled in as Grafana does."""
    from dashboards.baselines_panels import panels, queries

    client = district["client"]
    s, _ = day_bounds_utc(date(2024, 1, 1))
    _, e = day_bounds_utc(LAST)
    fill = {"$timeFilter": f"time >= {int(s.timestamp() * 1000)}ms and time <= {int(e.timestamp() * 1000)}ms",
            "$__interval": "1d", "$enterprise": "e04"}
    out = {}
    for name, q in queries().items():
        for k, v in fill.items():
            q = q.replace(k, v)
        out[name] = client.query_frame(q.replace("=~ /^e04$/", "= 'e04'"))
    assert set(out["actual"]["line"]) == {"e04_l1"} and len(out["actual"]) == len(out["expected"]) > 900
    sav = out["savings"].set_index("measure")
    assert set(sav.index) == {"e04_r1", "e04_r2"} and (sav["low90"] < sav["savings_tce"]).all()
    assert out["cusum"]["cusum"].notna().all()
    assert [p["title"].split(" / ")[0] for p in panels()] == ["产线能耗 实际 vs 基线预期", "累积偏差 CUSUM（实际 − 预期）",
                                                               "节能措施核定节能量（90% 区间）"]


def test_report_annex_lists_every_measure_with_its_band(district):
    from ecm.report.baselines_annex import annex_model, load_annex_data, render_annex_html

    data = load_annex_data(district["client"], LAST, alarm_days=1000)
    model = annex_model(data)
    html = render_annex_html(model)
    ids = {m.id for e in district["registry"].enterprises for m in e.measures}
    assert {r["measure"] for r in model["measures"]} == ids
    assert all(r["measure"] in html for r in model["measures"])
    assert "全区合计 district total" in html and "吨标准煤 tce" in html
    assert any(a["id"] == DRIFT_LINE for a in model["alarms"])
    row = next(r for r in model["measures"] if r["measure"] == "e02_r1")
    got = data["savings"].set_index("measure").loc["e02_r1"]
    assert row["savings"] == f"{got['savings_tce']:,.1f}" and row["band"].startswith(f"{got['low90_tce']:,.1f}")
