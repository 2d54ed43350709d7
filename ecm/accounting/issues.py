"""Data-sufficiency and quality issues returned alongside accounting results.

Accounting functions never log, raise on bad data or silently substitute values: they return
``(frame, issues)``. An :class:`Issue` has a dotted name (``ecm.counters.reset_detected``), a
one-line message, an evidence dict (ids, counts, first timestamps) and ``blocking``: True when the
figure it concerns must not be published as a KPI (the caller marks it ``data_insufficient``).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

_NAME_RE = re.compile(r"^ecm(\.[a-z0-9_]+)+$")


@dataclass(frozen=True, eq=True)
class Issue:
    name: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict, hash=False)
    blocking: bool = False

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"issue name must be dotted and start with 'ecm.', got {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def any_blocking(issues: Iterable[Issue]) -> bool:
    """True if any issue is blocking."""
    return any(i.blocking for i in issues)


def issues_frame(issues: Iterable[Issue]):
    """Issues as a DataFrame (name, message, blocking, evidence) for reports and logs."""
    import pandas as pd

    rows = [{"name": i.name, "message": i.message, "blocking": i.blocking, "evidence": i.evidence} for i in issues]
    return pd.DataFrame(rows, columns=["name", "message", "blocking", "evidence"])


# -- issues as results: where an issue applies (docs/contracts.md §2.1, dq_result suites accounting_*) --
SCOPE_ENTERPRISE, SCOPE_METER, SCOPE_LINE = "enterprise", "meter", "line"
RECORD_COLUMNS = ["name", "message", "blocking", "severity", "enterprise", "scope", "subject", "period"]


def _listed(evidence: dict, one: str, many: str) -> list:
    if evidence.get(one) is not None:
        return [evidence[one]]
    return list(evidence.get(many) or [])


def issue_records(issues: Iterable[Issue], period: str, *, district: str = "_district",
                  meter_enterprise: dict | None = None, line_enterprise: dict | None = None):
    """One row per (issue, enterprise, subject, period): where each issue applies.

    Location comes from the evidence: ``rows`` (a list of dicts with any of ``enterprise``,
    ``meter``, ``line``, ``day``/``period``) gives one row each; otherwise ``enterprise`` /
    ``enterprises``, ``meter``/``meters`` or ``line``/``lines`` and ``day``/``days``/``period``.
    A meter's or line's enterprise is looked up in ``meter_enterprise``/``line_enterprise`` when
    the evidence does not name it; an issue located nowhere belongs to ``district``; an issue
    without a day belongs to ``period``.

    ``scope`` is ``line`` when the issue names a line, ``meter`` when it names a meter, else
    ``enterprise``. ``severity`` is ``block`` when the issue is blocking and its scope is the
    enterprise (or the district) or one of its meters: that figure for the period is withheld
    (``data_insufficient``). A blocking issue of a line withholds only that line's figure, so it is
    stored as ``warn`` with ``blocking`` True.
    """
    import pandas as pd

    meter_enterprise, line_enterprise = meter_enterprise or {}, line_enterprise or {}
    out = []
    for i in issues:
        ev = i.evidence or {}
        if isinstance(ev.get("rows"), list) and ev["rows"] and all(isinstance(r, dict) for r in ev["rows"]):
            locs = [(r.get("enterprise"), r.get("meter"), r.get("line"), r.get("day") or r.get("period"))
                    for r in ev["rows"]]
        else:
            ents = _listed(ev, "enterprise", "enterprises") or [None]
            subs = ([("meter", m) for m in _listed(ev, "meter", "meters")]
                    or [("line", ln) for ln in _listed(ev, "line", "lines")] or [(None, None)])
            days = _listed(ev, "day", "days") or ([ev["period"]] if ev.get("period") else [None])
            locs = []
            for kind, s in subs:
                for e in (ents if len(ents) == 1 or kind is None else [None]):
                    for d in days:
                        locs.append((e, s if kind == "meter" else None, s if kind == "line" else None, d))
        for ent, meter, line, day in locs:
            ent = ent or (meter_enterprise.get(meter) if meter else None) or (
                line_enterprise.get(line) if line else None) or district
            scope = SCOPE_LINE if line else SCOPE_METER if meter else SCOPE_ENTERPRISE
            severity = "block" if i.blocking and scope != SCOPE_LINE else "warn"
            out.append({"name": i.name, "message": i.message, "blocking": bool(i.blocking), "severity": severity,
                        "enterprise": str(ent), "scope": scope, "subject": str(line or meter or ""),
                        "period": str(day or period)})
    df = pd.DataFrame(out, columns=RECORD_COLUMNS)
    return df.drop_duplicates(["name", "enterprise", "subject", "period", "severity"]).reset_index(drop=True)


def blocked_pairs(records) -> set[tuple[str, str]]:
    """(period, enterprise) pairs withheld by ``block`` records of :func:`issue_records`."""
    b = records[records["severity"] == "block"]
    return set(zip(b["period"], b["enterprise"]))


#: plain words (zh, en) for the issues the nightly and monthly runs store (report, boards, `ecm dq show`)
ISSUE_WORDS: dict[str, tuple[str, str]] = {
    "ecm.counters.rollover": ("表码翻转（已按翻转计量）", "register rolled over (counted)"),
    "ecm.counters.reset_detected": ("表码归零或换表（其间用量未知，不计入）", "meter reset or replaced (consumption across it unknown)"),
    "ecm.counters.gap_detected": ("数据中断（用量按中断后读数计入）", "gap in readings (consumption booked after it)"),
    "ecm.counters.spike_rejected": ("不合理跳变已剔除", "implausible jump rejected"),
    "ecm.counters.glitch_reading_dropped": ("孤立异常读数已剔除", "isolated bad reading dropped"),
    "ecm.counters.value_missing": ("读数缺值", "reading without a value"),
    "ecm.counters.duplicate_reading": ("重复时间戳", "duplicate timestamp"),
    "ecm.counters.unknown_meter": ("未登记的计量表", "meter not in the registry"),
    "ecm.energy.quantity_missing": ("主表全天无计量：能耗未知，当日数据不足", "main meter measured nothing: energy unknown, day withheld"),
    "ecm.energy.negative_quantity": ("用量为负", "negative consumption"),
    "ecm.energy.output_zero": ("有能耗无产量：当日单耗不计算", "energy but no output: unit energy not computed"),
    "ecm.energy.line_idle": ("产线停产", "line idle"),
    "ecm.energy.unit_energy_input_missing": ("单耗缺能耗或产量", "unit energy lacks energy or output"),
    "ecm.energy.output_unit_mismatch": ("产量单位与指标不符", "output unit does not match the indicator"),
    "ecm.energy.generation_factor_vintage": ("等价值折标系数沿用其他年份", "等价值 coefficient of another year used"),
    "ecm.carbon.grid_factor_vintage_fallback": ("电网排放因子沿用其他年份", "grid emission factor of another year used"),
    "ecm.carbon.quantity_missing": ("排放计算缺用量", "emissions lack an amount"),
    "ecm.allocation.line_meter_unmeasured": ("产线分表全天无计量：产线能耗偏低", "line meter measured nothing: line energy understated"),
    "ecm.status.completeness_below_90pct": ("数据完整率低于90%：当日数据不足", "coverage below 90 %: day withheld"),
    "ecm.district.coverage_below_minimum": ("区县数据覆盖不足：不评价", "district coverage too low: not rated"),
    "ecm.ytd.month_not_reported": ("本月增加值未报：累计至上月末", "month's value added not reported: YTD to last month's end"),
    "ecm.ytd.no_rows": ("无用量数据", "no consumption rows"),
    "ecm.intensity.ytd_input_missing": ("缺上年同期数据：不评价", "no prior-year data: not rated"),
    "ecm.intensity.base_missing": ("缺基准年数据：不评价", "no base-year data: not rated"),
    "ecm.intensity.deflator_invalid": ("缺价格指数", "deflator missing or invalid"),
    "ecm.intensity.status_data_insufficient": ("数据不足：不评价", "data insufficient: not rated"),
    "ecm.benchmark.unit_energy_missing": ("产线无单耗：不分级", "line without unit energy: not classified"),
    "ecm.benchmark.unknown_line": ("未登记产线", "line not in the registry"),
}


def issue_words(name: str) -> tuple[str, str]:
    """(zh, en) plain words for an issue name; the name itself when none are written."""
    return ISSUE_WORDS.get(name, (name, name))
