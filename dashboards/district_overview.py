"""区县总览 / District overview: the officer's four questions, the answers on top.

Top row (read in five seconds): district status, intensity index against the path, capacity shares at
标杆/基准 against their goals, the CO₂ intensity trend, data coverage; below it the year-to-date window
(1–N月), structure × intensity effects (LMDI vs 2022), the index at 2022 weights, and the CO₂ index
against society-wide with its status. Below, one row per question:
1. 是否在路径上? Are we on the 13 % path? (path chart, enterprise status table → enterprise board)
2. 产能是否达到标杆/基准? Is capacity at 标杆/基准? (shares by industry, lines worse than 基准 → benchmarking)
3. CO₂是否比全社会降得更快? Is CO₂ falling faster than society? (CO₂ and its intensity)
4. 数据是否可信? Can we trust the data? (daily completeness, failed blocking checks)
Default time range: this year so far (``now/y``), so sums over ``$timeFilter`` are year to date.
Percentages in titles come from config/factors.yaml ``targets``.
"""
from __future__ import annotations

from dashboards import benchmarking, enterprise_detail
from dashboards import panels as P
from ecm import schema as S

UID = "ecm-district-overview"
KPI, DIST, FIRMS = P.ident(S.MEAS_KPI_MONTHLY), P.where_district(), P.where_firms()
CAP, BM = P.ident(S.MEAS_CAPACITY_SHARE_MONTHLY), P.ident(S.MEAS_BENCHMARK_MONTHLY)
ALL_IND = f"{P.ident(S.TAG_INDUSTRY)} = '{S.INDUSTRY_ALL}'"
STATUS_TH = P.status_thresholds()  # the vocabulary's colours (ecm.schema.Status)
ENTERPRISE_LINK = P.data_link("企业详情 / enterprise detail", enterprise_detail.UID, enterprise="${__value.raw}")


def _last(field: str, where: str = DIST, meas: str = KPI) -> dict:
    return P.target(f"SELECT last({P.ident(field)}) AS {P.ident(field)} FROM {meas} WHERE {where} AND $timeFilter")


def _count_status(level: int) -> str:
    inner = (f'SELECT last({P.ident(S.F_STATUS_LEVEL)}) AS "level" FROM {KPI} WHERE {FIRMS} AND $timeFilter '
             f'GROUP BY {P.ident(S.TAG_ENTERPRISE)}')
    return f'SELECT count("level") AS "n_enterprises" FROM ({inner}) WHERE "level" = {level}'


def _top_row() -> list[dict]:
    t = P.targets_cfg()
    path = P.pct(t.cumulative_reduction_frac)
    status = P.stat(1, P.title("区县达标状态", "district status"), [_last(S.F_STATUS_LEVEL)], P.grid(0, 0, 4, 5),
                    mappings=P.status_mappings(), th=STATUS_TH, unit="none",
                    desc=f"kpi_monthly status of the district: green = on the {path} path "
                         f"({t.base_year}→{t.end_year}), year to date.")
    index = P.stat(2, P.title(f"强度指数 vs {path}路径", f"intensity index vs {path} path", "2022=1"),
                   [P.target(f"SELECT last({P.ident(S.F_CUMULATIVE_INDEX)}) AS {P.ident(S.F_CUMULATIVE_INDEX)}, "
                             f"last({P.ident(S.F_PATH_INDEX)}) AS {P.ident(S.F_PATH_INDEX)} "
                             f"FROM {KPI} WHERE {DIST} AND $timeFilter")],
                   P.grid(4, 0, 4, 5), unit=P.U_INDEX, decimals=3, color_mode="value", text_mode="value_and_name",
                   overrides=[P.override("byName", S.F_CUMULATIVE_INDEX, [P.prop("displayName", "实际 actual")]),
                              P.override("byName", S.F_PATH_INDEX, [P.prop("displayName", "路径 path"),
                                                                      P.prop("color", {"mode": "fixed",
                                                                                       "fixedColor": "orange"})])],
                   desc="Year-to-date intensity ÷ 2022 intensity, against the year's target path index.")
    bench = P.gauge(3, P.title(f"标杆产能占比 (目标{P.pct(t.benchmark_share_goal_frac)})",
                               f"capacity at 标杆, goal {P.pct(t.benchmark_share_goal_frac)}"),
                    [_last(S.F_BENCHMARK_SHARE_FRAC, ALL_IND, CAP)], P.grid(8, 0, 4, 5), unit=P.U_FRAC, decimals=0,
                    min_=0, max_=1, th=P.thresholds((None, "red"), (t.benchmark_share_goal_frac, "green")))
    base = P.gauge(4, P.title(f"达基准产能占比 (目标{P.pct(t.baseline_share_goal_frac)})",
                              f"capacity at 基准, goal {P.pct(t.baseline_share_goal_frac)}"),
                   [_last(S.F_BASELINE_SHARE_FRAC, ALL_IND, CAP)], P.grid(12, 0, 4, 5), unit=P.U_FRAC, decimals=0,
                   min_=0, max_=1, th=P.thresholds((None, "red"), (0.9, "yellow"), (t.baseline_share_goal_frac, "green")))
    co2 = P.stat(5, P.title("CO₂强度 近3年", "CO₂ intensity, 3 years", "tCO₂/万元"),
                 [P.target(f"SELECT {P.ident(S.F_CO2_INTENSITY)} FROM {KPI} WHERE {DIST} AND $timeFilter")],
                 P.grid(16, 0, 4, 5), unit=P.U_CO2_INTENSITY, decimals=3, color_mode="none", graph_mode="area",
                 time_from="3y", desc="District CO₂ per 万元 of value added, by month (energy-related CO₂).")
    cover = P.stat(6, P.title("数据完整率", "data coverage"), [_last(S.F_COMPLETENESS_FRAC)], P.grid(20, 0, 4, 5),
                   unit=P.U_FRAC, decimals=1, th=P.thresholds((None, "red"), (0.9, "green")),
                   desc="Share of the district covered by valid data this year; below 90 % a figure is withheld.")
    return [status, index, bench, base, co2, cover] + _why_row(5)


def _why_row(y: int) -> list[dict]:
    """Second top row: the YTD window, structure vs efficiency (LMDI vs 2022) and the CO₂ target."""
    window = P.stat(61, P.title("评价期", "year-to-date window"),
                    [P.target(f"SELECT last({P.ident(S.F_YTD_WINDOW_ZH)}) AS {P.ident(S.F_YTD_WINDOW_ZH)}, "
                              f"last({P.ident(S.F_YTD_WINDOW_EN)}) AS {P.ident(S.F_YTD_WINDOW_EN)} "
                              f"FROM {KPI} WHERE {DIST} AND $timeFilter")],
                    P.grid(0, y, 4, 4), unit="none", color_mode="none", text_mode="value",
                    desc="Figures are year to date over this window (1–N月). January alone is not rated (Spring "
                         "Festival): the first coloured status of a year covers 1–2月.")
    window["options"]["reduceOptions"]["fields"] = "/.*/"
    effects = P.stat(62, P.title("结构效应 × 强度效应 (vs 2022)", "structure × intensity effect (vs 2022)", "2022=1"),
                     [P.target(f"SELECT last({P.ident(S.F_STRUCTURE_EFFECT_VS_BASE)}) AS "
                               f"{P.ident(S.F_STRUCTURE_EFFECT_VS_BASE)}, last({P.ident(S.F_INTENSITY_EFFECT_VS_BASE)}) "
                               f"AS {P.ident(S.F_INTENSITY_EFFECT_VS_BASE)} FROM {KPI} WHERE {DIST} AND $timeFilter")],
                     P.grid(4, y, 8, 4), unit=P.U_INDEX, decimals=3, color_mode="none", text_mode="value_and_name",
                     overrides=[P.override("byName", S.F_STRUCTURE_EFFECT_VS_BASE,
                                           [P.prop("displayName", "结构 structure (mix)")]),
                                P.override("byName", S.F_INTENSITY_EFFECT_VS_BASE,
                                           [P.prop("displayName", "强度 efficiency")])],
                     desc="Multiplicative LMDI (Ang 2005): district index = structure effect (value-added mix across "
                          "enterprises and industries) × intensity effect (the enterprises' own efficiency). A "
                          "structure effect below 1 means the district improved by shifting output, not efficiency.")
    fixed = P.stat(63, P.title("按2022权重指数", "index at 2022 weights", "2022=1"),
                   [_last(S.F_FIXED_WEIGHT_INDEX_VS_BASE)], P.grid(12, y, 4, 4), unit=P.U_INDEX, decimals=3,
                   color_mode="none", desc="Σ 2022 value-added share × YTD intensity ÷ 2022 intensity: the index "
                                           "had the mix stayed as in 2022.")
    co2 = P.stat(64, P.title("CO₂强度指数 vs 全社会", "CO₂ intensity index vs society-wide", "2022=1"),
                 [P.target(f"SELECT last({P.ident(S.F_CO2_INDEX_FIXED)}) AS {P.ident(S.F_CO2_INDEX_FIXED)}, "
                           f"last({P.ident(S.F_CO2_REFERENCE_INDEX)}) AS {P.ident(S.F_CO2_REFERENCE_INDEX)} "
                           f"FROM {KPI} WHERE {DIST} AND $timeFilter")],
                 P.grid(16, y, 4, 4), unit=P.U_INDEX, decimals=3, color_mode="none", text_mode="value_and_name",
                 overrides=[P.override("byName", S.F_CO2_INDEX_FIXED, [P.prop("displayName", "区县 district")]),
                            P.override("byName", S.F_CO2_REFERENCE_INDEX, [P.prop("displayName", "全社会 society")])],
                 desc="Energy-related CO₂ (能源活动二氧化碳) per 万元 of value added ÷ 2022, with the 2022 grid-factor "
                      "vintage in every year, beside the society-wide reference path (config co2_reference).")
    co2_status = P.stat(65, P.title("CO₂目标状态", "CO₂ target status"), [_last(S.F_CO2_STATUS_LEVEL)],
                        P.grid(20, y, 4, 4), mappings=P.status_mappings(), th=STATUS_TH, unit="none",
                        desc="Green = energy-related CO₂ intensity falling at least as fast as society-wide.")
    return [window, effects, fixed, co2, co2_status]


def _path_row(y: int) -> list[dict]:
    t = P.targets_cfg()
    path_pct = P.pct(t.cumulative_reduction_frac)
    path = P.timeseries(
        11, P.title(f"单位工业增加值能耗 vs {path_pct} 路径", f"unit value-added energy vs {path_pct} path", "2022=1"),
        [P.target(f"SELECT {P.ident(S.F_CUMULATIVE_INDEX)}, {P.ident(S.F_PATH_INDEX)} FROM {KPI} "
                  f"WHERE {DIST} AND $timeFilter", alias="$col")],
        P.grid(0, y + 1, 12, 10), unit=P.U_INDEX, decimals=3, time_from="3y", axis_label="指数 index (2022=1)",
        overrides=[P.override("byName", S.F_PATH_INDEX, [
            P.prop("displayName", f"{path_pct} 路径 / path"), P.prop("color", {"mode": "fixed", "fixedColor": "orange"}),
            P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]),
            P.override("byName", S.F_CUMULATIVE_INDEX, [
                P.prop("displayName", "区县实际 / district actual"),
                P.prop("color", {"mode": "fixed", "fixedColor": "blue"})])],
        desc="Actual cumulative intensity index (YTD basis) below the dashed path line = on track.")
    cols = [S.F_STATUS, S.F_STATUS_LEVEL, S.F_YTD_INTENSITY, S.F_YTD_CHANGE_FRAC, S.F_CUMULATIVE_INDEX,
            S.F_PATH_INDEX, S.F_REQUIRED_RATE_FRAC, S.F_COMPLETENESS_FRAC]
    sel = ", ".join(f"last({P.ident(c)}) AS {P.ident(c)}" for c in cols)
    table = P.table(
        12, P.title("企业达标状态 (点击企业查看详情)", "enterprise status (click for detail)"),
        [P.target(f"SELECT {sel} FROM {KPI} WHERE {FIRMS} AND $timeFilter GROUP BY {P.ident(S.TAG_ENTERPRISE)}",
                  fmt="table")],
        P.grid(12, y + 1, 12, 10), sort_by=[{"displayName": "状态 level", "desc": True}], unit="none",
        transformations=P.merge_organize({
            S.TAG_ENTERPRISE: "企业 enterprise", S.F_STATUS_LEVEL: "状态 level",
            S.F_YTD_INTENSITY: "累计强度 tce/万元", S.F_YTD_CHANGE_FRAC: "同比 YoY",
            S.F_CUMULATIVE_INDEX: "指数 index", S.F_PATH_INDEX: "路径 path",
            S.F_REQUIRED_RATE_FRAC: "需年变化 rate still allowed (+) / required (−)",
            S.F_COMPLETENESS_FRAC: "完整率 completeness"}, exclude=("Time", S.F_STATUS)),
        overrides=[
            P.override("byName", "企业 enterprise", [P.prop("mappings", P.enterprise_mappings()),
                                                      P.links_prop(ENTERPRISE_LINK)]),
            P.override("byName", "状态 level", [P.prop("mappings", P.status_mappings()), P.cell_color()]),
            P.override("byName", "累计强度 tce/万元", [P.prop("unit", P.U_INTENSITY), P.prop("decimals", 3)]),
            P.override("byName", "同比 YoY", [P.prop("unit", P.U_FRAC), P.prop("decimals", 1)]),
            P.override("byRegexp", "/需年变化/", [P.prop("unit", P.U_FRAC), P.prop("decimals", 1),
                                                  P.prop("thresholds", P.required_rate_config()["th"]),
                                                  P.prop("mappings", P.required_rate_config()["mappings"]),
                                                  P.cell_color("color-text")]),
            P.override("byName", "完整率 completeness", [P.prop("unit", P.U_FRAC), P.prop("decimals", 0)]),
            P.override("byRegexp", "/指数|路径/", [P.prop("unit", P.U_INDEX), P.prop("decimals", 3)])],
        desc="Latest month per enterprise, worst first. Red = off the path beyond tolerance. Click an enterprise.")
    counts = P.stat(13, P.title("红/黄企业数", "enterprises red, yellow"),
                    [P.target(_count_status(2), "A", alias="红 red"), P.target(_count_status(1), "B", alias="黄 yellow")],
                    P.grid(0, y + 11, 6, 4), text_mode="value_and_name", no_value="0", decimals=0, unit=P.U_COUNT,
                    overrides=[P.override("byName", "红 red", [P.prop("color", {"mode": "fixed", "fixedColor": "red"})]),
                               P.override("byName", "黄 yellow",
                                          [P.prop("color", {"mode": "fixed", "fixedColor": "yellow"})])])
    rate = P.stat(14, P.title("仍可(+)/仍需(−)年均变化", "annual change still allowed (+) or required (−)"),
                  [_last(S.F_REQUIRED_RATE_FRAC)], P.grid(6, y + 11, 6, 4), unit=P.U_FRAC, decimals=1,
                  color_mode="value", **P.required_rate_config(),
                  desc=f"Signed annual intensity change to {t.end_year}: −3 % = must fall 3 %/yr (green up to the "
                       "plan's own rate, yellow up to twice it, red when steeper); ≥ 0 = headroom (余量).")
    month = P.stat(15, P.title("本月综合能耗", "energy this month", "tce"), [_last(S.F_ENERGY_TCE)],
                   P.grid(12, y + 11, 6, 4), unit=P.U_TCE, decimals=0, color_mode="none",
                   desc="The latest month's total; the current month is month to date.")
    ytd = P.stat(16, P.title("年累计综合能耗", "energy year to date", "tce"),
                 [P.target(f"SELECT sum({P.ident(S.F_ENERGY_TCE)}) AS {P.ident(S.F_ENERGY_TCE)} FROM {KPI} "
                           f"WHERE {DIST} AND $timeFilter")],
                 P.grid(18, y + 11, 6, 4), unit=P.U_TCE, decimals=0, color_mode="none",
                 desc="Sum of the district's months in the selected range (default: this year so far).")
    return [P.row(10, P.title(f"是否在{path_pct}路径上?", f"Are we on the {path_pct} path?"), y),
            path, table, counts, rate, month, ytd]


def _capacity_row(y: int) -> list[dict]:
    t = P.targets_cfg()
    shares = P.bargauge(
        21, P.title(f"分行业达标杆产能占比 (目标{P.pct(t.benchmark_share_goal_frac)})",
                    f"capacity at 标杆 by industry, goal {P.pct(t.benchmark_share_goal_frac)}"),
        [P.target(f"SELECT last({P.ident(S.F_BENCHMARK_SHARE_FRAC)}) AS \"标杆 benchmark\", "
                  f"last({P.ident(S.F_BASELINE_SHARE_FRAC)}) AS \"达基准 baseline\" FROM {CAP} WHERE $timeFilter "
                  f"GROUP BY {P.ident(S.TAG_INDUSTRY)}", alias=f"$tag_{S.TAG_INDUSTRY} $col")],
        P.grid(0, y + 1, 12, 9), unit=P.U_FRAC, decimals=0, min_=0, max_=1,
        th=P.thresholds((None, "red"), (t.benchmark_share_goal_frac, "green")))
    cols = [S.F_GAP_TO_BASELINE_PCT, S.F_GAP_TO_BENCHMARK_PCT, S.F_CLASSIFICATION_LEVEL]
    inner = (f"SELECT {', '.join(f'last({P.ident(c)}) AS {P.ident(c)}' for c in cols)} FROM {BM} WHERE $timeFilter "
             f"GROUP BY {P.ident(S.TAG_ENTERPRISE)}, {P.ident(S.TAG_LINE)}")
    worse = P.table(
        22, P.title("劣于基准的产线 (点击产线对标)", "lines worse than 基准 (click for the line)"),
        [P.target(f"SELECT {P.ident(S.F_GAP_TO_BASELINE_PCT)}, {P.ident(S.F_GAP_TO_BENCHMARK_PCT)} FROM ({inner}) "
                  f"WHERE {P.ident(S.F_CLASSIFICATION_LEVEL)} = 2 GROUP BY {P.ident(S.TAG_ENTERPRISE)}, "
                  f"{P.ident(S.TAG_LINE)}", fmt="table")],
        P.grid(12, y + 1, 12, 9), unit="percent", decimals=1, no_value="无 none",
        sort_by=[{"displayName": "距基准 gap to 基准", "desc": True}],
        transformations=P.merge_organize({S.TAG_ENTERPRISE: "企业 enterprise", S.TAG_LINE: "产线 line",
                                          S.F_GAP_TO_BASELINE_PCT: "距基准 gap to 基准",
                                          S.F_GAP_TO_BENCHMARK_PCT: "距标杆 gap to 标杆"}),
        overrides=[P.override("byName", "企业 enterprise", [P.prop("mappings", P.enterprise_mappings()),
                                                             P.links_prop(ENTERPRISE_LINK)]),
                   P.override("byName", "产线 line", [P.links_prop(P.data_link(
                       "产线对标 / line benchmarking", benchmarking.UID, line="${__value.raw}"))])],
        desc="Lines whose 12-month unit energy is worse than 基准: to be retrofitted or phased out by the deadline.")
    return [P.row(20, P.title("产能是否达到标杆/基准?", "Is capacity at 标杆/基准?"), y), shares, worse]


def _co2_row(y: int) -> list[dict]:
    co2 = P.timeseries(
        31, P.title("二氧化碳排放与强度", "CO₂ and CO₂ intensity", "tCO₂, tCO₂/万元"),
        [P.target(f"SELECT {P.ident(S.F_CO2_T)}, {P.ident(S.F_CO2_INTENSITY)} FROM {KPI} WHERE {DIST} AND $timeFilter",
                  alias="$col")],
        P.grid(0, y + 1, 24, 9), draw="bars", time_from="3y", axis_label="tCO₂", unit=P.U_TCO2,
        overrides=[P.override("byName", S.F_CO2_INTENSITY, [
            P.prop("custom.drawStyle", "line"), P.prop("custom.axisPlacement", "right"), P.prop("unit", P.U_CO2_INTENSITY),
            P.prop("custom.axisLabel", "tCO₂/万元"), P.prop("decimals", 3),
            P.prop("displayName", "CO₂ 强度 / intensity (tCO₂/万元)")]),
            P.override("byName", S.F_CO2_T, [P.prop("displayName", "CO₂ 排放 / emissions (tCO₂)")])],
        desc="Energy-related CO₂ by month; the current month is month to date.")
    return [P.row(30, P.title("CO₂是否比全社会降得更快?", "Is CO₂ falling faster than society?"), y), co2]


def _trust_row(y: int) -> list[dict]:
    kd = P.ident(S.MEAS_KPI_DAILY)
    compl = P.timeseries(
        41, P.title("日数据完整率", "daily data completeness"),
        [P.target(f"SELECT mean({P.ident(S.F_COMPLETENESS_FRAC)}) AS \"mean\", min({P.ident(S.F_COMPLETENESS_FRAC)}) "
                  f"AS \"min\" FROM {kd} WHERE {FIRMS} AND $timeFilter GROUP BY time($__interval) fill(none) {P.GROUP_TZ}",
                  alias="企业 enterprises $col")],
        P.grid(0, y + 1, 12, 9), unit=P.U_FRAC, interval="1d", min_=0, max_=1,
        th=P.thresholds((None, "red"), (0.9, "green")),
        desc="Mean and worst enterprise completeness per day; below 90% the day's KPI is data_insufficient.")
    insuff = P.stat(42, P.title("数据不足企业", "enterprises data insufficient"),
                    [P.target(_count_status(3))], P.grid(12, y + 1, 4, 9), no_value="0", decimals=0, unit=P.U_COUNT,
                    th=P.thresholds((None, "green"), (1, S.Status.DATA_INSUFFICIENT.colour)))
    dq = P.ident(S.MEAS_DQ_RESULT)
    failed = P.table(
        43, P.title("未通过的阻断性检查", "failed blocking checks"),
        [P.target(f"SELECT count({P.ident(S.F_SUCCESS)}) AS \"n_days\", last({P.ident(S.F_PERIOD)}) AS "
                  f"{P.ident(S.F_PERIOD)} FROM {dq} WHERE {P.ident(S.F_SUCCESS)} = 0 AND {P.ident(S.TAG_SEVERITY)} = "
                  f"'block' AND $timeFilter GROUP BY {P.ident(S.TAG_ENTERPRISE)}, {P.ident(S.TAG_EXPECTATION)}",
                  fmt="table")],
        P.grid(16, y + 1, 8, 9), unit="suffix: 天", decimals=0, no_value="无 none", sort_by=[{"displayName": "天数 days", "desc": True}],
        transformations=P.merge_organize({S.TAG_ENTERPRISE: "企业 enterprise", S.TAG_EXPECTATION: "检查 check",
                                          "n_days": "天数 days", S.F_PERIOD: "最近 latest"}),
        overrides=[P.override("byName", "企业 enterprise", [P.prop("mappings", P.enterprise_mappings()),
                                                             P.links_prop(ENTERPRISE_LINK)])],
        desc="Days on which a blocking data-quality check failed (the day's KPI is withheld). Chase up gaps "
             "of more than 3 working days.")
    return [P.row(40, P.title("数据是否可信?", "Can we trust the data?"), y), compl, insuff, failed]


def annotations() -> list[dict]:
    """Registry retrofits and meter changes, data-insufficient enterprise-days and counter resets (dq_result)."""
    return [P.registry_annotation(), enterprise_detail.insufficient_days_annotation(FIRMS),
            enterprise_detail.counter_annotation(FIRMS)]


def build() -> dict:
    panels = _top_row() + _path_row(9) + _capacity_row(24) + _co2_row(34) + _trust_row(44)
    return P.dashboard(UID, "区县总览 / District overview", panels, tags=["district"], time_from="now/y",
                       refresh="15m", links=P.board_links(), annotations=annotations(),
                       description="Rongchang district: the path, capacity at 标杆/基准, CO₂, and whether the data holds.")
