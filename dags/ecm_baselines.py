"""ecm_baselines — energy baselines (EnB/EnPI), CUSUM drift detection and verified savings.

Schedule: after every ``kpi_daily`` update (asset), i.e. in the nightly flow right after the
daily KPIs, and at 03:30 Asia/Shanghai as a safety net when no KPI update came. Each run owns the Beijing day before its logical date (``conf["day"]`` for manual
runs). Inputs: ``line_daily``, ``kpi_daily``, the registry's measures and adjustments.
Outputs (asset ``baseline_daily``): ``baseline_daily`` (rewritten from the earliest baseline day),
``baseline_model`` and ``measure_savings`` of the day. This DAG is their only writer.
Writes: baseline_daily, baseline_model, measure_savings
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

KPI_DAILY = Asset("influxdb://ecm/kpi_daily")
BASELINE_DAILY = Asset("influxdb://ecm/baseline_daily")


@dag(
    dag_id="ecm_baselines",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("30 3 * * *", timezone="Asia/Shanghai"), assets=KPI_DAILY
    ),
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["ecm", "accounting", "baselines"],
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
)
def ecm_baselines():
    @task
    def day_partition(logical_date=None, dag_run=None) -> str:
        from ecm.pipeline.partitions import partition_month_day

        return partition_month_day(dag_run.conf if dag_run else None, logical_date)

    @task(outlets=[BASELINE_DAILY])
    def baselines(day: str) -> dict:
        from ecm.pipeline.baselines import run_baselines

        return run_baselines(day)

    baselines(day_partition())


ecm_baselines()
