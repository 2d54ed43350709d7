"""Issues are results: where each accounting issue applies, and which ones withhold a figure."""
from __future__ import annotations

from ecm.accounting.issues import Issue, blocked_pairs, issue_records


def test_meter_issue_is_located_at_its_enterprise_and_days():
    i = Issue("ecm.counters.reset_detected", "m1: reset", {"meter": "m1", "days": ["2024-03-01", "2024-03-02"]})
    r = issue_records([i], "2024-03-01", meter_enterprise={"m1": "e01"})
    assert r[["enterprise", "scope", "subject", "period", "severity"]].values.tolist() == [
        ["e01", "meter", "m1", "2024-03-01", "warn"], ["e01", "meter", "m1", "2024-03-02", "warn"]]


def test_blocking_enterprise_issue_blocks_but_a_line_issue_only_withholds_the_line():
    rows = [{"enterprise": "e02", "day": "2024-03-01", "carrier": "natural_gas"}]
    energy = Issue("ecm.energy.quantity_missing", "gas unknown", {"rows": rows}, blocking=True)
    line = Issue("ecm.energy.output_zero", "output 0", {"rows": [{"line": "L1", "day": "2024-03-01"}]}, blocking=True)
    r = issue_records([energy, line], "2024-03-01", line_enterprise={"L1": "e03"})
    by = r.set_index("name")
    assert by.loc["ecm.energy.quantity_missing", "severity"] == "block"
    assert by.loc["ecm.energy.output_zero", ["enterprise", "scope", "severity"]].tolist() == ["e03", "line", "warn"]
    assert bool(by.loc["ecm.energy.output_zero", "blocking"])
    # only the enterprise-scoped blocking issue withholds an enterprise-day
    assert blocked_pairs(r) == {("2024-03-01", "e02")}


def test_unlocated_issue_belongs_to_the_district_and_the_run_period():
    i = Issue("ecm.carbon.grid_factor_vintage_fallback", "no 2025 factor", {"year": 2025, "vintage": 2023})
    r = issue_records([i, i], "2025-06")
    assert r[["enterprise", "scope", "period", "severity"]].values.tolist() == [["_district", "enterprise", "2025-06",
                                                                                   "warn"]]
