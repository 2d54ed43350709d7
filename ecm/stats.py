"""Monthly enterprise statistics (industrial output value, value added, deflator).

The same records arrive over MQTT (``ecm/v1/{E}/stats/monthly``, written by ingest) or from
a CSV import (``ecm stats import``). Both land in the ``enterprise_monthly`` measurement,
timestamped at the month's first day 00:00 Beijing time, so a re-import overwrites.
"""
from __future__ import annotations

import math

import pandas as pd

from ecm.errors import EcmError
from ecm.schema import MEAS_ENTERPRISE_MONTHLY

MEASUREMENT = MEAS_ENTERPRISE_MONTHLY
FIELDS = ("output_value_10k_cny", "value_added_10k_cny", "deflator_index")
CSV_COLUMNS = ("enterprise", "month", *FIELDS)


def month_start_utc(month: str) -> pd.Timestamp:
    """'2024-03' -> 2024-03-01 00:00 Asia/Shanghai as a UTC timestamp."""
    return pd.Timestamp(f"{month}-01").tz_localize("Asia/Shanghai").tz_convert("UTC")


def validate_stats(df: pd.DataFrame, enterprise_ids: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split stats rows into (valid, rejected); rejected rows carry a ``reason`` column.

    Rules: known enterprise; month ``YYYY-MM``; value added and output value finite and ≥ 0
    (10^4 yuan, current prices); deflator_index finite and in (0.5, 2.0) (2022 = 1.0).
    """
    missing = [c for c in CSV_COLUMNS if c not in df.columns]
    if missing:
        raise EcmError(f"stats CSV lacks columns {missing}", hint=f"expected columns: {','.join(CSV_COLUMNS)}")
    reasons = []
    for row in df.itertuples(index=False):
        r = ""
        if row.enterprise not in enterprise_ids:
            r = "unknown_enterprise"
        elif not isinstance(row.month, str) or len(row.month) != 7 or row.month[4] != "-":
            r = "bad_month"
        else:
            vals = [getattr(row, f) for f in FIELDS]
            if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in vals):
                r = "not_finite"
            elif row.output_value_10k_cny < 0 or row.value_added_10k_cny < 0:
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
