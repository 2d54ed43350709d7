"""Data status: which enterprise-days and enterprise-periods are published, and which are withheld.

A number that cannot be trusted is withheld as ``data_insufficient``, never shown as a colour
(docs/contracts.md §2.2). Rules:

* **Enterprise-day** (:func:`day_status`) is ``data_insufficient`` when
  - a ``block`` data-quality expectation failed for it (``expectations/``), or
  - a blocking accounting issue applies to the enterprise or one of its meters that day
    (:func:`ecm.accounting.issues.issue_records`, severity ``block``), or
  - no data-quality gate ran (historical imports at daily resolution) and its interval coverage is
    below 90 % — the completeness rule of 重点用能单位能耗在线监测系统技术规范 (NDRC 2017)
    (``HISTORY_MIN_COMPLETENESS_FRAC``).
  A withheld enterprise-day has no energy fields and no ``energy_daily``/``line_daily`` rows.
* **Enterprise year to date** (:func:`ytd_ok`) is published only when no day of the window is
  withheld, every month of it has value added, and energy exists.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ecm.accounting.issues import Issue
from ecm.schema import DATA_INSUFFICIENT, DATA_OK

HISTORY_MIN_COMPLETENESS_FRAC = 0.9
WITHHELD_FIELDS = ("energy_tce", "energy_tce_generation", "co2_t")


def day_status(kpi: pd.DataFrame, blocked: set[tuple[str, str]], *, completeness_rule: bool
               ) -> tuple[pd.DataFrame, list[Issue]]:
    """``kpi`` (``day`` date, ``enterprise``, energy fields, ``completeness_frac``) with
    ``data_status`` added and the energy fields of withheld enterprise-days set to NaN.

    ``blocked``: (ISO day, enterprise) pairs withheld by a data-quality gate or a blocking
    accounting issue. ``completeness_rule``: apply the 90 % coverage rule (when no gate ran).
    Each enterprise-day withheld by the coverage rule gets a blocking
    ``ecm.status.completeness_below_90pct`` issue row.
    """
    k = kpi.copy()
    iso = k["day"].map(date.isoformat)
    bad = pd.Series([(d, e) in blocked for d, e in zip(iso, k["enterprise"])], index=k.index, dtype=bool)
    issues: list[Issue] = []
    if completeness_rule:
        low = (k["completeness_frac"] < HISTORY_MIN_COMPLETENESS_FRAC) & ~bad
        if low.any():
            rows = [{"enterprise": e, "day": d} for d, e in zip(iso[low], k.loc[low, "enterprise"])]
            issues.append(Issue("ecm.status.completeness_below_90pct",
                                f"{len(rows)} enterprise-day(s) with interval coverage below 90 %: withheld",
                                {"rows": rows, "min_completeness_frac": HISTORY_MIN_COMPLETENESS_FRAC},
                                blocking=True))
        bad |= low
    k["data_status"] = np.where(bad, DATA_INSUFFICIENT, DATA_OK)
    k.loc[bad, list(WITHHELD_FIELDS)] = np.nan
    return k, issues


def withheld(kpi: pd.DataFrame) -> set[tuple[date, str]]:
    """(day, enterprise) pairs of ``kpi`` marked ``data_insufficient``."""
    b = kpi[kpi["data_status"] == DATA_INSUFFICIENT]
    return set(zip(b["day"], b["enterprise"]))


def drop_withheld(frame: pd.DataFrame, pairs: set[tuple[date, str]]) -> pd.DataFrame:
    """``frame`` (``day``, ``enterprise`` columns) without the rows of withheld enterprise-days."""
    if frame.empty or not pairs:
        return frame
    drop = pd.Series([(d, e) in pairs for d, e in zip(frame["day"], frame["enterprise"])], index=frame.index,
                     dtype=bool)
    return frame[~drop]


def ytd_ok(cur: pd.DataFrame) -> pd.Series:
    """Enterprise year to date publishable: no withheld day (``n_blocked`` 0), no month without
    value added (``n_missing`` 0) and energy present. ``cur`` is indexed by enterprise, as
    :func:`ecm.accounting.ytd.window_energy` joined with ``window_value_added``; an enterprise
    without any row counts as not publishable."""
    return ((cur["n_blocked"].fillna(1) == 0) & (cur["n_missing"].fillna(1) == 0)
            & cur["energy_tce"].notna())


def ytd_completeness(cur: pd.DataFrame) -> pd.Series:
    """Share of the window's present days that are published (1 − blocked ÷ days); 0 without days."""
    return (1 - cur["n_blocked"].fillna(0) / cur["n_days"]).fillna(0.0)


def withhold_periods(frame: pd.DataFrame, enterprises: set[str], levels: dict[str, int]) -> pd.DataFrame:
    """``frame`` (``enterprise``, ``status``, ``status_level``) with the listed enterprises set to
    ``data_insufficient``: a ``block`` failure of the monthly statistics suite withholds their
    month whatever the arithmetic gave."""
    out = frame.copy()
    sel = out["enterprise"].isin(enterprises)
    out.loc[sel, "status"] = DATA_INSUFFICIENT
    out.loc[sel, "status_level"] = levels[DATA_INSUFFICIENT]
    return out
