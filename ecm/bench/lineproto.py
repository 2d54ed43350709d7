"""``ecm bench lineproto``: ``ecm.lineproto`` against ``influxdb_client``'s DataFrame serializer on
a 1 M-row readings frame (the shape the seeding and the bridge-less writes produce): seconds,
lines/s, the ratio, and whether the lines are equal, with the host's CPU model and load."""
from __future__ import annotations

import time


def run_lineproto(n: int = 1_000_000, echo=print) -> dict:
    import numpy as np
    import pandas as pd
    from influxdb_client.client.write.dataframe_serializer import data_frame_to_list_of_points
    from influxdb_client.client.write_api import PointSettings

    from ecm.bench import host_info
    from ecm.lineproto import frame_lines
    from ecm.schema import MEAS_READINGS

    rng = np.random.default_rng(0)
    meters = np.array([f"e{i // 25:04d}_m{i % 25:02d}" for i in range(5000)], dtype=object)
    m = meters[np.arange(n) % 5000]
    tags = ["enterprise", "meter", "quantity"]
    plain = pd.DataFrame({"enterprise": pd.Series([x[:5] for x in m], dtype=str), "meter": pd.Series(m, dtype=str),
                          "quantity": "energy_kwh", "energy_kwh": np.cumsum(rng.random(n))},
                         index=pd.date_range("2026-03-10", periods=n, freq="10ms", tz="UTC"))
    holes = plain.assign(energy_kwh=plain["energy_kwh"].where(rng.random(n) > 0.1), n_x=np.arange(n))
    out = {"rows": n, "cases": {}}
    for name, f in (("4 columns, no NaN", plain), ("+ an int field, 10 % NaN in the first field", holes)):
        t = time.perf_counter()
        ours = frame_lines(f, MEAS_READINGS, tags, precision="ms")
        t_ours = time.perf_counter() - t
        t = time.perf_counter()
        ref = data_frame_to_list_of_points(f, PointSettings(), precision="ms", data_frame_measurement_name=MEAS_READINGS,
                                           data_frame_tag_columns=tags)
        t_ref = time.perf_counter() - t
        out["cases"][name] = {"influxdb_client_s": round(t_ref, 2), "lineproto_s": round(t_ours, 2),
                              "ratio": round(t_ref / t_ours, 2), "equal": ours == ref}
        echo(f"{name}: {len(ref):,} lines: influxdb_client {t_ref:.2f} s ({len(ref) / t_ref:,.0f} lines/s), "
             f"ecm.lineproto {t_ours:.2f} s ({len(ours) / t_ours:,.0f} lines/s) = {t_ref / t_ours:.1f} × faster; "
             f"equal lines: {ours == ref}")
    h = host_info()
    echo(f"host: {h['cpu_model']}, {h['cpus']} CPUs, load average {' '.join(map(str, h['loadavg']))}")
    out.update(h)
    return out
