"""ecm_hourly_rollup — raw meter counters → hourly consumption per meter.

Schedule: hourly at :05, Asia/Shanghai. Each run owns one Beijing hour, its data interval
[start, end) (or ``conf["hour"]``); runs can be made for any hour from 2022-01-01. Reads:
``readings``, the platform's one pass over raw rows: per meter and hour the consumption, flags
and the quality metrics the nightly gate validates. Emits asset ``meter_hourly`` (overwritten
for the hour, so re-runs are idempotent). The previous hour is rolled up again (its last reading
is classified with its successor), and so are earlier hours (within the ingest max age) that
received late readings since the last run.

Writes: meter_hourly
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from ecm.dag_defaults import task_args

METER_HOURLY = Asset("influxdb://ecm/meter_hourly")


@dag(
    dag_id="ecm_hourly_rollup",
    schedule=CronDataIntervalTimetable("5 * * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["ecm", "accounting"],
    default_args=task_args(retry_delay_minutes=2),
)
def ecm_hourly_rollup():
    @task
    def hour_partition(data_interval_start=None, dag_run=None) -> str:
        from ecm.pipeline.partitions import partition_hour

        return partition_hour(dag_run.conf if dag_run else None, data_interval_start)

    @task
    def late_hours(hour: str) -> list[str]:
        from ecm.pipeline.late import find_late_hours

        return find_late_hours(hour)

    @task(outlets=[METER_HOURLY])
    def rollup(hour: str, late: list[str]) -> int:
        from ecm.pipeline.hourly import rollup_hours

        import pandas as pd

        # the previous hour again: its last reading is classified with its successor (a glitch
        # at the hour's end), which arrives in this hour
        prev = (pd.Timestamp(hour) - pd.Timedelta(hours=1)).isoformat()
        return rollup_hours(sorted({prev, hour, *late}))

    hour = hour_partition()
    rollup(hour, late_hours(hour))


ecm_hourly_rollup()
