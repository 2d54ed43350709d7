"""ecm_daily_kpis — daily energy (tce), CO2, unit product energy and KPIs per enterprise.

Schedule: daily at 01:00 Asia/Shanghai; each run owns the Beijing day of its data interval
start (or ``conf["day"]`` for manual runs); runs can be made for any day from 2022-01-01.
Reads: ``meter_hourly`` only (24 rows a meter and day: consumption, flags and the quality
metrics the gate validates); ``rollup_hours`` first rolls up the hours of its days that have no
rollup yet (a manual run on freshly ingested data) and the hours holding late readings, the only
reads of ``readings``. Days with late readings (within the ingest max age) are recomputed in the
same run; every write overwrites its day (idempotent). Emits asset ``kpi_daily`` (extra: the day),
which triggers ``ecm_monthly_compliance``.

The quality gate and the KPI computation are dynamically mapped tasks, one per chunk of 50
enterprises (``ecm.pipeline.daily.GATE_CHUNK_ENTERPRISES``, ``ECM_CHUNK_ENTERPRISES``); on
CeleryExecutor the chunks run on different workers. Each KPI chunk clears and rewrites only its
enterprises' series of the day, so the chunks' rows equal a single whole-district run's; the
asset is emitted once, after every chunk has written.

Writes: energy_daily, line_daily, kpi_daily, dq_result[readings_daily], dq_result[aggregates_daily], dq_result[accounting_daily]
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from ecm.dag_defaults import task_args

KPI_DAILY = Asset("influxdb://ecm/kpi_daily")


@dag(
    dag_id="ecm_daily_kpis",
    schedule=CronDataIntervalTimetable("0 1 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["ecm", "accounting", "quality"],
    default_args=task_args(retry_delay_minutes=5),
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

    @task
    def blocked_enterprises(gates: list[dict[str, list[str]]]) -> dict[str, list[str]]:
        from ecm.pipeline.daily import merge_gates

        return merge_gates(gates)

    @task
    def compute_kpis(enterprises: list[str], days: list[str], blocked: dict[str, list[str]]) -> list[str]:
        from ecm.pipeline.daily import compute_daily_kpis

        return compute_daily_kpis(days, blocked, enterprises)

    @task(outlets=[KPI_DAILY])
    def kpi_daily_written(chunks_done: list[list[str]], day: str, outlet_events=None) -> str:
        if outlet_events is not None:
            outlet_events[KPI_DAILY].extra = {"day": day}
        return day

    day = day_partition()
    days = days_to_compute(day)
    chunks = enterprise_chunks(rollup_hours(days, day))
    # dynamically mapped: one gate task, then one KPI task, per enterprise chunk (Airflow 3 .expand)
    gates = quality_gate.partial(days=days).expand(enterprises=chunks)
    kpis = compute_kpis.partial(days=days, blocked=blocked_enterprises(gates)).expand(enterprises=chunks)
    kpi_daily_written(kpis, day)

ecm_daily_kpis()
