"""企业详情 / Enterprise detail, for one enterprise (variable ``$enterprise``: ``e01 渝荣陶瓷``, passes ``e01``).

Top row: status, year-to-date intensity, change on last year, the annual change still allowed or
required, data completeness. Then one row per question: is the enterprise on its path (path chart,
energy by carrier); are its lines at 标杆/基准 (unit energy per line and a line table, each linking to
the line on the benchmarking board); can its data be trusted (data-quality results, devices).
Annotations mark data-insufficient days and counter resets / meter replacements; the last row lists
the accounting issues of the period (dq_result suites ``accounting_*``) in plain words.
"""
from __future__ import annotations

from dashboards import panels as P
from ecm import schema as S

UID = "ecm-enterprise-detail"
BENCHMARKING_UID = "ecm-benchmarking"   # dashboards/benchmarking.py UID (imported there from here would cycle)
ENT = P.where_var(S.TAG_ENTERPRISE, "enterprise")
KPI = P.ident(S.MEAS_KPI_MONTHLY)
STATUS_TH = P.status_thresholds()  # the vocabulary's colours (ecm.schema.Status)
UNIT_SUFFIX = {"kgce_per_m2": "kgce/m²", "kgce_per_t": "kgce/t", "kwh_per_t": "kWh/t", "kgce_per_pcs": "kgce/件"}


def insufficient_days_annotation(where: str = ENT) -> dict:
    """Enterprise-days whose KPI is withheld (kpi_daily data_status = data_insufficient)."""
    q = (f"SELECT {P.ident(S.F_DATA_STATUS)}, {P.ident(S.F_COMPLETENESS_FRAC)} FROM {P.ident(S.MEAS_KPI_DAILY)} "
         f"WHERE {where} AND {P.ident(S.F_DATA_STATUS)} = 'data_insufficient' AND $timeFilter "
         f"GROUP BY {P.ident(S.TAG_ENTERPRISE)}")
    return P.annotation("数据不足日 / data-insufficient days", q, S.Status.DATA_INSUFFICIENT.colour, text_column=S.F_DATA_STATUS,
                        tags_column=S.TAG_ENTERPRISE)


def counter_annotation(where: str = ENT) -> dict:
    """Days a counter check failed: a reset, a rollover or a replaced meter (dq_result)."""
    q = (f"SELECT {P.ident(S.F_OBSERVED)}, {P.ident(S.F_SUCCESS)} FROM {P.ident(S.MEAS_DQ_RESULT)} "
         f"WHERE {where} AND {P.ident(S.TAG_EXPECTATION)} =~ /counter/ AND {P.ident(S.F_SUCCESS)} = 0 AND $timeFilter "
         f"GROUP BY {P.ident(S.TAG_ENTERPRISE)}, {P.ident(S.TAG_EXPECTATION)}")
    return P.annotation("表计更换/计数器复位 / meter replaced or counter reset", q, "orange",
                        text_column=S.F_OBSERVED, tags_column=S.TAG_EXPECTATION)


def failed_checks_annotation(where: str = ENT) -> dict:
    """Days a blocking data-quality check failed (dq_result)."""
    q = (f"SELECT {P.ident(S.F_OBSERVED)}, {P.ident(S.F_SUCCESS)} FROM {P.ident(S.MEAS_DQ_RESULT)} "
         f"WHERE {where} AND {P.ident(S.TAG_SEVERITY)} = 'block' AND {P.ident(S.F_SUCCESS)} = 0 AND $timeFilter "
         f"GROUP BY {P.ident(S.TAG_EXPECTATION)}")
    return P.annotation("阻断性检查未通过 / blocking check failed", q, "red", text_column=S.F_OBSERVED,
                        tags_column=S.TAG_EXPECTATION)


def _last(field: str) -> dict:
    return P.target(f"SELECT last({P.ident(field)}) AS {P.ident(field)} FROM {KPI} WHERE {ENT} AND $timeFilter")


def _top_row() -> list[dict]:
    return [
        P.stat(1, P.title("达标状态", "status"), [_last(S.F_STATUS_LEVEL)], P.grid(0, 0, 5, 4), unit="none",
               mappings=P.status_mappings(), th=STATUS_TH),
        P.stat(2, P.title("累计能耗强度", "YTD intensity", "tce/万元"), [_last(S.F_YTD_INTENSITY)],
               P.grid(5, 0, 5, 4), unit=P.U_INTENSITY, decimals=3, color_mode="none",
               desc="Year-to-date 吨标准煤 (tce) per 万元 of value added at 2022 prices."),
        P.stat(3, P.title("同比变化", "YTD change vs last year"), [_last(S.F_YTD_CHANGE_FRAC)], P.grid(10, 0, 5, 4),
               unit=P.U_FRAC, decimals=1, color_mode="value", th=P.thresholds((None, "green"), (0, "red"))),
        P.stat(4, P.title("仍可(+)/仍需(−)年均变化", "annual change still allowed (+) or required (−)"),
               [_last(S.F_REQUIRED_RATE_FRAC)], P.grid(15, 0, 5, 4), unit=P.U_FRAC, decimals=1, color_mode="value",
               **P.required_rate_config(),
               desc="Signed: −3 % = intensity must fall 3 %/yr (green up to the plan's own rate, yellow up to twice "
                    "it, red when steeper); ≥ 0 = headroom (余量)."),
        P.stat(5, P.title("数据完整率", "data coverage"), [_last(S.F_COMPLETENESS_FRAC)], P.grid(20, 0, 4, 4),
               unit=P.U_FRAC, decimals=1, th=P.thresholds((None, "red"), (0.9, "green"))),
    ]


def _path_row(y: int) -> list[dict]:
    path = P.timeseries(
        11, P.title("能耗强度指数 vs 路径", "intensity index vs path", "2022=1"),
        [P.target(f"SELECT {P.ident(S.F_CUMULATIVE_INDEX)}, {P.ident(S.F_PATH_INDEX)} FROM {KPI} "
                  f"WHERE {ENT} AND $timeFilter", alias="$col")],
        P.grid(0, y + 1, 12, 9), unit=P.U_INDEX, decimals=3, time_from="3y",
        overrides=[P.override("byName", S.F_PATH_INDEX, [
            P.prop("displayName", "路径 / path"), P.prop("color", {"mode": "fixed", "fixedColor": "orange"}),
            P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]),
            P.override("byName", S.F_CUMULATIVE_INDEX, [P.prop("displayName", "企业实际 / actual")])])
    carriers = P.timeseries(
        12, P.title("分品种综合能耗", "energy by carrier", "tce"),
        [P.target(f"SELECT sum({P.ident(S.F_ENERGY_TCE)}) FROM {P.ident(S.MEAS_ENERGY_DAILY)} WHERE {ENT} "
                  f"AND $timeFilter GROUP BY time($__interval), {P.ident(S.TAG_CARRIER)} fill(none) {P.GROUP_TZ}",
                  alias=f"$tag_{S.TAG_CARRIER}")],
        P.grid(12, y + 1, 12, 9), draw="bars", stack=True, interval="1d", decimals=2, axis_label="tce",
        unit=P.U_TCE,
        desc="Daily 吨标准煤 (tce, 当量值 basis) per carrier; generation and waste heat recovery count negative.")
    return [P.row(10, P.title("是否在路径上?", "Is this enterprise on its path?"), y), path, carriers]


def _lines_row(y: int) -> list[dict]:
    to_line = P.data_link("产线对标 / line benchmarking", BENCHMARKING_UID, enterprise=None,
                          line="${__field.labels.line}")
    unit_energy = P.target(
        f"SELECT mean(/^{S.P_UNIT_ENERGY}/) FROM {P.ident(S.MEAS_LINE_DAILY)} WHERE {ENT} AND $timeFilter "
        f"GROUP BY time($__interval), {P.ident(S.TAG_LINE)} fill(none) {P.GROUP_TZ}",
        "A", alias=f"$tag_{S.TAG_LINE} $col")
    levels = P.target(
        f"SELECT last(/^({S.P_BENCHMARK}|{S.P_BASELINE})/) FROM {P.ident(S.MEAS_BENCHMARK_MONTHLY)} WHERE {ENT} "
        f"AND $timeFilter GROUP BY time($__interval), {P.ident(S.TAG_LINE)} fill(previous) {P.GROUP_TZ}",
        "B", alias=f"$tag_{S.TAG_LINE} $col")
    unit_overrides = [P.override("byRegexp", f"/{u}/", [P.prop("unit", f"suffix: {label}")])
                      for u, label in UNIT_SUFFIX.items()]
    lines = P.timeseries(
        21, P.title("产线单位产品能耗 vs 标杆/基准 (点击产线)", "unit product energy per line vs 标杆/基准 (click a line)",
                    "kgce/m², kgce/t, kWh/t, kgce/件"),
        [unit_energy, levels], P.grid(0, y + 1, 16, 10), interval="1d", decimals=2, unit="suffix: kgce",
        links=[to_line],
        overrides=unit_overrides + [
            P.override("byRegexp", f"/{S.P_BENCHMARK}/", [
                P.prop("color", {"mode": "fixed", "fixedColor": "green"}),
                P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]),
            P.override("byRegexp", f"/{S.P_BASELINE}/", [
                P.prop("color", {"mode": "fixed", "fixedColor": "red"}),
                P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})])],
        desc="Daily unit energy per line (unit in the series name) against 标杆 (green dashed) and 基准 (red dashed).")
    power = P.timeseries(
        22, P.title("主表实时功率", "live power, main meters", "kW"),
        [P.target(f"SELECT mean({P.ident(S.Q_POWER_KW)}) FROM {P.READINGS_FROM} WHERE {ENT} AND "
                  f"{P.ident(S.TAG_QUANTITY)} = '{S.Q_POWER_KW}' AND $timeFilter GROUP BY time($__interval), "
                  f"{P.ident(S.TAG_METER)} fill(none) {P.GROUP_TZ}", alias=f"$tag_{S.TAG_METER}")],
        P.grid(16, y + 1, 8, 10), unit="kwatt", time_from="24h", interval="1m")
    table = P.table(
        23, P.title("产线分级 (点击产线对标)", "line classification (click for the line)"),
        [P.target(f"SELECT last({P.ident(S.F_CLASSIFICATION)}) AS {P.ident(S.F_CLASSIFICATION)}, "
                  f"last({P.ident(S.F_GAP_TO_BASELINE_PCT)}) AS {P.ident(S.F_GAP_TO_BASELINE_PCT)}, "
                  f"last({P.ident(S.F_GAP_TO_BENCHMARK_PCT)}) AS {P.ident(S.F_GAP_TO_BENCHMARK_PCT)} "
                  f"FROM {P.ident(S.MEAS_BENCHMARK_MONTHLY)} WHERE {ENT} AND $timeFilter "
                  f"GROUP BY {P.ident(S.TAG_LINE)}, {P.ident(S.TAG_PRODUCT_CLASS)}", fmt="table")],
        P.grid(0, y + 11, 24, 6), unit="percent", decimals=1,
        transformations=P.merge_organize({S.TAG_LINE: "产线 line", S.TAG_PRODUCT_CLASS: "产品类别 product class",
                                          S.F_CLASSIFICATION: "分级 class",
                                          S.F_GAP_TO_BASELINE_PCT: "距基准 gap to 基准",
                                          S.F_GAP_TO_BENCHMARK_PCT: "距标杆 gap to 标杆"}),
        overrides=[P.override("byName", "产线 line", [P.links_prop(P.data_link(
            "产线对标 / line benchmarking", BENCHMARKING_UID, enterprise=None, line="${__value.raw}"))])])
    return [P.row(20, P.title("产线是否达到标杆/基准?", "Are the lines at 标杆/基准?"), y), lines, power, table]


def _trust_row(y: int) -> list[dict]:
    dq = P.table(
        31, P.title("数据质量检查", "data-quality results"),
        [P.target(f"SELECT last({P.ident(S.F_SUCCESS)}) AS {P.ident(S.F_SUCCESS)}, last({P.ident(S.F_OBSERVED)}) "
                  f"AS {P.ident(S.F_OBSERVED)}, last({P.ident(S.F_PERIOD)}) AS {P.ident(S.F_PERIOD)} "
                  f"FROM {P.ident(S.MEAS_DQ_RESULT)} WHERE {ENT} AND $timeFilter "
                  f"GROUP BY {P.ident(S.TAG_SUITE)}, {P.ident(S.TAG_EXPECTATION)}, {P.ident(S.TAG_SEVERITY)}",
                  fmt="table")],
        P.grid(0, y + 1, 14, 9), sort_by=[{"displayName": S.F_SUCCESS, "desc": False}],
        transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        overrides=[P.override("byName", S.F_SUCCESS, [
            P.prop("mappings", [{"type": "value", "options": {
                "1": {"text": "通过 pass", "color": "green", "index": 0},
                "0": {"text": "未通过 fail", "color": "red", "index": 1}}}]), P.cell_color()])])
    devices = P.table(
        32, P.title("设备在线状态", "device online status"),
        [P.target(f"SELECT last({P.ident(S.F_ONLINE)}) AS {P.ident(S.F_ONLINE)} "
                  f"FROM {P.ident(S.MEAS_DEVICE_STATUS)} WHERE {ENT} AND $timeFilter "
                  f"GROUP BY {P.ident(S.TAG_METER)}", fmt="table")],
        P.grid(14, y + 1, 10, 9), time_from="30d", sort_by=[{"displayName": S.F_ONLINE, "desc": False}],
        transformations=[{"id": "organize", "options": {"renameByName": {"Time": "最近状态 last status at"}}}],
        overrides=[P.override("byName", S.F_ONLINE, [
            P.prop("mappings", [{"type": "value", "options": {
                "1": {"text": "在线 online", "color": "green", "index": 0},
                "0": {"text": "离线 offline", "color": "red", "index": 1}}}]), P.cell_color()])],
        desc="Last retained status per meter/gateway in the last 30 days (time = when it was reported).")
    dqm = P.ident(S.MEAS_DQ_RESULT)
    issues = P.table(
        33, P.title("核算问题清单", "accounting issues"),
        [P.target(f"SELECT last({P.ident(S.F_OBSERVED)}) AS {P.ident(S.F_OBSERVED)}, last({P.ident(S.F_SUBJECT)}) AS "
                  f"{P.ident(S.F_SUBJECT)}, last({P.ident(S.F_BLOCKING)}) AS {P.ident(S.F_BLOCKING)}, "
                  f"last({P.ident(S.F_PERIOD)}) AS {P.ident(S.F_PERIOD)}, count({P.ident(S.F_SUCCESS)}) AS \"n_periods\" "
                  f"FROM {dqm} WHERE {ENT} AND {P.ident(S.TAG_SUITE)} =~ /^accounting/ AND $timeFilter "
                  f"GROUP BY {P.ident(S.TAG_SUITE)}, {P.ident(S.TAG_EXPECTATION)}", fmt="table")],
        P.grid(0, y + 10, 24, 7), unit="none", no_value="无 none",
        sort_by=[{"displayName": "阻断 withheld", "desc": True}],
        transformations=P.merge_organize({S.TAG_SUITE: "范围 scope", S.TAG_EXPECTATION: "问题 issue",
                                          S.F_OBSERVED: "说明 what happened", S.F_SUBJECT: "表计/产线 meters, lines",
                                          S.F_BLOCKING: "阻断 withheld", S.F_PERIOD: "最近 latest",
                                          "n_periods": "次数 periods"}),
        overrides=[P.override("byName", "阻断 withheld", [
            P.prop("mappings", [{"type": "value", "options": {
                "1": {"text": "数值暂缓 figure withheld", "color": "purple", "index": 0},
                "0": {"text": "提示 note", "color": "text", "index": 1}}}]), P.cell_color()])],
        desc="Issues the accounting raised for this enterprise (dq_result suites accounting_daily/monthly): a "
             "blocking one withholds the figure it concerns (data_insufficient).")
    return [P.row(30, P.title("数据是否可信?", "Can we trust the data?"), y), dq, devices, issues]


def build() -> dict:
    panels = _top_row() + _path_row(4) + _lines_row(14) + _trust_row(31)
    return P.dashboard(UID, "企业详情 / Enterprise detail", panels, tags=["enterprise"],
                       variables=[P.enterprise_variable()], time_from="now-90d", refresh="5m", links=P.board_links(),
                       annotations=[P.registry_annotation("$enterprise"), insufficient_days_annotation(),
                                    counter_annotation(), failed_checks_annotation()],
                       description="One enterprise: status, energy by carrier, lines vs 标杆/基准, data quality, devices.")
