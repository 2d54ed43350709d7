"""District aggregation: ratios of sums over the enterprises whose data is complete.

Rules (NBS method for a group's 单位增加值能耗; docs/contracts.md §2.2):

* a district sum (energy, CO2, value added) is Σ over enterprises with ``data_status == ok``;
  intensities are then ratios of these sums, never means of enterprise ratios;
* ``completeness_frac`` = published enterprises ÷ registry enterprises;
* below ``DISTRICT_MIN_COVERAGE_FRAC`` (0.8) the district row is ``data_insufficient``, with a
  blocking ``ecm.district.coverage_below_minimum`` issue.
"""
from __future__ import annotations

import pandas as pd

from ecm.accounting.issues import Issue
from ecm.schema import DATA_INSUFFICIENT, DATA_OK, DISTRICT

DISTRICT_MIN_COVERAGE_FRAC = 0.8


def district_row(enterprises: pd.DataFrame, *, min_coverage_frac: float = DISTRICT_MIN_COVERAGE_FRAC,
                 label: str = DISTRICT) -> tuple[pd.Series, list[Issue]]:
    """One district row from per-enterprise rows (``enterprise``, ``data_status``,
    ``completeness_frac`` and numeric sum columns). Every numeric column is summed over the
    ``ok`` enterprises (NaN when none has a value); ``completeness_frac`` and ``data_status``
    follow the coverage rule of the module doc."""
    good = enterprises[enterprises["data_status"] == DATA_OK]
    sums = good.drop(columns=["enterprise", "data_status", "completeness_frac"]).apply(
        pd.to_numeric, errors="coerce").sum(min_count=1)
    row = sums.copy()
    row["enterprise"] = label
    cov = len(good) / max(len(enterprises), 1)
    row["completeness_frac"] = cov
    row["data_status"] = DATA_OK if cov >= min_coverage_frac else DATA_INSUFFICIENT
    issues = []
    if cov < min_coverage_frac:
        issues.append(Issue("ecm.district.coverage_below_minimum",
                            f"{len(good)} of {len(enterprises)} enterprises have complete data "
                            f"({cov:.0%} < {min_coverage_frac:.0%}): district figure withheld",
                            {"enterprise": label, "n_ok": len(good), "n_enterprises": len(enterprises)},
                            blocking=True))
    return row, issues
