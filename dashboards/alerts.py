"""Grafana unified-alerting rules (file provisioning), generated like the boards.

- ``ecm-enterprise-red``: an enterprise's latest ``kpi_monthly`` status_level is 2 (red);
  level 3 (data insufficient) is not red and is left to the data-health rule.
- ``ecm-device-offline``: a meter or gateway whose retained status has been ``offline``
  (``device_status.online`` = 0, gateways' last will) for 72 h, i.e. never later than the
  national 3-working-day rule. Grafana's pending period carries the duration.
Written to ``provisioning/alerting/ecm-alerts.yaml`` by ``python -m dashboards.generate``.
"""
from __future__ import annotations

from dashboards import panels as P
from ecm import schema as S

FOLDER = "ECM 能耗监测 / Energy monitoring"


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
        {"orgId": 1, "name": "ecm-devices", "folder": FOLDER, "interval": "5m", "rules": [offline]},
    ]}
