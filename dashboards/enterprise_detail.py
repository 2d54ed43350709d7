"""企业详情 / Enterprise detail, for one enterprise (template variable ``$enterprise``).

Status and intensity against the path; energy by carrier; unit product energy of every line
against its 标杆 (benchmark) and 基准 (baseline) levels; live power of the main meters; DQ results;
device online status.
"""
from __future__ import annotations

from dashboards import panels as P
from ecm import schema as S

UID = "ecm-enterprise-detail"
ENT = P.where_var(S.TAG_ENTERPRISE, "enterprise")
KPI = P.ident(S.MEAS_KPI_MONTHLY)
VAR_QUERY = (f"SHOW TAG VALUES FROM {KPI} WITH KEY = {P.ident(S.TAG_ENTERPRISE)} "
             f"WHERE {P.ident(S.TAG_ENTERPRISE)} != '{S.DISTRICT}'")


def _header() -> list[dict]:
    last = lambda f: P.target(f"SELECT last({P.ident(f)}) FROM {KPI} WHERE {ENT} AND $timeFilter")  # noqa: E731
    return [
        P.stat(1, P.title("达标状态", "status"), [last(S.F_STATUS_LEVEL)], P.grid(0, 0, 6, 4),
               mappings=P.status_mappings(),
               th=P.status_thresholds()),
        P.stat(2, P.title("累计能耗强度", "YTD intensity", "tce/万元"), [last(S.F_YTD_INTENSITY)],
               P.grid(6, 0, 6, 4), decimals=3, color_mode="none"),
        P.stat(3, P.title("同比变化", "YTD change vs last year"), [last(S.F_YTD_CHANGE_FRAC)], P.grid(12, 0, 6, 4),
               unit="percentunit", decimals=1, color_mode="value",
               th=P.thresholds((None, "green"), (0, "red"))),
        P.stat(4, P.title("仍需年均降幅", "required annual decline"), [last(S.F_REQUIRED_RATE_FRAC)],
               P.grid(18, 0, 6, 4), unit="percentunit", decimals=1, color_mode="value",
               th=P.thresholds((None, "green"), (0.03, "yellow"), (0.05, "red"))),
    ]


def _intensity_and_carriers() -> list[dict]:
    path = P.timeseries(
        5, P.title("能耗强度指数 vs 路径", "intensity index vs path", "2022=1"),
        [P.target(f"SELECT {P.ident(S.F_CUMULATIVE_INDEX)}, {P.ident(S.F_PATH_INDEX)} FROM {KPI} "
                  f"WHERE {ENT} AND $timeFilter", alias="$col")],
        P.grid(0, 4, 12, 9), decimals=3, time_from="3y",
        overrides=[P.override("byName", S.F_PATH_INDEX, [
            P.prop("displayName", "路径 / path"), P.prop("color", {"mode": "fixed", "fixedColor": "orange"}),
            P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]),
            P.override("byName", S.F_CUMULATIVE_INDEX, [P.prop("displayName", "企业实际 / actual")])])
    carriers = P.timeseries(
        6, P.title("分品种综合能耗", "energy by carrier", "tce"),
        [P.target(f"SELECT sum({P.ident(S.F_ENERGY_TCE)}) FROM {P.ident(S.MEAS_ENERGY_DAILY)} WHERE {ENT} "
                  f"AND $timeFilter GROUP BY time($__interval), {P.ident(S.TAG_CARRIER)} fill(none) {P.GROUP_TZ}",
                  alias=f"$tag_{S.TAG_CARRIER}")],
        P.grid(12, 4, 12, 9), draw="bars", stack=True, interval="1d", decimals=2, axis_label="tce",
        desc="Daily tce (当量值 basis) per carrier; generation and waste heat recovery count negative.")
    return [path, carriers]


def _lines() -> list[dict]:
    unit_energy = P.target(
        f"SELECT mean(/^{S.P_UNIT_ENERGY}/) FROM {P.ident(S.MEAS_LINE_DAILY)} WHERE {ENT} AND $timeFilter "
        f"GROUP BY time($__interval), {P.ident(S.TAG_LINE)} fill(none) {P.GROUP_TZ}",
        "A", alias=f"$tag_{S.TAG_LINE} $col")
    levels = P.target(
        f"SELECT last(/^({S.P_BENCHMARK}|{S.P_BASELINE})/) FROM {P.ident(S.MEAS_BENCHMARK_MONTHLY)} WHERE {ENT} "
        f"AND $timeFilter GROUP BY time($__interval), {P.ident(S.TAG_LINE)} fill(previous) {P.GROUP_TZ}",
        "B", alias=f"$tag_{S.TAG_LINE} $col")
    lines = P.timeseries(
        7, P.title("产线单位产品能耗 vs 标杆/基准", "unit product energy per line vs benchmark/baseline",
                   "kgce/m², kgce/t, kWh/t, kgce/件"),
        [unit_energy, levels], P.grid(0, 13, 16, 10), interval="1d", decimals=2,
        overrides=[
            P.override("byRegexp", f"/{S.P_BENCHMARK}/", [
                P.prop("color", {"mode": "fixed", "fixedColor": "green"}),
                P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})]),
            P.override("byRegexp", f"/{S.P_BASELINE}/", [
                P.prop("color", {"mode": "fixed", "fixedColor": "red"}),
                P.prop("custom.lineStyle", {"fill": "dash", "dash": [10, 10]})])],
        desc="Daily unit energy per line (unit in the series name) against 标杆 (green dashed) and 基准 (red dashed).")
    power = P.timeseries(
        8, P.title("主表实时功率", "live power, main meters", "kW"),
        [P.target(f"SELECT mean({P.ident(S.Q_POWER_KW)}) FROM {P.ident(S.MEAS_READINGS)} WHERE {ENT} AND "
                  f"{P.ident(S.TAG_QUANTITY)} = '{S.Q_POWER_KW}' AND $timeFilter GROUP BY time($__interval), "
                  f"{P.ident(S.TAG_METER)} fill(none) {P.GROUP_TZ}", alias=f"$tag_{S.TAG_METER}")],
        P.grid(16, 13, 8, 10), unit="kwatt", time_from="24h", interval="1m")
    return [lines, power]


def _health() -> list[dict]:
    dq = P.table(
        9, P.title("数据质量检查", "data-quality results"),
        [P.target(f"SELECT last({P.ident(S.F_SUCCESS)}) AS {P.ident(S.F_SUCCESS)}, last({P.ident(S.F_OBSERVED)}) "
                  f"AS {P.ident(S.F_OBSERVED)}, last({P.ident(S.F_PERIOD)}) AS {P.ident(S.F_PERIOD)} "
                  f"FROM {P.ident(S.MEAS_DQ_RESULT)} WHERE {ENT} AND $timeFilter "
                  f"GROUP BY {P.ident(S.TAG_SUITE)}, {P.ident(S.TAG_EXPECTATION)}, {P.ident(S.TAG_SEVERITY)}",
                  fmt="table")],
        P.grid(0, 23, 14, 9), sort_by=[{"displayName": S.F_SUCCESS, "desc": False}],
        transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        overrides=[P.override("byName", S.F_SUCCESS, [
            P.prop("mappings", [{"type": "value", "options": {
                "1": {"text": "通过 pass", "color": "green", "index": 0},
                "0": {"text": "未通过 fail", "color": "red", "index": 1}}}]), P.cell_color()])])
    devices = P.table(
        10, P.title("设备在线状态", "device online status"),
        [P.target(f"SELECT last({P.ident(S.F_ONLINE)}) AS {P.ident(S.F_ONLINE)} "
                  f"FROM {P.ident(S.MEAS_DEVICE_STATUS)} WHERE {ENT} AND $timeFilter "
                  f"GROUP BY {P.ident(S.TAG_METER)}", fmt="table")],
        P.grid(14, 23, 10, 9), time_from="30d", sort_by=[{"displayName": S.F_ONLINE, "desc": False}],
        transformations=[{"id": "organize", "options": {"renameByName": {"Time": "最近状态 last status at"}}}],
        overrides=[P.override("byName", S.F_ONLINE, [
            P.prop("mappings", [{"type": "value", "options": {
                "1": {"text": "在线 online", "color": "green", "index": 0},
                "0": {"text": "离线 offline", "color": "red", "index": 1}}}]), P.cell_color()])],
        desc="Last retained status per meter/gateway in the last 30 days (time = when it was reported).")
    return [dq, devices]


def build() -> dict:
    var = P.var_query("enterprise", "企业 enterprise", VAR_QUERY)
    var["current"] = {}
    panels = _header() + _intensity_and_carriers() + _lines() + _health()
    return P.dashboard(UID, "企业详情 / Enterprise detail", panels, tags=["enterprise"], variables=[var],
                       time_from="now-90d", refresh="5m", links=P.board_links(),
                       description="One enterprise: status, energy by carrier, lines vs 标杆/基准, devices.")
