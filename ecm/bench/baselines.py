"""``ecm bench baselines``: nightly cost of the baselines step at district scale, on a throwaway InfluxDB.

    ecm bench baselines [--enterprises 200] [--day 2026-03-10]

Writes ``line_daily`` and ``kpi_daily`` history from 2022-01-01 to the day for N simulated
enterprises (the simulator's truth: line energy = own meters + an equal share of the plant
remainder, 当量值 coefficients from config/factors.yaml), then times a run of the day before
with nothing stored (the whole history, as a first run or ``full``) and the nightly run of the day
(incremental, from the state the first stored), each against the 10 s budget of issue #18.
"""
from __future__ import annotations

import os
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ecm.schema import MEAS_KPI_DAILY, MEAS_LINE_DAILY

LIMIT_S = 10.0


def history_frames(reg, first: date, last: date, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    import sim_devices
    from ecm.factors import get_factors

    f = get_factors()
    t = sim_devices.truth_frame(reg, first, last, seed)
    meters = reg.meters_frame()
    t["carrier"] = t["meter"].map(meters["carrier"])
    energy = t[t["carrier"] != "output"].copy()
    kg = {c: f.tce_kgce_per_unit(c, "equivalent") for c in energy["carrier"].unique()}
    energy["tce"] = energy["amount"] * energy["carrier"].map(kg) / 1000.0
    counted = ~energy["carrier"].isin(["pv_generation", "waste_heat"])
    main = energy[(energy["role"] == "main") & counted].groupby(["day_cst", "enterprise"])["tce"].sum()
    own = energy[(energy["line"] != "") & counted].groupby(["day_cst", "enterprise", "line"])["tce"].sum()
    lines = reg.lines_frame()
    out = t[t["carrier"] == "output"].groupby(["day_cst", "line"])["amount"].sum()
    ld = own.reset_index()
    n_lines = ld["line"].map(lines["enterprise"].value_counts().reindex(lines["enterprise"]).set_axis(lines.index))
    rest = main.reindex(pd.MultiIndex.from_frame(ld[["day_cst", "enterprise"]])).to_numpy() - \
        own.groupby(["day_cst", "enterprise"]).transform("sum").to_numpy()
    ld["energy_tce"] = ld["tce"] + np.clip(rest, 0, None) / n_lines.to_numpy()
    ld["output"] = out.reindex(pd.MultiIndex.from_frame(ld[["day_cst", "line"]])).to_numpy()
    ld["unit"] = ld["line"].map(lines["output_unit"])
    kpi = main.rename("energy_tce").reset_index()
    kpi["co2_t"] = kpi["energy_tce"] * 2.2
    return ld, kpi


def run_bench(n_enterprises: int = 200, day: str = "2026-03-10", echo=print, profile: int = 0) -> dict:
    """Seed the history, time one nightly ``run_baselines`` and return its summary with the ratio to the budget.
    ``profile``: echo the top ``profile`` functions (cumulative time) of the nightly run under cProfile."""
    import sim_devices
    from ecm.bench import host_line
    from ecm.pipeline.baselines import run_baselines
    from ecm.registry import get_registry
    from ecm.stack import Stack

    echo(host_line())
    reg = sim_devices.select_registry(get_registry(), n_enterprises)
    st = Stack.ephemeral(db="bench", enterprise_ids=reg.enterprise_ids, prefix="ecm-bench-baselines-")
    st.activate()
    st.start()
    try:
        d = date.fromisoformat(day)
        t0 = time.perf_counter()
        ld, kpi = history_frames(reg, date(2022, 1, 1), d, sim_devices.DEFAULT_SEED)
        client = st.client(timeout_s=300)

        def timed(df):
            tt = pd.to_datetime(df["day_cst"]).dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
            return df.drop(columns=["day_cst"]).assign(time=tt.to_numpy())

        for unit, g in ld.groupby("unit"):
            w = g[["day_cst", "enterprise", "line", "energy_tce", "output"]].rename(columns={"output": f"output_{unit}"})
            client.write_frame(timed(w.assign(completeness_frac=1.0)), MEAS_LINE_DAILY, ["enterprise", "line"])
        client.write_frame(timed(kpi), MEAS_KPI_DAILY, ["enterprise"])
        echo(f"seeded {len(ld):,} line-days and {len(kpi):,} enterprise-days in {time.perf_counter() - t0:.1f} s")
        # the day before, nothing stored: the whole history (as the first run, or `full`); it stores the state
        whole = run_baselines(d - timedelta(days=1), client=client, registry=reg)
        echo(f"whole-history run (day before): {whole['seconds']:.2f} s (load {whole['load_s']:.2f}, "
             f"compute {whole['compute_s']:.2f}) = {whole['seconds'] / LIMIT_S:.2f} × the {LIMIT_S:.0f} s budget")
        if profile:
            import cProfile
            import io
            import pstats

            prof = cProfile.Profile()
            res = prof.runcall(run_baselines, d, client=client, registry=reg)
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(profile)
            echo(out.getvalue())
        else:
            res = run_baselines(d, client=client, registry=reg)
        res.pop("drift_today", None)
        res.update(enterprises=n_enterprises, lines=len(reg.lines_frame()), line_days=len(ld), limit_s=LIMIT_S,
                   ratio_to_limit=round(res["seconds"] / LIMIT_S, 2), whole_history_s=whole["seconds"],
                   ratio_to_whole_history=round(res["seconds"] / whole["seconds"], 3),
                   load_avg_1m=round(os.getloadavg()[0], 1))
        echo(f"baselines nightly step ({'incremental' if res['incremental'] else 'whole history'}): "
             f"{res['seconds']:.2f} s (load {res['load_s']:.2f}, compute {res['compute_s']:.2f}) "
             f"= {res['ratio_to_limit']:.2f} × the {LIMIT_S:.0f} s budget, {res['ratio_to_whole_history']:.2f} × the "
             f"whole-history run; {n_enterprises} enterprises, {res['lines']} lines, {len(ld):,} line-days")
        return res
    finally:
        st.stop()
