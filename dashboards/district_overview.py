"""区县总览 / District overview: is the district on the target path, and which enterprises are not?

Top rows (read in five seconds): district status, cumulative index against the path, count of red
and yellow enterprises, required annual rate; then the path chart and the enterprise status table.
Below: energy this month and YTD, capacity shares at 标杆/基准, CO2, data completeness.
Default time range: this year so far (``now/y``), so sums over ``$timeFilter`` are year to date.
"""
from __future__ import annotations

from dashboards import panels as P
from ecm import schema as S

UID = "ecm-district-overview"
KPI, DIST, FIRMS = P.ident(S.MEAS_KPI_MONTHLY), P.where_district(), P.where_firms()


def _count_status(level: int) -> str:
    inner = (f'SELECT last({P.ident(S.F_STATUS_LEVEL)}) AS "level" FROM {KPI} WHERE {FIRMS} AND $timeFilter '
             f'GROUP BY {P.ident(S.TAG_ENTERPRISE)}')
    return f'SELECT count("level") AS "n_enterprises" FROM ({inner}) WHERE "level" = {level}'


def _top_row() -> list[dict]:
    T = S.target_words()
    status = P.stat(1, P.title("区县达标状态", "district status"),
                    [P.target(f"SELECT last({P.ident(S.F_STATUS_LEVEL)}) FROM {KPI} WHERE {DIST} AND $timeFilter")],
                    P.grid(0, 0, 6, 5), mappings=P.status_mappings(),
                    th=P.status_thresholds(),
                    desc=f"kpi_monthly status of the district (_district): green = on the {T['path_pct']}% path.")
    index = P.stat(2, P.title("累计能耗强度指数 vs 路径", "cumulative index vs path", "2022=1"),
                   [P.target(f"SELECT last({P.ident(S.F_CUMULATIVE_INDEX)}) AS {P.ident(S.F_CUMULATIVE_INDEX)}, "
                             f"last({P.ident(S.F_PATH_INDEX)}) AS {P.ident(S.F_PATH_INDEX)} "
                             f"FROM {KPI} WHERE {DIST} AND $timeFilter")],
                   P.grid(6, 0, 6, 5), decimals=3, color_mode="value", text_mode="value_and_name",
                   desc="Intensity ÷ 2022 intensity (YTD basis) against the year's target path index.")
    counts = P.stat(3, P.title("红/黄企业数", "enterprises red, yellow"),
                    [P.target(_count_status(2), "A", alias="红 red"), P.target(_count_status(1), "B", alias="黄 yellow")],
                    P.grid(12, 0, 6, 5), text_mode="value_and_name", no_value="0", decimals=0,
                    overrides=[P.override("byName", "红 red", [P.prop("color", {"mode": "fixed", "fixedColor": "red"})]),
                               P.override("byName", "黄 yellow",
                                          [P.prop("color", {"mode": "fixed", "fixedColor": "yellow"})])],
                    color_mode="background")
    rate = P.stat(4, P.title("仍需年均降幅", "required annual decline"),
                  [P.target(f"SELECT last({P.ident(S.F_REQUIRED_RATE_FRAC)}) FROM {KPI} WHERE {DIST} AND $timeFilter")],
                  P.grid(18, 0, 6, 5), unit="percentunit", decimals=1, color_mode="value",
                  th=P.thresholds((None, "green"), (0.03, "yellow"), (0.05, "red")),
                  desc=f"Decline of intensity still needed per remaining year to meet the {T['path_pct']}% goal.")
    return [status, index, counts, rate]


def _path_and_table() -> list[dict]:
    T = S.target_words()
    path = P.timeseries(
        5, P.title(f"单位工业增加值能耗 vs {T['path_pct']}% 路径", f"unit value-added energy vs {T['path_pct']}% path",
                   f"{T['base_year']}=1"),
        [P.target(f"SELECT {P.ident(S.F_CUMULATIVE_INDEX)}, {P.ident(S.F_PATH_INDEX)} FROM {KPI} "
                  f"WHERE {DIST} AND $timeFilter", alias="$col")],
        P.grid(0, 5, 12, 10), decimals=3, time_from="3y", axis_label="指数 index (2022=1)",
        overrides=[P.override("byName", S.F_PATH_INDEX, [
            P.prop("displayName", f"{T['path_pct']}% 路径 / path"), P.prop("color", {"mode": "fixed", "fixedColor": "orange"}),
            P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]),
            P.override("byName", S.F_CUMULATIVE_INDEX, [
                P.prop("displayName", "区县实际 / district actual"),
                P.prop("color", {"mode": "fixed", "fixedColor": "blue"})])],
        desc="Actual cumulative intensity index (YTD basis) below the dashed path line = on track.")
    cols = [S.F_STATUS, S.F_STATUS_LEVEL, S.F_YTD_INTENSITY, S.F_YTD_CHANGE_FRAC, S.F_CUMULATIVE_INDEX,
            S.F_PATH_INDEX, S.F_REQUIRED_RATE_FRAC, S.F_COMPLETENESS_FRAC]
    sel = ", ".join(f"last({P.ident(c)}) AS {P.ident(c)}" for c in cols)
    status_table = P.table(
        6, P.title("企业达标状态", "enterprise status"),
        [P.target(f"SELECT {sel} FROM {KPI} WHERE {FIRMS} AND $timeFilter GROUP BY {P.ident(S.TAG_ENTERPRISE)}",
                  fmt="table")],
        P.grid(12, 5, 12, 10), sort_by=[{"displayName": "状态 level", "desc": True}],
        transformations=P.merge_organize({
            S.TAG_ENTERPRISE: "企业 enterprise", S.F_STATUS_LEVEL: "状态 level",
            S.F_YTD_INTENSITY: "累计强度 tce/万元", S.F_YTD_CHANGE_FRAC: "同比 YoY",
            S.F_CUMULATIVE_INDEX: "指数 index", S.F_PATH_INDEX: "路径 path",
            S.F_REQUIRED_RATE_FRAC: "需年降幅 required rate", S.F_COMPLETENESS_FRAC: "完整率 completeness"},
            exclude=("Time", S.F_STATUS)),
        overrides=[
            P.override("byName", "企业 enterprise", [P.prop("mappings", P.enterprise_mappings())]),
            P.override("byName", "状态 level", [P.prop("mappings", P.status_mappings()), P.cell_color()]),
            P.override("byName", "同比 YoY", [P.prop("unit", "percentunit"), P.prop("decimals", 1)]),
            P.override("byName", "需年降幅 required rate", [P.prop("unit", "percentunit"), P.prop("decimals", 1)]),
            P.override("byName", "完整率 completeness", [P.prop("unit", "percentunit"), P.prop("decimals", 0)]),
            P.override("byRegexp", "/强度|指数|路径/", [P.prop("decimals", 3)])],
        desc="Latest month per enterprise, worst first. Red = off the path beyond tolerance.")
    return [path, status_table]


def _energy_capacity() -> list[dict]:
    month = P.stat(7, P.title("本月综合能耗", "energy this month", "tce"),
                   [P.target(f"SELECT last({P.ident(S.F_ENERGY_TCE)}) FROM {KPI} WHERE {DIST} AND $timeFilter")],
                   P.grid(0, 15, 4, 5), unit="none", decimals=0, color_mode="none")
    ytd = P.stat(8, P.title("年累计综合能耗", "energy year to date", "tce"),
                 [P.target(f"SELECT sum({P.ident(S.F_ENERGY_TCE)}) FROM {KPI} WHERE {DIST} AND $timeFilter")],
                 P.grid(4, 15, 4, 5), unit="none", decimals=0, color_mode="none",
                 desc="Sum of the district's months in the selected range (default: this year so far).")
    cap = P.ident(S.MEAS_CAPACITY_SHARE_MONTHLY)
    all_ = f"{P.ident(S.TAG_INDUSTRY)} = '{S.INDUSTRY_ALL}'"
    T, goals = S.target_words(), S.targets()
    bench = P.gauge(9, P.title(f"标杆产能占比 (目标{T['benchmark_goal_pct']}%)",
                               f"capacity at benchmark, goal {T['benchmark_goal_pct']}%"),
                    [P.target(f"SELECT last({P.ident(S.F_BENCHMARK_SHARE_FRAC)}) FROM {cap} WHERE {all_} AND $timeFilter")],
                    P.grid(8, 15, 4, 5), unit="percentunit", decimals=0, min_=0, max_=1,
                    th=P.thresholds((None, "red"), (goals.benchmark_share_goal_frac, "green")))
    base = P.gauge(10, P.title(f"达基准产能占比 (目标{T['baseline_goal_pct']}%)",
                               f"capacity at baseline, goal {T['baseline_goal_pct']}%"),
                   [P.target(f"SELECT last({P.ident(S.F_BASELINE_SHARE_FRAC)}) FROM {cap} WHERE {all_} AND $timeFilter")],
                   P.grid(12, 15, 4, 5), unit="percentunit", decimals=0, min_=0, max_=1,
                   th=P.thresholds((None, "red"), (0.9, "yellow"), (goals.baseline_share_goal_frac, "green")))
    compl = P.stat(11, P.title("数据完整率", "data completeness"),
                   [P.target(f"SELECT last({P.ident(S.F_COMPLETENESS_FRAC)}) FROM {KPI} WHERE {DIST} AND $timeFilter")],
                   P.grid(16, 15, 4, 5), unit="percentunit", decimals=1,
                   th=P.thresholds((None, "red"), (0.9, "green")), desc="≥ 90% required for a valid KPI.")
    insuff = P.stat(12, P.title("数据不足企业", "enterprises data insufficient"),
                    [P.target(_count_status(3))], P.grid(20, 15, 4, 5), no_value="0", decimals=0,
                    th=P.thresholds((None, "green"), (1, S.Status.DATA_INSUFFICIENT.colour)))
    return [month, ytd, bench, base, compl, insuff]


def _trends() -> list[dict]:
    co2 = P.timeseries(
        13, P.title("二氧化碳排放与强度", "CO2 and CO2 intensity", "tCO2, tCO2/万元"),
        [P.target(f"SELECT {P.ident(S.F_CO2_T)}, {P.ident(S.F_CO2_INTENSITY)} FROM {KPI} WHERE {DIST} AND $timeFilter",
                  alias="$col")],
        P.grid(0, 20, 12, 9), draw="bars", time_from="3y", axis_label="tCO2",
        overrides=[P.override("byName", S.F_CO2_INTENSITY, [
            P.prop("custom.drawStyle", "line"), P.prop("custom.axisPlacement", "right"),
            P.prop("custom.axisLabel", "tCO2/万元"), P.prop("decimals", 3),
            P.prop("displayName", "CO2 强度 / intensity (tCO2/万元)")]),
            P.override("byName", S.F_CO2_T, [P.prop("displayName", "CO2 排放 / emissions (tCO2)")])])
    kd = P.ident(S.MEAS_KPI_DAILY)
    compl = P.timeseries(
        14, P.title("日数据完整率", "daily data completeness"),
        [P.target(f"SELECT mean({P.ident(S.F_COMPLETENESS_FRAC)}) AS \"mean\", min({P.ident(S.F_COMPLETENESS_FRAC)}) "
                  f"AS \"min\" FROM {kd} WHERE {FIRMS} AND $timeFilter GROUP BY time($__interval) fill(none) {P.GROUP_TZ}",
                  alias="企业 enterprises $col")],
        P.grid(12, 20, 12, 9), unit="percentunit", interval="1d", min_=0, max_=1,
        th=P.thresholds((None, "red"), (0.9, "green")),
        desc="Mean and worst enterprise completeness per day; below 90% the day's KPI is data_insufficient.")
    return [co2, compl]


def build() -> dict:
    panels = _top_row() + _path_and_table() + _energy_capacity() + _trends()
    return P.dashboard(UID, "区县总览 / District overview", panels, tags=["district"], time_from="now/y",
                       refresh="15m", links=P.board_links(),
                       description=f"Rongchang district: {S.target_words()['path_pct']}% path, enterprise status, "
                                   "benchmark capacity, CO2.")
