"""Synthetic KPI frames in the exact schema of docs/contracts.md §2.1 (for the benchmark and tests).

Pure and seeded: ``synthetic_kpis(day, enterprises, lines, seed)`` -> ``{measurement: frame}``; each
frame has ``time`` (tz-aware UTC period start), the measurement's tags and its fields. Enterprises
listed in ``insufficient`` get ``data_insufficient`` rows (no figures) for the report month and day.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ecm.periods import TZ, month_start
from ecm.schema import Classification, DataStatus, Status

FACTORS = "factors-2024.1"
TAGS = {"kpi_monthly": ["enterprise"], "kpi_daily": ["enterprise"], "energy_daily": ["enterprise", "carrier"],
        "line_daily": ["enterprise", "line", "product_class"],
        "benchmark_monthly": ["enterprise", "line", "industry", "product_class"],
        "capacity_share_monthly": ["industry"], "dq_result": ["suite", "expectation", "enterprise", "severity"]}
UNIT_SUFFIX = {"m2": "kgce_per_m2", "t": "kgce_per_t", "pcs": "kgce_per_pcs", "10k_bricks": "kgce_per_10k_bricks"}
#: carrier -> (physical field, tce per unit, tCO2 per unit)
CARRIERS = {"electricity": ("energy_kwh", 0.0001229, 0.0005703), "natural_gas": ("gas_m3", 0.0012143, 0.002162),
            "coal": ("coal_t", 0.7143, 1.9003)}


def _start(d: date) -> pd.Timestamp:
    return pd.Timestamp(d).tz_localize(TZ).tz_convert("UTC")


def _status(ci: float, pi: float) -> tuple[str, int]:
    s = Status.GREEN if ci <= pi else Status.YELLOW if ci <= pi * 1.03 else Status.RED
    return s.value, s.level


def synthetic_kpis(day: date, enterprises: pd.DataFrame, lines: pd.DataFrame, *, seed: int = 7,
                   insufficient: tuple[str, ...] = (), months: int = 24) -> dict[str, pd.DataFrame]:
    """KPI frames for the report of ``day``: ``months`` of kpi_monthly, month-to-date daily rows."""
    rng = np.random.default_rng(seed)
    m0 = month_start(day)
    month_list = [(pd.Timestamp(m0) - pd.DateOffset(months=k)).date() for k in range(months - 1, -1, -1)]
    days = [m0 + pd.Timedelta(days=k) for k in range((day - m0).days + 1)]
    out = {k: [] for k in TAGS}
    ids = list(enterprises["enterprise"])
    for eid in ids + ["_district"]:
        scale = 50.0 * len(ids) if eid == "_district" else float(rng.uniform(10, 120))
        drift = float(rng.uniform(-0.02, 0.035))
        for k, m in enumerate(month_list):
            pi = 1.0 - 0.13 * ((m.year - 2022) * 12 + m.month) / 48
            ci = pi * (1 + drift) + float(rng.normal(0, 0.004))
            # the report month has no value added yet (statistics arrive mid next month): its year to date
            # ends with the previous month, as in the pipeline (kpi_monthly.ytd_through)
            through = (pd.Timestamp(m) - pd.Timedelta(days=1)) if m == m0 else (pd.Timestamp(m) + pd.offsets.MonthEnd(0))
            row = {"time": _start(m), "enterprise": eid, "completeness_frac": 0.97, "factor_table_version": FACTORS,
                   "ytd_through": through.date().isoformat()}
            if eid in insufficient and m == m0:
                out["kpi_monthly"].append(row | {"status": Status.DATA_INSUFFICIENT.value, "status_level": 3,
                                                 "completeness_frac": 0.62, "path_index": pi})
                continue
            energy = scale * 30 * float(rng.uniform(0.9, 1.1))
            va = energy / (0.35 * ci)
            st, lvl = _status(ci, pi)
            month_va = {} if m == m0 else {
                "value_added_10k_cny": va, "value_added_current_10k_cny": va * 1.05,
                "intensity_tce_per_10k_cny": energy / va, "co2_intensity_t_per_10k_cny": energy * 2.2 / va}
            out["kpi_monthly"].append(row | month_va | {
                "energy_tce": energy, "energy_tce_generation": energy * 1.6, "co2_t": energy * 2.2,
                "ytd_intensity_tce_per_10k_cny": energy / va * 0.99, "ytd_change_frac": -0.03 + drift,
                "cumulative_index": ci, "path_index": pi, "required_annual_rate_frac": max(0.0, 0.034 + drift),
                "status": st, "status_level": lvl})
        if eid == "_district":
            continue
        for d in days:
            base = {"time": _start(d), "enterprise": eid, "factor_table_version": FACTORS}
            if eid in insufficient:
                out["kpi_daily"].append(base | {"data_status": DataStatus.DATA_INSUFFICIENT.value, "completeness_frac": 0.55})
                continue
            comp = float(rng.choice([1.0, 0.99, 0.95]))
            tot = {"energy_tce": 0.0, "energy_tce_generation": 0.0, "co2_t": 0.0}
            for carrier, (qty, tce, co2) in CARRIERS.items():
                if carrier == "coal" and ids.index(eid) % 3:
                    continue
                phys = scale * float(rng.uniform(0.2, 0.6)) / tce
                vals = {qty: phys, "energy_tce": phys * tce, "energy_tce_generation": phys * tce * 1.6,
                        "co2_t": phys * co2}
                out["energy_daily"].append(base | {"carrier": carrier, "included": 1, "completeness_frac": comp} | vals)
                for f in tot:
                    tot[f] += vals[f]
            out["kpi_daily"].append(base | tot | {"data_status": "ok", "completeness_frac": comp})
    levels = {"at_or_better_than_benchmark": 0, "between": 1, "worse_than_baseline": 2}
    industry = enterprises.set_index("enterprise")["industry"]
    for ln in lines.to_dict("records"):
        sfx = "kwh_per_t" if ln["product_class"] == "cement_grinding" else UNIT_SUFFIX[ln["output_unit"]]
        bm = float(rng.uniform(2, 10))
        bl = bm * 1.4
        val = bm * float(rng.uniform(0.85, 1.6))
        cls = (Classification.AT_OR_BETTER_THAN_BENCHMARK if val <= bm else Classification.BETWEEN if val <= bl
               else Classification.WORSE_THAN_BASELINE).value
        tags = {"enterprise": ln["enterprise"], "line": ln["line"], "product_class": ln["product_class"]}
        out["benchmark_monthly"].append({"time": _start(m0), **tags, "industry": industry[ln["enterprise"]],
            f"unit_energy_12m_{sfx}": val, f"unit_energy_ytd_{sfx}": val * 0.98, f"benchmark_{sfx}": bm,
            f"baseline_{sfx}": bl, "classification": cls, "classification_level": levels[cls], "gb_grade": "2",
            "gap_to_benchmark_pct": max(0.0, 100 * (val / bm - 1)), "gap_to_baseline_pct": max(0.0, 100 * (val / bl - 1)),
            "capacity_per_day": 10000.0, "completeness_frac": 0.98, "factor_table_version": FACTORS})
        if ln["enterprise"] not in insufficient:
            output = float(rng.uniform(5000, 20000))
            out["line_daily"].append({"time": _start(day), **tags, f"output_{ln['output_unit']}": output,
                                      "energy_tce": output * val / 1000, f"unit_energy_{sfx}": val,
                                      "completeness_frac": 0.99, "factor_table_version": FACTORS})
    for ind in sorted(set(industry)) + ["all"]:
        out["capacity_share_monthly"].append({"time": _start(m0), "industry": ind,
            "benchmark_capacity_share_frac": float(rng.uniform(0.1, 0.5)), "baseline_capacity_share_frac":
            float(rng.uniform(0.7, 1.0)), "capacity_total": 100000.0, "n_lines": 5, "factor_table_version": FACTORS})
    for i, eid in enumerate(ids[:6]):
        ok = i % 3 != 0
        out["dq_result"].append({"time": _start(day), "suite": "readings_daily", "expectation": "completeness_ge_0_9",
                                 "enterprise": eid, "severity": "block" if i % 2 == 0 else "warn",
                                 "success": int(ok), "observed": f"completeness {0.97 if ok else 0.71}",
                                 "observed_value": 0.97 if ok else 0.71, "period": day.isoformat()})
    return {k: pd.DataFrame(v) for k, v in out.items()}
