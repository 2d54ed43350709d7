"""ecm_nightly_report — the district and enterprise compliance reports (PDF + HTML), e-mailed.

Schedule: after every ``kpi_monthly`` update (asset), so the report always shows the figures the
dashboards show; it recomputes nothing. Each run owns the day named by the triggering
``kpi_monthly`` event (or ``conf["day"]``). Reads: ``kpi_daily``, ``energy_daily``,
``line_daily``, ``kpi_monthly``, ``benchmark_monthly``, ``capacity_share_monthly``, ``dq_result``.

Writes: reports/<day>/
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from ecm.dag_defaults import task_args

KPI_MONTHLY = Asset("influxdb://ecm/kpi_monthly")


@dag(
    dag_id="ecm_nightly_report",
    schedule=KPI_MONTHLY,
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["ecm", "report"],
    default_args=task_args(retry_delay_minutes=5),
)
def ecm_nightly_report():
    @task
    def report_day(logical_date=None, dag_run=None, triggering_asset_events=None) -> str:
        from ecm.pipeline.partitions import partition_month_day

        return partition_month_day(dag_run.conf if dag_run else None, logical_date, triggering_asset_events)

    @task
    def render(day: str) -> str:
        from ecm.pipeline.report import build_nightly_report

        return build_nightly_report(day)

    render(report_day())


ecm_nightly_report()
