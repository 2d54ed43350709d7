"""Energy baselines, CUSUM and verified savings: load → ``ecm.accounting.baselines`` → write.

Reads ``line_daily`` (energy and output per line-day; data-insufficient days are absent there,
so the baseline obeys the KPIs' coverage rules) and ``kpi_daily`` (tCO₂ per tce) from the
earliest baseline day needed to the run's day (a nightly run: only the rewritten days, continuing
from ``baseline_state``; see :func:`run_baselines`), and rewrites the last ``NIGHTLY_REWRITE_DAYS`` of
``baseline_daily`` (all of it with ``full=True``) plus the day's ``baseline_model`` and
``measure_savings`` points. A run is
idempotent: the same inputs give the same points. Issues (``ecm.baseline.drift`` …) are returned
and logged; each drift alarm is also ``drift_alarm = 1`` on its day in ``baseline_daily``.
"""
from __future__ import annotations

import logging
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ecm.accounting import baselines as bl
from ecm.accounting.issues import Issue
from ecm.periods import TZ, day_bounds_utc
from ecm.schema import (F_STATE_CARRY, F_STATE_DATA_KEY, F_STATE_FIT, MEAS_BASELINE_DAILY, MEAS_BASELINE_MODEL,
                        MEAS_BASELINE_STATE, MEAS_KPI_DAILY, MEAS_LINE_DAILY, MEAS_MEASURE_SAVINGS, SCOPE_MEASURE)

log = logging.getLogger("ecm.pipeline.baselines")

OUTPUT_FIELDS = ("output_m2", "output_t", "output_pcs", "output_10k_bricks")


def registry_inputs(registry) -> dict:
    """Baseline period, measures and non-routine adjustments from the registry (plain dicts)."""
    measures, adjustments, periods = [], [], {}
    for e in registry.enterprises:
        if e.baseline is not None:
            periods[e.id] = (e.baseline.start, e.baseline.end)
        for m in e.measures:
            measures.append({"id": m.id, "enterprise": e.id, "line": m.line, "date": m.date, "kind": m.kind,
                             "description": m.description_zh or m.description_en,
                             "description_en": m.description_en,
                             "baseline_start": m.baseline.start if m.baseline else None,
                             "baseline_end": m.baseline.end if m.baseline else None})
        for a in e.adjustments:
            adjustments.append({"enterprise": e.id, "line": a.line, "date": a.date, "end": a.end, "note": a.note,
                                "tce_per_day": a.tce_per_day, "scale": a.scale})
    b = registry.district.baseline
    return {"baseline": (b.start, b.end), "periods": periods, "measures": measures, "adjustments": adjustments}


def _days(df: pd.DataFrame) -> pd.Series:
    return df["time"].dt.tz_convert(TZ).dt.date


def load_line_daily(client, registry, first: date, last: date, lines: list[str] | None = None) -> pd.DataFrame:
    """``day, enterprise, line, energy_tce, output, completeness_frac`` from ``line_daily``
    (only the given ``lines`` when a list is given)."""
    from ecm.influx import quote_str, time_literal

    cols = ["day", "enterprise", "line", "energy_tce", "output", "completeness_frac"]
    if lines is not None and not lines or first > last:
        return pd.DataFrame(columns=cols)
    s, _ = day_bounds_utc(first)
    _, e = day_bounds_utc(last)
    fields = ", ".join(["energy_tce", "completeness_frac", *OUTPUT_FIELDS])
    only = "" if lines is None else " AND (" + " OR ".join(f"line = {quote_str(x)}" for x in sorted(lines)) + ")"
    df = client.query_frame(f"SELECT {fields} FROM {MEAS_LINE_DAILY} WHERE time >= {time_literal(s)} "
                               f"AND time < {time_literal(e)}{only} GROUP BY enterprise, line")
    if df.empty:
        return pd.DataFrame(columns=cols)
    units = registry.lines_frame()["output_unit"]
    df["day"] = _days(df)
    unit = df["line"].map(units)
    df["output"] = np.nan
    for u in unit.dropna().unique():
        col = f"output_{u}"
        if col in df:
            sel = unit == u
            df.loc[sel, "output"] = pd.to_numeric(df.loc[sel, col], errors="coerce")
    if "completeness_frac" not in df:
        df["completeness_frac"] = np.nan
    return df[df["line"].isin(units.index)][cols].reset_index(drop=True)


def load_emissions(client, first: date, last: date, enterprises) -> pd.DataFrame:
    """``day, enterprise, energy_tce, co2_t`` of ``kpi_daily`` over Beijing days [first, last] for
    the given enterprises (published days only): the savings' tCO₂ per tce over each reporting
    period is Σ co2_t ÷ Σ energy_tce of these days."""
    from ecm.influx import quote_str, time_literal

    cols = ["day", "enterprise", "energy_tce", "co2_t"]
    ents = sorted(set(enterprises))
    if not ents or first > last:
        return pd.DataFrame(columns=cols)
    s, _ = day_bounds_utc(first)
    _, e = day_bounds_utc(last)
    only = " OR ".join(f"enterprise = {quote_str(x)}" for x in ents)
    df = client.query_frame(f"SELECT co2_t, energy_tce FROM {MEAS_KPI_DAILY} WHERE time >= {time_literal(s)} "
                            f"AND time < {time_literal(e)} AND ({only}) GROUP BY enterprise")
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["day"] = _days(df)
    for c in ("energy_tce", "co2_t"):
        df[c] = pd.to_numeric(df[c], errors="coerce") if c in df else np.nan
    return df[cols]


def compute(line_daily: pd.DataFrame, emissions, registry, day: date, *, inputs: dict | None = None,
            fits: dict | None = None, fits_out: dict | None = None, carries: dict | None = None,
            carries_out: dict | None = None, **incremental) -> tuple[dict[str, pd.DataFrame], list[Issue]]:
    """The computing part of a run: frames ``daily``, ``models``, ``savings`` and the issues.
    ``emissions``: tCO₂ per tce source for the savings (see ``baselines._co2_ratio``).
    ``incremental``: ``states``, ``since``, ``state_day``, ``states_out`` of ``bl.baseline_daily``;
    ``fits``/``fits_out`` (stored models) and ``carries``/``carries_out`` (savings sums) likewise."""
    inputs = inputs or registry_inputs(registry)
    lines = registry.lines_frame().reset_index(drop=True)
    series = bl.scope_series(line_daily[line_daily["day"] <= day], lines)
    enterprise_of = dict(zip(lines["line"], lines["enterprise"]))
    enterprise_of.update({e: e for e in registry.enterprise_ids})
    daily_parts, model_parts, issues = [], [], []
    fits = {sc: m for sc, m in (fits or {}).items() if sc[1] in enterprise_of}   # scopes still registered
    # scopes with their own baseline period first, then the rest with the district's
    groups: dict[tuple, set] = {}
    for scope in set(series) | set(fits):
        period = inputs["periods"].get(enterprise_of.get(scope[1], scope[1]), inputs["baseline"])
        groups.setdefault(period, set()).add(scope)
    for period, scopes in groups.items():
        d, m, iss = bl.baseline_daily({sc: series[sc] for sc in scopes if sc in series}, enterprise_of,
                                      baseline=period, measures=inputs["measures"], adjustments=inputs["adjustments"],
                                      fits={sc: fits[sc] for sc in scopes if sc in fits}, fits_out=fits_out,
                                      **incremental)
        daily_parts.append(d)
        model_parts.append(m)
        issues += iss
    savings, iss = bl.measure_savings(series, [m for m in inputs["measures"] if m["date"] <= day], last_day=day,
                                      adjustments=inputs["adjustments"], co2_per_tce=emissions, carries=carries,
                                      state_day=incremental.get("state_day"), carries_out=carries_out)
    issues += iss
    daily_parts = [p for p in daily_parts if len(p)]
    daily = pd.concat(daily_parts, ignore_index=True) if daily_parts else pd.DataFrame()
    models = pd.concat(model_parts, ignore_index=True) if model_parts else pd.DataFrame(columns=bl.MODEL_COLUMNS)
    models = models.sort_values(["scope", "scope_id"], kind="stable").reset_index(drop=True)
    return {"daily": daily, "models": models, "savings": savings}, issues


def _timed(df: pd.DataFrame, col: str = "day") -> pd.DataFrame:
    """Beijing day → UTC timestamp column ``time``; ±inf (an uncertainty that cannot be computed)
    becomes NaN, i.e. the field is absent (line protocol has no infinity)."""
    u = pd.unique(df[col])
    utc = pd.to_datetime([d.isoformat() for d in u]).tz_localize(TZ).tz_convert("UTC")
    t = df[col].map(dict(zip(u, utc)))
    out = df.drop(columns=[col]).assign(time=t.to_numpy())
    num = out.select_dtypes(include="number").columns
    out[num] = out[num].replace([np.inf, -np.inf], np.nan)
    return out


def write(client, frames: dict[str, pd.DataFrame], first: date, day: date, factor_table_version: str = "") -> int:
    """Rewrite ``baseline_daily`` over [first, day] and the day's models and savings; every point
    carries ``factor_table_version`` (the tce coefficients behind ``line_daily``)."""
    s, _ = day_bounds_utc(first)
    d0, d1 = day_bounds_utc(day)
    client.delete_range(MEAS_BASELINE_DAILY, s, d1)
    for m in (MEAS_BASELINE_MODEL, MEAS_MEASURE_SAVINGS):
        client.delete_range(m, d0, d1)
    n = 0
    daily = frames["daily"]
    daily = daily[daily["day"] >= first] if len(daily) else daily
    if len(daily):
        d = daily.drop(columns=["scope_id"]).assign(factor_table_version=factor_table_version)
        d["line"] = d["line"].replace("", np.nan)
        d = d.astype({"valid": int, "drift_alarm": int, "production": int})
        for tags, part in ((["enterprise", "scope", "line"], d[d["scope"] == "line"]),
                           (["enterprise", "scope"], d[d["scope"] == "enterprise"].drop(columns="line"))):
            n += client.write_frame(_timed(part), MEAS_BASELINE_DAILY, tags)
    models = frames["models"]
    if len(models):
        m = models.copy()
        m["purpose"] = m["purpose"].astype(str)
        m["line"] = m["line"].replace("", np.nan)
        m["valid"] = m["valid"].astype(int)
        m["baseline_start"] = m["baseline_start"].astype(str)
        m["baseline_end"] = m["baseline_end"].astype(str)
        m["coef"] = m["coef"].map(lambda c: ",".join(f"{x:.9g}" for x in c))
        m["p_values"] = m["p_values"].map(lambda c: ",".join(f"{x:.3g}" for x in c))
        m = m.drop(columns=["scope_id"]).assign(day=day, factor_table_version=factor_table_version)
        for tags, part in ((["enterprise", "scope", "line", "purpose"], m[m["scope"] == "line"]),
                           (["enterprise", "scope", "purpose"], m[m["scope"] == "enterprise"].drop(columns="line"))):
            n += client.write_frame(_timed(part), MEAS_BASELINE_MODEL, tags)
    sav = frames["savings"]
    if len(sav):
        sv = sav.copy()
        sv["measure"] = np.where(sv["level"] == "measure", sv["measure"], "_" + sv["level"].astype(str))
        sv["line"] = sv["line"].replace("", np.nan)
        for c in ("date", "baseline_start", "baseline_end", "reporting_start", "reporting_end"):
            sv[c] = sv[c].map(lambda v: v.isoformat() if isinstance(v, date) else np.nan)
        sv = sv.rename(columns={"date": "measure_date"})
        sv["significant"] = sv["significant"].map(lambda v: int(bool(v)) if v == v and v is not None else np.nan)
        sv["valid"] = sv["valid"].map(lambda v: int(bool(v)) if v == v and v is not None else np.nan)
        sv = sv.drop(columns=["line"]).assign(day=day, factor_table_version=factor_table_version)
        n += client.write_frame(_timed(sv), MEAS_MEASURE_SAVINGS, ["level", "enterprise", "measure"])
    return n


def window_start(inputs: dict) -> date:
    """The earliest day any baseline needs."""
    starts = [inputs["baseline"][0], *(p[0] for p in inputs["periods"].values())]
    for m in inputs["measures"]:
        starts.append(m["baseline_start"] or (m["date"] - timedelta(days=365)))
    return min(starts)


#: days of ``baseline_daily`` a nightly run rewrites (covers late data within the ingest max age)
NIGHTLY_REWRITE_DAYS = 35

# MEAS_BASELINE_STATE (internal), written by every run at the end of its first rewritten day for
# the next night: per scope the CUSUM/detection state (``bl.DetectState``), the fitted model (JSON,
# exact floats) and the fingerprint of its baseline period's data; per started measure
# (``scope = measure``) its savings carry (``bl.SavingsCarry``, JSON)


def inputs_key(inputs: dict) -> str:
    """A fingerprint of the registry inputs a carried state depends on (baseline periods,
    measures, adjustments): a state written under other inputs is not used."""
    import hashlib

    return hashlib.sha256(repr(sorted((k, repr(v)) for k, v in inputs.items())).encode()).hexdigest()[:16]


def _period_of(inputs: dict, enterprise: str) -> tuple[date, date]:
    return inputs["periods"].get(enterprise, inputs["baseline"])


def baseline_data_keys(client, registry, inputs: dict) -> dict[tuple, str]:
    """Per scope, a fingerprint of the ``line_daily`` data of its baseline period: count and sums of
    energy and output per line, aggregated by InfluxDB (one query per distinct period, 160 rows
    back), so that a stored fit is reused only while its data is unchanged (after a backfill or a
    re-published day inside the baseline period the next run refits and recomputes in full)."""
    import hashlib

    from ecm.influx import time_literal

    lines = registry.lines_frame().reset_index(drop=True)
    per_line: dict[tuple, str] = {}
    for p0, p1 in sorted({_period_of(inputs, e) for e in lines["enterprise"]}):
        s, _ = day_bounds_utc(p0)
        _, e = day_bounds_utc(p1)
        aggs = ", ".join(["count(energy_tce) AS n", "sum(energy_tce) AS e",
                          *(f"sum({c}) AS {c}" for c in OUTPUT_FIELDS)])
        df = client.query_frame(f"SELECT {aggs} FROM {MEAS_LINE_DAILY} WHERE time >= {time_literal(s)} "
                                f"AND time < {time_literal(e)} GROUP BY line")
        for r in df.to_dict("records") if len(df) else []:
            per_line[(p0, p1, r["line"])] = ";".join(f"{r.get(c)!r}" for c in ("n", "e", *OUTPUT_FIELDS))
    keys: dict[tuple, str] = {}
    for ent, g in lines.groupby("enterprise"):
        p0, p1 = _period_of(inputs, ent)
        parts = {lid: per_line.get((p0, p1, lid), "0") for lid in g["line"]}
        for lid, k in parts.items():
            keys[("line", lid)] = hashlib.sha256(f"{p0}|{p1}|{k}".encode()).hexdigest()[:16]
        joined = "|".join(f"{lid}={parts[lid]}" for lid in sorted(parts))
        keys[("enterprise", ent)] = hashlib.sha256(f"{p0}|{p1}|{joined}".encode()).hexdigest()[:16]
    return keys


#: days of ``baseline_state`` kept before the one a run writes
STATE_KEEP_DAYS = 35


def write_states(client, states: dict, state_day: date, key: str, fits: dict | None = None,
                 data_keys: dict | None = None, carries: dict | None = None) -> int:
    d0, d1 = day_bounds_utc(state_day)
    client.delete_range(MEAS_BASELINE_STATE, d0, d1)
    # only the last nights' states are of use (a re-run of an older day recomputes in full)
    old, _ = day_bounds_utc(state_day - timedelta(days=STATE_KEEP_DAYS))
    client.delete_range(MEAS_BASELINE_STATE, day_bounds_utc(date(2000, 1, 1))[0], old)
    fits, data_keys, carries = fits or {}, data_keys or {}, carries or {}
    rows = []
    for sc in sorted(set(states) | set(fits)):
        row = {"day": state_day, "scope": sc[0], "scope_id": sc[1], "inputs_key": key}
        st = states.get(sc)
        if st is not None:
            row.update({"s_plus": st.sp, "s_minus": st.sn, "level": st.level, "learn_y_tce": st.learn_y,
                        "learn_e_tce": st.learn_e, "cusum_tce": st.cusum,
                        "learn_until": st.learn_until.isoformat() if st.learn_until else "",
                        "last_day": st.last_day.isoformat() if st.last_day else ""})
        if sc in fits:
            row.update({F_STATE_FIT: bl.model_to_json(fits[sc]), F_STATE_DATA_KEY: data_keys.get(sc, "")})
        rows.append(row)
    rows += [{"day": state_day, "scope": SCOPE_MEASURE, "scope_id": mid, "inputs_key": key, F_STATE_CARRY: c.to_json()}
             for mid, c in sorted(carries.items())]
    return client.write_frame(_timed(pd.DataFrame(rows)), MEAS_BASELINE_STATE, ["scope", "scope_id"]) if rows else 0


def read_states(client, state_day: date, key: str) -> dict | None:
    """What the run of the night before stored at the end of ``state_day`` under the same inputs,
    or None: ``states`` (scope → ``bl.DetectState``), ``fits`` (scope → (``bl.Model``, data key)),
    ``carries`` (measure id → ``bl.SavingsCarry``)."""
    from ecm.influx import time_literal

    d0, d1 = day_bounds_utc(state_day)
    df = client.query_frame(f"SELECT * FROM {MEAS_BASELINE_STATE} WHERE time >= {time_literal(d0)} "
                            f"AND time < {time_literal(d1)} GROUP BY scope, scope_id")
    if df.empty or (df["inputs_key"] != key).any():
        return None

    def day_or_none(v):
        return date.fromisoformat(v) if isinstance(v, str) and v else None

    out: dict = {"states": {}, "fits": {}, "carries": {}}
    for r in df.to_dict("records"):
        if r["scope"] == SCOPE_MEASURE:
            if isinstance(r.get(F_STATE_CARRY), str):
                out["carries"][r["scope_id"]] = bl.SavingsCarry.from_json(r[F_STATE_CARRY])
            continue
        sc = (r["scope"], r["scope_id"])
        if isinstance(r.get(F_STATE_FIT), str):
            out["fits"][sc] = (bl.model_from_json(r[F_STATE_FIT]), r.get(F_STATE_DATA_KEY) or "")
        if r.get("s_plus") is not None and r["s_plus"] == r["s_plus"]:
            out["states"][sc] = bl.DetectState(
                last_day=day_or_none(r["last_day"]), sp=float(r["s_plus"]), sn=float(r["s_minus"]),
                level=float(r["level"]), learn_until=day_or_none(r["learn_until"]), learn_y=float(r["learn_y_tce"]),
                learn_e=float(r["learn_e_tce"]), cusum=float(r["cusum_tce"]))
    return out


def _lines_of(lines: pd.DataFrame, m: dict) -> set:
    """A measure's lines (all lines of its enterprise for an enterprise-wide one)."""
    return {m["line"]} if m["line"] else set(lines.loc[lines["enterprise"] == m["enterprise"], "line"])


def load_incremental(client, registry, inputs: dict, since: date, day: date, fits: dict,
                     carries: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What a nightly run needs (``line_daily``, and ``kpi_daily`` for the savings' tCO₂): every line
    over the rewritten days [since, day]; the baseline period of the enterprises with a scope
    whose stored fit is missing or stale (``fits``: the reusable ones); the whole history of the
    lines of started measures without a savings carry (a measure that started within the
    rewritten days, or a new one)."""
    lines = registry.lines_frame().reset_index(drop=True)
    first = window_start(inputs)
    started = [m for m in inputs["measures"] if m["date"] <= day]
    uncarried = [m for m in started if m["id"] not in carries]
    hist_lines = set().union(*(_lines_of(lines, m) for m in uncarried)) if uncarried else set()
    refit = {e for e, g in lines.groupby("enterprise")
             if ("enterprise", e) not in fits or any(("line", lid) not in fits for lid in g["line"])}
    parts = [load_line_daily(client, registry, since, day),
             load_line_daily(client, registry, first, since - timedelta(days=1), sorted(hist_lines))]
    by_period: dict[tuple, list] = {}
    for e in sorted(refit):
        by_period.setdefault(_period_of(inputs, e), []).extend(
            sorted(set(lines.loc[lines["enterprise"] == e, "line"]) - hist_lines))
    for (p0, p1), lids in by_period.items():
        parts.append(load_line_daily(client, registry, p0, min(p1, since - timedelta(days=1)), lids))
    parts = [p for p in parts if len(p)]
    ld = pd.concat(parts, ignore_index=True) if parts else load_line_daily(client, registry, since, day, [])
    ents = {m["enterprise"] for m in started}
    em = [load_emissions(client, since, day, ents)]
    if uncarried:
        em.append(load_emissions(client, min(m["date"] for m in uncarried), since - timedelta(days=1),
                                 {m["enterprise"] for m in uncarried}))
    em = [e for e in em if len(e)]
    return ld, (pd.concat(em, ignore_index=True) if em else load_emissions(client, since, day, []))



def run_baselines(day: date | str, *, client=None, registry=None, full: bool = False) -> dict:
    """Compute and write baselines, CUSUM and savings as of Beijing ``day``; returns a summary
    (counts, drift alarms, seconds, whether the run was incremental).

    ``baseline_daily`` is rewritten over the last ``NIGHTLY_REWRITE_DAYS`` days, or from the
    earliest baseline day with ``full`` (after a backfill or a registry change). A nightly run
    continues from what the previous run stored (``baseline_state`` at the day before the
    rewritten days, under the same registry inputs): the CUSUM/detection state and the fitted
    model per scope, and per measure the savings sums up to that day; it loads only the rewritten
    days (plus the baseline period of a scope without a stored fit and the history of a measure
    without a carry). Without such a state (first run, a skipped night, a changed registry, a new
    scope) or when a scope's baseline-period data changed since its fit (``baseline_data_keys``: a
    new fit changes every expected day after the baseline) it recomputes the whole history. Every run stores the state at
    the end of the first day it rewrites, for the next night. Days before the rewritten ones
    (other than the baseline periods, which are checked) are taken as final: after a backfill or
    late data older than that, run with ``full``. ``drift_alarms_total`` counts the alarms of the
    computed days."""
    from ecm.influx import InfluxClient
    from ecm.registry import get_registry

    t0 = time.perf_counter()
    day = date.fromisoformat(str(day))
    client = client or InfluxClient.from_settings()
    registry = registry or get_registry()
    inputs = registry_inputs(registry)
    first = window_start(inputs)
    nightly = max(first, day - timedelta(days=NIGHTLY_REWRITE_DAYS - 1))  # also the day whose state is kept
    since = first if full else nightly
    key = inputs_key(inputs)
    bend = max(p[1] for p in [inputs["baseline"], *inputs["periods"].values()])
    data_keys = baseline_data_keys(client, registry, inputs)
    stored = read_states(client, since - timedelta(days=1), key) if not full and since - timedelta(days=1) > bend else None
    changed = sorted(sc for sc, (_, k) in (stored or {}).get("fits", {}).items() if k != data_keys.get(sc))
    if changed:  # a stored fit's baseline data changed: its model, so every expected day since, changes
        log.info("baselines: baseline-period data changed for %s; recomputing the whole history", changed[:5])
        stored = None
    out = {"states_out": {}, "fits_out": {}, "carries_out": {}}
    frames, incremental = None, False
    if stored and stored["states"]:  # incremental: continue from the state the previous night stored
        fits = {sc: m for sc, (m, _) in stored["fits"].items()}
        ld, em = load_incremental(client, registry, inputs, since, day, fits, stored["carries"])
        t_load = time.perf_counter() - t0
        try:
            frames, issues = compute(ld, em, registry, day, inputs=inputs, states=stored["states"], since=since,
                                     state_day=nightly, fits=fits, carries=stored["carries"], **out)
            incremental = True
        except bl.MissingState as e:
            log.info("baselines: no carried state for %s; recomputing the whole history", e)
            out = {"states_out": {}, "fits_out": {}, "carries_out": {}}
    if frames is None:
        ld = load_line_daily(client, registry, first, day)
        started = [m for m in inputs["measures"] if m["date"] <= day]
        em = load_emissions(client, min((m["date"] for m in started), default=day), day,
                            {m["enterprise"] for m in started})
        t_load = time.perf_counter() - t0
        frames, issues = compute(ld, em, registry, day, inputs=inputs, state_day=nightly, **out)
    t_compute = time.perf_counter() - t0 - t_load
    from ecm.factors import get_factors

    n = write(client, frames, since, day, get_factors().table_version)
    n += write_states(client, out["states_out"], nightly, key, fits=out["fits_out"], data_keys=data_keys,
                      carries=out["carries_out"])
    recent = (day - timedelta(days=NIGHTLY_REWRITE_DAYS - 1)).isoformat()
    for i in issues:  # drift alarms of the rewritten days are news; older ones were logged before
        news = i.name == "ecm.baseline.drift" and i.evidence.get("day", "") >= recent
        (log.warning if news else log.debug)("%s: %s", i.name, i.message)
    today = [i.evidence for i in issues if i.name == "ecm.baseline.drift" and i.evidence.get("day") == day.isoformat()]
    t_all = time.perf_counter() - t0
    return {"day": day.isoformat(), "points": n, "scopes": int(frames["models"].shape[0]),
            "invalid_models": int((~frames["models"]["valid"].astype(bool)).sum()) if len(frames["models"]) else 0,
            "measures": int((frames["savings"]["level"] == "measure").sum()) if len(frames["savings"]) else 0,
            "drift_alarms_total": sum(i.name == "ecm.baseline.drift" for i in issues), "drift_today": today,
            "incremental": incremental, "baseline_data_changed": len(changed),
            "line_days_loaded": int(len(ld)),
            "load_s": round(t_load, 3), "compute_s": round(t_compute, 3),
            "write_s": round(t_all - t_load - t_compute, 3), "seconds": round(t_all, 3)}
