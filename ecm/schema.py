"""InfluxDB measurement, tag and field names, defined once (docs/contracts.md §2 and §2.1).

Dashboards, alert rules and anything else that builds InfluxQL import these constants instead
of retyping names, so a rename is one edit here plus a contract change.
"""
from __future__ import annotations

from enum import Enum

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
    "baseline_state": "ecm_baselines",
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
STATUS_NOT_RATED = "not_rated"   #: status_level 4: a January-only year to date, published without colour
# comparable periods (同口径, docs/contracts.md §4)
F_ESTIMATED = "estimated"                  #: int 1/0: a compared span rests partly on recovered days
F_INSUFFICIENT_SPANS = "insufficient_spans"  #: comma-joined spans (cur, prev, base) that failed coverage
F_ENTERPRISE_SHARE_FRAC = "enterprise_share_frac"  #: district: members ÷ enterprises (reference only)
F_N_MEMBERS = "n_members"                  #: district: enterprises of the comparable set
# January rule and window label
F_YTD_WINDOW_ZH = "ytd_window_zh"          #: 1–10月
F_YTD_WINDOW_EN = "ytd_window_en"          #: Jan–Oct
F_STATUS_NOTE_ZH = "status_note_zh"
F_STATUS_NOTE_EN = "status_note_en"
# signs and words
F_REQUIRED_RATE_KIND = "required_rate_kind"      #: must_fall | headroom | none
F_REQUIRED_RATE_COLOUR = "required_rate_colour"  #: green | yellow | red | grey
F_REQUIRED_RATE_TEXT_ZH = "required_rate_text_zh"
F_REQUIRED_RATE_TEXT_EN = "required_rate_text_en"
F_RED_REASON = "red_reason"                      #: yoy_rise_only | path_shortfall | path_shortfall_and_yoy_rise
F_ACTION_ZH = "action_zh"
F_ACTION_EN = "action_en"
# structure vs efficiency (LMDI, district row only): <effect>_vs_base and <effect>_vs_prev
LMDI_EFFECTS = ("total_ratio", "structure_effect", "structure_industry_effect", "structure_within_industry_effect",
                "intensity_effect", "fixed_weight_index")
F_STRUCTURE_EFFECT_VS_BASE = "structure_effect_vs_base"
F_INTENSITY_EFFECT_VS_BASE = "intensity_effect_vs_base"
F_FIXED_WEIGHT_INDEX_VS_BASE = "fixed_weight_index_vs_base"
F_MIX_EXPLANATION_ZH = "mix_explanation_zh"
F_MIX_EXPLANATION_EN = "mix_explanation_en"
# CO2 target (energy-related CO2 unless process CO2 is given for every row and span: prefix co2_)
P_CO2_TARGET = "energy_co2_"
F_CO2_INDEX_FIXED = "energy_co2_index_fixed_vintage"
F_CO2_INDEX_OWN = "energy_co2_index_own_vintage"
F_CO2_YOY_FIXED = "energy_co2_yoy_change_frac_fixed_vintage"
F_CO2_YOY_OWN = "energy_co2_yoy_change_frac_own_vintage"
F_CO2_STATUS = "energy_co2_status"
F_CO2_STATUS_LEVEL = "energy_co2_status_level"
F_CO2_REFERENCE_INDEX = "co2_reference_index"
#: every field of kpi_monthly, in the order written (docs/contracts.md §2.1)
KPI_MONTHLY_FIELDS = [
    "energy_tce", "energy_tce_generation", "co2_t", "value_added_10k_cny", "value_added_current_10k_cny",
    "intensity_tce_per_10k_cny", "co2_intensity_t_per_10k_cny", "ytd_energy_tce", "ytd_value_added_10k_cny",
    "ytd_intensity_tce_per_10k_cny", "ytd_change_frac", "cumulative_index", "path_index", "required_annual_rate_frac",
    "shortfall_frac", "status", "status_level", "completeness_frac", "ytd_through", "factor_table_version",
    "data_status", F_ESTIMATED, F_INSUFFICIENT_SPANS, "covered_frac_cur", "covered_frac_prev", "covered_frac_base",
    "estimated_frac_cur", "estimated_frac_prev", "estimated_frac_base", "energy_prev_year_tce",
    "value_added_prev_year_10k_cny", "energy_base_tce", "value_added_base_10k_cny", "base_intensity_tce_per_10k_cny",
    F_ENTERPRISE_SHARE_FRAC, F_N_MEMBERS, "n_value_added_months", F_YTD_WINDOW_ZH, F_YTD_WINDOW_EN, F_STATUS_NOTE_ZH, F_STATUS_NOTE_EN,
    F_REQUIRED_RATE_KIND, F_REQUIRED_RATE_COLOUR, F_REQUIRED_RATE_TEXT_ZH, F_REQUIRED_RATE_TEXT_EN, F_RED_REASON,
    F_ACTION_ZH, F_ACTION_EN,
    *[f"{e}_{c}" for c in ("vs_base", "vs_prev") for e in LMDI_EFFECTS], F_MIX_EXPLANATION_ZH, F_MIX_EXPLANATION_EN,
    "energy_co2_intensity_t_per_10k_cny", F_CO2_INDEX_FIXED, F_CO2_INDEX_OWN, F_CO2_YOY_FIXED, F_CO2_YOY_OWN,
    F_CO2_STATUS, F_CO2_STATUS_LEVEL, "grid_vintage_fixed", "grid_vintage_own", F_CO2_REFERENCE_INDEX,
    "co2_reference_annual_change_frac", "co2_basis", "co2_label_zh", "co2_label_en",
]

# benchmark_monthly: per-unit fields are PREFIX + unit, e.g. unit_energy_12m_kgce_per_m2
UNIT_ENERGY_UNITS = ("kgce_per_m2", "kgce_per_t", "kwh_per_t", "kgce_per_pcs")
P_UNIT_ENERGY = "unit_energy_"            # line_daily
P_UNIT_ENERGY_12M = "unit_energy_12m_"    # benchmark_monthly
P_UNIT_ENERGY_YTD = "unit_energy_ytd_"
P_BENCHMARK = "benchmark_"                # 标杆
P_BASELINE = "baseline_"                  # 基准
F_CLASSIFICATION = "classification"
F_CLASSIFICATION_LEVEL = "classification_level"
F_GB_GRADE = "gb_grade"
F_GAP_TO_BENCHMARK_PCT = "gap_to_benchmark_pct"
F_GAP_TO_BASELINE_PCT = "gap_to_baseline_pct"
F_CAPACITY_PER_DAY = "capacity_per_day"

# capacity_share_monthly
F_BENCHMARK_SHARE_FRAC = "benchmark_capacity_share_frac"
F_BASELINE_SHARE_FRAC = "baseline_capacity_share_frac"
F_CAPACITY_TOTAL = "capacity_total"
F_N_LINES = "n_lines"


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


# -- one vocabulary for statuses: stored value, level, Chinese and English labels, colour --------------
# The report (ecm/report/labels.py) and the boards (dashboards/panels.py) take their words and
# colours from here, so a status reads the same everywhere. Colours are hex (Grafana and HTML).
class _Term(str, Enum):
    """A stored string value with its ``level`` (sort/colour order), ``zh``, ``en`` and ``colour``."""

    def __new__(cls, value: str, level: int, zh: str, en: str, colour: str):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.level, obj.zh, obj.en, obj.colour = level, zh, en, colour
        return obj

    def __str__(self) -> str:
        return self.value

    __hash__ = str.__hash__  # equal to its stored string in sets, dicts and pandas .isin()

    @classmethod
    def levels(cls) -> dict[int, str]:
        """level -> stored value (first member of each level)."""
        out: dict[int, str] = {}
        for m in cls:
            out.setdefault(m.level, m.value)
        return out


COLOUR_GOOD, COLOUR_WARN, COLOUR_BAD, COLOUR_NONE, COLOUR_INFO = "#2e7d32", "#f9a825", "#c62828", "#757575", "#1565c0"


class Status(_Term):
    """``kpi_monthly.status`` against the target path (晴雨表 levels); ``status_level`` = level."""

    GREEN = ("green", 0, "正常", "on track", COLOUR_GOOD)
    YELLOW = ("yellow", 1, "预警", "warning", COLOUR_WARN)
    RED = ("red", 2, "滞后", "behind the path", COLOUR_BAD)
    DATA_INSUFFICIENT = ("data_insufficient", 3, "数据不足", "data insufficient", COLOUR_NONE)
    NOT_RATED = ("not_rated", 4, "1月不单独评价", "not rated in January (Spring Festival)", COLOUR_INFO)


class Classification(_Term):
    """``benchmark_monthly.classification`` of a line (NDRC 标杆/基准); ``classification_level`` = level."""

    AT_OR_BETTER_THAN_BENCHMARK = ("at_or_better_than_benchmark", 0, "达到标杆", "at or better than benchmark",
                                   COLOUR_GOOD)
    BETWEEN = ("between", 1, "标杆与基准之间", "between benchmark and baseline", COLOUR_WARN)
    WORSE_THAN_BASELINE = ("worse_than_baseline", 2, "劣于基准", "worse than baseline", COLOUR_BAD)
    NO_BENCHMARK = ("no_benchmark", 3, "无标杆值", "no benchmark", COLOUR_INFO)
    DATA_INSUFFICIENT = ("data_insufficient", 3, "数据不足", "data insufficient", COLOUR_NONE)


class DataStatus(_Term):
    """``kpi_daily.data_status`` (and the monthly enterprise rows before the path rule)."""

    OK = ("ok", 0, "数据完整", "data complete", COLOUR_GOOD)
    DATA_INSUFFICIENT = ("data_insufficient", 3, "数据不足", "data insufficient", COLOUR_NONE)


#: status_level -> status (kpi_monthly)
STATUS_LEVELS = Status.levels()
#: classification_level -> classification (benchmark_monthly); level 3 is "no level to compare with"
CLASSIFICATION_LEVELS = Classification.levels()
DATA_INSUFFICIENT = DataStatus.DATA_INSUFFICIENT.value
DATA_OK = DataStatus.OK.value


# -- targets (config/factors.yaml ``targets``): read there, never retyped --------------------------------
def targets():
    """The configured targets (``base_year``, ``end_year``, ``cumulative_reduction_frac``,
    ``yellow_tolerance_frac``, ``benchmark_share_goal_frac``, ``baseline_share_goal_frac``)."""
    from ecm.factors import get_factors

    return get_factors().targets


def target_words() -> dict:
    """Target figures for titles and report text: ``path_pct`` (13), ``base_year``, ``end_year``,
    ``benchmark_goal_pct`` (30), ``baseline_goal_pct`` (100), ``tolerance_pct`` (10)."""
    t = targets()
    return {"path_pct": round(t.cumulative_reduction_frac * 100, 1) if (t.cumulative_reduction_frac * 100) % 1
            else int(round(t.cumulative_reduction_frac * 100)),
            "base_year": t.base_year, "end_year": t.end_year,
            "benchmark_goal_pct": int(round(t.benchmark_share_goal_frac * 100)),
            "baseline_goal_pct": int(round(t.baseline_share_goal_frac * 100)),
            "tolerance_pct": int(round(t.yellow_tolerance_frac * 100))}

# -- energy baselines, CUSUM and verified savings (docs/contracts.md §2.3; ecm/accounting/baselines.py)
MEAS_BASELINE_DAILY = "baseline_daily"
MEAS_BASELINE_MODEL = "baseline_model"
MEAS_MEASURE_SAVINGS = "measure_savings"
MEAS_BASELINE_STATE = "baseline_state"   #: internal: CUSUM/detection state, fits and savings sums carried to the next night
F_STATE_FIT = "fit"              #: baseline_state: the scope's fitted model (JSON, exact floats)
F_STATE_DATA_KEY = "data_key"    #: baseline_state: fingerprint of the baseline period's data of the fit
F_STATE_CARRY = "carry"          #: baseline_state (scope "measure"): the measure's savings carry (JSON)
SCOPE_MEASURE = "measure"        #: baseline_state scope of a measure's carry
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
DAG_BASELINES = "ecm_baselines"
WRITERS.update({MEAS_BASELINE_DAILY: DAG_BASELINES, MEAS_BASELINE_MODEL: DAG_BASELINES,
                MEAS_MEASURE_SAVINGS: DAG_BASELINES})
