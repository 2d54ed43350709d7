"""Enterprise-board panels for energy baselines (ISO 50006 EnB/EnPI), CUSUM and verified savings.

``panels(first_id, y)`` returns the panels for the enterprise board (template variable
``$enterprise``), laid out from row ``y``: actual against expected energy per line, the CUSUM of
(actual − expected) with drift alarms, and the verified savings per measure with their 90 % band.
Names come from ``ecm.schema``; data from ``ecm_baselines`` (docs/contracts.md §2.3).
"""
from __future__ import annotations

from dashboards import panels as P
from ecm import schema as S

ENT = P.where_var(S.TAG_ENTERPRISE, "enterprise")
BD = P.ident(S.MEAS_BASELINE_DAILY)
SAV = P.ident(S.MEAS_MEASURE_SAVINGS)
LINE_SCOPE = f"{P.ident(S.TAG_SCOPE)} = 'line'"


def queries() -> dict[str, str]:
    """The raw InfluxQL of every panel target (tests run them against InfluxDB)."""
    by_line = f"GROUP BY time($__interval), {P.ident(S.TAG_LINE)} fill(none) {P.GROUP_TZ}"
    return {
        "actual": f"SELECT sum({P.ident(S.F_ENERGY_TCE)}) AS actual FROM {BD} WHERE {ENT} AND {LINE_SCOPE} "
                  f"AND $timeFilter {by_line}",
        "expected": f"SELECT sum({P.ident(S.F_EXPECTED_TCE)}) AS expected FROM {BD} WHERE {ENT} AND {LINE_SCOPE} "
                    f"AND $timeFilter {by_line}",
        "cusum": f"SELECT last({P.ident(S.F_CUSUM_TCE)}) AS cusum FROM {BD} WHERE {ENT} AND {LINE_SCOPE} "
                 f"AND $timeFilter {by_line}",
        "alarms": f"SELECT max({P.ident(S.F_DRIFT_ALARM)}) AS drift FROM {BD} WHERE {ENT} AND {LINE_SCOPE} "
                  f"AND {P.ident(S.F_DRIFT_ALARM)} = 1 AND $timeFilter {by_line}",
        "savings": f"SELECT last({P.ident(S.F_SAVINGS_TCE)}) AS savings_tce, last({P.ident(S.F_LOW90_TCE)}) AS low90, "
                   f"last({P.ident(S.F_HIGH90_TCE)}) AS high90, last({P.ident(S.F_SAVINGS_CO2_T)}) AS co2_t, "
                   f"last(\"measure_date\") AS since, last(\"model_kind\") AS model FROM {SAV} WHERE {ENT} "
                   f"AND {P.ident(S.TAG_LEVEL)} = 'measure' AND $timeFilter GROUP BY {P.ident(S.TAG_MEASURE)}",
    }


def panels(first_id: int = 40, y: int = 40) -> list[dict]:
    """Three panels: actual vs expected, CUSUM (+ drift alarms), savings per measure."""
    q = queries()
    actual_expected = P.timeseries(
        first_id, P.title("产线能耗 实际 vs 基线预期", "line energy, actual vs baseline expected", "吨标准煤 tce"),
        [P.target(q["actual"], "A", alias="$tag_line 实际 actual"),
         P.target(q["expected"], "B", alias="$tag_line 预期 expected")],
        P.grid(0, y, 12, 9), interval="1d", decimals=1, unit=P.U_TCE,
        overrides=[P.override("byRegexp", "/expected/", [P.prop("custom.lineStyle", {"fill": "dash", "dash": [8, 6]})])],
        desc="Expected = the line's energy baseline (ISO 50006 / GB/T 36713 regression on output, 2022) "
             "at the day's output. Dashed: expected; solid: actual.")
    cusum = P.timeseries(
        first_id + 1, P.title("累积偏差 CUSUM（实际 − 预期）", "CUSUM of actual − expected", "吨标准煤 tce"),
        [P.target(q["cusum"], "A", alias="$tag_line CUSUM"),
         P.target(q["alarms"], "B", alias="$tag_line 漂移告警 drift alarm")],
        P.grid(12, y, 12, 9), interval="1d", decimals=1, unit=P.U_TCE,
        overrides=[P.override("byRegexp", "/drift/", [P.prop("unit", "none"),P.prop("custom.drawStyle", "points"),
                                                      P.prop("custom.pointSize", 10),
                                                      P.prop("color", {"mode": "fixed", "fixedColor": "red"})])],
        desc="Falling = using less than the baseline (savings); rising = more. Red points: ecm.baseline.drift "
             "(Page CUSUM past 10 σ).")
    savings = P.table(
        first_id + 2, P.title("节能措施核定节能量（90% 区间）", "verified savings per measure (90 % band)",
                              "吨标准煤 tce, 吨二氧化碳 tCO₂"),
        [P.target(q["savings"], "A", fmt="table")], P.grid(0, y + 9, 24, 7), decimals=1, unit=P.U_TCE,
        overrides=[P.override("byName", "co2_t", [P.prop("unit", P.U_TCO2)]),
                   P.override("byName", "since", [P.prop("unit", "string")]),
                   P.override("byName", "model", [P.prop("unit", "string")])],
        desc="IPMVP option C avoided energy since each measure, with ASHRAE Guideline 14 uncertainty at 90 %.")
    return [actual_expected, cusum, savings]
