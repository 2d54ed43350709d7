"""Simulator ground truth for baselines: each retrofit's counterfactual energy and the drift fault."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import sim_devices
from ecm.cli.main import cli
from ecm.registry import get_registry
from sim_devices.faults import FaultConfig, parse_drift

SEED = 20240301


def _pivot(df, col):
    return df.pivot_table(index="day_cst", columns="meter", values=col, aggfunc="sum")


def test_scale_retrofit_counterfactual_is_actual_without_the_factor():
    """e02 kiln rebuild 2025-03-01 scales kiln gas by 0.72 and dryer gas by 0.85 (fleets/default.yaml)."""
    t = sim_devices.savings_truth_frame(get_registry(), date(2025, 2, 20), date(2025, 3, 10), SEED)
    e = t[t["measure"] == "e02_r1"]
    assert set(e["meter"]) == {"e02_l1_kiln_gas", "e02_l1_dryer_gas"}
    a, c = _pivot(e, "actual"), _pivot(e, "counterfactual")
    before, after = a.index < "2025-03-01", a.index >= "2025-03-01"
    np.testing.assert_allclose(a[before], c[before])
    np.testing.assert_allclose(a.loc[after, "e02_l1_kiln_gas"], 0.72 * c.loc[after, "e02_l1_kiln_gas"], rtol=1e-12)
    np.testing.assert_allclose(a.loc[after, "e02_l1_dryer_gas"], 0.85 * c.loc[after, "e02_l1_dryer_gas"], rtol=1e-12)
    # actual is what the truth frame says was consumed
    truth = sim_devices.truth_frame(get_registry(), date(2025, 2, 20), date(2025, 3, 10), SEED)
    tg = truth[truth["meter"] == "e02_l1_kiln_gas"].set_index("day_cst")["amount"]
    np.testing.assert_allclose(a["e02_l1_kiln_gas"].to_numpy(), tg.reindex(a.index).to_numpy(), rtol=1e-9)


def test_fuel_switch_counterfactual():
    """e05 coal-to-gas 2024-07-01: without it the dryer burns coal; with it 380 m³ gas per t coal."""
    t = sim_devices.savings_truth_frame(get_registry(), date(2024, 7, 1), date(2024, 7, 5), SEED)
    e = t[t["measure"] == "e05_r1"]
    a, c = _pivot(e, "actual"), _pivot(e, "counterfactual")
    assert (a["e05_l1_dryer_coal"] == 0).all() and (c["e05_l1_dryer_coal"] > 0).all()
    np.testing.assert_allclose(a["e05_l1_kiln_gas"] - c["e05_l1_kiln_gas"], 380.0 * c["e05_l1_dryer_coal"], rtol=1e-9)


def test_main_meter_carries_sub_meter_savings():
    """A retrofit on a line's electricity sub-meter lowers the main (boundary) meter by the same kWh."""
    t = sim_devices.savings_truth_frame(get_registry(), date(2024, 9, 1), date(2024, 9, 30), SEED)
    e = t[t["measure"] == "e04_r2"]
    saved = (e["counterfactual"] - e["actual"]).groupby(e["meter"]).sum()
    assert saved["e04_l1_elec"] > 0
    assert saved["e04_elec_main"] == pytest.approx(saved["e04_l1_elec"], rel=1e-9)


def test_drift_fault_scales_line_energy_per_month():
    fc = FaultConfig.parse(["drift=0.03@e03_l1:2023-01-01"])
    reg = get_registry()
    plain = sim_devices.truth_frame(reg, date(2022, 12, 30), date(2023, 7, 2), SEED)
    drift = sim_devices.truth_frame(reg, date(2022, 12, 30), date(2023, 7, 2), SEED, faults=fc)
    key = ["day_cst", "meter"]
    j = plain.set_index(key)["amount"].to_frame("plain").join(drift.set_index(key)["amount"].rename("drift"))
    j = j.reset_index()
    gas = j[j["meter"] == "e03_l1_kiln_gas"].set_index("day_cst")
    days = np.clip((pd.to_datetime(gas.index) - pd.Timestamp("2023-01-01")).days.to_numpy(), 0, None)
    np.testing.assert_allclose(gas["drift"], gas["plain"] * (1 + 0.03 * days / (365.25 / 12)), rtol=1e-9)
    assert gas.loc["2023-06-15", "drift"] / gas.loc["2023-06-15", "plain"] == pytest.approx(1 + 0.03 * 165 / 30.4375)
    other = j[~j["meter"].str.startswith("e03_")]
    np.testing.assert_array_equal(other["plain"], other["drift"])


def test_drift_spec_errors():
    assert parse_drift("0.02@e03_l1") == ("e03_l1", 0.02, "2023-01-01")
    assert parse_drift("0.01@e10_l1:2024-05-01") == ("e10_l1", 0.01, "2024-05-01")
    for bad in ("0.02", "x@e03_l1", "0.02@e03_l1:2023-13-01", "1.5@e03_l1"):
        with pytest.raises(ValueError, match="bad drift fault"):
            parse_drift(bad)
    assert "drift" not in FaultConfig.parse(["all"]).rates


def test_cli_truth_savings(tmp_path):
    out = tmp_path / "s.csv"
    r = CliRunner().invoke(cli, ["sim", "truth", "--savings", "--start", "2023-05-30", "--end", "2023-06-02",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    s = pd.read_csv(out)
    assert list(s.columns) == ["day_cst", "enterprise", "measure", "kind", "measure_date", "line", "meter", "carrier",
                               "role", "quantity", "actual", "counterfactual"]
    w = s[s["measure"] == "e04_r1"]
    assert (w.loc[w["day_cst"] < "2023-06-01", "counterfactual"] == w.loc[w["day_cst"] < "2023-06-01", "actual"]).all()
    assert (w.loc[w["day_cst"] >= "2023-06-01", "counterfactual"] > w.loc[w["day_cst"] >= "2023-06-01", "actual"]).all()
    r = CliRunner().invoke(cli, ["sim", "truth", "--start", "2023-05-30", "--end", "2023-06-02", "--out",
                                 str(out), "--fault", "drift=2@e03_l1"])
    assert r.exit_code == 1 and "bad drift fault" in r.output
