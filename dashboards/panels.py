"""Shared panel helpers: bilingual titles, InfluxQL targets, stat/timeseries/table/gauge panels.

Every panel reads the provisioned InfluxQL datasource ``ecm-influx`` (provisioning/datasources).
Queries are raw InfluxQL with Grafana's ``$timeFilter`` and ``$__interval`` macros; names come
from ``ecm.schema``. Grafana 11.x dashboard JSON, ``schemaVersion`` 39.
"""
from __future__ import annotations

from ecm.retention import RP_RAW
from ecm.schema import DISTRICT, MEAS_READINGS, STATUS_LEVELS, TAG_ENTERPRISE, Status

SCHEMA_VERSION = 39
DATASOURCE_UID = "ecm-influx"
DATASOURCE = {"type": "influxdb", "uid": DATASOURCE_UID}
TZ = "Asia/Shanghai"
GROUP_TZ = f"tz('{TZ}')"
#: raw readings' source as deployed: compose sets ECM_INFLUX_RAW_RP=raw, so ingest writes them to the
#: "raw" retention policy (ecm.retention) and a bare ``readings`` would read the empty default policy
READINGS_FROM = f'"{RP_RAW}"."{MEAS_READINGS}"'

#: Grafana units: ids Grafana knows, or custom ``suffix:`` units; never ``none`` for a quantity
U_TCE = "suffix: tce"
U_TCO2 = "suffix: tCO₂"
U_INTENSITY = "suffix: tce/万元"
U_CO2_INTENSITY = "suffix: tCO₂/万元"
U_INDEX = "suffix: (2022=1)"
U_FRAC = "percentunit"
U_COUNT = "suffix: 家"          #: a number of enterprises
U_LINES = "suffix: 条"          #: a number of production lines


# the report's words and colours for a status (ecm.schema.Status), so boards and report agree
STATUS_ZH = {s.value: f"{s.zh} {s.en}" for s in Status}
STATUS_COLOR = {s.level: s.colour for s in Status}


def status_thresholds() -> dict:
    """status_level thresholds in the vocabulary's colours (ecm.schema.Status)."""
    return thresholds(*((None if s.level == 0 else s.level, s.colour) for s in Status))


def targets_cfg():
    """The district's targets from config/factors.yaml (13 %, 2022→2027, 30 %): titles read them."""
    from ecm.factors import get_factors

    return get_factors().targets


def required_rate_config() -> dict:
    """Stat/table options for ``required_annual_rate_frac`` (signed): thresholds and the headroom
    mapping of :func:`ecm.accounting.signs.grafana_required_rate` — red when it must fall steeply,
    "余量 headroom" when ≥ 0 (docs/contracts.md §4, Signs)."""
    from ecm.accounting.signs import grafana_required_rate

    g = grafana_required_rate(targets_cfg())
    return {"th": g["thresholds"], "mappings": g["mappings"]}


def grafana_colour(field_config: dict, value: float) -> tuple[str, str | None]:
    """(colour, mapped text) Grafana shows for ``value`` under a panel's ``fieldConfig.defaults``:
    a matching value/range mapping wins, else the highest threshold step ≤ value."""
    for m in field_config.get("mappings", []):
        o = m["options"]
        if m["type"] == "range" and o["from"] <= value <= o["to"]:
            return o["result"].get("color", ""), o["result"].get("text")
        if m["type"] == "value" and str(value) in o:
            return o[str(value)].get("color", ""), o[str(value)].get("text")
    colour = ""
    for st in field_config.get("thresholds", {}).get("steps", []):
        if st["value"] is None or value >= st["value"]:
            colour = st["color"]
    return colour, None


def pct(frac: float) -> str:
    """0.13 → ``13%``; 0.125 → ``12.5%``."""
    return f"{frac * 100:.1f}".rstrip("0").rstrip(".") + "%"


def title(zh: str, en: str, unit: str = "") -> str:
    """Bilingual title, Chinese first: ``单位工业增加值能耗 / unit value-added energy (tce/万元)``."""
    return f"{zh} / {en}" + (f" ({unit})" if unit else "")


def ident(name: str) -> str:
    return '"' + name + '"'


def where_district() -> str:
    return f"{ident(TAG_ENTERPRISE)} = '{DISTRICT}'"


def where_firms() -> str:
    return f"{ident(TAG_ENTERPRISE)} != '{DISTRICT}'"


def where_var(tag: str, var: str) -> str:
    """Regex match on a template variable, as Grafana's InfluxDB editor writes it."""
    return f"{ident(tag)} =~ /^${var}$/"


def target(query: str, ref: str = "A", *, alias: str = "", fmt: str = "time_series") -> dict:
    t = {"datasource": DATASOURCE, "query": query, "rawQuery": True, "refId": ref, "resultFormat": fmt}
    if alias:
        t["alias"] = alias
    return t


def grid(x: int, y: int, w: int, h: int) -> dict:
    return {"h": h, "w": w, "x": x, "y": y}


def thresholds(*steps: tuple[float | None, str]) -> dict:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def status_mappings() -> list[dict]:
    """status_level 0..3 → bilingual text and colour (kpi_monthly)."""
    return [{"type": "value", "options": {
        str(k): {"text": STATUS_ZH[v], "color": STATUS_COLOR[k], "index": k} for k, v in STATUS_LEVELS.items()}}]


def text_mappings(values: dict[str, tuple[str, str]]) -> list[dict]:
    """Map string values to (text, colour)."""
    return [{"type": "value", "options": {
        k: {"text": t, "color": c, "index": i} for i, (k, (t, c)) in enumerate(values.items())}}]


def _panel(kind: str, pid: int, ttl: str, targets: list[dict], pos: dict, *, unit: str = "", desc: str = "",
           decimals: int | None = None, th: dict | None = None, mappings: list | None = None,
           custom: dict | None = None, options: dict | None = None, overrides: list | None = None,
           transformations: list | None = None, interval: str = "", time_from: str = "",
           min_: float | None = None, max_: float | None = None, color: dict | None = None,
           no_value: str = "", links: list | None = None) -> dict:
    defaults: dict = {"unit": unit or "none"}
    if links:
        defaults["links"] = links
    if decimals is not None:
        defaults["decimals"] = decimals
    if th:
        defaults["thresholds"] = th
    if mappings:
        defaults["mappings"] = mappings
    if custom:
        defaults["custom"] = custom
    if min_ is not None:
        defaults["min"] = min_
    if max_ is not None:
        defaults["max"] = max_
    if color:
        defaults["color"] = color
    if no_value:
        defaults["noValue"] = no_value
    p = {"id": pid, "type": kind, "title": ttl, "datasource": DATASOURCE, "gridPos": pos, "targets": targets,
         "fieldConfig": {"defaults": defaults, "overrides": overrides or []}, "options": options or {}}
    if desc:
        p["description"] = desc
    if transformations:
        p["transformations"] = transformations
    if interval:
        p["interval"] = interval
    if time_from:
        p["timeFrom"] = time_from
    return p


def stat(pid, ttl, targets, pos, *, color_mode="background", text_mode="auto", calc="lastNotNull",
         graph_mode: str = "none", **kw) -> dict:
    opts = {"colorMode": color_mode, "graphMode": graph_mode, "justifyMode": "auto", "textMode": text_mode,
            "orientation": "auto", "reduceOptions": {"calcs": [calc], "fields": "", "values": False}}
    return _panel("stat", pid, ttl, targets, pos, options=opts, **kw)


def gauge(pid, ttl, targets, pos, **kw) -> dict:
    opts = {"showThresholdMarkers": True, "showThresholdLabels": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    return _panel("gauge", pid, ttl, targets, pos, options=opts, **kw)


def bargauge(pid, ttl, targets, pos, **kw) -> dict:
    opts = {"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    return _panel("bargauge", pid, ttl, targets, pos, options=opts, **kw)


def timeseries(pid, ttl, targets, pos, *, axis_label: str = "", draw: str = "line", stack: bool = False,
               **kw) -> dict:
    custom = {"drawStyle": draw, "lineWidth": 2, "fillOpacity": 60 if draw == "bars" else 10,
              "showPoints": "auto", "spanNulls": False, "axisLabel": axis_label,
              "stacking": {"mode": "normal" if stack else "none", "group": "A"}}
    opts = {"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True, "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"}}
    return _panel("timeseries", pid, ttl, targets, pos, custom=custom, options=opts, **kw)


def table(pid, ttl, targets, pos, *, sort_by: list[dict] | None = None, **kw) -> dict:
    opts = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    if sort_by:
        opts["sortBy"] = sort_by
    return _panel("table", pid, ttl, targets, pos, options=opts, **kw)


def override(matcher: str, name: str, props: list[dict]) -> dict:
    """Field override; ``matcher`` is ``byName`` or ``byRegexp``."""
    return {"matcher": {"id": matcher, "options": name}, "properties": props}


def prop(pid: str, value) -> dict:
    return {"id": pid, "value": value}


def cell_color(mode: str = "color-background") -> dict:
    return prop("custom.cellOptions", {"type": mode})


def merge_organize(rename: dict[str, str], exclude: tuple[str, ...] = ("Time",)) -> list[dict]:
    """Merge table targets and rename columns to bilingual headers."""
    return [{"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {k: True for k in exclude}, "indexByName": {},
                                           "renameByName": rename}}]


def var_query(name: str, label: str, query: str, *, multi: bool = False, include_all: bool = False,
              all_value: str = "") -> dict:
    v = {"name": name, "label": label, "type": "query", "datasource": DATASOURCE, "query": query,
         "definition": query, "refresh": 1, "sort": 1, "multi": multi, "includeAll": include_all,
         "hide": 0, "regex": "", "options": [], "current": {}}
    if all_value:
        v["allValue"] = all_value
    return v


def row(pid: int, ttl: str, y: int) -> dict:
    """A row header: the panels below it, up to the next row, answer the question in its title."""
    return {"id": pid, "type": "row", "title": ttl, "collapsed": False, "gridPos": grid(0, y, 24, 1), "panels": []}


def board_url(uid: str, **variables: str | None) -> str:
    """Link to board ``uid`` with ``var-<name>=<value>`` and the current time range (``${__url_time_range}``).

    A value of None passes this board's own variable of the same name on (``${name:queryparam}``, which
    Grafana renders as ``var-name=<each value>``, All included)."""
    qs = "&".join("${" + k + ":queryparam}" if v is None else f"var-{k}={v}" for k, v in variables.items())
    return f"/d/{uid}/{uid}?" + (qs + "&" if qs else "") + "${__url_time_range}"


def data_link(text: str, uid: str, **variables: str | None) -> dict:
    """A data link to another board that keeps the time range (Grafana interpolates the ``${...}``)."""
    return {"title": text, "url": board_url(uid, **variables), "targetBlank": False}


def links_prop(*links: dict) -> dict:
    return prop("links", list(links))


def annotation(name: str, query: str, color: str, *, text_column: str, tags_column: str = "") -> dict:
    """An InfluxQL annotation: each row of ``query`` marks its time on every time-series panel."""
    a = {"name": name, "datasource": DATASOURCE, "enable": True, "hide": False, "iconColor": color,
         "query": query, "rawQuery": True, "textColumn": text_column, "target": {"query": query, "rawQuery": True,
                                                                                 "refId": "Anno"}}
    if tags_column:
        a["tagsColumn"] = tags_column
    return a


def registry_annotation(*tags: str) -> dict:
    """Retrofits, meters out of service and baseline adjustments from the registry: Grafana's own
    annotations tagged ``ecm-registry`` (written by ``ecm dashboards push``, see ecm/events.py)."""
    from ecm.events import REGISTRY_TAG

    return {"name": "改造与表计 / retrofits and meters (registry)", "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": False, "iconColor": "blue",
            "target": {"type": "tags", "tags": [REGISTRY_TAG, *tags], "matchAny": False, "limit": 500}}


def builtin_annotation() -> dict:
    """Grafana's own annotations and alerts (kept so the board behaves like any other)."""
    return {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
            "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}


def enterprise_variable(*, multi: bool = False, include_all: bool = False) -> dict:
    """``$enterprise`` from the registry (config/district.yaml): shows ``e01 渝荣陶瓷``, passes ``e01``.

    A Grafana custom variable (``text : value`` pairs): InfluxDB holds ids only, and the names live in
    the registry, which the generator reads; regenerating the boards picks up a new enterprise."""
    from ecm.registry import get_registry
    from ecm.report.names import enterprise_label

    reg = get_registry()
    pairs = [(enterprise_label(e.id, e.name_zh), e.id) for e in reg.enterprises]
    query = ",".join(f"{t.replace(',', chr(92) + ',')} : {v}" for t, v in pairs)
    options = [{"selected": i == 0 and not include_all, "text": t, "value": v} for i, (t, v) in enumerate(pairs)]
    if include_all:
        options.insert(0, {"selected": True, "text": "All", "value": "$__all"})
    current = ({"selected": True, "text": ["All"], "value": ["$__all"]} if include_all
               else {"selected": True, "text": pairs[0][0], "value": pairs[0][1]})
    v = {"name": "enterprise", "label": "企业 enterprise", "type": "custom", "query": query, "options": options,
         "current": current, "multi": multi, "includeAll": include_all, "hide": 0}
    if include_all:
        v["allValue"] = ".*"
    return v


def dashboard(uid: str, ttl: str, panels: list[dict], *, tags: list[str], variables: list[dict] = (),
              time_from: str = "now-30d", refresh: str = "", description: str = "",
              links: list[dict] = (), annotations: list[dict] = ()) -> dict:
    return {
        "uid": uid, "title": ttl, "description": description, "tags": ["ecm", *tags],
        "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": False, "graphTooltip": 1,
        "timezone": TZ, "weekStart": "monday", "refresh": refresh, "liveNow": False,
        "time": {"from": time_from, "to": "now"}, "timepicker": {},
        "fiscalYearStartMonth": 0, "annotations": {"list": [builtin_annotation(), *annotations]},
        "templating": {"list": list(variables)}, "links": list(links), "panels": panels,
    }


def board_links() -> list[dict]:
    """Dropdown linking the four ECM boards (by tag), keeping time range and variables."""
    return [{"type": "dashboards", "tags": ["ecm"], "asDropdown": True, "title": "ECM 看板 / boards",
             "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
             "tooltip": "", "url": ""}]


def enterprise_mappings() -> list[dict]:
    """Enterprise id → ``id 中文名`` from the registry (config/district.yaml), plus the district row."""
    from ecm.registry import get_registry

    reg = get_registry()
    from ecm.report.names import enterprise_label

    opts = {e.id: {"text": enterprise_label(e.id, e.name_zh), "index": i} for i, e in enumerate(reg.enterprises)}
    opts[DISTRICT] = {"text": f"{reg.district.name_zh} (district)", "index": len(opts)}
    return [{"type": "value", "options": opts}]
