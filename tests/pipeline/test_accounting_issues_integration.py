"""Issues are results: a blocking accounting issue is stored in dq_result (suite accounting_daily),
withholds the enterprise-day (data_insufficient), and is named by the report and by the enterprise
board's data-quality panel; re-running the day after the data is repaired removes it.

Runs in its own database on the session's real InfluxDB, on a clean synthetic day of three
enterprises, so the seeded district is not touched."""
from __future__ import annotations

import copy
import dataclasses
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.dashboards import grafana_macros as gm

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DAY = date(2024, 3, 1)


def _registry():
    from ecm.registry import parse_registry

    data = copy.deepcopy(yaml.safe_load((ROOT / "config/district.yaml").read_text(encoding="utf-8")))
    data["enterprises"] = data["enterprises"][:3]
    return parse_registry(data, "three enterprises")


def _write(client, readings):
    lines = [f"readings,enterprise={x.enterprise},meter={x.meter},quantity={x.quantity} {x.quantity}={x.value},"
             f"received_ms={int(x.time.value // 1_000_000)}i {int(x.time.value // 1_000_000)}"
             for x in readings.itertuples(index=False)]
    client.write_lines(lines)


def test_blocking_accounting_issue_is_stored_and_withholds_the_enterprise_day(stack, tmp_path):
    from dashboards.generate import build_all
    from ecm.influx import InfluxClient
    from ecm.pipeline.daily import run_days
    from ecm.quality_frames import synthetic_day
    from ecm.report import build_report

    reg = _registry()
    meters = reg.meters_frame()
    gas = meters[(meters["enterprise"] == "e02") & (meters["role"] == "main") & (meters["kind"] == "counter")
                 & ~meters["carrier"].isin(["electricity", "output"])].index[0]
    client = InfluxClient(dataclasses.replace(stack.client("admin").cfg, db="ecm_accounting_issues"))
    client.create_database()
    clean = synthetic_day(meters, DAY, seed=5)
    _write(client, clean[clean["meter"] != gas])  # e02's main fuel meter never reported that day

    # the DAG's compute task with a gate verdict that blocked nobody: only the accounting can see it
    day = DAY.isoformat()
    assert run_days([DAY], client=client, registry=reg, gate="given", blocked={day: []}) == {day: ["e02"]}
    kd = client.query_frame("SELECT energy_tce, data_status FROM kpi_daily GROUP BY enterprise").set_index("enterprise")
    assert kd.loc["e02", "data_status"] == "data_insufficient" and pd.isna(kd.loc["e02", "energy_tce"])
    assert (kd.drop(index="e02")["data_status"] == "ok").all()
    dq = client.query_frame("SELECT success, blocking, subject, observed, period FROM dq_result "
                            "WHERE suite = 'accounting_daily' GROUP BY enterprise, expectation, severity")
    row = dq[(dq["expectation"] == "ecm.energy.quantity_missing")]
    assert row[["enterprise", "severity", "success", "blocking", "period"]].values.tolist() == [["e02", "block", 0, 1, day]]
    assert not ((dq["severity"] == "block") & (dq["enterprise"] != "e02")).any()

    # the enterprise board's data-quality panel, as Grafana runs it, names the issue
    board = build_all()["ecm-enterprise-detail"]
    panel = next(p for p in board["panels"] if "data-quality" in p.get("title", ""))
    now = pd.Timestamp("2024-03-02T00:00:00+08:00").tz_convert("UTC")
    q = gm.render(panel["targets"][0]["query"], start=now - pd.Timedelta(days=7), end=now, interval="1h",
                  variables={"enterprise": "e02"})
    shown = client.query_frame(q)
    assert "ecm.energy.quantity_missing" in set(shown["expectation"])

    # and so does the report
    out = build_report(DAY, client=client, registry=reg, out_dir=tmp_path)
    html = "".join(p.read_text(encoding="utf-8") for p in out.glob("*e02*.html"))
    assert "ecm.energy.quantity_missing" in html and "主表全天无计量" in html  # named, in plain words

    # the late readings arrive; re-running the day publishes it and the stale issue is gone
    _write(client, clean[clean["meter"] == gas])
    assert run_days([DAY], client=client, registry=reg, gate="given", blocked={day: []}) == {day: []}
    dq = client.query_frame("SELECT success FROM dq_result WHERE suite = 'accounting_daily' AND severity = 'block' "
                            "GROUP BY enterprise, expectation")
    assert dq.empty
