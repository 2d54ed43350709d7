"""DAG parse and structure tests: no import errors, no I/O at parse, tags, retries, edges."""
from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    real_connect = socket.socket.connect

    def no_network(self, *a, **k):  # parsing a DAG file must not touch the network
        raise AssertionError(f"network use at DAG parse time: {a}")

    socket.socket.connect = no_network
    try:
        return DagBag(dag_folder=str(DAGS))
    finally:
        socket.socket.connect = real_connect


def test_no_import_errors(bag):
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"ecm_hourly_rollup", "ecm_daily_kpis", "ecm_monthly_compliance", "ecm_nightly_report", "ecm_baselines"}


def test_tags_retries_and_start_dates(bag):
    for dag_id in bag.dag_ids:
        dag = bag.dags[dag_id]
        assert "ecm" in dag.tags
        # 2022-01-01 00:00 Beijing time == 2021-12-31 16:00 UTC: any day of the base year can run
        assert dag.start_date.isoformat() == "2021-12-31T16:00:00+00:00"
        assert dag.catchup is False
        tt = getattr(dag.timetable, "timetable", dag.timetable)
        if hasattr(tt, "timezone"):  # asset-only schedules (the report) have no clock
            assert str(tt.timezone) == "Asia/Shanghai", f"{dag_id} schedules in Beijing time"
        for t in dag.tasks:
            assert t.retries >= 2, f"{dag_id}.{t.task_id} retries"


def _parse(monkeypatch, retries: str):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("ECM_TASK_RETRIES", retries)
    return DagBag(dag_folder=str(DAGS))


def test_task_retries_setting(monkeypatch):
    """ECM_TASK_RETRIES sets every task's retries (the benchmarks use 0); a bad value is a one-line
    import error naming the setting."""
    from ecm.dag_defaults import DEFAULT_RETRIES
    from ecm.settings import Settings

    assert Settings.model_fields["task_retries"].default == DEFAULT_RETRIES
    bag = _parse(monkeypatch, "0")
    assert bag.import_errors == {}
    assert {t.retries for d in bag.dags.values() for t in d.tasks} == {0}
    bad = _parse(monkeypatch, "two")
    assert len(bad.import_errors) == 5
    assert all("ECM_TASK_RETRIES='two': expected a whole number >= 0" in e for e in bad.import_errors.values())


def _edges(dag):
    return {(up, t.task_id) for t in dag.tasks for up in t.upstream_task_ids}


def test_daily_kpis_edges(bag):
    dag = bag.dags["ecm_daily_kpis"]
    assert _edges(dag) == {
        ("day_partition", "days_to_compute"),
        ("days_to_compute", "rollup_hours"),
        ("day_partition", "rollup_hours"),
        ("rollup_hours", "enterprise_chunks"),
        ("enterprise_chunks", "quality_gate"),
        ("days_to_compute", "quality_gate"),
        ("quality_gate", "blocked_enterprises"),
        ("enterprise_chunks", "compute_kpis"),
        ("days_to_compute", "compute_kpis"),
        ("blocked_enterprises", "compute_kpis"),
        ("compute_kpis", "kpi_daily_written"),
        ("day_partition", "kpi_daily_written"),
    }
    # both the gate and the KPI write are mapped over the enterprise chunks; the asset is emitted
    # once, after every chunk
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    assert isinstance(dag.get_task("quality_gate"), MappedOperator)
    assert isinstance(dag.get_task("compute_kpis"), MappedOperator)
    assert {o.uri for o in dag.get_task("kpi_daily_written").outlets} == {"influxdb://ecm/kpi_daily"}
    assert not dag.get_task("compute_kpis").outlets


def test_hourly_and_monthly_edges_and_assets(bag):
    hourly = bag.dags["ecm_hourly_rollup"]
    assert _edges(hourly) == {("hour_partition", "late_hours"), ("hour_partition", "rollup"), ("late_hours", "rollup")}
    monthly = bag.dags["ecm_monthly_compliance"]
    assert _edges(monthly) == {("month_partition", "load_inputs"), ("load_inputs", "compliance")}
    assert {o.uri for o in monthly.get_task("compliance").outlets} == {"influxdb://ecm/kpi_monthly"}


def test_report_dag_is_triggered_by_the_monthly_asset(bag):
    rep = bag.dags["ecm_nightly_report"]
    assert _edges(rep) == {("report_day", "render")}
    assert rep.timetable.asset_condition.uri == "influxdb://ecm/kpi_monthly"


def _writes(dag_id: str) -> list[str]:
    doc = ast.get_docstring(ast.parse((DAGS / f"{dag_id}.py").read_text(encoding="utf-8"))) or ""
    lines = [ln for ln in doc.splitlines() if ln.startswith("Writes:")]
    assert len(lines) == 1, f"{dag_id}: the docstring has exactly one 'Writes:' line"
    return [w.strip() for w in lines[0].removeprefix("Writes:").split(",") if w.strip()]


def test_exactly_one_writing_dag_per_measurement(bag):
    """Every DAG docstring lists what it writes; each output has exactly one writer, the one
    declared in ecm.schema.WRITERS (a report or a dashboard never reads a half-rewritten month)."""
    from ecm.schema import WRITERS

    writers: dict[str, list[str]] = {}
    for dag_id in bag.dag_ids:
        for out in _writes(dag_id):
            writers.setdefault(out, []).append(dag_id)
    assert {k: v for k, v in writers.items() if len(v) != 1} == {}
    assert {k: v[0] for k, v in writers.items()} == WRITERS


def test_baselines_dag_runs_after_kpi_daily(bag):
    dag = bag.dags["ecm_baselines"]
    assert _edges(dag) == {("day_partition", "baselines")}
    assert {o.uri for o in dag.get_task("baselines").outlets} == {"influxdb://ecm/baseline_daily"}
    assert "influxdb://ecm/kpi_daily" in str(dag.timetable.asset_condition)
