"""A meter replaced mid-day (the new register starts at 12,345) gets the same verdict from
`ecm dq run` (ecm.quality.run_day) and from the DAG's quality gate and KPI run: one counter
classification (ecm.accounting.counters) explains the drop as a reset; the accounting stores it."""
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
METER = "e02_elec_main"


def test_meter_replacement_same_verdict_from_dq_run_and_the_dag(stack):
    from ecm import quality
    from ecm.influx import InfluxClient
    from ecm.pipeline.daily import meter_day_consumption, run_days
    from ecm.pipeline.hourly import ensure_days_rolled_up
    from ecm.pipeline.rollup_source import meter_day_from_hourly
    from ecm.quality_frames import synthetic_day
    from ecm.registry import parse_registry
    from tests.quality.conftest import in_hours

    data = copy.deepcopy(yaml.safe_load((ROOT / "config/district.yaml").read_text(encoding="utf-8")))
    data["enterprises"] = data["enterprises"][:3]
    reg = parse_registry(data, "three enterprises")
    r = synthetic_day(reg.meters_frame(), DAY, seed=7)
    after = in_hours(r, METER, 12.01, 24.1)
    # the new meter starts at 12,345 kWh and counts on at the old meter's pace
    r.loc[after, "value"] = 12_345.0 + (r.loc[after, "value"] - r.loc[after, "value"].iloc[0])
    client = InfluxClient(dataclasses.replace(stack.client("admin").cfg, db="ecm_meter_replacement"))
    client.create_database()
    client.write_lines([f"readings,enterprise={x.enterprise},meter={x.meter},quantity={x.quantity} "
                        f"{x.quantity}={x.value},received_ms=0i {int(x.time.value // 1_000_000)}"
                        for x in r.itertuples(index=False)])

    def verdict(res):
        f = res.frame.set_index(["enterprise", "expectation"])["success"]
        return {e: bool(f[(e, "counter_non_decreasing")]) for e in ("e01", "e02", "e03")}

    dq_run = quality.run_day(client, reg, DAY, write=False)[0]            # `ecm dq run`
    raw_gate = quality.run_suite("readings_daily", meter_day_consumption(client, reg, DAY).quality,
                                 period=DAY.isoformat())                   # the raw-readings path
    # the DAG: rollup_hours (the hourly rollup's pass over raw rows), then quality_gate on meter_hourly
    ensure_days_rolled_up([DAY.isoformat()], client=client, registry=reg)
    dag_gate = quality.run_suite("readings_daily", meter_day_from_hourly(client, reg, DAY, with_quality=True)[1],
                                 period=DAY.isoformat())
    assert verdict(dq_run) == verdict(raw_gate) == verdict(dag_gate) == {"e01": True, "e02": True, "e03": True}
    assert quality.blocking_enterprises([dq_run]) == quality.blocking_enterprises([dag_gate]) == set()

    # the KPI run publishes e02 and stores the reset as a non-blocking accounting issue on the meter
    assert run_days([DAY], client=client, registry=reg) == {DAY.isoformat(): []}
    dq = client.query_frame("SELECT subject, blocking FROM dq_result WHERE suite = 'accounting_daily' "
                            "AND expectation = 'ecm.counters.reset_detected' GROUP BY enterprise, severity")
    assert dq[["enterprise", "severity", "subject", "blocking"]].values.tolist() == [["e02", "warn", METER, 0]]
