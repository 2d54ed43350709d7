"""ecm_monthly_compliance — intensity vs the target path, benchmark attainment, capacity shares.

Schedule: after every ``kpi_daily`` update (asset) — so the month to date is always fresh —
and on the 1st of each month at 03:00 Asia/Shanghai to close the previous month. Each run owns
the Beijing month of its day (``conf["day"]``, else the day the triggering ``kpi_daily`` event
names, else the logical date's day minus one). Reads: ``kpi_daily``, ``energy_daily``, ``line_daily``,
``enterprise_monthly``, and the ``readings`` around blocked stretches of the compared spans (recovered
from counter registers, docs/contracts.md §4). Each write overwrites its month; a closed month whose
row predates statistics that have since arrived is recomputed in the same run. Emits asset ``kpi_monthly`` (extra: the
day), which triggers ``ecm_nightly_report``.

Writes: kpi_monthly, benchmark_monthly, capacity_share_monthly, dq_result[stats_monthly], dq_result[accounting_monthly]
"""
from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from ecm.dag_defaults import task_args

KPI_DAILY = Asset("influxdb://ecm/kpi_daily")
KPI_MONTHLY = Asset("influxdb://ecm/kpi_monthly")


@dag(
    dag_id="ecm_monthly_compliance",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 1 * *", timezone="Asia/Shanghai"), assets=KPI_DAILY
    ),
    start_date=pendulum.datetime(2022, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    tags=["ecm", "accounting", "compliance"],
    default_args=task_args(retry_delay_minutes=5),
)
def ecm_monthly_compliance():
    @task
    def month_partition(logical_date=None, dag_run=None, triggering_asset_events=None) -> str:
        from ecm.pipeline.partitions import partition_month_day

        return partition_month_day(dag_run.conf if dag_run else None, logical_date, triggering_asset_events)

    @task
    def load_inputs(day: str) -> str:
        from ecm.pipeline.monthly import check_inputs

        return check_inputs(day)

    @task(outlets=[KPI_MONTHLY])
    def compliance(day: str, outlet_events=None) -> dict:
        from ecm.pipeline.monthly import compute_monthly_compliance

        out = compute_monthly_compliance(day)
        if outlet_events is not None:
            outlet_events[KPI_MONTHLY].extra = {"day": day}
        return out

    compliance(load_inputs(month_partition()))


ecm_monthly_compliance()
