"""Load raw meter readings from InfluxDB for the accounting (the I/O edge of the pipeline)."""
from __future__ import annotations

import pandas as pd

from ecm.influx import InfluxClient, quote_ident, quote_str, time_literal
from ecm.schema import MEAS_READINGS

READINGS = MEAS_READINGS
COLUMNS = ["time", "enterprise", "meter", "quantity", "value"]


def enterprise_filter(enterprises: list[str] | None) -> str:
    """An InfluxQL condition restricting the ``enterprise`` tag (empty string = all)."""
    if not enterprises:
        return ""
    return " AND (" + " OR ".join(f"enterprise = {quote_str(e)}" for e in enterprises) + ")"


def _select(client: InfluxClient, quantity: str, where_time: str, agg: str | None = None,
            enterprises: list[str] | None = None) -> pd.DataFrame:
    field = quote_ident(quantity)
    # raw rows: the tags selected as columns, so the answer is one series, not one per meter;
    # an aggregate (the carry-in/out reading) needs its series
    sel, group = (f"{agg}({field}) AS value", " GROUP BY enterprise, meter") if agg else \
        (f"{field} AS value, enterprise, meter", "")
    q = (f"SELECT {sel} FROM {client.readings_from} WHERE quantity = {quote_str(quantity)} AND {where_time}"
         f"{enterprise_filter(enterprises)}{group}")
    df = client.query_frame(q)
    if df.empty:
        return pd.DataFrame(columns=COLUMNS)
    df["quantity"] = quantity
    return df.dropna(subset=["value"])[COLUMNS]


def load_readings(client: InfluxClient, quantities: list[str], start: pd.Timestamp, end: pd.Timestamp,
                  *, carry_in: pd.Timedelta | None = pd.Timedelta(days=8),
                  carry_out: pd.Timedelta | None = None,
                  enterprises: list[str] | None = None) -> pd.DataFrame:
    """Readings with ``start < time <= end`` plus, per meter, the last reading at or before
    ``start`` (searched back ``carry_in``), so that counter intervals chain across windows, and,
    with ``carry_out``, the first reading after ``end`` (so a gap open at ``end`` can be
    apportioned over the window, ``ecm.accounting.gaps``).

    Returns columns time (tz-aware UTC), enterprise, meter, quantity, value (the meter's unit,
    named by ``quantity``), sorted by meter and time. Duplicates cannot occur: InfluxDB keeps
    one point per (series, time).
    """
    frames = []
    for q in quantities:
        frames.append(_select(client, q, f"time > {time_literal(start)} AND time <= {time_literal(end)}",
                              enterprises=enterprises))
        if carry_in is not None:
            frames.append(_select(client, q, f"time > {time_literal(start - carry_in)} AND time <= {time_literal(start)}",
                                  agg="last", enterprises=enterprises))
        if carry_out is not None:
            frames.append(_select(client, q, f"time > {time_literal(end)} AND time <= {time_literal(end + carry_out)}",
                                  agg="first", enterprises=enterprises))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "value" else "object") for c in COLUMNS})
    df = pd.concat(frames, ignore_index=True)
    df["value"] = df["value"].astype("float64")
    return df.sort_values(["meter", "time"], kind="stable").reset_index(drop=True)
