"""Pure: the "what needs action" list (需关注事项) of a report model.

Each action: ``key`` (stable id), ``severity`` (high / medium / low), ``kind``, ``enterprise``,
``text_zh``, ``text_en``. Sorted by severity, then enterprise, then key.
"""
from __future__ import annotations

from ecm.report.labels import benchmark_share_goal_frac, path_decline_pct, rate_to_2027
from ecm.schema import DATA_INSUFFICIENT, Classification, Status

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.1f}%"


def _a(key, severity, kind, enterprise, zh, en) -> dict:
    return {"key": key, "severity": severity, "kind": kind, "enterprise": enterprise, "text_zh": zh, "text_en": en}


def summary_actions(summary: dict, who_zh: str, who_en: str, enterprise: str | None) -> list[dict]:
    """Actions from a monthly summary (status against the target path)."""
    ent = enterprise or "_district"
    if summary["data_insufficient"]:
        return [_a(f"data_insufficient.monthly.{ent}", "high", DATA_INSUFFICIENT, enterprise,
                   f"{who_zh}：本月数据不足，无法评价强度进度，请督促补报/核查数据。",
                   f"{who_en}: data insufficient this month; intensity not assessed. Chase up the data.")]
    if summary["status"] in (Status.RED, Status.YELLOW):
        sev = "high" if summary["status"] == Status.RED else "medium"
        return [_a(f"status.{summary['status']}.{ent}", sev, "status", enterprise,
                   f"{who_zh}：累计强度指数 {summary['cumulative_index']:.4f} 高于{path_decline_pct()}%路径 "
                   f"{summary['path_index']:.4f}，{rate_to_2027(summary['required_annual_rate_frac'])[0]}。",
                   f"{who_en}: cumulative index {summary['cumulative_index']:.4f} above the path "
                   f"{summary['path_index']:.4f}; {rate_to_2027(summary['required_annual_rate_frac'])[1]}.")]
    return []


def daily_actions(daily: dict, who_zh: str, who_en: str, enterprise: str) -> list[dict]:
    if not daily["data_insufficient"]:
        return []
    return [_a(f"data_insufficient.daily.{enterprise}", "medium", DATA_INSUFFICIENT, enterprise,
               f"{who_zh}：当日监测数据不足（完整率 {_pct(daily['completeness_frac'])}），请核查采集。",
               f"{who_en}: the day's data insufficient (completeness {_pct(daily['completeness_frac'])}); check the meters.")]


def line_actions(lines: list[dict]) -> list[dict]:
    out = []
    for ln in lines:
        if ln["classification"] == Classification.WORSE_THAN_BASELINE:
            out.append(_a(f"line.worse_than_baseline.{ln['key']}", "high", "line", ln["enterprise"],
                          f"产线 {ln.get('label_zh', ln['name_zh'])}：单位产品能耗劣于基准水平，须限期改造或淘汰。",
                          f"Line {ln['name_en'] or ln['key']}: worse than the baseline level; retrofit or phase out."))
    return out


def capacity_actions(capacity: list[dict]) -> list[dict]:
    out = []
    for c in capacity:
        share = c["benchmark_capacity_share_frac"]
        goal = benchmark_share_goal_frac()
        if c["key"] == "all" and share is not None and share < goal:
            out.append(_a("capacity.benchmark_share.all", "medium", "capacity", None,
                          f"标杆水平产能占比 {_pct(share)}，低于 {goal:.0%} 目标。",
                          f"Capacity at the benchmark level {_pct(share)}, below the {goal:.0%} goal."))
    return out


def dq_actions(dq: dict) -> list[dict]:
    return [_a(f"dq.{f['key']}", "medium", "data_quality", f["enterprise"],
               f"数据质量阻断：{f['expectation']}（{f['enterprise']}）{f['observed'] or ''}",
               f"Blocking data-quality failure: {f['expectation']} ({f['enterprise']}) {f['observed'] or ''}")
            for f in dq["failures"] if f["severity"] == "block"]


def sort_actions(actions: list[dict]) -> list[dict]:
    return sorted(actions, key=lambda a: (SEVERITY_ORDER[a["severity"]], a["enterprise"] or "", a["key"]))
