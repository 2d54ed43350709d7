"""A fault-free backfill at the broker: daily consumption rebuilt from the published counters
matches ``truth_frame`` within 0.5 %; the same seed publishes identical data."""
from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

import sim_devices
from ecm.registry import get_registry

pytestmark = pytest.mark.integration
TZ = timezone(timedelta(hours=8))
START, END = date(2024, 3, 2), date(2024, 3, 31)  # 30 Beijing days


def _readings(msgs) -> pd.DataFrame:
    rows = []
    for topic, payload, _ in msgs:
        parts = topic.split("/")
        if parts[-1] != "reading":
            continue
        doc = json.loads(payload)
        for it in doc.get("readings", [doc]):
            (q, v), = it["values"].items()
            rows.append((parts[2], it.get("meter", parts[3]), q, int(it["ts"]), float(v)))
    return pd.DataFrame(rows, columns=["enterprise", "meter", "quantity", "ts_ms", "value"])


def daily_from_counters(df: pd.DataFrame, registry) -> pd.DataFrame:
    """Counter readings at Beijing midnights -> consumption per Beijing day (rollover-aware)."""
    meters = registry.meters_frame()
    df = df[df.meter.map(meters.kind) == "counter"].copy()
    t = pd.to_datetime(df.ts_ms, unit="ms", utc=True).dt.tz_convert("Asia/Shanghai")
    df = df[(t.dt.hour == 0) & (t.dt.minute == 0) & (t.dt.second == 0)].assign(day=t.dt.date)
    out = []
    for m, g in df.sort_values("ts_ms").drop_duplicates(["meter", "ts_ms"]).groupby("meter"):
        d = np.diff(g.value.to_numpy())
        reg = meters.loc[m, "register_max"]
        d = np.where(d < 0, d + reg, d)  # rollover
        out.append(pd.DataFrame({"meter": m, "day_cst": [x.isoformat() for x in g.day.iloc[:-1]], "rebuilt": d}))
    return pd.concat(out, ignore_index=True)


@pytest.fixture(scope="module")
def backfilled(stack, make_recorder, request):
    
    reg = get_registry()
    rec = make_recorder("rec-backfill")
    stats = sim_devices.backfill(reg, START, END, seed=11, host=stack.mqtt_host, port=stack.mqtt_port,
                                 state_dir=stack.state_dir, progress=False)
    msgs = rec.stop()
    return reg, stats, msgs


def test_backfill_daily_energy_matches_truth_within_half_percent(backfilled):
    reg, stats, msgs = backfilled
    assert stats["readings"] > 200_000 and stats["messages"] >= stats["readings"] / 500
    truth = sim_devices.truth_frame(reg, START, END, seed=11)
    rebuilt = daily_from_counters(_readings(msgs), reg)
    m = truth.merge(rebuilt, on=["meter", "day_cst"], how="left")
    assert m.rebuilt.notna().all(), m[m.rebuilt.isna()].head()
    assert len(m) == 30 * len(truth.meter.unique())
    rel = (m.rebuilt - m.amount).abs() / m.amount.abs().clip(lower=1.0)
    assert rel.max() < 0.005, m.loc[rel.idxmax()]
    # every enterprise's daily energy (all its main counters) too
    per_ent = m[m.role == "main"].groupby(["enterprise", "day_cst", "quantity"])[["amount", "rebuilt"]].sum()
    assert ((per_ent.rebuilt - per_ent.amount).abs() <= 0.005 * per_ent.amount.abs().clip(lower=1.0)).all()


def test_every_enterprise_connects_with_status_and_gateway_batches(backfilled):
    reg, stats, msgs = backfilled
    topics = {t for t, _, _ in msgs}
    for e in reg.enterprise_ids:
        assert f"ecm/v1/{e}/gateway/status" in topics
        assert f"ecm/v1/{e}/gateway/reading" in topics
    status = [(t, p) for t, p, _ in msgs if t.endswith("/status")]
    assert {p for _, p in status} == {b"online", b"offline"}
    sizes = [len(json.loads(p)["readings"]) for t, p, _ in msgs if t.endswith("/gateway/reading")]
    assert max(sizes) <= 500
    # monthly statistics of March arrived on the documented topic
    st = [json.loads(p) for t, p, _ in msgs if t.endswith("/stats/monthly")]
    assert {s["month"] for s in st} == {"2024-03"} and len(st) == len(reg.enterprise_ids)
    assert all(set(s) == {"month", "output_value_10k_cny", "value_added_current_10k_cny", "deflator_index"} for s in st)


def _digest(msgs) -> str:
    h = hashlib.sha256()
    for t, p, _ in sorted(msgs):
        h.update(t.encode() + b"\0" + p + b"\0")
    return h.hexdigest()


def test_same_seed_publishes_identical_data(stack, make_recorder):
    
    reg = get_registry()
    digests = []
    for _ in range(2):
        rec = make_recorder("rec-det")
        sim_devices.backfill(reg, date(2025, 5, 3), date(2025, 5, 4), seed=5, faults="all",
                             host=stack.mqtt_host, port=stack.mqtt_port, state_dir=stack.state_dir, progress=False)
        msgs = rec.stop()
        assert len(msgs) > 100
        digests.append(_digest(msgs))
    assert digests[0] == digests[1]
    rec = make_recorder("rec-det2")
    sim_devices.backfill(reg, date(2025, 5, 3), date(2025, 5, 4), seed=6, faults="all",
                         host=stack.mqtt_host, port=stack.mqtt_port, state_dir=stack.state_dir, progress=False)
    assert _digest(rec.stop()) != digests[0]
