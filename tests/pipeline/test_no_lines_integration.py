"""A district whose enterprises have no production line (energy-only) runs end to end: daily KPIs,
monthly compliance and the report, in its own InfluxDB database on the session's real server."""
from __future__ import annotations

import copy
import dataclasses
from datetime import date
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DAY = date(2024, 3, 1)


def _energy_only_registry():
    from ecm.registry import parse_registry

    data = copy.deepcopy(yaml.safe_load((ROOT / "config/district.yaml").read_text(encoding="utf-8")))
    data["enterprises"] = data["enterprises"][:3]
    for e in data["enterprises"]:
        e["lines"] = []
        e.pop("measures", None)  # energy-saving measures name lines
        e["meters"] = [m for m in e["meters"] if m.get("line") is None and m["carrier"] != "output"]
    return parse_registry(data, "energy-only district")


def test_energy_only_district_runs_daily_monthly_and_report(stack, tmp_path):
    from ecm.influx import InfluxClient
    from ecm.pipeline.daily import run_days
    from ecm.pipeline.monthly import compute_monthly_compliance
    from ecm.quality_frames import synthetic_day
    from ecm.report import build_report

    reg = _energy_only_registry()
    assert reg.lines_frame().empty and list(reg.lines_frame().columns)[:2] == ["line", "enterprise"]
    admin = stack.client("admin")
    client = InfluxClient(dataclasses.replace(admin.cfg, db="ecm_energy_only"))
    client.create_database()
    r = synthetic_day(reg.meters_frame(), DAY, seed=3)
    lines = [f"readings,enterprise={x.enterprise},meter={x.meter},quantity={x.quantity} {x.quantity}={x.value},"
             f"received_ms={int(x.time.value // 1_000_000)}i {int(x.time.value // 1_000_000)}"
             for x in r.itertuples(index=False)]
    assert client.write_lines(lines) == len(lines)
    blocked = run_days([DAY], client=client, registry=reg)
    assert blocked[DAY.isoformat()] == []
    kd = client.query_frame("SELECT energy_tce, data_status FROM kpi_daily GROUP BY enterprise")
    assert sorted(kd["enterprise"]) == ["e01", "e02", "e03"] and (kd["data_status"] == "ok").all()
    assert kd["energy_tce"].gt(0).all()
    assert client.query_frame("SELECT * FROM line_daily").empty
    summary = compute_monthly_compliance(DAY.isoformat(), client=client, registry=reg)
    assert summary["month"] == "2024-03"
    out = build_report(DAY, client=client, registry=reg, out_dir=tmp_path)
    assert (out / "district.pdf").exists()
