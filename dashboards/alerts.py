"""Grafana unified-alerting rules (file provisioning), generated like the boards.

- ``ecm-enterprise-red``: an enterprise's latest ``kpi_monthly`` status_level is 2 (red);
  level 3 (data insufficient) is not red and is left to the data-health rule.
- ``ecm-device-offline``: a meter or gateway whose retained status has been ``offline``
  (``device_status.online`` = 0, gateways' last will) for 72 h, i.e. never later than the
  national 3-working-day rule. Grafana's pending period carries the duration.
- ``ecm-meter-silent``: a meter whose newest reading was *received* (``received_ms``, stamped by
  the ingest bridge) 72 h or more before the newest reading of any meter, so a silent meter behind
  an online gateway fires too. Grafana's expressions have no clock: the platform's own newest
  arrival (query N) is "now", which also keeps a platform-wide outage (ingest down) from paging
  every meter at once; that outage is the ingest-health board's job. A meter silent for longer
  than the query window (35 days) drops out of the rule: decommission it in the registry.
Every rule has a ``severity`` label (critical, warning): ecm.alerting routes it to the site's
channels (e-mail, WeCom, DingTalk). Written to ``provisioning/alerting/ecm-alerts.yaml`` by
``python -m dashboards.generate``.
"""
from __future__ import annotations

from dashboards import panels as P
from ecm import schema as S

#: Grafana folder of the rules and boards; a "/" would be read as a nested folder path
FOLDER = "ECM 能耗监测 · Energy monitoring"
READINGS_FROM = P.READINGS_FROM
SILENT_WINDOW_S = 35 * 86400


def _query(ref: str, query: str, seconds: int) -> dict:
    return {"refId": ref, "relativeTimeRange": {"from": seconds, "to": 0}, "datasourceUid": P.DATASOURCE_UID,
            "model": {"refId": ref, "query": query, "rawQuery": True, "resultFormat": "time_series",
                      "intervalMs": 60000, "maxDataPoints": 43200}}


def _expr(ref: str, model: dict) -> dict:
    return {"refId": ref, "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": "__expr__",
            "model": {"refId": ref, "datasource": {"type": "__expr__", "uid": "__expr__"}, **model}}


def _rule(uid: str, ttl: str, query: str, seconds: int, evaluator: dict, for_: str, summary: str,
          severity: str, dashboard_uid: str) -> dict:
    return {
        "uid": uid, "title": ttl, "condition": "C", "for": for_, "noDataState": "OK", "execErrState": "Error",
        "data": [_query("A", query, seconds),
                 _expr("B", {"type": "reduce", "expression": "A", "reducer": "last", "settings": {"mode": "dropNN"}}),
                 _expr("C", {"type": "threshold", "expression": "B", "conditions": [{"evaluator": evaluator}]})],
        "annotations": {"summary": summary, "__dashboardUid__": dashboard_uid},
        "labels": {"severity": severity, "team": "district-energy"}, "isPaused": False,
    }


def silent_meter_rule() -> dict:
    """Per meter: (newest arrival anywhere − the meter's newest arrival) in hours ≥ 72 → firing."""
    q_meter = (f"SELECT last({P.ident(S.F_RECEIVED_MS)}) FROM {READINGS_FROM} WHERE $timeFilter "
               f"GROUP BY {P.ident(S.TAG_ENTERPRISE)}, {P.ident(S.TAG_METER)}")
    q_now = f"SELECT last({P.ident(S.F_RECEIVED_MS)}) FROM {READINGS_FROM} WHERE $timeFilter"
    return {
        "uid": "ecm-meter-silent", "title": "表计静默超72小时 / meter silent for 72 h", "condition": "D",
        "for": "10m", "noDataState": "OK", "execErrState": "Error",
        "data": [_query("A", q_meter, SILENT_WINDOW_S), _query("N", q_now, SILENT_WINDOW_S),
                 _expr("B", {"type": "reduce", "expression": "A", "reducer": "last", "settings": {"mode": "dropNN"}}),
                 _expr("M", {"type": "reduce", "expression": "N", "reducer": "last", "settings": {"mode": "dropNN"}}),
                 _expr("C", {"type": "math", "expression": "($M - $B) / 3600000"}),
                 _expr("D", {"type": "threshold", "expression": "C",
                             "conditions": [{"evaluator": {"type": "gt", "params": [S.OFFLINE_FLAG_H - 1e-9]}}]})],
        "annotations": {"summary": "{{ $labels.enterprise }}/{{ $labels.meter }} 静默 ≥ 72 h: no reading received "
                                   "for {{ humanize $values.C.Value }} h (3-working-day rule)",
                        "__dashboardUid__": "ecm-ingest-health"},
        "labels": {"severity": "warning", "team": "district-energy"}, "isPaused": False,
    }


def build() -> dict:
    red = _rule(
        "ecm-enterprise-red", "企业红色预警 / enterprise status red",
        f"SELECT last({P.ident(S.F_STATUS_LEVEL)}) FROM {P.ident(S.MEAS_KPI_MONTHLY)} WHERE {P.where_firms()} "
        f"AND $timeFilter GROUP BY {P.ident(S.TAG_ENTERPRISE)}", 62 * 86400,
        {"type": "within_range", "params": [1.5, 2.5]}, "0s",
        "{{ $labels.enterprise }} 能耗强度偏离" + f"{S.target_words()['path_pct']}" + "%路径 (red): off the path beyond "
        "tolerance", "critical",
        "ecm-district-overview")
    offline = _rule(
        "ecm-device-offline", "设备离线超3个工作日 / device offline beyond 3 working days",
        f"SELECT last({P.ident(S.F_ONLINE)}) FROM {P.ident(S.MEAS_DEVICE_STATUS)} WHERE $timeFilter "
        f"GROUP BY {P.ident(S.TAG_ENTERPRISE)}, {P.ident(S.TAG_METER)}", 30 * 86400,
        {"type": "lt", "params": [0.5]}, f"{S.OFFLINE_FLAG_H}h",
        "{{ $labels.enterprise }}/{{ $labels.meter }} offline ≥ 72 h: chase up (3-working-day rule)", "warning",
        "ecm-ingest-health")
    return {"apiVersion": 1, "groups": [
        {"orgId": 1, "name": "ecm-compliance", "folder": FOLDER, "interval": "1h", "rules": [red]},
        {"orgId": 1, "name": "ecm-devices", "folder": FOLDER, "interval": "5m", "rules": [offline, silent_meter_rule()]},
    ]}
