"""Data-quality gates: run the GX suites of ``expectations/`` over metric frames.

One Great Expectations (GX Core 1.x) validation per suite and period covers the whole district;
``result_format=COMPLETE`` returns the failing row indices, which name the failing enterprise
(see ``ecm.quality_frames`` for the frames). Each expectation's ``meta.severity`` is ``block``
(the enterprise-period's KPIs become ``data_insufficient``) or ``warn`` (flagged, not blocking).

I/O lives in the loaders (``load_*``), ``write_results`` (``dq_result`` measurement, see
docs/contracts.md §2.1) and ``save_artifacts`` (GX validation JSON + Data Docs HTML).
``ecm bench quality`` gives the speed figure of one district day.
"""
from __future__ import annotations

import json
import logging
import math
import threading
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd

from ecm.errors import ConfigError
from ecm.influx import InfluxClient, time_literal
from ecm.periods import TZ, day_bounds_utc, month_bounds_utc, month_start
from ecm.quality_frames import aggregates_daily_metrics, month_label, readings_daily_metrics, stats_monthly_metrics
from ecm import schema as S
from ecm.schema import DATA_INSUFFICIENT, DATA_OK, MEAS_DQ_RESULT
from ecm.settings import resource_dir
from ecm.stats import coalesce_stored

log = logging.getLogger("ecm.quality")

EXPECTATIONS_DIR = resource_dir("expectations")
DAILY_SUITES = ("readings_daily", "aggregates_daily")
MONTHLY_SUITES = ("stats_monthly",)
MEASUREMENT = MEAS_DQ_RESULT
DQ_TAGS = ["suite", "expectation", "enterprise", "severity"]
RESULT_COLUMNS = ["suite", "expectation", "enterprise", "severity", "success", "observed", "observed_value", "period"]
MAX_LISTED = 5


@dataclass
class DqResult:
    """One suite run: ``frame`` has one row per (enterprise, expectation) with RESULT_COLUMNS;
    ``validation`` is the GX validation result as JSON; ``gx_result`` the GX object."""

    suite: str
    period: str
    frame: pd.DataFrame
    validation: dict
    gx_result: object = field(default=None, repr=False)

    @property
    def failures(self) -> pd.DataFrame:
        return self.frame[~self.frame["success"]]


# -- GX: context and suites, cached per process --------------------------------------------
_GX_LOCK = threading.RLock()
@lru_cache(maxsize=1)
def _gx():
    """(ephemeral context, batch definition) with analytics and progress bars off."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (DataContextConfig, InMemoryStoreBackendDefaults,
                                                            ProgressBarsConfig)

    cfg = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
                            progress_bars=ProgressBarsConfig(globally=False))
    ctx = gx.get_context(mode="ephemeral", project_config=cfg)
    bd = ctx.data_sources.add_pandas("ecm_dq").add_dataframe_asset("metrics").add_batch_definition_whole_dataframe("all")
    return ctx, bd


@lru_cache(maxsize=16)
def load_suite(name: str):
    """The GX ExpectationSuite stored as ``expectations/<name>.json`` (registered in the context)."""
    import great_expectations as gx

    path = EXPECTATIONS_DIR / f"{name}.json"
    if not path.exists():
        raise ConfigError(f"no expectation suite {name!r} ({path})", hint="see expectations/README.md")
    doc = json.loads(path.read_text(encoding="utf-8"))
    for exp in doc["expectations"]:
        if exp.get("meta", {}).get("severity") not in ("block", "warn") or "name" not in exp.get("meta", {}):
            raise ConfigError(f"{path}: every expectation needs meta.name and meta.severity block|warn")
    ctx, _ = _gx()
    return ctx.suites.add(gx.ExpectationSuite(**{k: v for k, v in doc.items() if k != "id"}))


@lru_cache(maxsize=1)
def load_bounds() -> dict:
    """Plausible unit product energy per product class (kgce per output unit)."""
    return json.loads((EXPECTATIONS_DIR / "unit_energy_bounds.json").read_text(encoding="utf-8"))["bounds"]


# -- running --------------------------------------------------------------------------------
def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.6g}"
    return str(v)


def _attribute(er, metrics: pd.DataFrame, suite: str, period: str) -> list[dict]:
    """Per-enterprise rows of one expectation result (the enterprises' rows found once, by position)."""
    meta = er.expectation_config.meta or {}
    kw = er.expectation_config.kwargs
    col = kw.get("column") or kw.get("column_B")
    obs_col = meta.get("observed_column", col)
    worst = meta.get("observed_worst", "max")
    raised = (er.exception_info or {}).get("raised_exception", False)
    bad_idx = set(er.result.get("unexpected_index_list") or [])
    bad = metrics.index.isin(list(bad_idx))
    obs = pd.to_numeric(metrics[obs_col], errors="coerce") if obs_col in metrics else None
    subjects = metrics["subject"].to_numpy() if "subject" in metrics else None
    listed_col = metrics[col].to_numpy() if col in metrics else subjects
    rows = []
    groups = metrics.groupby("enterprise", sort=True).indices
    for ent in sorted(groups):
        pos = groups[ent]
        fails = pos[bad[pos]]
        failed = raised or len(fails) > 0
        src = fails if len(fails) else pos
        vals = obs.iloc[src] if obs is not None else pd.Series(dtype=float)
        value = (vals.min() if worst == "min" else vals.max()) if vals.notna().any() else float("nan")
        if raised:
            observed = "error: " + str(er.exception_info.get("exception_message", ""))[:200]
        elif failed:
            listed = [f"{s} {col}={_fmt(v)}" for s, v in zip(subjects[fails], listed_col[fails])]
            observed = "; ".join(listed[:MAX_LISTED]) + (f" (+{len(listed) - MAX_LISTED} more)" if len(listed) > MAX_LISTED else "")
        else:
            observed = f"ok ({len(pos)} rows)"
        rows.append({"suite": suite, "expectation": meta["name"], "enterprise": ent, "severity": meta["severity"],
                     "success": not failed, "observed": observed, "observed_value": float(value), "period": period})
    return rows


def run_suite(suite_name: str, metrics: pd.DataFrame, *, period: str) -> DqResult:
    """Validate ``metrics`` (a frame of ``ecm.quality_frames``) with the suite ``suite_name``.

    One GX validation for all enterprises; returns per-(enterprise, expectation) outcomes.
    ``period`` is the label stored with the results (``YYYY-MM-DD`` or ``YYYY-MM``).
    """
    m = metrics.reset_index(drop=True)
    with _GX_LOCK:  # one GX context per process, not thread-safe (the demo computes months on threads)
        suite = load_suite(suite_name)
        _, bd = _gx()
        res = bd.get_batch(batch_parameters={"dataframe": m}).validate(
            suite, result_format={"result_format": "COMPLETE", "partial_unexpected_count": 20})
    rows = [r for er in res.results for r in _attribute(er, m, suite_name, period)]
    frame = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    frame["success"] = frame["success"].astype(bool)
    return DqResult(suite_name, period, frame, res.to_json_dict(), res)


def results_frame(results: list[DqResult]) -> pd.DataFrame:
    """All per-(enterprise, expectation) rows of several suite runs."""
    frames = [r.frame for r in results if len(r.frame)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESULT_COLUMNS)


def blocking_enterprises(results: list[DqResult], period: str | None = None) -> set[str]:
    """Enterprises with a failed ``block`` expectation (optionally only in ``period``)."""
    f = results_frame(results)
    f = f[(~f["success"].astype(bool)) & (f["severity"] == "block")]
    if period is not None:
        f = f[f["period"] == period]
    return set(f["enterprise"])


def data_status(results: list[DqResult], enterprise_ids: list[str], period: str | None = None) -> dict[str, str]:
    """``kpi_daily.data_status`` / ``kpi_monthly.status`` input: enterprise → ok | data_insufficient."""
    blocked = blocking_enterprises(results, period)
    return {e: DATA_INSUFFICIENT if e in blocked else DATA_OK for e in enterprise_ids}


def period_start_utc(period: str) -> pd.Timestamp:
    """Start of a ``YYYY-MM-DD`` day or ``YYYY-MM`` month in Beijing time, as UTC."""
    d = date.fromisoformat(period if len(period) == 10 else period + "-01")
    return day_bounds_utc(d)[0]


def write_results(client: InfluxClient, results: list[DqResult]) -> int:
    """Write dq_result points (time = period start, Beijing); re-running overwrites. Returns points."""
    return write_rows(client, results_frame(results))


def write_rows(client: InfluxClient, rows: pd.DataFrame) -> int:
    """Write dq_result rows (RESULT_COLUMNS, plus the accounting suites' ``subject`` and
    ``blocking``) at their period's start; re-running overwrites. Returns points."""
    if rows.empty:
        return 0
    out = rows.copy()
    out["time"] = out["period"].map(period_start_utc)
    extra = [c for c in ("subject", "blocking") if c in out]
    for c in ("success", "blocking"):
        if c in out:
            out[c] = out[c].astype(bool).astype("int64")
    return client.write_frame(out[["time", *DQ_TAGS, "success", "observed", "observed_value", "period", *extra]],
                              MEASUREMENT, DQ_TAGS)


def accounting_results(records: pd.DataFrame, suite: str) -> pd.DataFrame:
    """dq_result rows (one per issue name, enterprise, severity and period) from located issues:
    ``success`` 0, ``observed`` the messages, ``observed_value`` the number of subjects, ``subject``
    the comma-joined meters/lines, ``blocking`` 1/0."""
    cols = ["suite", "expectation", "enterprise", "severity", "success", "observed", "observed_value", "period",
            "subject", "blocking"]
    if records is None or records.empty:
        return pd.DataFrame(columns=cols)
    g = records.groupby(["name", "enterprise", "severity", "period"], sort=True)
    out = g.agg(observed=("message", lambda s: "; ".join(dict.fromkeys(s))[:500]),
                observed_value=("subject", "size"),
                subject=("subject", lambda s: ",".join(x for x in dict.fromkeys(s) if x)),
                blocking=("blocking", "max")).reset_index()
    out = out.rename(columns={"name": "expectation"}).assign(suite=suite, success=False)
    out["observed_value"] = out["observed_value"].astype(float)
    out["blocking"] = out["blocking"].astype(bool)
    return out[cols]


def save_artifacts(results: list[DqResult], out_dir: Path) -> list[Path]:
    """Write ``<suite>.json`` (GX validation result), ``<suite>.html`` (GX Data Docs page),
    ``dq_result.csv`` and ``index.html`` into ``out_dir``. Returns the written paths."""
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, items = [], []
    renderer, view = ValidationResultsPageRenderer(), DefaultJinjaPageView()
    for r in results:
        stem = f"{r.suite}_{r.period}"
        p = out_dir / f"{stem}.json"
        p.write_text(json.dumps(r.validation, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
        h = out_dir / f"{stem}.html"
        h.write_text(view.render(renderer.render(r.gx_result)), encoding="utf-8")
        paths += [p, h]
        nf = r.failures
        items.append(f"<li><a href='{h.name}'>{r.suite} {r.period}</a>: {len(nf)} failing enterprise-expectations; "
                     f"blocking: {', '.join(sorted(set(nf[nf.severity == 'block'].enterprise))) or 'none'}</li>")
    csv = out_dir / "dq_result.csv"
    results_frame(results).to_csv(csv, index=False)
    idx = out_dir / "index.html"
    idx.write_text("<html><head><meta charset='utf-8'><title>数据质量 / data quality</title></head><body>"
                   f"<h1>数据质量 / data quality</h1><ul>{''.join(items)}</ul>"
                   f"<p><a href='{csv.name}'>dq_result.csv</a></p></body></html>", encoding="utf-8")
    return paths + [csv, idx]


# -- loaders (InfluxDB) ---------------------------------------------------------------------
def _query(client: InfluxClient, q: str) -> pd.DataFrame:
    return client.query_frame(q)


def load_raw_readings(client: InfluxClient, quantities: list[str], day: date, *,
                      carry_in: pd.Timedelta = pd.Timedelta(days=1)) -> pd.DataFrame:
    """Readings of ``day`` (start < time ≤ end) plus each meter's last reading before the day."""
    from ecm.pipeline.readings import load_readings

    start, end = day_bounds_utc(day)
    return load_readings(client, sorted(set(quantities)), start, end, carry_in=carry_in)


def load_aggregates(client: InfluxClient, day: date) -> dict[str, pd.DataFrame]:
    """kpi_daily / energy_daily / line_daily of the day, kpi_daily of the month, kpi_monthly."""
    start, end = day_bounds_utc(day)
    m0, m1 = month_bounds_utc(day)
    w_day = f"time >= {time_literal(start)} AND time < {time_literal(end)}"
    return {
        "kpi_daily": _query(client, f"SELECT energy_tce FROM {S.MEAS_KPI_DAILY} WHERE {w_day} GROUP BY enterprise"),
        "energy_daily": _query(client, f"SELECT energy_tce FROM {S.MEAS_ENERGY_DAILY} WHERE {w_day} "
                                       "GROUP BY enterprise, carrier"),
        "line_daily": _query(client, f"SELECT * FROM {S.MEAS_LINE_DAILY} WHERE {w_day} "
                                     "GROUP BY enterprise, line, product_class"),
        "month_kpi_daily": _query(client, f"SELECT energy_tce FROM {S.MEAS_KPI_DAILY} WHERE time >= {time_literal(m0)} "
                                          f"AND time < {time_literal(m1)} GROUP BY enterprise"),
        "kpi_monthly": _query(client, f"SELECT energy_tce FROM {S.MEAS_KPI_MONTHLY} WHERE time = {time_literal(m0)} "
                                      "GROUP BY enterprise"),
    }


def load_stats(client: InfluxClient, month: date) -> pd.DataFrame:
    """enterprise_monthly rows of ``month`` and the month before, with a ``month`` label column."""
    m0, m1 = month_bounds_utc(month)
    p0, _ = month_bounds_utc((m0.tz_convert(TZ) - pd.Timedelta(days=1)).date())
    df = _query(client, f"SELECT * FROM {S.MEAS_ENTERPRISE_MONTHLY} WHERE time >= {time_literal(p0)} "
                        f"AND time < {time_literal(m1)} "
                        "GROUP BY enterprise")
    if df.empty:
        return pd.DataFrame(columns=["enterprise", "month", S.F_VALUE_ADDED_CURRENT_10K_CNY, S.F_DEFLATOR_INDEX])
    df["month"] = df["time"].dt.tz_convert(TZ).dt.strftime("%Y-%m")
    return coalesce_stored(df)  # points written before the rename carry the deprecated field name


# -- convenience runs -------------------------------------------------------------------------
def run_day(client: InfluxClient, registry, day: date, *, flags: pd.DataFrame | None = None,
            write: bool = True) -> list[DqResult]:
    """Run the daily suites for ``day``: readings_daily always, aggregates_daily when any daily
    aggregate exists. Writes dq_result points unless ``write`` is False."""
    meters = registry.meters_frame()
    readings = load_raw_readings(client, list(meters["quantity"].unique()), day)
    results = [run_suite("readings_daily", readings_daily_metrics(readings, meters, day, flags=flags),
                         period=day.isoformat())]
    agg = load_aggregates(client, day)
    if any(len(agg[k]) for k in (S.MEAS_KPI_DAILY, S.MEAS_ENERGY_DAILY, S.MEAS_LINE_DAILY)):
        frame = aggregates_daily_metrics(day, registry.lines_frame(), load_bounds(), **agg)
        results.append(run_suite("aggregates_daily", frame, period=day.isoformat()))
    else:
        log.info("dq_aggregates_absent", extra={"day": day.isoformat()})
    if write:
        write_results(client, results)
    return results


def run_month(client: InfluxClient, registry, month: date, *, write: bool = True) -> list[DqResult]:
    """Run the monthly suite (stats_monthly) for the month containing ``month``."""
    frame = stats_monthly_metrics(load_stats(client, month), registry.enterprise_ids, month)
    results = [run_suite("stats_monthly", frame, period=month_label(month))]
    if write:
        write_results(client, results)
    return results


def load_results(client: InfluxClient, day: date, *, include_month: bool = True) -> pd.DataFrame:
    """dq_result rows stored for ``day`` (and its month's monthly suite when ``include_month``)."""
    start, end = day_bounds_utc(day)
    m0 = month_bounds_utc(day)[0] if include_month else start
    df = _query(client, f"SELECT success, observed, observed_value, period FROM {MEASUREMENT} "
                        f"WHERE time >= {time_literal(m0)} AND time < {time_literal(end)} GROUP BY {', '.join(DQ_TAGS)}")
    if df.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    keep = {day.isoformat()} | ({month_start(day).strftime("%Y-%m")} if include_month else set())
    df = df[df["period"].isin(keep)].copy()
    df["success"] = df["success"].astype(int).astype(bool)
    return df[RESULT_COLUMNS].sort_values(["period", "suite", "enterprise", "expectation"]).reset_index(drop=True)
