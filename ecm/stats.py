"""Monthly enterprise statistics (industrial output value, value added, deflator).

The same records arrive over MQTT (``ecm/v1/{E}/stats/monthly``, written by ingest) or from
a CSV import (``ecm stats import``). Both land in the ``enterprise_monthly`` measurement,
timestamped at the month's first day 00:00 Beijing time, so a re-import overwrites.

Value added arrives at current prices as ``value_added_current_10k_cny`` (``ecm.schema``: an
unqualified ``value_added_*`` is at 2022 comparable prices). Its former name ``value_added_10k_cny``
is a deprecated alias: accepted in a payload or CSV (when both are given they must be equal, else
the message or row is rejected), never written, and read back from points stored before the rename
by :func:`coalesce_stored` (the new field wins where a point has both, e.g. a month re-imported
after the rename: InfluxDB 1.x merges the fields of a rewritten point and cannot rename a field).
"""
from __future__ import annotations

import math

import pandas as pd

from ecm.errors import EcmError
from ecm.schema import (ENTERPRISE_MONTHLY_FIELDS, F_VALUE_ADDED_CURRENT_10K_CNY, F_VALUE_ADDED_CURRENT_DEPRECATED,
                        MEAS_ENTERPRISE_MONTHLY)

MEASUREMENT = MEAS_ENTERPRISE_MONTHLY
FIELDS = ENTERPRISE_MONTHLY_FIELDS
CSV_COLUMNS = ("enterprise", "month", *FIELDS)
VA_CURRENT, VA_DEPRECATED = F_VALUE_ADDED_CURRENT_10K_CNY, F_VALUE_ADDED_CURRENT_DEPRECATED
#: rejection reason of a payload or CSV row whose deprecated alias differs from the new key
ALIAS_CONFLICT = "value_added_alias_conflict"


def alias_conflict(doc: dict) -> str:
    """One-line reason when ``doc`` (a stats payload) gives the deprecated alias and the new key
    with different values, else "". Use :func:`fold_alias` afterwards."""
    if VA_DEPRECATED in doc and VA_CURRENT in doc and doc[VA_DEPRECATED] != doc[VA_CURRENT]:
        return (f"{VA_DEPRECATED} (deprecated alias) = {str(doc[VA_DEPRECATED])[:30]} differs from "
                f"{VA_CURRENT} = {str(doc[VA_CURRENT])[:30]}")
    return ""


def fold_alias(doc: dict) -> dict:
    """``doc`` with the deprecated alias moved to the new key (the new key wins when both exist)."""
    if VA_DEPRECATED not in doc:
        return doc
    out = {k: v for k, v in doc.items() if k != VA_DEPRECATED}
    out.setdefault(VA_CURRENT, doc[VA_DEPRECATED])
    return out


def coalesce_stored(df: pd.DataFrame) -> pd.DataFrame:
    """enterprise_monthly rows as loaded from InfluxDB with either field name (points written before
    the rename carry only the deprecated one): one ``value_added_current_10k_cny`` column, the new
    field preferred where a point has both."""
    nan = pd.Series(float("nan"), index=df.index)
    new = pd.to_numeric(df[VA_CURRENT], errors="coerce") if VA_CURRENT in df.columns else nan
    old = pd.to_numeric(df[VA_DEPRECATED], errors="coerce") if VA_DEPRECATED in df.columns else nan
    return df.drop(columns=[VA_DEPRECATED], errors="ignore").assign(
        **{VA_CURRENT: new.where(new.notna(), old).astype("float64")})


def month_start_utc(month: str) -> pd.Timestamp:
    """'2024-03' -> 2024-03-01 00:00 Asia/Shanghai as a UTC timestamp."""
    return pd.Timestamp(f"{month}-01").tz_localize("Asia/Shanghai").tz_convert("UTC")


def validate_stats(df: pd.DataFrame, enterprise_ids: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split stats rows into (valid, rejected); rejected rows carry a ``reason`` column.

    Rules: known enterprise; month ``YYYY-MM``; value added and output value finite and ≥ 0
    (10^4 yuan, current prices); deflator_index finite and in (0.5, 2.0) (2022 = 1.0). The
    deprecated column ``value_added_10k_cny`` stands in for ``value_added_current_10k_cny`` (absent
    or empty); a row giving both with different values is rejected (``value_added_alias_conflict``).
    """
    conflict = pd.Series(False, index=df.index)
    if VA_DEPRECATED in df.columns:
        old = df[VA_DEPRECATED]
        if VA_CURRENT in df.columns:
            new = df[VA_CURRENT]
            conflict = old.notna() & new.notna() & (old != new)
            df = df.assign(**{VA_CURRENT: new.where(new.notna(), old)})
        else:
            df = df.assign(**{VA_CURRENT: old})
        df = df.drop(columns=VA_DEPRECATED)
    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise EcmError(f"stats CSV lacks columns {missing}", hint=f"expected columns: {','.join(CSV_COLUMNS)}")
    reasons = []
    for row, clash in zip(df.itertuples(index=False), conflict.to_numpy()):
        r = ""
        if clash:
            r = ALIAS_CONFLICT
        elif row.enterprise not in enterprise_ids:
            r = "unknown_enterprise"
        elif not isinstance(row.month, str) or len(row.month) != 7 or row.month[4] != "-":
            r = "bad_month"
        else:
            vals = [getattr(row, f) for f in FIELDS]
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
                r = "not_finite"
            elif row.output_value_10k_cny < 0 or row.value_added_current_10k_cny < 0:
                r = "negative_value"
            elif not 0.5 < row.deflator_index < 2.0:
                r = "deflator_out_of_range"
        reasons.append(r)
    out = df.assign(reason=reasons)
    return out[out.reason == ""].drop(columns="reason"), out[out.reason != ""]


def stats_to_frame(valid: pd.DataFrame) -> pd.DataFrame:
    """Rows ready for ``InfluxClient.write_frame(..., MEASUREMENT, ["enterprise"])``."""
    frame = valid[["enterprise", *FIELDS]].astype({f: float for f in FIELDS}).copy()
    frame.insert(0, "time", [month_start_utc(m) for m in valid["month"]])
    return frame
