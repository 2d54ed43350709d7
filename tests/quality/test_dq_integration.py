"""Data-quality gates against the real InfluxDB: raw readings written per docs/contracts.md,
`run_day` / `run_month` / the CLI, dq_result points read back."""
from __future__ import annotations

import time
from datetime import date

import pandas as pd
import pytest
from click.testing import CliRunner

from ecm import quality
from ecm.quality_frames import synthetic_day

pytestmark = pytest.mark.integration
DAY = date(2021, 6, 7)  # a day (and month) no other test writes


def _write_readings(client, readings: pd.DataFrame) -> int:
    """readings measurement: tags enterprise, meter, quantity; field named by the quantity."""
    n = 0
    for q, part in readings.groupby("quantity"):
        frame = part[["time", "enterprise", "meter", "quantity"]].assign(**{q: part["value"].to_numpy()})
        n += client.write_frame(frame, "readings", ["enterprise", "meter", "quantity"])
    return n


@pytest.fixture(scope="module")
def seeded(stack, registry, meters):
    client = stack.client()
    r = synthetic_day(meters, DAY, seed=7)
    start = pd.Timestamp(DAY).tz_localize("Asia/Shanghai").tz_convert("UTC")
    hours = (r["time"] - start).dt.total_seconds() / 3600.0
    r = r[~((r.meter == "e01_l1_kiln_gas") & (hours >= 8) & (hours < 14))]  # dropout → e01 blocked
    off = (r.meter == "e07_elec_main") & (hours >= 9) & (hours < 10)
    r.loc[off, "time"] += pd.Timedelta(seconds=150)  # off-grid → e07 warned
    assert _write_readings(client, r) == len(r)
    kpi = pd.DataFrame({"time": start, "enterprise": ["e01", "e02"], "energy_tce": [80.0, -1.0]})
    client.write_frame(kpi, "kpi_daily", ["enterprise"])
    months = {"2021-05": pd.Timestamp("2021-05-01"), "2021-06": pd.Timestamp("2021-06-01")}
    stats = pd.DataFrame([{"time": t.tz_localize("Asia/Shanghai").tz_convert("UTC"), "enterprise": e,
                           "value_added_10k_cny": 900.0, "deflator_index": 1.01, "output_value_10k_cny": 3000.0}
                          for m, t in months.items() for e in registry.enterprise_ids if not (e == "e04" and m == "2021-06")])
    client.write_frame(stats, "enterprise_monthly", ["enterprise"])
    return client


def test_run_day_attributes_and_stores_results_integration(seeded, registry):
    t0 = time.perf_counter()
    results = quality.run_day(seeded, registry, DAY)
    elapsed = time.perf_counter() - t0
    print(f"run_day over {DAY} of the default district: {elapsed:.2f} s")
    assert elapsed < 10.0
    assert [r.suite for r in results] == ["readings_daily", "aggregates_daily"]
    assert quality.blocking_enterprises(results) == {"e01", "e02"}  # dropout, negative energy
    status = quality.data_status(results, registry.enterprise_ids, DAY.isoformat())
    assert status["e01"] == status["e02"] == "data_insufficient"
    assert sum(s == "ok" for s in status.values()) == len(registry.enterprise_ids) - 2

    stored = quality.load_results(seeded, DAY, include_month=False)
    assert len(stored) == sum(len(r.frame) for r in results)
    fails = stored[~stored.success]
    assert set(zip(fails.enterprise, fails.expectation)) == {
        ("e01", "completeness_ge_90pct"), ("e07", "timestamps_on_grid"), ("e02", "energy_non_negative")}
    row = fails[fails.enterprise == "e01"].iloc[0]
    assert row.severity == "block" and row.observed_value == pytest.approx(72 / 96)
    # a Grafana-style query: failing blocking checks per enterprise of the day
    q = seeded.query_frame("SELECT count(success) FROM dq_result WHERE success = 0 AND severity = 'block' "
                           "AND time >= '2021-06-06T16:00:00Z' AND time < '2021-06-07T16:00:00Z' GROUP BY enterprise")
    assert set(q["enterprise"]) == {"e01", "e02"}
    # idempotent: a re-run overwrites
    quality.run_day(seeded, registry, DAY)
    assert len(quality.load_results(seeded, DAY, include_month=False)) == len(stored)


def test_run_month_missing_value_added_integration(seeded, registry):
    results = quality.run_month(seeded, registry, DAY)
    assert quality.blocking_enterprises(results, "2021-06") == {"e04"}
    stored = quality.load_results(seeded, DAY)
    monthly = stored[stored.period == "2021-06"]
    assert set(monthly[~monthly.success].enterprise) == {"e04"}


def test_cli_run_and_show_integration(seeded, stack):
    from ecm.cli.main import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["dq", "run", "--date", DAY.isoformat(), "--month"])
    assert res.exit_code == 0, res.output
    out = res.output.splitlines()
    assert out[0].startswith("readings_daily 2021-06-07:") and out[0].endswith("data insufficient: e01")
    assert out[1].startswith("aggregates_daily 2021-06-07:") and out[1].endswith("data insufficient: e02")
    assert out[2].startswith("stats_monthly 2021-06:") and out[2].endswith("data insufficient: e04")
    out_dir = stack.state_dir / "reports" / "dq" / DAY.isoformat()
    assert (out_dir / "readings_daily_2021-06-07.html").exists()
    assert (out_dir / "stats_monthly_2021-06.json").exists()
    show = runner.invoke(cli, ["dq", "show", "--date", DAY.isoformat(), "--format", "csv"])
    assert show.exit_code == 0, show.output
    lines = show.output.strip().splitlines()
    assert lines[0].startswith("suite,expectation,enterprise")
    assert any(",e04," in ln and "value_added_present" in ln for ln in lines)
    one = runner.invoke(cli, ["dq", "show", "--date", DAY.isoformat(), "--enterprise", "e07"])
    assert "timestamps_on_grid" in one.output and "e01" not in one.output
