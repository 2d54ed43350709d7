"""ecm_baselines — energy baselines (EnB/EnPI), CUSUM drift detection and verified savings.

Schedule: after every ``kpi_daily`` update (asset), i.e. in the nightly flow right after the
daily KPIs, and at 03:30 Asia/Shanghai as a safety net. Each run owns a Beijing day
(``conf["day"]``, else the day the triggering ``kpi_daily`` event names, else the logical date's
day minus one). Reads: ``line_daily``, ``kpi_daily``, the registry's measures and adjustments.
Rewrites the last 35 days of ``baseline_daily`` (from the earliest baseline day with
``conf["full"]``) and the day's ``baseline_model`` and ``measure_savings``; keeps the CUSUM state
in ``baseline_state`` so the next night computes only its 35 days. Emits asset
``baseline_daily`` (extra: the day).
Writes: baseline_daily, baseline_model, measure_savings, baseline_state
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from ecm.dag_defaults import task_args

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
    default_args=task_args(retry_delay_minutes=5),
)
def ecm_baselines():
    @task
    def day_partition(logical_date=None, dag_run=None, triggering_asset_events=None) -> str:
        from ecm.pipeline.partitions import partition_month_day

        return partition_month_day(dag_run.conf if dag_run else None, logical_date, triggering_asset_events)

    @task(outlets=[BASELINE_DAILY])
    def baselines(day: str, dag_run=None, outlet_events=None) -> dict:
        from ecm.pipeline.baselines import run_baselines

        out = run_baselines(day, full=bool((dag_run.conf or {}).get("full")) if dag_run else False)
        if outlet_events is not None:
            outlet_events[BASELINE_DAILY].extra = {"day": day}
        return out

    baselines(day_partition())


ecm_baselines()
