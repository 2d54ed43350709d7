"""Shared panel helpers: bilingual titles, InfluxQL targets, stat/timeseries/table/gauge panels.

Every panel reads the provisioned InfluxQL datasource ``ecm-influx`` (provisioning/datasources).
Queries are raw InfluxQL with Grafana's ``$timeFilter`` and ``$__interval`` macros; names come
from ``ecm.schema``. Grafana 11.x dashboard JSON, ``schemaVersion`` 39.
"""
from __future__ import annotations

from ecm.schema import DISTRICT, STATUS_LEVELS, TAG_ENTERPRISE, Status

SCHEMA_VERSION = 39
DATASOURCE_UID = "ecm-influx"
DATASOURCE = {"type": "influxdb", "uid": DATASOURCE_UID}
TZ = "Asia/Shanghai"
GROUP_TZ = f"tz('{TZ}')"

# the report's words and colours for a status (ecm.schema.Status), so boards and report agree
STATUS_ZH = {s.value: f"{s.zh} {s.en}" for s in Status}
STATUS_COLOR = {s.level: s.colour for s in Status}


def status_thresholds() -> dict:
    """status_level thresholds in the vocabulary's colours (ecm.schema.Status)."""
    return thresholds(*((None if s.level == 0 else s.level, s.colour) for s in Status))


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
           no_value: str = "") -> dict:
    defaults: dict = {"unit": unit or "none"}
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


def stat(pid, ttl, targets, pos, *, color_mode="background", text_mode="auto", calc="lastNotNull", **kw) -> dict:
    opts = {"colorMode": color_mode, "graphMode": "none", "justifyMode": "auto", "textMode": text_mode,
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


def dashboard(uid: str, ttl: str, panels: list[dict], *, tags: list[str], variables: list[dict] = (),
              time_from: str = "now-30d", refresh: str = "", description: str = "",
              links: list[dict] = ()) -> dict:
    return {
        "uid": uid, "title": ttl, "description": description, "tags": ["ecm", *tags],
        "schemaVersion": SCHEMA_VERSION, "version": 1, "editable": False, "graphTooltip": 1,
        "timezone": TZ, "weekStart": "monday", "refresh": refresh, "liveNow": False,
        "time": {"from": time_from, "to": "now"}, "timepicker": {},
        "fiscalYearStartMonth": 0, "annotations": {"list": []},
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
    opts = {e.id: {"text": f"{e.id} {e.name_zh}", "index": i} for i, e in enumerate(reg.enterprises)}
    opts[DISTRICT] = {"text": f"{reg.district.name_zh} (district)", "index": len(opts)}
    return [{"type": "value", "options": opts}]
