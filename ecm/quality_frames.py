"""Metric frames for the data-quality suites (pure functions over pandas; no I/O, no clock).

Each function turns one stage's inputs into a small frame with one row per checked subject, so
that ONE Great Expectations validation per suite covers the whole district and failing rows are
attributed to enterprises (see ``ecm.quality``). Every frame has the columns ``enterprise``,
``subject`` (meter id, aggregate scope or month) and ``period`` (``YYYY-MM-DD`` Beijing day or
``YYYY-MM`` month), then the metrics the suite JSON under ``expectations/`` checks.

Days are Beijing-time days; a day owns readings with ``start < time <= end`` (the interval
ending at the reading), matching the accounting loader.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ecm.periods import day_bounds_utc, month_start

DAY_S = 86400.0
#: gauge quantity -> (min, max) physical range in the gauge's unit; None = derived or open
GAUGE_RANGES: dict[str, tuple[float, float | None]] = {"power_kw": (0.0, None), "temperature_c": (-40.0, 1800.0)}
#: quantities whose counters measure production (output meters)
OUTPUT_PREFIX = "output_"

READINGS_COLUMNS = [
    "enterprise", "subject", "meter", "period", "kind", "quantity", "interval_s", "known_meter",
    "n_expected", "n_received", "completeness_frac", "n_decreases", "n_unflagged_decreases",
    "n_out_of_range", "max_rate_frac", "n_off_grid", "max_grid_offset_s", "n_duplicate_ts", "n_stuck_intervals",
]


def _run_lengths(flag: pd.Series, group: pd.Series) -> pd.Series:
    """Length of the run of equal ``flag`` values each row belongs to, within ``group``."""
    brk = (flag != flag.groupby(group).shift()) | (group != group.shift())
    run_id = brk.cumsum()
    return run_id.map(run_id.value_counts())


def counter_flags_for(readings: pd.DataFrame, meters: pd.DataFrame) -> pd.DataFrame:
    """Rollover/reset/gap/spike flags of the counter meters in ``readings``, from the accounting's
    one counter-interval implementation (:func:`ecm.accounting.counters.counters_to_deltas`)."""
    from ecm.accounting.counters import counter_flags, counters_to_deltas

    reg = meters.reset_index(drop=True) if "meter" in meters.columns else meters.rename_axis("meter").reset_index()
    counters = reg[reg["kind"] == "counter"].set_index("meter")
    r = readings[readings["meter"].isin(counters.index)]
    deltas, _issues = counters_to_deltas(r, counters)  # the KPI run reports these issues; here only flags count
    return counter_flags(deltas)


def readings_daily_metrics(readings: pd.DataFrame, meters: pd.DataFrame, day: date, *,
                           flags: pd.DataFrame | None = None, rate_tolerance: float = 1.1,
                           grid_tolerance_s: float = 60.0, stuck_min_s: float = 3600.0) -> pd.DataFrame:
    """Per (enterprise, meter, day) quality metrics of raw readings.

    Inputs: ``readings`` with time (tz-aware UTC), enterprise, meter, quantity, value (meter unit;
    counters cumulative). Rows at or before the day start are carry-in readings used only for
    continuity. ``meters`` is ``Registry.meters_frame()``; meters ``decommissioned`` on or before
    the day are left out (their readings are neither expected nor unknown). ``flags`` has meter, time,
    flag as :func:`ecm.accounting.counters.counter_flags` returns them (computed from ``readings``
    when not given): counter decreases at rows flagged ``rollover``/``reset`` are explained, with the
    wrapped delta counted for a rollover and no rate for a reset (its consumption is unknown).

    Output columns (counts are readings or intervals in the day): n_expected = 86400/interval_s;
    n_received = distinct timestamps; completeness_frac = min(n_received, n_expected)/n_expected
    (0–1); n_unflagged_decreases; n_out_of_range (counter rate > max_rate_per_h·rate_tolerance,
    value outside [0, register_max), gauge outside its range); max_rate_frac = max rate /
    max_rate_per_h; n_off_grid (offset from the interval grid > min(grid_tolerance_s,
    interval_s/4)); max_grid_offset_s (s); n_duplicate_ts; n_stuck_intervals (intervals in runs
    ≥ stuck_min_s where a consumption counter stands still while the output it serves advances —
    its own line's output for a line meter, any output for a plant meter; PV and output counters
    are not candidates — or a non-zero gauge repeats its value); known_meter. Registry meters without
    readings get a row with n_received 0; readings of unknown meters get known_meter False.
    """
    start, end = day_bounds_utc(day)
    k, reg, n_dup, unk = _classified_rows(readings, meters, start, end, day, flags=flags, rate_tolerance=rate_tolerance,
                                          grid_tolerance_s=grid_tolerance_s, stuck_min_s=stuck_min_s)
    return _per_meter(k, reg, n_dup, unk, day.isoformat())


def _pairs_in(a: pd.Series, b: pd.Series, in_a, in_b) -> pd.Series:
    """Whether each (a, b) row pair is among the pairs (in_a, in_b), vectorised (a hash join on
    the pair, not a Python loop over the rows)."""
    if len(in_a) == 0 or len(a) == 0:
        return pd.Series(False, index=a.index, dtype=bool)
    keys = pd.MultiIndex.from_arrays([pd.Index(in_a), pd.Index(in_b)])
    return pd.Series(pd.MultiIndex.from_arrays([pd.Index(a), pd.Index(b)]).isin(keys), index=a.index, dtype=bool)


def _classified_rows(readings: pd.DataFrame, meters: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
                     day: date, *, flags: pd.DataFrame | None, rate_tolerance: float, grid_tolerance_s: float,
                     stuck_min_s: float):
    """The per-reading checks of :func:`readings_daily_metrics` over the window (start, end] (a
    Beijing day or hour; ``day`` decides decommissioning). Returns (rows with their check columns
    and ``stuck_cand``/``stuck_run``, the in-service registry, duplicate counts per meter, unknown meters)."""
    r = readings[["time", "enterprise", "meter", "quantity", "value"]].copy()
    r["time"] = pd.to_datetime(r["time"], utc=True)
    r["value"] = r["value"].astype("float64")
    r = r[r["time"] <= end]
    reg = meters.reset_index(drop=True)
    known_pairs = set(zip(reg["meter"], reg["enterprise"]))
    if "decommissioned" in reg.columns:  # meters out of service are not expected and not checked
        retired = reg["decommissioned"].map(lambda d: d is not None and not pd.isna(d) and d <= day)
        r = r[~r["meter"].isin(set(reg.loc[retired, "meter"]))]
        reg = reg[~retired].reset_index(drop=True)
    r["known"] = _pairs_in(r["meter"], r["enterprise"], [p[0] for p in known_pairs], [p[1] for p in known_pairs])
    in_day = (r["time"] > start)
    dup = r[in_day].duplicated(["enterprise", "meter", "time"], keep="last")
    n_dup = dup[dup].groupby(r.loc[dup[dup].index, "meter"]).size()

    unknown = r[in_day & ~r["known"]]
    unk = (unknown.groupby(["enterprise", "meter"])["time"].nunique().rename("n_received").reset_index()
           if len(unknown) else pd.DataFrame(columns=["enterprise", "meter", "n_received"]))

    k = r[r["known"]].drop_duplicates(["meter", "time"], keep="last")
    k = k.merge(reg[["meter", "kind", "interval_s", "register_max", "max_rate_per_h", "line"]], on="meter", how="left")
    k = k.sort_values(["meter", "time"], kind="stable").reset_index(drop=True)
    # continuity: only the last carry-in reading per meter matters
    carry = k["time"] <= start
    last_carry = carry & ~(carry & (k["meter"] == k["meter"].shift(-1)) & (k["time"].shift(-1) <= start))
    k = k[~carry | last_carry].reset_index(drop=True)
    g = k.groupby("meter", sort=False)
    k["prev_value"] = g["value"].shift()
    k["dt_h"] = (k["time"] - g["time"].shift()).dt.total_seconds() / 3600.0
    k["in_day"] = k["time"] > start
    k["delta"] = k["value"] - k["prev_value"]
    counter = k["kind"] == "counter"

    # decreases, explained by flags
    dec = counter & k["in_day"] & (k["delta"] < 0)
    if flags is None:
        flags = counter_flags_for(readings[readings["time"] <= end] if len(readings) else readings, meters)

    def flagged(kind: str) -> pd.Series:
        f = flags[flags["flag"] == kind]
        return _pairs_in(k["meter"], k["time"], f["meter"], pd.to_datetime(f["time"], utc=True))

    rolled, reset = flagged("rollover"), flagged("reset")
    explained = rolled | reset
    k["decrease"] = dec
    k["unflagged_decrease"] = dec & ~explained
    eff_delta = np.where(dec & rolled, k["value"] + k["register_max"] - k["prev_value"], k["delta"])
    rate = pd.Series(eff_delta, index=k.index) / k["dt_h"]
    k["rate_frac"] = (rate / k["max_rate_per_h"]).where(counter & k["in_day"] & ~k["unflagged_decrease"] & ~(dec & reset))

    # physical range
    main_kw = (reg[(reg["carrier"] == "electricity") & (reg["kind"] == "counter") & (reg["role"] == "main")]
               .groupby("enterprise")["max_rate_per_h"].sum())
    lo = k["quantity"].map({q: v[0] for q, v in GAUGE_RANGES.items()})
    hi = k["quantity"].map({q: v[1] for q, v in GAUGE_RANGES.items()}).astype("float64")
    hi = hi.where(k["quantity"] != "power_kw", k["enterprise"].map(main_kw) * rate_tolerance)
    gauge_bad = ~counter & ((k["value"] < lo) | (k["value"] > hi))
    counter_bad = counter & ((k["rate_frac"] > rate_tolerance) | (k["value"] < 0)
                             | (k["register_max"].notna() & (k["value"] >= k["register_max"])))
    k["out_of_range"] = k["in_day"] & (gauge_bad | counter_bad)

    # grid
    epoch_s = (k["time"] - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds()
    off = np.mod(epoch_s, k["interval_s"])
    k["grid_offset_s"] = np.minimum(off, k["interval_s"] - off)
    k["off_grid"] = k["in_day"] & (k["grid_offset_s"] > np.minimum(grid_tolerance_s, k["interval_s"] / 4.0))

    # stuck: a consumption counter standing still while production it serves advances — its own
    # line's output for a line meter, any output of the enterprise for a plant-level meter. PV
    # (no sun at night) and output counters themselves (a stopped line) are not candidates.
    slot = k["time"].dt.floor("900s")
    is_output = k["quantity"].str.startswith(OUTPUT_PREFIX)
    line = k["meter"].map(meters.set_index("meter")["line"]) if "line" in meters.columns else pd.Series(None, index=k.index)
    producing = k[counter & is_output & (k["delta"] > 0) & k["in_day"]]
    zero = counter & k["in_day"] & (k["delta"] == 0) & ~is_output & (k["quantity"] != "pv_kwh")
    has_line = pd.Series([isinstance(ln, str) for ln in line], index=k.index, dtype=bool)
    ent_producing = (has_line & _pairs_in(line.where(has_line, ""), slot, line[producing.index], slot[producing.index])) \
        | (~has_line & _pairs_in(k["enterprise"], slot, producing["enterprise"], slot[producing.index]))
    flat_gauge = ~counter & k["in_day"] & (k["value"] == k["prev_value"]) & (k["value"] != 0)
    cand = (zero & ent_producing) | flat_gauge
    min_run = np.ceil(stuck_min_s / k["interval_s"])
    k["stuck_cand"] = cand
    k["stuck_run"] = _run_lengths(cand, k["meter"])
    k["stuck"] = cand & (k["stuck_run"] >= min_run)
    return k, reg, n_dup, unk


def _per_meter(k: pd.DataFrame, reg: pd.DataFrame, n_dup: pd.Series, unk: pd.DataFrame, period: str) -> pd.DataFrame:
    d = k[k["in_day"]]
    agg = d.groupby("meter").agg(
        n_received=("time", "nunique"), n_decreases=("decrease", "sum"),
        n_unflagged_decreases=("unflagged_decrease", "sum"), n_out_of_range=("out_of_range", "sum"),
        max_rate_frac=("rate_frac", "max"), n_off_grid=("off_grid", "sum"),
        max_grid_offset_s=("grid_offset_s", "max"), n_stuck_intervals=("stuck", "sum"))
    return _finish(agg, reg, n_dup, unk, period)


def _finish(agg: pd.DataFrame, reg: pd.DataFrame, n_dup: pd.Series, unk: pd.DataFrame, period: str) -> pd.DataFrame:
    """READINGS_COLUMNS rows: every in-service registry meter (``agg`` per meter, missing = no
    readings) plus the unknown meters (enterprise, meter, n_received)."""
    out = reg[["enterprise", "meter", "kind", "quantity", "interval_s"]].merge(agg, on="meter", how="left")
    counts = ["n_received", "n_decreases", "n_unflagged_decreases", "n_out_of_range", "n_off_grid", "n_stuck_intervals"]
    out[counts] = out[counts].fillna(0).astype("int64")
    out["n_duplicate_ts"] = out["meter"].map(n_dup).fillna(0).astype("int64")
    out["n_expected"] = (DAY_S / out["interval_s"]).round().astype("int64")
    out["completeness_frac"] = np.minimum(out["n_received"], out["n_expected"]) / out["n_expected"]
    out["known_meter"] = True
    if len(unk):
        u = unk.assign(known_meter=False, kind=None, quantity=None, interval_s=np.nan, n_expected=0,
                       completeness_frac=np.nan, max_rate_frac=np.nan, max_grid_offset_s=np.nan,
                       **{c: 0 for c in counts if c != "n_received"}, n_duplicate_ts=0)
        out = pd.concat([out, u], ignore_index=True)
    out["subject"] = out["meter"]
    out["period"] = period
    return out[READINGS_COLUMNS].reset_index(drop=True)


#: meter_hourly quality fields (per meter and Beijing hour), written by the hourly rollup and
#: summed by :func:`readings_daily_from_hourly` into the readings_daily metrics
HOURLY_QUALITY_COLUMNS = ["n_received", "n_decreases", "n_unflagged_decreases", "n_out_of_range", "max_rate_frac",
                          "n_off_grid", "max_grid_offset_s", "n_duplicate_ts", "stuck_head", "stuck_tail",
                          "n_stuck_inner", "known_meter"]
_HOURLY_SUMS = ["n_received", "n_decreases", "n_unflagged_decreases", "n_out_of_range", "n_off_grid", "n_duplicate_ts"]


def readings_hourly_metrics(readings: pd.DataFrame, meters: pd.DataFrame, hour_start: pd.Timestamp, *,
                            flags: pd.DataFrame | None = None, rate_tolerance: float = 1.1,
                            grid_tolerance_s: float = 60.0) -> pd.DataFrame:
    """Per (enterprise, meter) quality metrics of the readings in the hour (hour_start, +1 h]: the
    same per-reading checks as :func:`readings_daily_metrics` (``readings`` may hold the carry-in
    reading before the hour), kept in a form that adds up over a day. Counts and maxima as there;
    stuck runs may cross hours, so each meter keeps the length of its candidate run touching the
    hour's first reading (``stuck_head``) and last reading (``stuck_tail``, equal to head and to
    ``n_received`` when the whole hour is one run) and the intervals of runs ≥ 1 h strictly inside
    the hour (``n_stuck_inner``). Only meters with readings in the hour get a row; unknown meters
    get ``known_meter`` False. Columns: enterprise, meter, quantity, HOURLY_QUALITY_COLUMNS."""
    start = pd.Timestamp(hour_start).tz_convert("UTC")
    end = start + pd.Timedelta(hours=1)
    day = start.tz_convert("Asia/Shanghai").date()
    k, reg, n_dup, unk = _classified_rows(readings, meters, start, end, day, flags=flags, rate_tolerance=rate_tolerance,
                                          grid_tolerance_s=grid_tolerance_s, stuck_min_s=3600.0)
    d = k[k["in_day"]].reset_index(drop=True)
    cand = d["stuck_cand"].astype(bool)
    brk = (cand != cand.shift()) | (d["meter"] != d["meter"].shift())
    rid = brk.cumsum()
    by = d["meter"]
    first, last = rid.groupby(by).transform("first"), rid.groupby(by).transform("last")
    run_len = rid.map(rid.value_counts())
    min_run = np.ceil(3600.0 / d["interval_s"])
    d["stuck_head"] = cand & (rid == first)
    d["stuck_tail"] = cand & (rid == last)
    d["stuck_inner"] = cand & (rid != first) & (rid != last) & (run_len >= min_run)
    agg = d.groupby("meter").agg(
        enterprise=("enterprise", "first"), quantity=("quantity", "first"),
        n_received=("time", "nunique"), n_decreases=("decrease", "sum"),
        n_unflagged_decreases=("unflagged_decrease", "sum"), n_out_of_range=("out_of_range", "sum"),
        max_rate_frac=("rate_frac", "max"), n_off_grid=("off_grid", "sum"),
        max_grid_offset_s=("grid_offset_s", "max"), stuck_head=("stuck_head", "sum"),
        stuck_tail=("stuck_tail", "sum"), n_stuck_inner=("stuck_inner", "sum")).reset_index()
    agg["n_duplicate_ts"] = agg["meter"].map(n_dup).fillna(0)
    agg["known_meter"] = True
    if len(unk):
        agg = pd.concat([agg, unk.assign(quantity="unknown", known_meter=False)], ignore_index=True)
    ints = [c for c in HOURLY_QUALITY_COLUMNS if c not in ("max_rate_frac", "max_grid_offset_s", "known_meter")]
    agg[ints] = agg[ints].fillna(0).astype("int64")
    agg["known_meter"] = agg["known_meter"].astype(bool)
    for c in ("max_rate_frac", "max_grid_offset_s"):
        agg[c] = agg[c].astype("float64")
    return agg[["enterprise", "meter", "quantity", *HOURLY_QUALITY_COLUMNS]]


def _stuck_from_hours(h: pd.DataFrame, min_run: float) -> int:
    """Intervals in stuck runs ≥ ``min_run`` of one meter's day, from its hours in time order: a
    run open at an hour's end continues into the next hour's head (hours without readings do not
    break a run, as consecutive readings across a gap do not)."""
    stuck, open_run = 0, 0
    for n, head, tail, inner in zip(h["n_received"], h["stuck_head"], h["stuck_tail"], h["n_stuck_inner"]):
        if n == 0:
            continue
        if head == n:
            open_run += n
            continue
        run = open_run + head
        stuck += run if run >= min_run else 0
        stuck += inner
        open_run = tail
    return int(stuck + (open_run if open_run >= min_run else 0))


def readings_daily_from_hourly(hourly: pd.DataFrame, meters: pd.DataFrame, day: date, *,
                               stuck_min_s: float = 3600.0) -> pd.DataFrame:
    """The readings_daily metrics of ``day`` (as :func:`readings_daily_metrics` returns them)
    from the day's ``meter_hourly`` quality rows (time, enterprise, meter, HOURLY_QUALITY_COLUMNS;
    24 or fewer a meter): counts add up, maxima take the maximum, stuck runs join across hours."""
    reg = meters.reset_index(drop=True)
    if "decommissioned" in reg.columns:
        retired = reg["decommissioned"].map(lambda d: d is not None and not pd.isna(d) and d <= day)
        reg = reg[~retired].reset_index(drop=True)
    h = hourly[hourly["n_received"].notna()] if len(hourly) and "n_received" in hourly.columns else None
    if h is None or h.empty:
        cols = ["n_received", "n_decreases", "n_unflagged_decreases", "n_out_of_range", "max_rate_frac", "n_off_grid",
                "max_grid_offset_s", "n_stuck_intervals"]
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in ["meter", *cols]}).astype({"meter": object})
        return _finish(empty.set_index("meter"), reg, pd.Series(dtype="int64"), pd.DataFrame(), day.isoformat())
    h = h.copy()
    h["known_meter"] = h["known_meter"].map(lambda v: v is True or v in (1, "true", "True", 1.0))
    for c in _HOURLY_SUMS + ["stuck_head", "stuck_tail", "n_stuck_inner"]:
        h[c] = pd.to_numeric(h[c], errors="coerce").fillna(0).astype("int64")
    for c in ("max_rate_frac", "max_grid_offset_s"):
        h[c] = pd.to_numeric(h[c], errors="coerce").astype("float64")
    known = h[h["known_meter"] & h["meter"].isin(set(reg["meter"]))]
    unknown = h[~h["known_meter"]]
    unk = (unknown.groupby(["enterprise", "meter"])["n_received"].sum().reset_index()
           if len(unknown) else pd.DataFrame())
    agg = known.groupby("meter").agg(
        n_received=("n_received", "sum"), n_decreases=("n_decreases", "sum"),
        n_unflagged_decreases=("n_unflagged_decreases", "sum"), n_out_of_range=("n_out_of_range", "sum"),
        max_rate_frac=("max_rate_frac", "max"), n_off_grid=("n_off_grid", "sum"),
        max_grid_offset_s=("max_grid_offset_s", "max"), n_dup=("n_duplicate_ts", "sum"))
    agg["n_stuck_intervals"] = 0
    interval = reg.set_index("meter")["interval_s"]
    cand = set(known.loc[(known["stuck_head"] > 0) | (known["n_stuck_inner"] > 0), "meter"])
    # one pass over the candidates' hours (grouped once, not one scan of the day per meter)
    hours = known[known["meter"].isin(cand)].sort_values(["meter", "time"], kind="stable")
    stuck = {meter: _stuck_from_hours(hrs, np.ceil(stuck_min_s / interval[meter]))
             for meter, hrs in hours.groupby("meter", sort=False)}
    if stuck:
        agg["n_stuck_intervals"] = agg.index.map(stuck).fillna(0).astype("int64")
    n_dup = agg.pop("n_dup")
    return _finish(agg, reg, n_dup, unk, day.isoformat())


def _output_column(line_daily: pd.DataFrame) -> pd.Series:
    """Coalesce ``output_<unit>`` fields of line_daily into one output value (line's unit)."""
    cols = [c for c in line_daily.columns if c.startswith(OUTPUT_PREFIX)]
    if not cols:
        return pd.Series(np.nan, index=line_daily.index)
    return line_daily[cols].astype("float64").bfill(axis=1).iloc[:, 0]


def aggregates_daily_metrics(day: date, lines: pd.DataFrame, bounds: dict, *, kpi_daily: pd.DataFrame | None = None,
                             energy_daily: pd.DataFrame | None = None, line_daily: pd.DataFrame | None = None,
                             month_kpi_daily: pd.DataFrame | None = None, kpi_monthly: pd.DataFrame | None = None,
                             production_frac: float = 0.1) -> pd.DataFrame:
    """Per (enterprise, scope, day) metrics of the daily aggregates.

    Inputs (any may be None or empty): ``kpi_daily`` (enterprise, energy_tce) of the day;
    ``energy_daily`` (enterprise, carrier, energy_tce); ``line_daily`` (enterprise, line,
    energy_tce, output_<unit>); ``month_kpi_daily`` (enterprise, energy_tce, one row per day of
    the month so far); ``kpi_monthly`` (enterprise, energy_tce) of the month. ``lines`` is
    ``Registry.lines_frame()``; ``bounds`` maps product_class → {min, max} in kgce per output unit.

    Rows: scope ``enterprise`` (energy_tce, daily_vs_monthly_dev_frac = |Σ month days −
    monthly| / monthly, NaN without a monthly total), ``carrier:<c>`` (energy_tce) and
    ``line:<id>`` (energy_tce, output, unit_energy_kgce_per_unit = energy_tce·1000/output, its
    plausible min/max, output_missing = energy shows production — ≥ production_frac of capacity
    at the plausible minimum unit energy — but no output figure exists; a measured 0 counts as present).
    """
    period = day.isoformat()
    rows: list[pd.DataFrame] = []
    if kpi_daily is not None and len(kpi_daily):
        e = kpi_daily[["enterprise", "energy_tce"]].copy()
        e["subject"] = "enterprise"
        if kpi_monthly is not None and len(kpi_monthly) and month_kpi_daily is not None and len(month_kpi_daily):
            tot = kpi_monthly.groupby("enterprise")["energy_tce"].sum()
            days = month_kpi_daily.groupby("enterprise")["energy_tce"].sum()
            e["daily_vs_monthly_dev_frac"] = (
                (e["enterprise"].map(days) - e["enterprise"].map(tot)).abs() / e["enterprise"].map(tot).abs())
        rows.append(e)
    if energy_daily is not None and len(energy_daily):
        c = energy_daily[["enterprise", "energy_tce"]].copy()
        c["subject"] = "carrier:" + energy_daily["carrier"].astype(str)
        rows.append(c)
    if line_daily is not None and len(line_daily):
        ln = line_daily[["enterprise", "line", "energy_tce"]].copy()
        ln["output"] = _output_column(line_daily).to_numpy()
        ln["subject"] = "line:" + ln["line"].astype(str)
        pc = ln["line"].map(lines["product_class"])
        ln["unit_energy_min_kgce_per_unit"] = pc.map({k: v["min"] for k, v in bounds.items()})
        ln["unit_energy_max_kgce_per_unit"] = pc.map({k: v["max"] for k, v in bounds.items()})
        ln["unit_energy_kgce_per_unit"] = (ln["energy_tce"] * 1000.0 / ln["output"]).where(ln["output"] > 0)
        threshold_tce = production_frac * ln["line"].map(lines["capacity_per_day"]) * ln["unit_energy_min_kgce_per_unit"] / 1000.0
        producing = ln["energy_tce"] >= threshold_tce.fillna(np.inf)
        # missing = no output figure at all; a measured zero (kiln heat-up after a stop) is present
        ln["output_missing"] = (producing & ln["output"].isna()).astype("object")
        rows.append(ln.drop(columns=["line"]))
    cols = ["enterprise", "subject", "period", "energy_tce", "output", "unit_energy_kgce_per_unit",
            "unit_energy_min_kgce_per_unit", "unit_energy_max_kgce_per_unit", "output_missing", "daily_vs_monthly_dev_frac"]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    out = pd.concat(rows, ignore_index=True)
    out["period"] = period
    for col in cols:
        if col not in out.columns:
            out[col] = None if col == "output_missing" else np.nan
    num = [c for c in cols if c not in ("enterprise", "subject", "period", "output_missing")]
    out[num] = out[num].astype("float64")
    out["output_missing"] = out["output_missing"].astype("object").where(out["output_missing"].notna(), None)
    return out[cols]


def month_label(month: date) -> str:
    return month_start(month).strftime("%Y-%m")


def stats_monthly_metrics(stats: pd.DataFrame, enterprise_ids: list[str], month: date) -> pd.DataFrame:
    """Per (registry enterprise, month) metrics of the monthly statistics.

    ``stats`` has enterprise, month (``YYYY-MM``), value_added_current_10k_cny (10^4 CNY, current
    prices) and deflator_index (2022 = 1.0), covering at least the month and the one before.
    Output: value_added_current_10k_cny and deflator_index (NaN when not reported),
    value_added_comparable_10k_cny = current / deflator, and mom_change_frac = comparable /
    previous month's comparable − 1 (NaN without both months).
    """
    cur = month_label(month)
    prev = month_label((pd.Timestamp(month_start(month)) - pd.Timedelta(days=1)).date())
    base = pd.DataFrame({"enterprise": list(enterprise_ids)})
    s = stats.copy() if stats is not None else pd.DataFrame(columns=["enterprise", "month"])
    for c in ("value_added_current_10k_cny", "deflator_index"):
        if c not in s.columns:
            s[c] = np.nan
        s[c] = s[c].astype("float64")
    s["comparable"] = s["value_added_current_10k_cny"] / s["deflator_index"]
    now = s[s["month"] == cur].drop_duplicates("enterprise", keep="last").set_index("enterprise")
    before = s[s["month"] == prev].drop_duplicates("enterprise", keep="last").set_index("enterprise")
    out = base.assign(subject=cur, period=cur)
    out["value_added_current_10k_cny"] = out["enterprise"].map(now["value_added_current_10k_cny"]).astype("float64")
    out["deflator_index"] = out["enterprise"].map(now["deflator_index"]).astype("float64")
    out["value_added_comparable_10k_cny"] = out["enterprise"].map(now["comparable"]).astype("float64")
    prev_cmp = out["enterprise"].map(before["comparable"]).astype("float64")
    out["mom_change_frac"] = (out["value_added_comparable_10k_cny"] / prev_cmp - 1.0).where(prev_cmp > 0)
    return out


def synthetic_day(meters: pd.DataFrame, day: date, *, seed: int = 0) -> pd.DataFrame:
    """A clean day of readings for every registry meter (benchmarks and tests): counters advance at
    30–70% of max_rate_per_h (10 units/h without one) from a mid-register start, gauges vary
    around 50% of range; includes one carry-in reading at the day start. Columns as readings."""
    rng = np.random.default_rng(seed)
    start, _ = day_bounds_utc(day)
    parts = []
    for m in meters.itertuples(index=False):
        n = int(round(DAY_S / m.interval_s))
        t = start + pd.to_timedelta(np.arange(0, n + 1) * m.interval_s, unit="s")
        if m.kind == "counter":
            rate = (m.max_rate_per_h or 10.0) * rng.uniform(0.3, 0.7, n)
            inc = np.concatenate([[0.0], rate * m.interval_s / 3600.0])
            base = (m.register_max or 1e6) * 0.3
            vals = base + np.cumsum(inc)
        else:
            vals = (400.0 if m.quantity == "power_kw" else 600.0) * (1 + 0.2 * rng.standard_normal(n + 1)).clip(0.1)
        parts.append(pd.DataFrame({"time": t, "enterprise": m.enterprise, "meter": m.meter,
                                   "quantity": m.quantity, "value": vals}))
    return pd.concat(parts, ignore_index=True)
