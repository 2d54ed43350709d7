"""Suites validated from several threads at once (the demo computes closed months on threads):
the shared GX context is entered one thread at a time, so the first loads of a suite do not
collide ("Store already has the following key") and each thread gets its own frame's results."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import numpy as np


def test_concurrent_first_runs_of_a_suite(monkeypatch):
    import sim_devices
    from ecm import quality
    from ecm.quality import run_suite
    from ecm.quality_frames import stats_monthly_metrics
    from ecm.registry import get_registry

    quality.load_suite.cache_clear()
    quality._gx.cache_clear()
    reg = get_registry()
    stats = sim_devices.monthly_stats_frame(reg, "2025-03", "2025-04", sim_devices.DEFAULT_SEED)

    def one(k: int):
        s = stats.copy()
        ent = reg.enterprise_ids[k]
        s.loc[(s["enterprise"] == ent) & (s["month"] == "2025-04"), "value_added_current_10k_cny"] = np.nan
        f = run_suite("stats_monthly", stats_monthly_metrics(s, reg.enterprise_ids, date(2025, 4, 9)), period="2025-04").frame
        return set(f[(f["expectation"] == "value_added_present") & ~f["success"]]["enterprise"])

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(one, range(8)))
    assert got == [{reg.enterprise_ids[k]} for k in range(8)]
