"""能效对标 / Benchmarking: every production line against its 标杆 (benchmark) and 基准 (baseline).

One table per unit family (the unit is part of every field name, e.g. ``unit_energy_12m_kgce_per_m2``),
each row a line with industry, product class, 12-month and YTD unit energy, levels, classification and
gaps; above them the gap to baseline per line and the capacity shares by industry.
Variables ``$industry``, ``$enterprise`` (``e01 渝荣陶瓷``) and ``$line`` (multi, All) filter every line
panel; the enterprise and line boards link here with ``var-enterprise``/``var-line`` set, and each
enterprise cell links back to its enterprise board.
"""
from __future__ import annotations

from dashboards import enterprise_detail
from dashboards import panels as P
from ecm import schema as S

UID = "ecm-benchmarking"
BM = P.ident(S.MEAS_BENCHMARK_MONTHLY)
IND = " AND ".join(P.where_var(tag, var) for tag, var in (
    (S.TAG_INDUSTRY, "industry"), (S.TAG_ENTERPRISE, "enterprise"), (S.TAG_LINE, "line")))
IND_ONLY = P.where_var(S.TAG_INDUSTRY, "industry")
ENTERPRISE_LINK = P.data_link("企业详情 / enterprise detail", enterprise_detail.UID, enterprise="${__value.raw}")
GROUP = ", ".join(P.ident(t) for t in (S.TAG_INDUSTRY, S.TAG_PRODUCT_CLASS, S.TAG_ENTERPRISE, S.TAG_LINE))
UNIT_LABELS = {"kgce_per_m2": ("建筑陶瓷", "tiles", "kgce/m²"), "kgce_per_t": ("卫生陶瓷·砖", "sanitary ware, bricks", "kgce/t"),
               "kwh_per_t": ("水泥粉磨", "cement grinding", "kWh/t"), "kgce_per_pcs": ("日用陶瓷", "daily ceramics", "kgce/件")}
CLASS_ZH = {c.value: (f"{c.zh} {c.en}", c.colour) for c in S.Classification}


def _line_table(pid: int, unit: str, y: int) -> dict:
    zh, en, label = UNIT_LABELS[unit]
    cols = [(S.P_UNIT_ENERGY_12M + unit, "近12月 12 months"), (S.P_UNIT_ENERGY_YTD + unit, "年累计 YTD"),
            (S.P_BENCHMARK + unit, "标杆 benchmark"), (S.P_BASELINE + unit, "基准 baseline"),
            (S.F_CLASSIFICATION, "分级 class"), (S.F_GAP_TO_BENCHMARK_PCT, "距标杆 gap to benchmark %"),
            (S.F_GAP_TO_BASELINE_PCT, "距基准 gap to baseline %"), (S.F_GB_GRADE, "国标等级 GB grade"),
            (S.F_COMPLETENESS_FRAC, "完整率 completeness")]
    sel = ", ".join(f"last({P.ident(f)}) AS {P.ident(f)}" for f, _ in cols)
    q = f"SELECT {sel} FROM {BM} WHERE {IND} AND $timeFilter GROUP BY {GROUP}"
    rename = {f: f"{h}" + (f" ({label})" if f.startswith(("unit_", "benchmark_", "baseline_")) else "")
              for f, h in cols}
    rename.update({S.TAG_INDUSTRY: "行业 industry", S.TAG_PRODUCT_CLASS: "产品类别 product class",
                   S.TAG_ENTERPRISE: "企业 enterprise", S.TAG_LINE: "产线 line"})
    return P.table(
        pid, P.title(f"{zh}产线对标", f"{en} lines", label), [P.target(q, fmt="table")], P.grid(0, y, 24, 8),
        sort_by=[{"displayName": rename[S.F_GAP_TO_BASELINE_PCT], "desc": True}],
        transformations=P.merge_organize(rename), decimals=2, unit=f"suffix: {label}",
        overrides=[
            P.override("byName", "分级 class", [P.prop("mappings", P.text_mappings(CLASS_ZH)), P.cell_color()]),
            P.override("byName", "企业 enterprise", [P.prop("mappings", P.enterprise_mappings()),
                                                      P.links_prop(ENTERPRISE_LINK)]),
            P.override("byRegexp", "/gap to/", [P.prop("unit", "percent")]),
            P.override("byName", "国标等级 GB grade", [P.prop("unit", "string")]),
            P.override("byName", rename[S.F_GAP_TO_BASELINE_PCT], [
                P.prop("thresholds", P.thresholds((None, "green"), (0.0001, "red"))), P.cell_color("color-text")]),
            P.override("byName", "完整率 completeness", [P.prop("unit", "percentunit"), P.prop("decimals", 0)])])


def _summary() -> list[dict]:
    gap = P.bargauge(
        1, P.title("各产线距基准差距", "gap to baseline per line", "%"),
        [P.target(f"SELECT last({P.ident(S.F_GAP_TO_BASELINE_PCT)}) FROM {BM} WHERE {IND} AND $timeFilter "
                  f"GROUP BY {P.ident(S.TAG_LINE)}", alias=f"$tag_{S.TAG_LINE}")],
        P.grid(0, 0, 12, 10), unit="percent", decimals=1,
        links=[P.data_link("产线对标 / this line", UID, enterprise=None, line="${__field.labels.line}")],
        th=P.thresholds((None, "green"), (0.0001, "red")),
        desc="Positive = worse than 基准: the line must be retrofitted or phased out.")
    cap = P.ident(S.MEAS_CAPACITY_SHARE_MONTHLY)
    shares = P.bargauge(
        2, P.title("分行业达标杆产能占比 (目标30%)", "benchmark capacity share by industry, goal 30%"),
        [P.target(f"SELECT last({P.ident(S.F_BENCHMARK_SHARE_FRAC)}) FROM {cap} WHERE ({IND_ONLY} OR "
                  f"{P.ident(S.TAG_INDUSTRY)} = '{S.INDUSTRY_ALL}') AND $timeFilter GROUP BY {P.ident(S.TAG_INDUSTRY)}",
                  alias=f"$tag_{S.TAG_INDUSTRY}")],
        P.grid(12, 0, 12, 10), unit="percentunit", decimals=0, min_=0, max_=1,
        th=P.thresholds((None, "red"), (S.targets().benchmark_share_goal_frac, "green")))
    return [gap, shares]


def _line_trend(y: int) -> dict:
    """Daily unit energy of the chosen line(s) against 标杆/基准: where a link from a line lands."""
    sel = " AND ".join(P.where_var(tag, var) for tag, var in ((S.TAG_ENTERPRISE, "enterprise"), (S.TAG_LINE, "line")))
    unit_energy = P.target(
        f"SELECT mean(/^{S.P_UNIT_ENERGY}/) FROM {P.ident(S.MEAS_LINE_DAILY)} WHERE {sel} AND $timeFilter "
        f"GROUP BY time($__interval), {P.ident(S.TAG_LINE)} fill(none) {P.GROUP_TZ}", "A", alias=f"$tag_{S.TAG_LINE} $col")
    levels = P.target(
        f"SELECT last(/^({S.P_BENCHMARK}|{S.P_BASELINE})/) FROM {BM} WHERE {IND} AND $timeFilter "
        f"GROUP BY time($__interval), {P.ident(S.TAG_LINE)} fill(previous) {P.GROUP_TZ}", "B",
        alias=f"$tag_{S.TAG_LINE} $col")
    return P.timeseries(
        3, P.title("所选产线单位产品能耗 vs 标杆/基准", "chosen lines' unit energy vs 标杆/基准"),
        [unit_energy, levels], P.grid(0, y, 24, 9), interval="1d", decimals=2, unit="suffix: kgce",
        overrides=[P.override("byRegexp", f"/{u}/", [P.prop("unit", f"suffix: {UNIT_LABELS[u][2]}")])
                   for u in S.UNIT_ENERGY_UNITS] + [
            P.override("byRegexp", f"/{S.P_BENCHMARK}/", [P.prop("color", {"mode": "fixed", "fixedColor": "green"}),
                                                         P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]),
            P.override("byRegexp", f"/{S.P_BASELINE}/", [P.prop("color", {"mode": "fixed", "fixedColor": "red"}),
                                                        P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})])],
        desc="Pick a line (or follow a link from the district or enterprise board) to see its daily unit energy.")


def variables() -> list[dict]:
    ind = P.var_query("industry", "行业 industry", f"SHOW TAG VALUES FROM {BM} WITH KEY = {P.ident(S.TAG_INDUSTRY)}",
                      multi=True, include_all=True, all_value=".*")
    ind["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    ent = P.enterprise_variable(multi=True, include_all=True)
    line = P.var_query("line", "产线 line", f"SHOW TAG VALUES FROM {BM} WITH KEY = {P.ident(S.TAG_LINE)} "
                                          f"WHERE {P.where_var(S.TAG_ENTERPRISE, 'enterprise')}",
                       multi=True, include_all=True, all_value=".*")
    line["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    return [ind, ent, line]


def build() -> dict:
    trend = _line_trend(10)
    tables = [_line_table(10 + i, unit, 19 + 8 * i) for i, unit in enumerate(S.UNIT_ENERGY_UNITS)]
    return P.dashboard(UID, "能效对标 / Benchmarking", _summary() + [trend] + tables, tags=["benchmark"],
                       variables=variables(),
                       time_from="now-90d", links=P.board_links(),
                       description="Every line's unit energy against 标杆/基准 (GB 21252 and peers), by industry.")
