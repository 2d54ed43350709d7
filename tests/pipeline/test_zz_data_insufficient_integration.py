"""A critical data-quality failure of one enterprise, end to end: the KPI store, the dashboards'
status query and the report all say "data insufficient" for it; the others are unaffected.

Runs last in tests/pipeline because it removes readings from the shared seeded database.
"""
from __future__ import annotations

import subprocess

import pandas as pd
import pytest

from dashboards.generate import build_all
from tests.dashboards import grafana_macros as gm

pytestmark = pytest.mark.integration


def test_gateway_outage_marks_only_that_enterprise_data_insufficient(seeded, tmp_path):
    from ecm.pipeline.daily import run_days
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.registry import get_registry
    from ecm.report import build_report

    client, reg, day = seeded.stack.client(), get_registry(), seeded.recent[1]
    # e05's gateway went silent at 06:00 Beijing on 2024-03-02 and lost the rest of the data for good:
    # no later register reading spans the hole, so the day cannot be recovered from counters either
    # (a hole closed by a later reading would be recovered, flagged estimated: test_comparable_integration)
    # The readings never arrived, so the hourly rollup (which reads raw data once, in the hour it
    # arrives) never saw them either: remove both.
    client.execute("DELETE FROM readings WHERE enterprise = 'e05' AND time >= '2024-03-01T22:00:00Z'")
    client.execute("DELETE FROM meter_hourly WHERE enterprise = 'e05' AND time >= '2024-03-01T22:00:00Z'")
    blocked = run_days([day], client=client, registry=reg)
    assert blocked[day.isoformat()] == ["e05"]

    kd = client.query_frame("SELECT * FROM kpi_daily WHERE time = '2024-03-01T16:00:00Z' GROUP BY enterprise")
    kd = kd.set_index("enterprise")
    assert kd.loc["e05", "data_status"] == "data_insufficient" and pd.isna(kd.loc["e05", "energy_tce"])
    others = kd.drop(index="e05")
    assert (others["data_status"] == "ok").all() and others["energy_tce"].notna().all()
    dq = client.query_frame("SELECT success FROM dq_result WHERE time = '2024-03-01T16:00:00Z' AND "
                            "expectation = 'completeness_ge_90pct' AND success = 0 GROUP BY enterprise")
    assert set(dq["enterprise"]) == {"e05"}

    compute_monthly_compliance(day.isoformat(), client=client, registry=reg)
    # the district overview's status table, as Grafana runs it
    board = build_all()["ecm-district-overview"]
    panel = next(p for p in board["panels"] if p["type"] == "table")
    now = pd.Timestamp("2024-03-03T00:00:00+08:00").tz_convert("UTC")
    start, end = gm.panel_range(board, panel, now)
    table = client.query_frame(gm.render(panel["targets"][0]["query"], start=start, end=end, interval="1d"))
    levels = table.set_index("enterprise")["status_level"]
    assert levels["e05"] == 3
    assert (levels.drop("e05") < 3).all()

    out = build_report(day, client=client, registry=reg, out_dir=tmp_path)
    text = subprocess.run(["pdftotext", "-layout", str(out / "enterprise-e05.pdf"), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "数据不足" in text
    other = subprocess.run(["pdftotext", "-layout", str(out / "enterprise-e06.pdf"), "-"], capture_output=True,
                           text=True, check=True).stdout
    assert "本月数据不足" not in other
