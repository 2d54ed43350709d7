"""The simulated fleet over a window of Beijing days: meter tracks, ground truth, statistics.

Pure (no I/O beyond reading the fleet YAML). Every figure of a day is the same whatever window
or set of enterprises it is computed in: randomness is keyed by (seed, enterprise, meter, day).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd

from ecm.registry import Enterprise, Registry, parse_registry
from ecm.schema import F_AMOUNT
from sim_devices import rng
from sim_devices.calendar import DAY_S, EPOCH_DAY, EPOCH_S, day_index, day_of
from sim_devices.economics import COLUMNS, monthly_stats, months_between
from sim_devices.fleet import enterprise_config, load_fleet, scaled_registry
from sim_devices.meter import MeterTrack
from sim_devices.plant import EnterpriseSim

TRUTH_COLUMNS = ["day_cst", "enterprise", "line", "meter", "carrier", "role", "quantity", F_AMOUNT]
_TZ = timezone(timedelta(hours=8))


def to_sim_s(ts: datetime) -> int:
    """Aware datetime -> seconds since the epoch day's Beijing midnight."""
    return int(ts.timestamp()) - EPOCH_S


def sim_s_to_ms(t_s: np.ndarray) -> np.ndarray:
    """Simulator seconds -> Unix epoch milliseconds (int64)."""
    return (np.asarray(t_s, dtype=np.int64) + EPOCH_S) * 1000


def select_registry(registry: Registry, n_enterprises: int | None) -> Registry:
    """The first ``n`` enterprises, or the registry scaled up with clones (e021, ...)."""
    if not n_enterprises or n_enterprises == len(registry.enterprises):
        return registry
    data = registry.model_dump(mode="json")
    return parse_registry(scaled_registry(data, n_enterprises), "<scaled registry>")


def _check_day(d: date) -> int:
    if d < EPOCH_DAY:
        raise ValueError(f"the simulator starts at {EPOCH_DAY} (Beijing); got {d}")
    return day_index(d)


@dataclass
class EnterpriseWindow:
    """One enterprise over local days [d0, d1 + 1] (one closing day for the last midnight)."""

    enterprise: Enterprise
    sim: EnterpriseSim
    tracks: list[MeterTrack]


def build_window(registry: Registry, start: date, end: date, seed: int, *, faults=None,
                 fleet: dict | None = None) -> list[EnterpriseWindow]:
    """Meter tracks of every enterprise for Beijing days ``start``..``end`` (inclusive)."""
    d0, d1 = _check_day(start), _check_day(end)
    if d1 < d0:
        raise ValueError(f"end {end} before start {start}")
    fleet = fleet or load_fleet()
    out = []
    for ent in registry.enterprises:
        cfg = enterprise_config(ent.id, fleet)
        sim = EnterpriseSim(ent, cfg, seed, drifts=_drifts(faults, ent))
        full = sim.hourly(d1 + 2)
        tracks = []
        for m in ent.meters:
            H = full[m.id]
            day_cum = np.concatenate([[0.0], np.cumsum(H.sum(axis=1))])
            key = rng.key_of(seed, ent.id, m.id, "meter")
            tr = MeterTrack(m, ent.id, key, d0, H[d0:d1 + 2], day_cum[d0:d1 + 3])
            if m.kind == "counter":
                tr.start = float(np.floor((m.register_max or 1e9) * (0.02 + 0.88 * rng.uniform1(key, 1))))
                full_tr = MeterTrack(m, ent.id, key, 0, H, day_cum)
                for r in cfg.get("replacements", []):
                    if r["meter"] == m.id:
                        t_r = to_sim_s(datetime.fromisoformat(str(r["at"])).replace(tzinfo=_TZ))
                        if 0 <= t_r < (d1 + 2) * DAY_S:
                            tr.replacements.append((t_r, float(r.get("new_start", 0.0)),
                                                    float(full_tr.cumulative(np.array([t_r]))[0])))
                if faults is not None:
                    faults.register_events(tr, full_tr, d0, d1)
                tr.replacements.sort()
            tracks.append(tr)
        out.append(EnterpriseWindow(ent, sim, tracks))
    return out


def _drifts(faults, ent: Enterprise) -> list:
    return faults.drifts_for([ln.id for ln in ent.lines]) if faults is not None else []


def _physical(faults):
    """Only the physical faults (drift) of a FaultConfig: the truth includes them, not wire faults."""
    from sim_devices.faults import FaultConfig

    if faults is None or not getattr(faults, "drifts", None):
        return None
    return FaultConfig(drifts=list(faults.drifts))


def truth_frame(registry: Registry, start: date, end: date, seed: int, faults=None) -> pd.DataFrame:
    """What the fleet really consumed and produced per enterprise, line, meter and Beijing day
    (counters only, before any wire fault; with the physical ``drift`` faults of ``faults``):
    columns TRUTH_COLUMNS, ``amount`` in the unit of ``quantity`` (e.g. energy_kwh in kWh)."""
    rows = []
    n = (end - start).days + 1
    days = [(start + timedelta(days=i)).isoformat() for i in range(n)]
    for w in build_window(registry, start, end, seed, faults=_physical(faults)):
        for tr in w.tracks:
            m = tr.meter
            if m.kind != "counter":
                continue
            rows.append(pd.DataFrame({"day_cst": days, "enterprise": w.enterprise.id, "line": m.line or "",
                                      "meter": m.id, "carrier": m.carrier, "role": m.role,
                                      "quantity": m.quantity, F_AMOUNT: tr.daily()[:n]}))
    return pd.concat(rows, ignore_index=True)[TRUTH_COLUMNS] if rows else pd.DataFrame(columns=TRUTH_COLUMNS)


SAVINGS_TRUTH_COLUMNS = ["day_cst", "enterprise", "measure", "kind", "measure_date", "line", "meter", "carrier",
                         "role", "quantity", "actual", "counterfactual"]


def savings_truth_frame(registry: Registry, start: date, end: date, seed: int, faults=None) -> pd.DataFrame:
    """The true effect of every simulated retrofit (measure), per meter and Beijing day in
    [start, end]: ``actual`` (what was consumed, all retrofits in force) and ``counterfactual``
    (the same days without that one retrofit, everything else equal: same noise, load, drift),
    in the unit of ``quantity``. Only counters a measure changes are listed; the avoided energy of
    a measure is Σ (counterfactual − actual) over its ``role: main`` meters × coefficients."""
    from sim_devices.plant import retrofit_list

    fleet = load_fleet()
    d0, d1 = _check_day(start), _check_day(end)
    days = np.array([(start + timedelta(days=i)).isoformat() for i in range(d1 - d0 + 1)])
    phys = _physical(faults)
    rows = []
    for ent in registry.enterprises:
        cfg = enterprise_config(ent.id, fleet)
        retro = retrofit_list(ent.id, cfg)
        if not retro:
            continue
        drifts = _drifts(phys, ent)
        actual = EnterpriseSim(ent, cfg, seed, drifts=drifts).hourly(d1 + 1)
        for r in retro:
            cf = EnterpriseSim(ent, cfg, seed, drifts=drifts, without={r["id"]}).hourly(d1 + 1)
            for m in ent.meters:
                if m.kind != "counter" or m.carrier == "output" or m.id not in actual:
                    continue
                a, c = actual[m.id][d0:d1 + 1].sum(axis=1), cf[m.id][d0:d1 + 1].sum(axis=1)
                if np.allclose(a, c, rtol=0, atol=1e-9):
                    continue
                rows.append(pd.DataFrame({"day_cst": days, "enterprise": ent.id, "measure": r["id"],
                                          "kind": r.get("kind", ""), "measure_date": str(r["date"]),
                                          "line": m.line or "", "meter": m.id, "carrier": m.carrier, "role": m.role,
                                          "quantity": m.quantity, "actual": a, "counterfactual": c}))
    if not rows:
        return pd.DataFrame(columns=SAVINGS_TRUTH_COLUMNS)
    return pd.concat(rows, ignore_index=True)[SAVINGS_TRUTH_COLUMNS]


def monthly_stats_frame(registry: Registry, start_month: str, end_month: str, seed: int) -> pd.DataFrame:
    """Monthly statistics per enterprise (columns economics.COLUMNS) for months start..end."""
    months = months_between(start_month, end_month)
    last = (pd.Period(end_month, freq="M").end_time.date())
    n = day_index(last) + 1
    fleet = load_fleet()
    frames = []
    for ent in registry.enterprises:
        cfg = enterprise_config(ent.id, fleet)
        sim = EnterpriseSim(ent, cfg, seed)
        sim.hourly(n)
        frames.append(monthly_stats(ent.id, cfg, fleet["deflators"], sim.line_output, sim.plant_activity, seed, months))
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def complete_months(start: date, end: date) -> list[str]:
    """Months whose last day lies in [start, end] (their statistics are due in the window)."""
    out, d = [], start
    while d <= end:
        nxt = (pd.Timestamp(d) + pd.offsets.MonthEnd(0)).date()
        if nxt <= end:
            out.append(nxt.strftime("%Y-%m"))
        d = nxt + timedelta(days=1)
    return out


__all__ = ["build_window", "truth_frame", "savings_truth_frame", "monthly_stats_frame", "select_registry", "day_of"]
