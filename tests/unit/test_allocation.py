"""Enterprise boundary and line allocation (GB/T 2589-2020 §4; GB 21252-2023 unit product energy)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecm.accounting.allocation import (enterprise_day_kpis, enterprise_energy, in_service, line_daily,
                                       line_energy)
from ecm.accounting.issues import blocked_pairs, issue_records
from ecm.factors import load_factors

ROOT = Path(__file__).resolve().parents[2]
D = date(2024, 3, 1)


@pytest.fixture(scope="module")
def f():
    return load_factors(ROOT / "config/factors.yaml")


def _md(gas_main=1000.0):
    rows = [  # meter, carrier, quantity, role, line, delta
        ("main_elec", "electricity", "energy_kwh", "main", None, 10_000.0),
        ("l1_elec", "electricity", "energy_kwh", "sub", "L1", 3_000.0),
        ("l2_elec", "electricity", "energy_kwh", "sub", "L2", 1_000.0),
        ("main_gas", "natural_gas", "gas_m3", "main", None, gas_main),
        ("l1_gas", "natural_gas", "gas_m3", "sub", "L1", 1_000.0),
        ("l1_out", "output", "output_m2", "main", "L1", 10_000.0),
        ("l2_out", "output", "output_m2", "main", "L2", 2_000.0),
    ]
    df = pd.DataFrame(rows, columns=["meter", "carrier", "quantity", "role", "line", "delta"])
    return df.assign(day=D, enterprise="e01", completeness_frac=1.0, n_intervals=96, flags="")


def _lines():
    return pd.DataFrame({"line": ["L1", "L2"], "enterprise": "e01", "industry": "ceramics",
                         "product_class": "tile_abs_le_0_2", "output_unit": "m2", "capacity_per_day": 20_000.0,
                         "capacity_unit": "m2_per_day"}).set_index("line", drop=False)


def test_enterprise_energy_counts_main_meters_only(f):
    e, issues = enterprise_energy(_md(), f, empty_year=2024)
    got = e.set_index("carrier")["energy_tce"]
    # main meters: 10,000 kWh x 0.1229 kgce/kWh = 1.229 tce; 1,000 m3 x 1.2143 kgce/m3 = 1.2143 tce
    assert got["electricity"] == pytest.approx(1.229) and got["natural_gas"] == pytest.approx(1.2143)
    assert "output" not in got.index
    kpi = enterprise_day_kpis(_md(), e, ["e01", "e02"], f.table_version).set_index("enterprise")
    assert kpi.loc["e01", "energy_tce"] == pytest.approx(2.4433) and np.isnan(kpi.loc["e02", "energy_tce"])
    assert kpi.loc["e02", "completeness_frac"] == 0.0


def test_lines_get_own_meters_plus_remainder_shared_by_own_tce(f):
    e, _ = enterprise_energy(_md(), f, empty_year=2024)
    ln, issues = line_energy(_md(), e, _lines(), f, empty_year=2024)
    got = ln.set_index("line")["energy_tce"]
    # own: L1 = 3,000 kWh x 0.1229 + 1,000 m3 x 1.2143 = 0.3687 + 1.2143 = 1.583 tce; L2 = 0.1229 tce
    # remainder: electricity 10,000 - 4,000 = 6,000 kWh = 0.7374 tce; gas 1,000 - 1,000 = 0
    own_l1, own_l2, rem = 1.583, 0.1229, 0.7374
    assert got["L1"] == pytest.approx(own_l1 + rem * own_l1 / (own_l1 + own_l2))
    assert got["L2"] == pytest.approx(own_l2 + rem * own_l2 / (own_l1 + own_l2))
    assert got.sum() == pytest.approx(2.4433)  # nothing lost or invented: lines add up to the enterprise
    assert ln.set_index("line")["electricity_kwh"].to_dict() == {"L1": 3000.0, "L2": 1000.0}


def test_line_daily_unit_energy(f):
    e, _ = enterprise_energy(_md(), f, empty_year=2024)
    ld, issues = line_daily(_md(), e, _lines(), f, empty_year=2024)
    r = ld.set_index("line")
    own_l1, own_l2, rem = 1.583, 0.1229, 0.7374
    l1_kgce = (own_l1 + rem * own_l1 / (own_l1 + own_l2)) * 1000
    assert r.loc["L1", "unit_energy_kgce_per_m2"] == pytest.approx(l1_kgce / 10_000)
    assert r.loc["L1", "output_m2"] == 10_000.0 and r.loc["L1", "day"] == D


def test_silent_main_meter_blocks_the_enterprise_day(f):
    e, issues = enterprise_energy(_md(gas_main=np.nan), f, empty_year=2024)
    (i,) = [i for i in issues if i.name == "ecm.energy.quantity_missing"]
    assert i.blocking and i.evidence["rows"] == [{"enterprise": "e01", "day": "2024-03-01", "meter": "main_gas",
                                                  "carrier": "natural_gas"}]
    r = issue_records(issues, "2024-03-01")
    assert blocked_pairs(r) == {("2024-03-01", "e01")}
    assert r[r["name"] == "ecm.energy.quantity_missing"][["scope", "subject"]].values.tolist() == [["meter", "main_gas"]]


def test_one_silent_main_meter_of_two_makes_the_carrier_unknown(f):
    md = _md()
    second = md[md["meter"] == "main_elec"].assign(meter="main_elec_2", delta=np.nan)
    e, issues = enterprise_energy(pd.concat([md, second], ignore_index=True), f, empty_year=2024)
    # 10,000 kWh from one boundary meter is not the enterprise's electricity: unknown, not understated
    assert np.isnan(e.set_index("carrier").loc["electricity", "energy_tce"])
    assert [r["meter"] for i in issues if i.name == "ecm.energy.quantity_missing" for r in i.evidence["rows"]] == [
        "main_elec_2"]


def test_decommissioned_meters_are_no_longer_expected():
    md = _md().assign(decommissioned=None)
    md.loc[md["meter"] == "main_gas", ["decommissioned", "delta"]] = [date(2024, 3, 1), np.nan]
    kept = in_service(md)
    assert "main_gas" not in set(kept["meter"]) and len(kept) == len(md) - 1
    md.loc[md["meter"] == "main_gas", "decommissioned"] = date(2024, 3, 2)   # still in service on the 1st
    assert len(in_service(md)) == len(md)


def test_no_lines_at_all(f):
    none = _lines().iloc[:0]
    md = _md()
    md = md[md["line"].isna()]
    e, _ = enterprise_energy(md, f, empty_year=2024)
    ld, issues = line_daily(md, e, none, f, empty_year=2024)
    assert ld.empty and issues == []


def test_an_offboarded_enterprise_has_no_enterprise_days_after_it_left(f):
    e, _ = enterprise_energy(_md(), f, empty_year=2024)
    left_before = enterprise_day_kpis(_md(), e, ["e01", "e02"], f.table_version, {"e02": date(2024, 2, 29)})
    assert list(left_before["enterprise"]) == ["e01"]          # D is after e02's last day: no row at all
    left_on = enterprise_day_kpis(_md(), e, ["e01", "e02"], f.table_version, {"e02": D, "e01": D})
    assert sorted(left_on["enterprise"]) == ["e01", "e02"]     # its last day itself is still in scope
    assert left_on.set_index("enterprise").loc["e01", "energy_tce"] == pytest.approx(2.4433)


def test_a_disabled_enterprises_meters_are_out_of_service_after_its_last_day():
    from ecm.quality_frames import readings_daily_metrics
    from ecm.registry import parse_registry, read_yaml, text_with_disabled

    text = (ROOT / "config/district.yaml").read_text(encoding="utf-8")
    base = parse_registry(read_yaml(text))
    eid = base.enterprise_ids[1]
    own = {m.id: m.decommissioned for m in base.enterprise(eid).meters}
    reg = parse_registry(read_yaml(text_with_disabled(text, eid, {"since": "2024-03-05", "at": "2024-03-05T08:00:00Z"})))
    meters = reg.meters_frame()
    mine = meters[meters["enterprise"] == eid]
    for mid, dec in mine["decommissioned"].items():   # the day after it left, or its own earlier day
        assert dec == min(d for d in (own[mid], date(2024, 3, 6)) if d is not None)
    others = meters[meters["enterprise"] != eid]
    assert others["decommissioned"].to_dict() == base.meters_frame().loc[others.index, "decommissioned"].to_dict()
    assert reg.last_days() == {eid: date(2024, 3, 5)}
    empty = pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]"), "value": pd.Series([], dtype=float),
                          **{c: pd.Series([], dtype=str) for c in ("enterprise", "meter", "quantity")}})
    # no reading at all: on its last day its meters are expected (silent), the day after they are not
    on_last = readings_daily_metrics(empty, meters, date(2024, 3, 5))
    after = readings_daily_metrics(empty, meters, date(2024, 3, 6))
    assert set(mine.index[mine["decommissioned"] > date(2024, 3, 5)]) <= set(on_last["meter"])
    assert not set(mine.index) & set(after["meter"])
    assert set(others.index[others["decommissioned"].isna()]) <= set(after["meter"])
