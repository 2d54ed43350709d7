"""能效对标 / Benchmarking: every production line against its 标杆 (benchmark) and 基准 (baseline).

One table per unit family (the unit is part of every field name, e.g. ``unit_energy_12m_kgce_per_m2``),
each row a line with industry, product class, 12-month and YTD unit energy, levels, classification and
gaps; above them the gap to baseline per line and the capacity shares by industry.
Variable ``$industry`` (multi, All) filters every panel.
"""
from __future__ import annotations

from dashboards import panels as P
from ecm import schema as S

UID = "ecm-benchmarking"
BM = P.ident(S.MEAS_BENCHMARK_MONTHLY)
IND = P.where_var(S.TAG_INDUSTRY, "industry")
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
        transformations=P.merge_organize(rename), decimals=2,
        overrides=[
            P.override("byName", "分级 class", [P.prop("mappings", P.text_mappings(CLASS_ZH)), P.cell_color()]),
            P.override("byName", "企业 enterprise", [P.prop("mappings", P.enterprise_mappings())]),
            P.override("byName", rename[S.F_GAP_TO_BASELINE_PCT], [
                P.prop("thresholds", P.thresholds((None, "green"), (0.0001, "red"))), P.cell_color("color-text")]),
            P.override("byName", "完整率 completeness", [P.prop("unit", "percentunit"), P.prop("decimals", 0)])])


def _summary() -> list[dict]:
    gap = P.bargauge(
        1, P.title("各产线距基准差距", "gap to baseline per line", "%"),
        [P.target(f"SELECT last({P.ident(S.F_GAP_TO_BASELINE_PCT)}) FROM {BM} WHERE {IND} AND $timeFilter "
                  f"GROUP BY {P.ident(S.TAG_LINE)}", alias=f"$tag_{S.TAG_LINE}")],
        P.grid(0, 0, 12, 10), unit="percent", decimals=1,
        th=P.thresholds((None, "green"), (0.0001, "red")),
        desc="Positive = worse than 基准: the line must be retrofitted or phased out.")
    cap = P.ident(S.MEAS_CAPACITY_SHARE_MONTHLY)
    shares = P.bargauge(
        2, P.title(f"分行业达标杆产能占比 (目标{S.target_words()['benchmark_goal_pct']}%)",
                   f"benchmark capacity share by industry, goal {S.target_words()['benchmark_goal_pct']}%"),
        [P.target(f"SELECT last({P.ident(S.F_BENCHMARK_SHARE_FRAC)}) FROM {cap} WHERE ({IND} OR "
                  f"{P.ident(S.TAG_INDUSTRY)} = '{S.INDUSTRY_ALL}') AND $timeFilter GROUP BY {P.ident(S.TAG_INDUSTRY)}",
                  alias=f"$tag_{S.TAG_INDUSTRY}")],
        P.grid(12, 0, 12, 10), unit="percentunit", decimals=0, min_=0, max_=1,
        th=P.thresholds((None, "red"), (S.targets().benchmark_share_goal_frac, "green")))
    return [gap, shares]


def build() -> dict:
    var = P.var_query("industry", "行业 industry", f"SHOW TAG VALUES FROM {BM} WITH KEY = {P.ident(S.TAG_INDUSTRY)}",
                      multi=True, include_all=True, all_value=".*")
    var["current"] = {"selected": True, "text": ["All"], "value": ["$__all"]}
    tables = [_line_table(10 + i, unit, 10 + 8 * i) for i, unit in enumerate(S.UNIT_ENERGY_UNITS)]
    return P.dashboard(UID, "能效对标 / Benchmarking", _summary() + tables, tags=["benchmark"], variables=[var],
                       time_from="now-90d", links=P.board_links(),
                       description="Every line's unit energy against 标杆/基准 (GB 21252 and peers), by industry.")
