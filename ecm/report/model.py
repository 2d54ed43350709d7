"""Pure report model: ReportData -> JSON-able dicts for the district and each enterprise.

No I/O, no clock. Every numeric value is taken from the KPI store unchanged (rounding happens
only in the templates), so the report matches the dashboards. An enterprise whose data is
insufficient (``status``/``data_status`` = ``data_insufficient``, or no row at all) gets
``data_insufficient: True`` and ``None`` for its figures: the report says so instead of showing numbers.
Units: energy tce (当量值), CO2 tCO2, intensity tce per 10^4 CNY at 2022 prices, indices 2022 = 1,
fractions 0–1, ``_pct`` 0–100.
"""
from __future__ import annotations

import math
import weakref

import pandas as pd

from ecm.report.data import ReportData
from ecm.report.labels import DISTRICT, UNIT_ENERGY
from ecm.report.names import line_label, short_name_zh
from ecm.report import wording as W
from ecm.accounting.issues import issue_words
from ecm.schema import MEAS_KPI_DAILY, Classification, DataStatus, Status

MONTHLY_FIGURES = ("energy_tce", "co2_t", "value_added_10k_cny", "intensity_tce_per_10k_cny",
                   "ytd_intensity_tce_per_10k_cny", "ytd_change_frac", "cumulative_index", "path_index",
                   "required_annual_rate_frac", "co2_intensity_t_per_10k_cny")
DAILY_FIGURES = ("energy_tce", "co2_t")
#: kpi_monthly words and figures of the issue #12 rules (docs/contracts.md §4)
VERDICT_TEXTS = ("ytd_window_zh", "ytd_window_en", "status_note_zh", "status_note_en", "mix_explanation_zh",
                 "mix_explanation_en", "energy_co2_status", "co2_label_zh", "co2_label_en", "action_zh", "action_en",
                 "red_reason")
VERDICT_FIGURES = ("structure_effect_vs_base", "intensity_effect_vs_base", "fixed_weight_index_vs_base",
                   "energy_co2_index_fixed_vintage", "energy_co2_index_own_vintage", "co2_reference_index",
                   "energy_co2_yoy_change_frac_fixed_vintage")
#: display order of status/classification levels: 2 (red/worse than baseline) first, 3 (none) last
LEVEL_ORDER = {2: 0, 1: 1, 0: 2, 3: 3, 4: 3}


def num(v) -> float | None:
    """A finite float, or None for missing/NaN."""
    if v is None or isinstance(v, str):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else f


def _text(v) -> str | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _rows(df: pd.DataFrame, **eq) -> list[dict]:
    """The rows of ``df`` whose columns equal ``eq`` (``df[col] == val``), as new dicts."""
    if df.empty:
        return []
    if any(col not in df.columns for col in eq):
        return []
    items = tuple(eq.items())
    return [dict(r) for r in _records(df) if all(r[c] == v for c, v in items)]


#: records of the frames read during one :func:`build_models` call, by ``id`` (with a weak
#: reference to tell a reused id); cleared when the call returns, the frames being its inputs
_RECORDS: dict[int, tuple] = {}


def _records(df: pd.DataFrame) -> list[dict]:
    """``df.to_dict("records")`` (the same Python values: ``tolist`` boxes numpy scalars as it does),
    built column by column once per frame: pandas' own walks ``iloc`` per column, ~1 ms a small
    frame, and the models filter the same frames hundreds of times."""
    hit = _RECORDS.get(id(df))
    if hit is not None and hit[0]() is df:
        return hit[1]
    names = list(df.columns)
    recs = [dict(zip(names, vals)) for vals in zip(*(df[c].tolist() for c in names))]
    _RECORDS[id(df)] = (weakref.ref(df), recs)
    return recs


def period(data: ReportData, entity: str = DISTRICT) -> dict:
    """The report's periods in words: the year-to-date window (``ytd_through`` of ``entity``'s row for the
    report month, else the district's, else the report day), the data cut-off, and whether the report
    month is still running (its month figures are then month to date)."""
    month = data.day.strftime("%Y-%m")
    through = None
    for who in (entity, DISTRICT):
        rows = _rows(data.kpi_monthly, enterprise=who, month=month)
        text = _text(rows[-1].get("ytd_through")) if rows else None
        if text:
            through = pd.Timestamp(text).date()
            break
    if through is None:
        through = data.day
    wzh, wen = W.ytd_window(through)
    czh, cen = W.cutoff(data.day)
    mtd = W.month_to_date(data.day)
    return {"ytd_through": through.isoformat(), "ytd_window_zh": wzh, "ytd_window_en": wen,
            "cutoff_zh": czh, "cutoff_en": cen, "month_partial": mtd is not None,
            "month_to_date_zh": mtd[0] if mtd else None, "month_to_date_en": mtd[1] if mtd else None}


def monthly_summary(data: ReportData, entity: str) -> dict:
    """Headline figures of ``entity`` for the report month (kpi_monthly)."""
    month = data.day.strftime("%Y-%m")
    rows = _rows(data.kpi_monthly, enterprise=entity, month=month)
    r = rows[-1] if rows else {}
    status = _text(r.get("status")) or Status.DATA_INSUFFICIENT.value
    out = {"status": status, "status_level": int(num(r.get("status_level")) if num(r.get("status_level")) is not None else 3),
           "completeness_frac": num(r.get("completeness_frac")),
           "factor_table_version": _text(r.get("factor_table_version")),
           "data_insufficient": status == Status.DATA_INSUFFICIENT or not rows}
    if out["data_insufficient"]:
        out.update(status=Status.DATA_INSUFFICIENT.value, status_level=Status.DATA_INSUFFICIENT.level)
    for f in MONTHLY_FIGURES:
        out[f] = None if out["data_insufficient"] else num(r.get(f))
    ci, pi = out["cumulative_index"], out["path_index"]
    out["gap_index"] = None if ci is None or pi is None else ci - pi
    out["on_track"] = None if out["gap_index"] is None else out["gap_index"] <= 0
    # issue #12: the window in words, the January note, structure vs efficiency, the CO2 target
    for f in VERDICT_TEXTS:
        out[f] = _text(r.get(f)) or ""
    for f in VERDICT_FIGURES:
        out[f] = None if out["data_insufficient"] else num(r.get(f))
    out["estimated"] = bool(num(r.get("estimated")) or 0)
    return out


def daily_summary(data: ReportData, entity: str) -> dict:
    """The day's energy and CO2 of ``entity`` (kpi_daily); the district sums enterprises with ``ok`` data
    unless a ``_district`` row exists."""
    day = data.day.isoformat()
    rows = _rows(data.kpi_daily, enterprise=entity, day_cst=day)
    if entity == DISTRICT and not rows:
        ok = [r for r in _rows(data.kpi_daily, day_cst=day)
              if r.get("enterprise") != DISTRICT and r.get("data_status") == "ok"]
        comp = [num(r.get("completeness_frac")) for r in ok if num(r.get("completeness_frac")) is not None]
        versions = sorted({str(r.get("factor_table_version")) for r in ok if _text(r.get("factor_table_version"))})
        return {"data_status": DataStatus.OK.value if ok else DataStatus.DATA_INSUFFICIENT.value, "data_insufficient": not ok,
                "basis": "sum_of_enterprises", "n_enterprises_ok": len(ok),
                "energy_tce": sum(num(r.get("energy_tce")) or 0.0 for r in ok) if ok else None,
                "co2_t": sum(num(r.get("co2_t")) or 0.0 for r in ok) if ok else None,
                "completeness_frac": min(comp) if comp else None,
                "factor_table_version": ",".join(versions) or None}
    r = rows[-1] if rows else {}
    status = _text(r.get("data_status")) or DataStatus.DATA_INSUFFICIENT.value
    insufficient = status != "ok"
    out = {"data_status": status, "data_insufficient": insufficient, "basis": MEAS_KPI_DAILY,
           "completeness_frac": num(r.get("completeness_frac")),
           "factor_table_version": _text(r.get("factor_table_version"))}
    for f in DAILY_FIGURES:
        out[f] = None if insufficient else num(r.get(f))
    return out


def trend(data: ReportData, entity: str) -> list[dict]:
    """Monthly history of ``entity`` (cumulative vs path index, CO2); insufficient months carry None.
    ``partial`` marks the report month while it is still running (its CO2 is month to date)."""
    out = []
    month, running = data.day.strftime("%Y-%m"), W.month_to_date(data.day) is not None
    for r in sorted(_rows(data.kpi_monthly, enterprise=entity), key=lambda r: r["month"]):
        bad = r.get("status") == Status.DATA_INSUFFICIENT
        out.append({"key": r["month"], "cumulative_index": None if bad else num(r.get("cumulative_index")),
                    "path_index": num(r.get("path_index")), "co2_t": None if bad else num(r.get("co2_t")),
                    "partial": running and r["month"] == month})
    return out


def energy_mix(data: ReportData, enterprises: list[str]) -> list[dict]:
    """Month-to-date energy (tce) by carrier over days whose kpi_daily ``data_status`` is ok."""
    ed, kd = data.energy_daily, data.kpi_daily
    if ed.empty or kd.empty or "energy_tce" not in ed.columns:
        return []
    ok = kd[(kd["data_status"] == "ok") & kd["enterprise"].isin(enterprises)][["enterprise", "day_cst"]]
    df = ed.merge(ok, on=["enterprise", "day_cst"])
    if "included" in df.columns:
        df = df[df["included"].fillna(1).astype(int) == 1]
    if df.empty:
        return []
    by = df.groupby("carrier", sort=True)["energy_tce"].sum()
    total = float(by.sum())
    return [{"key": c, "energy_tce": float(v), "share_frac": float(v) / total if total else None}
            for c, v in by.sort_values(ascending=False, kind="stable").items()]


def _suffix(row: dict, prefix: str) -> str | None:
    for k, v in sorted(row.items()):
        if k.startswith(prefix) and num(v) is not None:
            return k[len(prefix):]
    return None


def benchmark_rows(data: ReportData, enterprises: list[str]) -> list[dict]:
    """Lines' 12-month unit product energy against 标杆 (benchmark) and 基准 (baseline)."""
    names = data.lines.set_index("line") if not data.lines.empty else None
    ent_names = dict(zip(data.enterprises["enterprise"], data.enterprises["name_zh"]))
    out = []
    for r in _rows(data.benchmark_monthly):
        if r.get("enterprise") not in enterprises:
            continue
        sfx = _suffix(r, "unit_energy_12m_") or _suffix(r, "baseline_") or ""
        cls = _text(r.get("classification")) or Classification.DATA_INSUFFICIENT.value
        bad = cls == Classification.DATA_INSUFFICIENT
        line = r.get("line")
        nm = names.loc[line] if names is not None and line in names.index else None
        ent_zh = ent_names.get(r.get("enterprise"), r.get("enterprise") or "")
        name_zh = nm["name_zh"] if nm is not None else line
        out.append({
            "key": line, "enterprise": r.get("enterprise"), "industry": r.get("industry"),
            "product_class": r.get("product_class"), "enterprise_short_zh": short_name_zh(ent_zh),
            "label_zh": line_label(ent_zh, name_zh),
            "name_zh": name_zh, "name_en": nm["name_en"] if nm is not None else "",
            "unit": UNIT_ENERGY.get(sfx, sfx), "classification": cls,
            "classification_level": int(num(r.get("classification_level")) if num(r.get("classification_level")) is not None else 3),
            "unit_energy_12m": None if bad else num(r.get(f"unit_energy_12m_{sfx}")),
            "unit_energy_ytd": None if bad else num(r.get(f"unit_energy_ytd_{sfx}")),
            "benchmark": num(r.get(f"benchmark_{sfx}")), "baseline": num(r.get(f"baseline_{sfx}")),
            "gap_to_benchmark_pct": None if bad else num(r.get("gap_to_benchmark_pct")),
            "gap_to_baseline_pct": None if bad else num(r.get("gap_to_baseline_pct")),
            "gb_grade": _text(r.get("gb_grade")),
            "completeness_frac": num(r.get("completeness_frac")),
            "factor_table_version": _text(r.get("factor_table_version"))})
    out = sorted(out, key=lambda x: (LEVEL_ORDER.get(x["classification_level"], 3),
                                     x["enterprise"] or "", x["key"] or ""))
    seen: dict[str, int] = {}
    for ln in out:   # two same-named lines of one enterprise: add the line id
        seen[ln["label_zh"]] = seen.get(ln["label_zh"], 0) + 1
    for ln in out:
        if seen[ln["label_zh"]] > 1:
            ln["label_zh"] = f"{ln['label_zh']} ({ln['key']})"
    return out


def largest_gaps(lines: list[dict], n: int = 3) -> list[dict]:
    """The ``n`` lines furthest worse than 基准 (largest ``gap_to_baseline_pct``), worst first."""
    worse = [ln for ln in lines if ln["classification"] == Classification.WORSE_THAN_BASELINE
             and ln["gap_to_baseline_pct"] is not None]
    return sorted(worse, key=lambda ln: (-ln["gap_to_baseline_pct"], ln["key"] or ""))[:n]


def dq_days(data: ReportData, enterprise: str) -> dict:
    """Month-to-date days of ``enterprise`` by data status (kpi_daily): the days whose figures are withheld."""
    rows = sorted(_rows(data.kpi_daily, enterprise=enterprise), key=lambda r: r["day_cst"])
    ok = DataStatus.OK.value
    bad = [{"key": r["day_cst"], "data_status": _text(r.get("data_status")) or DataStatus.DATA_INSUFFICIENT.value,
            "completeness_frac": num(r.get("completeness_frac"))}
           for r in rows if _text(r.get("data_status")) != ok]
    first = data.day.replace(day=1)
    have = {r["day_cst"] for r in rows}
    missing = [d.isoformat() for d in pd.date_range(first, data.day).date if d.isoformat() not in have]
    bad += [{"key": d, "data_status": "no_row", "completeness_frac": None} for d in missing]
    bad.sort(key=lambda b: b["key"])
    return {"n_days": (data.day - first).days + 1,
            "n_days_ok": sum(_text(r.get("data_status")) == ok for r in rows), "days": bad}


def line_daily_rows(data: ReportData, enterprise: str) -> list[dict]:
    """The day's output and unit product energy per line of ``enterprise`` (line_daily)."""
    out = []
    for r in _rows(data.line_daily, enterprise=enterprise):
        sfx = _suffix(r, "unit_energy_") or ""
        osfx = _suffix(r, "output_") or ""
        out.append({"key": r.get("line"), "product_class": r.get("product_class"),
                    "output": num(r.get(f"output_{osfx}")), "output_unit": osfx,
                    "energy_tce": num(r.get("energy_tce")), "unit_energy": num(r.get(f"unit_energy_{sfx}")),
                    "unit": UNIT_ENERGY.get(sfx, sfx), "completeness_frac": num(r.get("completeness_frac")),
                    "factor_table_version": _text(r.get("factor_table_version"))})
    return out


def capacity_rows(data: ReportData) -> list[dict]:
    """Share of capacity at 标杆 / within 基准 per industry (``all`` first)."""
    rows = _rows(data.capacity_share_monthly)
    out = [{"key": r.get("industry"), "benchmark_capacity_share_frac": num(r.get("benchmark_capacity_share_frac")),
            "baseline_capacity_share_frac": num(r.get("baseline_capacity_share_frac")),
            "capacity_total": num(r.get("capacity_total")), "n_lines": int(num(r.get("n_lines")) or 0),
            "factor_table_version": _text(r.get("factor_table_version"))} for r in rows]
    return sorted(out, key=lambda x: (x["key"] != "all", x["key"] or ""))


def dq_section(data: ReportData, enterprises: list[str] | None) -> dict:
    """Data-quality results of the day; ``enterprises`` None = all (district)."""
    dq = data.dq_result
    if enterprises is not None:  # filtered before the rows are made: the district's frame is large
        dq = dq[dq["enterprise"].isin(enterprises)] if "enterprise" in dq.columns else dq.iloc[0:0]
    rows = _rows(dq)
    failed = [r for r in rows if num(r.get("success")) == 0]
    fails = [{"key": f"{r.get('suite')}.{r.get('expectation')}.{r.get('enterprise')}",
              "suite": r.get("suite"), "expectation": r.get("expectation"), "enterprise": r.get("enterprise"),
              "severity": r.get("severity"), "observed": _text(r.get("observed")),
              "observed_value": num(r.get("observed_value")),
              "words": issue_words(str(r.get("expectation"))) if str(r.get("expectation", "")).startswith("ecm.")
              else None} for r in failed]
    fails.sort(key=lambda f: (f["severity"] != "block", f["enterprise"] or "", f["key"]))
    return {"n_checks": len(rows), "n_failed_block": sum(f["severity"] == "block" for f in fails),
            "n_failed_warn": sum(f["severity"] != "block" for f in fails), "failures": fails}


def ranking(data: ReportData, views=None) -> list[dict]:
    """Enterprises ranked: red, yellow, green, each by distance above the path; insufficient last, unranked.
    ``views``: :func:`_enterprise_views` of ``data`` (same result, without N scans of the frames)."""
    rows = []
    for e in data.enterprises.to_dict("records"):
        own = views(e["enterprise"]) if views is not None else data
        s = monthly_summary(own, e["enterprise"])
        d = daily_summary(own, e["enterprise"])
        rows.append({"key": e["enterprise"], "name_zh": e["name_zh"], "name_en": e["name_en"],
                     "industry": e["industry"], **s,
                     "day_energy_tce": d["energy_tce"], "day_co2_t": d["co2_t"],
                     "day_completeness_frac": d["completeness_frac"], "day_data_status": d["data_status"]})
    rows.sort(key=lambda r: (LEVEL_ORDER.get(r["status_level"], 3),
                             -(r["gap_index"] if r["gap_index"] is not None else -1e9), r["key"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = None if r["data_insufficient"] else i
    return rows


def _versions(obj) -> set[str]:
    if isinstance(obj, dict):
        out = set()
        for k, v in obj.items():
            if k == "factor_table_version" and v:
                out |= {x for x in str(v).split(",") if x}
            else:
                out |= _versions(v)
        return out
    if isinstance(obj, list):
        return set().union(*(_versions(x) for x in obj)) if obj else set()
    return set()


def structure_sentence(summary: dict) -> dict | None:
    """The structure/efficiency sentence of the summary page (LMDI, docs/contracts.md §4): the
    accounting's own explanation (``mix_explanation_*``) when it gives one, else the two effects vs the
    base year in words; None when kpi_monthly carries neither (the page then leaves it out)."""
    if summary.get("mix_explanation_zh"):
        return {"text_zh": summary["mix_explanation_zh"], "text_en": summary.get("mix_explanation_en", "")}
    se, ie = summary.get("structure_effect_vs_base"), summary.get("intensity_effect_vs_base")
    if se is None or ie is None:
        return None
    return {"text_zh": f"与基年相比，强度指数 = 结构效应 {se:.3f} × 能效（强度）效应 {ie:.3f}。",
            "text_en": f"Against the base year the index = structure effect {se:.3f} × efficiency (intensity) "
                       f"effect {ie:.3f}."}


def build_district(data: ReportData, district_rank: list[dict] | None = None) -> dict:
    """The district report model (一页摘要 + ranking, lines, capacity, mix, trend, data quality)."""
    from ecm.report import actions as A

    ents = data.enterprises["enterprise"].tolist()
    summary, daily = monthly_summary(data, DISTRICT), daily_summary(data, DISTRICT)
    rank = district_rank if district_rank is not None else ranking(data)
    lines, cap, dq = benchmark_rows(data, ents), capacity_rows(data), dq_section(data, None)
    acts = A.summary_actions(summary, data.district_name_zh, data.district_name_en, None)
    for r in rank:
        acts += A.summary_actions(r, r["name_zh"], r["name_en"], r["key"])
        if r["day_data_status"] != "ok":
            acts += A.daily_actions({"data_insufficient": True, "completeness_frac": r["day_completeness_frac"]},
                                    r["name_zh"], r["name_en"], r["key"])
    acts += A.line_actions(lines) + A.capacity_actions(cap) + A.dq_actions(dq)
    counts = {f"n_{s.value}": sum(r["status"] == s for r in rank) for s in (Status.RED, Status.YELLOW, Status.GREEN,
                                                                             Status.DATA_INSUFFICIENT)}
    counts |= {"n_enterprises": len(rank), "n_lines": len(lines),
               "n_lines_worse_than_baseline": sum(ln["classification"] == Classification.WORSE_THAN_BASELINE
                                                  for ln in lines)}
    model = {"scope": "district", "key": "district", "day": data.day.isoformat(), "month": data.day.strftime("%Y-%m"),
             "name_zh": data.district_name_zh, "name_en": data.district_name_en, "period": period(data),
             "largest_gaps": largest_gaps(lines), "structure_sentence": structure_sentence(summary),
             "summary": summary, "daily": daily, "counts": counts, "actions": A.sort_actions(acts),
             "ranking": rank, "lines": lines, "capacity": cap, "mix": energy_mix(data, ents),
             "trend": trend(data, DISTRICT), "dq": dq}
    model["factor_table_versions"] = sorted(_versions(model))
    return model


def build_enterprise(data: ReportData, enterprise: str, district_rank: list[dict] | None = None) -> dict:
    """One enterprise's report model; figures withheld when its data is insufficient."""
    from ecm.report import actions as A

    e = data.enterprises.set_index("enterprise").loc[enterprise]
    summary, daily = monthly_summary(data, enterprise), daily_summary(data, enterprise)
    lines, dq = benchmark_rows(data, [enterprise]), dq_section(data, [enterprise])
    rank = district_rank if district_rank is not None else ranking(data)
    pos = next((r["rank"] for r in rank if r["key"] == enterprise), None)
    acts = (A.summary_actions(summary, e["name_zh"], e["name_en"], enterprise)
            + A.daily_actions(daily, e["name_zh"], e["name_en"], enterprise) + A.line_actions(lines) + A.dq_actions(dq))
    model = {"scope": "enterprise", "key": enterprise, "day": data.day.isoformat(),
             "month": data.day.strftime("%Y-%m"), "name_zh": e["name_zh"], "name_en": e["name_en"],
             "short_name_zh": short_name_zh(e["name_zh"]), "period": period(data, enterprise),
             "largest_gaps": largest_gaps(lines), "dq_days": dq_days(data, enterprise),
             "industry": e["industry"], "district_name_zh": data.district_name_zh,
             "summary": summary, "daily": daily,
             "position": {"rank": pos, "n_ranked": sum(r["rank"] is not None for r in rank)},
             "actions": A.sort_actions(acts), "lines": lines,
             "lines_today": [] if daily["data_insufficient"] else line_daily_rows(data, enterprise),
             "mix": [] if daily["data_insufficient"] else energy_mix(data, [enterprise]),
             "trend": trend(data, enterprise), "dq": dq}
    model["factor_table_versions"] = sorted(_versions(model))
    return model


def build_models(data: ReportData, enterprise: str | None = None) -> dict[str, dict]:
    """``{"district": ..., "<enterprise id>": ...}``; with ``enterprise`` only that enterprise."""
    try:
        views = _enterprise_views(data)
        rank = ranking(data, views)
        if enterprise is not None:
            return {enterprise: build_enterprise(views(enterprise), enterprise, rank)}
        out = {"district": build_district(data, rank)}
        for eid in data.enterprises["enterprise"]:
            out[eid] = build_enterprise(views(eid), eid, rank)
        return out
    finally:
        _RECORDS.clear()


def _enterprise_views(data: ReportData):
    """``views(eid)``: ``data`` with its per-enterprise frames cut to the rows of ``eid`` and of the
    district, in their original order (an enterprise's model reads no other rows), so each of
    the N enterprise models filters small frames instead of the district's (N² row visits)."""
    import dataclasses

    import numpy as np

    pos = {}
    for f in dataclasses.fields(data):   # the measurement frames (the registry frames stay whole)
        name, df = f.name, getattr(data, f.name)
        if name in ("enterprises", "lines") or not isinstance(df, pd.DataFrame):
            continue
        if "enterprise" in df.columns and len(df):
            pos[name] = {k: np.asarray(v) for k, v in df.groupby("enterprise", sort=False).indices.items()}

    def views(eid: str) -> ReportData:
        cut = {}
        for name, idx in pos.items():
            rows = np.sort(np.concatenate([idx.get(eid, np.empty(0, int)), idx.get(DISTRICT, np.empty(0, int))]))
            cut[name] = getattr(data, name).iloc[rows]
        return dataclasses.replace(data, **cut)

    return views
