"""InfluxDB measurement, tag and field names, defined once (docs/contracts.md §2 and §2.1).

Dashboards, alert rules and anything else that builds InfluxQL import these constants instead
of retyping names, so a rename is one edit here plus a contract change.
"""
from __future__ import annotations

# -- measurements (docs/contracts.md §2) ---------------------------------------------------------
MEAS_READINGS = "readings"
MEAS_ENTERPRISE_MONTHLY = "enterprise_monthly"
MEAS_DEVICE_STATUS = "device_status"
MEAS_INGEST_REJECTS = "ingest_rejects"
MEAS_INGEST_STATS = "ingest_stats"
# -- derived measurements (§2.1) -------------------------------------------------------------------
MEAS_METER_HOURLY = "meter_hourly"
MEAS_ENERGY_DAILY = "energy_daily"
MEAS_KPI_DAILY = "kpi_daily"
MEAS_LINE_DAILY = "line_daily"
MEAS_KPI_MONTHLY = "kpi_monthly"
MEAS_BENCHMARK_MONTHLY = "benchmark_monthly"
MEAS_CAPACITY_SHARE_MONTHLY = "capacity_share_monthly"
MEAS_DQ_RESULT = "dq_result"

# -- one writer per output (docs/contracts.md §2.1): the DAG whose docstring's ``Writes:`` line
# names it. dq_result is partitioned by its ``suite`` tag, written as ``dq_result[<suite>]``.
DAG_HOURLY, DAG_DAILY, DAG_MONTHLY, DAG_REPORT = ("ecm_hourly_rollup", "ecm_daily_kpis", "ecm_monthly_compliance",
                                                  "ecm_nightly_report")
REPORTS_OUTPUT = "reports/<day>/"
WRITERS = {
    MEAS_METER_HOURLY: DAG_HOURLY,
    MEAS_ENERGY_DAILY: DAG_DAILY, MEAS_LINE_DAILY: DAG_DAILY, MEAS_KPI_DAILY: DAG_DAILY,
    f"{MEAS_DQ_RESULT}[readings_daily]": DAG_DAILY, f"{MEAS_DQ_RESULT}[aggregates_daily]": DAG_DAILY,
    f"{MEAS_DQ_RESULT}[accounting_daily]": DAG_DAILY,
    MEAS_KPI_MONTHLY: DAG_MONTHLY, MEAS_BENCHMARK_MONTHLY: DAG_MONTHLY, MEAS_CAPACITY_SHARE_MONTHLY: DAG_MONTHLY,
    f"{MEAS_DQ_RESULT}[stats_monthly]": DAG_MONTHLY, f"{MEAS_DQ_RESULT}[accounting_monthly]": DAG_MONTHLY,
    REPORTS_OUTPUT: DAG_REPORT,
    "baseline_daily": "ecm_baselines", "baseline_model": "ecm_baselines", "measure_savings": "ecm_baselines",
}
#: written outside the DAGs: readings/device_status/ingest_* by the ingest bridge, enterprise_monthly
#: by `ecm stats import` / MQTT statistics

# -- tag keys and special tag values -----------------------------------------------------------------
TAG_ENTERPRISE = "enterprise"
TAG_METER = "meter"
TAG_QUANTITY = "quantity"
TAG_CARRIER = "carrier"
TAG_LINE = "line"
TAG_INDUSTRY = "industry"
TAG_PRODUCT_CLASS = "product_class"
TAG_REASON = "reason"
TAG_WORKER = "worker"
TAG_SUITE = "suite"
TAG_EXPECTATION = "expectation"
TAG_SEVERITY = "severity"
DISTRICT = "_district"          #: enterprise tag value of district rows
INDUSTRY_ALL = "all"            #: industry tag value of the whole-district capacity share

# -- common fields -------------------------------------------------------------------------------------
F_ENERGY_TCE = "energy_tce"
F_ENERGY_TCE_GENERATION = "energy_tce_generation"
F_CO2_T = "co2_t"
F_COMPLETENESS_FRAC = "completeness_frac"
F_FACTOR_TABLE_VERSION = "factor_table_version"
F_INCLUDED = "included"
F_DATA_STATUS = "data_status"

# readings / device_status / ingest_rejects
F_RECEIVED_MS = "received_ms"
F_SEQ = "seq"
Q_POWER_KW = "power_kw"
F_ONLINE = "online"
F_STATE = "state"
F_ENTERPRISE_CLAIMED = "enterprise_claimed"
F_TOPIC = "topic"
F_DETAIL = "detail"
F_PAYLOAD = "payload"

# enterprise_monthly
F_OUTPUT_VALUE_10K_CNY = "output_value_10k_cny"
F_VALUE_ADDED_10K_CNY = "value_added_10k_cny"
F_DEFLATOR_INDEX = "deflator_index"

# kpi_monthly
F_VALUE_ADDED_CURRENT_10K_CNY = "value_added_current_10k_cny"
F_INTENSITY = "intensity_tce_per_10k_cny"
F_CO2_INTENSITY = "co2_intensity_t_per_10k_cny"
F_YTD_INTENSITY = "ytd_intensity_tce_per_10k_cny"
F_YTD_CHANGE_FRAC = "ytd_change_frac"
F_CUMULATIVE_INDEX = "cumulative_index"
F_PATH_INDEX = "path_index"
F_REQUIRED_RATE_FRAC = "required_annual_rate_frac"
F_STATUS = "status"
F_STATUS_LEVEL = "status_level"
#: status_level -> status (kpi_monthly)
STATUS_LEVELS = {0: "green", 1: "yellow", 2: "red", 3: "data_insufficient"}

# benchmark_monthly: per-unit fields are PREFIX + unit, e.g. unit_energy_12m_kgce_per_m2
UNIT_ENERGY_UNITS = ("kgce_per_m2", "kgce_per_t", "kwh_per_t", "kgce_per_pcs")
P_UNIT_ENERGY = "unit_energy_"            # line_daily
P_UNIT_ENERGY_12M = "unit_energy_12m_"    # benchmark_monthly
P_UNIT_ENERGY_YTD = "unit_energy_ytd_"
P_BENCHMARK = "benchmark_"                # 标杆
P_BASELINE = "baseline_"                  # 基准
F_CLASSIFICATION = "classification"
F_CLASSIFICATION_LEVEL = "classification_level"
#: classification_level -> classification (benchmark_monthly)
CLASSIFICATION_LEVELS = {0: "at_or_better_than_benchmark", 1: "between", 2: "worse_than_baseline",
                         3: "no_benchmark"}
F_GB_GRADE = "gb_grade"
F_GAP_TO_BENCHMARK_PCT = "gap_to_benchmark_pct"
F_GAP_TO_BASELINE_PCT = "gap_to_baseline_pct"
F_CAPACITY_PER_DAY = "capacity_per_day"

# capacity_share_monthly
F_BENCHMARK_SHARE_FRAC = "benchmark_capacity_share_frac"
F_BASELINE_SHARE_FRAC = "baseline_capacity_share_frac"
F_CAPACITY_TOTAL = "capacity_total"
F_N_LINES = "n_lines"
BENCHMARK_SHARE_GOAL_FRAC = 0.30   #: share of capacity at 标杆 level, goal
BASELINE_SHARE_GOAL_FRAC = 1.0     #: share of capacity at or better than 基准, goal

# dq_result: GX suites (expectations/) and the accounting suites, whose rows are accounting issues
# (expectation = dotted issue name, success 0; docs/contracts.md §2.1)
SUITE_ACCOUNTING_DAILY = "accounting_daily"      #: issues of a Beijing day (written by ecm_daily_kpis)
SUITE_ACCOUNTING_MONTHLY = "accounting_monthly"  #: issues of a month's compliance (ecm_monthly_compliance)
F_SUBJECT = "subject"      #: accounting rows: comma-joined meters or lines the issue names ("" = enterprise)
F_BLOCKING = "blocking"    #: accounting rows: int 1/0, the figure the issue concerns is withheld
F_SUCCESS = "success"
F_OBSERVED = "observed"
F_OBSERVED_VALUE = "observed_value"
F_PERIOD = "period"

# ingest_stats (one point per worker every ECM_INGEST_STATS_INTERVAL_S; counters are cumulative
# since the worker started, so rates are non_negative_derivative of the counter)
# (names as written by ingest/stats.py, which documents every field)
F_MESSAGES_TOTAL = "messages_in"             #: MQTT messages received (counter)
F_POINTS_WRITTEN_TOTAL = "points_written"    #: points durably stored, InfluxDB or spool (counter)
F_REJECTS_TOTAL = "rejects_total"            #: readings quarantined (counter)
F_SPOOL_BYTES = "spool_bytes"                #: bytes waiting in the local spool (gauge)
F_SPOOL_USED_FRAC = "spool_fill_frac"        #: spool_bytes / ECM_INGEST_SPOOL_MAX_MB (gauge, alarm ≥ 0.8)
F_LATENCY_P50_MS = "e2e_latency_p50_ms"      #: MQTT receive → durably stored, median over the interval
F_LATENCY_P99_MS = "e2e_latency_p99_ms"      #: the same, 99th percentile
F_WRITE_LATENCY_P99_MS = "write_latency_p99_ms"  #: one InfluxDB /write request, 99th percentile
SPOOL_ALARM_FRAC = 0.8

# device monitoring rule: a gap of more than 3 working days must be chased up (national rule).
# InfluxQL has no calendar, so dashboards flag 72 h of silence (never later than 3 working days).
OFFLINE_WORKING_DAYS = 3
OFFLINE_FLAG_H = 72

# -- energy baselines, CUSUM and verified savings (docs/contracts.md §2.3; ecm/accounting/baselines.py)
MEAS_BASELINE_DAILY = "baseline_daily"
MEAS_BASELINE_MODEL = "baseline_model"
MEAS_MEASURE_SAVINGS = "measure_savings"
TAG_SCOPE = "scope"              #: "line" or "enterprise"
TAG_PURPOSE = "purpose"          #: "enpi" or "measure"
TAG_MEASURE = "measure"          #: measure id; "_enterprise" / "_district" on roll-up rows
TAG_LEVEL = "level"              #: "measure", "enterprise", "district"
F_EXPECTED_TCE = "expected_tce"
F_RESIDUAL_TCE = "residual_tce"
F_CUSUM_TCE = "cusum_tce"
F_DRIFT_UP = "drift_up"
F_DRIFT_DOWN = "drift_down"
F_DRIFT_ALARM = "drift_alarm"
F_PRODUCTION = "production"
F_MODEL_KIND = "model_kind"      #: "regression" / "ratio_fallback"
F_MODEL_VALID = "valid"
F_SAVINGS_TCE = "savings_tce"
F_SAVINGS_CO2_T = "savings_co2_t"
F_U68_TCE = "u68_tce"
F_U90_TCE = "u90_tce"
F_LOW90_TCE = "low90_tce"
F_HIGH90_TCE = "high90_tce"
F_SIGNIFICANT = "significant"
