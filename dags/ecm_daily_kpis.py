"""ecm_daily_kpis — daily energy (tce), CO2, unit product energy and KPIs per enterprise.

Schedule: daily at 01:00 Asia/Shanghai; each run owns the Beijing day of its data interval
start (or ``conf["day"]`` for manual runs); runs can be made for any day from 2022-01-01.
Reads: ``meter_hourly`` only (24 rows a meter and day: consumption, flags and the quality
metrics the gate validates); ``rollup_hours`` first rolls up the hours of its days that have no
rollup yet (a manual run on freshly ingested data) and the hours holding late readings, the only
reads of ``readings``. Days with late readings (within the ingest max age) are recomputed in the
same run; every write overwrites its day (idempotent). Emits asset ``kpi_daily`` (extra: the day),
which triggers ``ecm_monthly_compliance``.

The quality gate is a dynamically mapped task, one per chunk of 50 enterprises
(``ecm.pipeline.daily.GATE_CHUNK_ENTERPRISES``); on CeleryExecutor the chunks run on different
workers. The KPI computation writes whole-day partitions and stays one task.

Writes: energy_daily, line_daily, kpi_daily, dq_result[readings_daily], dq_result[aggregates_daily], dq_result[accounting_daily]
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

KPI_DAILY = Asset("influxdb://ecm/kpi_daily")


@dag(
    dag_id="ecm_daily_kpis",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["ecm", "accounting", "quality"],
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
    def rollup_hours(days: list[str], day: str) -> int:
        from ecm.pipeline.hourly import ensure_days_rolled_up
        from ecm.pipeline.late import find_late_day_hours

        return ensure_days_rolled_up(days, find_late_day_hours(day))

    @task
    def enterprise_chunks(rolled: int) -> list[list[str]]:
        from ecm.pipeline.daily import enterprise_chunks

        return enterprise_chunks()

    @task
    def quality_gate(days: list[str], enterprises: list[str]) -> dict[str, list[str]]:
        from ecm.pipeline.daily import run_quality_gate

        return run_quality_gate(days, enterprises)

    @task(outlets=[KPI_DAILY])
    def compute_kpis(days: list[str], gates: list[dict[str, list[str]]], day: str, outlet_events=None) -> list[str]:
        from ecm.pipeline.daily import compute_daily_kpis, merge_gates

        out = compute_daily_kpis(days, merge_gates(gates))
        if outlet_events is not None:
            outlet_events[KPI_DAILY].extra = {"day": day}
        return out

    day = day_partition()
    days = days_to_compute(day)
    chunks = enterprise_chunks(rollup_hours(days, day))
    # dynamically mapped: one gate task per enterprise chunk (Airflow 3 .expand)
    gates = quality_gate.partial(days=days).expand(enterprises=chunks)
    compute_kpis(days, gates, day)

ecm_daily_kpis()
