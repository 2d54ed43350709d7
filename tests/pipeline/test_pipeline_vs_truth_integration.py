"""The pipeline on the simulated district against the simulator's own ground truth.

Every enterprise-day's tce must be within 0.5% of the truth; district intensity and capacity
shares must match values computed here directly from the truth file (ratio of sums).
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from ecm.periods import TZ, day_bounds_utc

pytestmark = pytest.mark.integration

# GB/T 2589-2020 Annex A 当量值 coefficients, kgce per unit (independent of config/factors.yaml)
KGCE = {"energy_kwh": 0.1229, "gas_m3": 1.2143, "coal_t": 714.3, "lpg_kg": 1.7143, "diesel_kg": 1.4571,
        "steam_t": 94.1, "heat_gj": 34.12}


def _truth(seeded, first: date, last: date) -> pd.DataFrame:
    import sim_devices
    from ecm.registry import get_registry

    return sim_devices.truth_frame(get_registry(), first, last, seeded.seed)


def _truth_tce(truth: pd.DataFrame) -> pd.Series:
    """Σ main-meter purchased energy × coefficient per (day, enterprise), in tce."""
    t = truth[(truth["role"] == "main") & truth["quantity"].isin(KGCE)]
    tce = t["amount"] * t["quantity"].map(KGCE) / 1000.0
    return tce.groupby([t["day_cst"].astype(str), t["enterprise"]]).sum()


def _stored_kpi_daily(client, first: date, last: date) -> pd.Series:
    s, _ = day_bounds_utc(first)
    _, e = day_bounds_utc(last)
    df = client.query_frame(f"SELECT energy_tce, data_status FROM kpi_daily WHERE time >= '{s.isoformat()}' "
                            f"AND time < '{e.isoformat()}' GROUP BY enterprise")
    df["day"] = df["time"].dt.tz_convert(TZ).dt.strftime("%Y-%m-%d")
    assert (df["data_status"] == "ok").all(), df[df["data_status"] != "ok"]
    return df.set_index(["day", "enterprise"])["energy_tce"]


@pytest.mark.parametrize("window", ["recent", "history"])
def test_every_enterprise_day_within_half_percent_of_truth(seeded, window):
    first, last = seeded.recent if window == "recent" else (seeded.history[0], seeded.history[0] + timedelta(days=59))
    truth = _truth_tce(_truth(seeded, first, last))
    stored = _stored_kpi_daily(seeded.stack.client(), first, last)
    joined = pd.concat({"truth": truth, "stored": stored}, axis=1)
    assert joined["stored"].notna().all() and joined["truth"].notna().all(), joined[joined.isna().any(axis=1)]
    assert len(joined) == 20 * ((last - first).days + 1)
    rel = (joined["stored"] - joined["truth"]).abs() / joined["truth"].where(joined["truth"] > 0)
    worst = rel.max()
    assert worst <= 0.005, joined.assign(rel=rel).sort_values("rel").tail(5)


def test_district_intensity_is_ratio_of_sums_of_truth(seeded):
    """kpi_monthly._district YTD intensity for 2024-03-02 = Σ truth tce / Σ value added (2022 prices)."""
    import sim_devices
    from ecm.registry import get_registry

    day = seeded.recent[1]
    truth = _truth_tce(_truth(seeded, date(2024, 1, 1), day))
    stats = sim_devices.monthly_stats_frame(get_registry(), "2024-01", "2024-03", seeded.seed)
    va = (stats["value_added_current_10k_cny"] / stats["deflator_index"])
    frac = stats["month"].map({"2024-01": 1.0, "2024-02": 1.0, "2024-03": 2 / 31})
    expected = truth.sum() / (va * frac).sum()
    km = seeded.stack.client().query_frame(
        "SELECT * FROM kpi_monthly WHERE time = '2024-02-29T16:00:00Z' AND enterprise = '_district'")
    assert "ytd_intensity_tce_per_10k_cny" in km.columns, km.T
    assert km["ytd_intensity_tce_per_10k_cny"].iloc[0] == pytest.approx(expected, rel=0.005)


def test_capacity_shares_match_truth_classification(seeded):
    """Capacity share at 标杆 per industry recomputed from truth unit energy (12 months to the day)."""
    from ecm.factors import get_factors
    from ecm.registry import get_registry

    day = seeded.recent[1]
    reg, factors = get_registry(), get_factors()
    truth = _truth(seeded, day - timedelta(days=364), day)
    km = seeded.stack.client().query_frame(
        "SELECT benchmark_capacity_share_frac FROM capacity_share_monthly WHERE time = '2024-02-29T16:00:00Z' "
        "GROUP BY industry")
    got = km.set_index("industry")["benchmark_capacity_share_frac"].dropna()
    assert {"building_ceramics", "cement", "brick"} <= set(got.index)
    lines = reg.lines_frame()
    # independent unit energy per line: own meters + plant remainder shared by own tce (pipeline rule)
    t = truth.copy()
    t["kgce"] = t["amount"] * t["quantity"].map(KGCE)
    out = t[t["carrier"] == "output"].groupby("line")["amount"].sum()
    direct = t[t["line"].astype(str).str.len() > 0].dropna(subset=["kgce"]).groupby("line")["kgce"].sum()
    elec_direct = t[(t["quantity"] == "energy_kwh") & (t["line"].astype(str).str.len() > 0)].groupby("line")["amount"].sum()
    main = t[(t["role"] == "main")].dropna(subset=["kgce"]).groupby("enterprise")["kgce"].sum()
    for industry, share in got.drop(["all", "all_gb_stand_in"], errors="ignore").items():
        ln = lines[lines["industry"] == industry]
        cap_at, cap_all = 0.0, 0.0
        for line in ln.itertuples():
            b = factors.benchmark(line.product_class)
            if b.benchmark_value is None:
                continue
            ent_lines = lines[lines["enterprise"] == line.enterprise]["line"]
            own = direct.reindex(ent_lines).fillna(0)
            remainder = max(main.get(line.enterprise, 0.0) - own.sum(), 0.0)
            share_own = own[line.line] / own.sum() if own.sum() > 0 else 1 / len(ent_lines)
            if b.unit == "kwh_per_t":
                ue = elec_direct.get(line.line, 0.0) / out[line.line]
            else:
                ue = (own[line.line] + share_own * remainder) / out[line.line]
            cap_all += line.capacity_per_day
            cap_at += line.capacity_per_day if ue <= b.benchmark_value + 1e-9 else 0.0
        assert share == pytest.approx(cap_at / cap_all, abs=1e-9), industry


def test_quality_metrics_do_not_depend_on_chunking(seeded):
    """Loading the district in enterprise chunks gives the same quality metrics as in one go."""
    from ecm.pipeline.daily import meter_day_consumption
    from ecm.registry import get_registry

    client, reg, day = seeded.stack.client(), get_registry(), seeded.recent[1]
    one = meter_day_consumption(client, reg, day, chunk_enterprises=100).quality
    many = meter_day_consumption(client, reg, day, chunk_enterprises=3).quality
    key = ["enterprise", "meter"]
    pd.testing.assert_frame_equal(one.sort_values(key).reset_index(drop=True),
                                  many.sort_values(key).reset_index(drop=True))
    assert len(many) == len(reg.meters_frame()) and (many["completeness_frac"] == 1.0).all()


def test_mapped_quality_gate_equals_the_unmapped_gate(seeded):
    """The daily DAG maps its quality gate over enterprise chunks: the chunks' results, put
    together, are the district run's results row for row, and so are the blocked enterprises."""
    from ecm.pipeline.daily import enterprise_chunks, merge_gates, quality_gate_results
    from ecm.quality import blocking_enterprises
    from ecm.registry import get_registry

    client, reg, day = seeded.stack.client(), get_registry(), seeded.recent[1]
    whole = quality_gate_results(client, reg, day)
    chunks = enterprise_chunks(reg, size=6)
    assert len(chunks) == 4 and sorted(sum(chunks, [])) == sorted(reg.enterprise_ids)
    parts = [quality_gate_results(client, reg, day, c) for c in chunks]
    key = ["enterprise", "expectation"]
    joined = pd.concat([p.frame for p in parts], ignore_index=True).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(whole.frame.sort_values(key).reset_index(drop=True), joined)
    d = day.isoformat()
    merged = merge_gates([{d: sorted(blocking_enterprises([p], d))} for p in parts])
    assert merged == {d: sorted(blocking_enterprises([whole], d))}
