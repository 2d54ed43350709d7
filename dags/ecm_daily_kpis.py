"""ecm_daily_kpis — daily energy (tce), CO2, unit product energy and KPIs per enterprise.

Schedule: daily at 01:00 Asia/Shanghai; each run owns the Beijing day of its data interval
start (or ``conf["day"]`` for manual runs). Inputs: ``readings``, ``enterprise_monthly``.
Outputs: ``energy_daily``, ``line_daily``, ``kpi_daily``, ``dq_result`` (asset ``kpi_daily``)
and the nightly report under ``reports/<day>/``. Days with late readings (within the ingest
max age) are recomputed in the same run; every write overwrites its day (idempotent).
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

KPI_DAILY = Asset("influxdb://ecm/kpi_daily")


@dag(
    dag_id="ecm_daily_kpis",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["ecm", "accounting", "quality", "report"],
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
)
def ecm_daily_kpis():
    @task
    def day_partition(data_interval_start=None, dag_run=None) -> str:
        from ecm.pipeline.partitions import partition_day_str

        return partition_day_str(dag_run.conf if dag_run else None, data_interval_start)

    @task
    def days_to_compute(day: str) -> list[str]:
        from ecm.pipeline.late import find_late_days

        return sorted({day, *find_late_days(day)})

    @task
    def quality_gate(days: list[str]) -> dict[str, list[str]]:
        from ecm.pipeline.daily import run_quality_gate

        return run_quality_gate(days)

    @task(outlets=[KPI_DAILY])
    def compute_kpis(days: list[str], blocked: dict[str, list[str]]) -> list[str]:
        from ecm.pipeline.daily import compute_daily_kpis

        return compute_daily_kpis(days, blocked)

    @task
    def nightly_report(day: str, computed: list[str]) -> str:
        from ecm.pipeline.report import build_nightly_report

        return build_nightly_report(day)

    day = day_partition()
    days = days_to_compute(day)
    computed = compute_kpis(days, quality_gate(days))
    nightly_report(day, computed)


ecm_daily_kpis()
