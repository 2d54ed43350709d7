"""Fault injection at the broker: with one fault kind on, its effect demonstrably reaches the wire."""
from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pytest

import sim_devices
from ecm.registry import get_registry

pytestmark = pytest.mark.integration
START, END = date(2025, 4, 8), date(2025, 4, 10)


def _run(stack, make_recorder, faults):
    reg = get_registry()
    rec = make_recorder(f"rec-fault-{faults}")
    out = sim_devices.backfill(reg, START, END, seed=3, faults=[faults] if faults else None,
                               host=stack.mqtt_host, port=stack.mqtt_port, state_dir=stack.state_dir,
                               progress=False, publish_stats=False)
    return reg, out, rec.stop()


def _items(msgs) -> pd.DataFrame:
    rows = []
    for k, (topic, payload, _) in enumerate(msgs):
        parts = topic.split("/")
        if parts[-1] != "reading":
            continue
        doc = json.loads(payload)
        for it in doc["readings"]:
            (q, v), = it["values"].items()
            rows.append((k, parts[2], it["meter"], int(it["ts"]), float(v)))
    return pd.DataFrame(rows, columns=["msg", "enterprise", "meter", "ts_ms", "value"])


def _counters(df, reg):
    mf = reg.meters_frame()
    return df[df.meter.map(mf.kind) == "counter"], mf


def test_fault_free_run_is_clean(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, None)
    df = _items(msgs)
    assert out["faults"] == {}
    assert not df.duplicated(["meter", "ts_ms"]).any()
    assert (df.groupby("meter").ts_ms.diff().dropna() > 0).all()


def test_fault_dropout_goes_offline_then_flushes_late(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, "dropout=1.0")
    assert out["faults"]["dropout"] >= len(reg.enterprises)
    offline = [i for i, (t, p, _) in enumerate(msgs) if t.endswith("/gateway/status") and p == b"offline"]
    assert len(offline) >= len(reg.enterprises)
    df = _items(msgs)
    late = 0
    for e, g in df.groupby("enterprise"):
        newest_before = g.groupby("msg").ts_ms.max().cummax().shift(1)
        oldest = g.groupby("msg").ts_ms.max()
        late += int(((newest_before - oldest) >= 2 * 3600_000).sum())
    assert late >= len(reg.enterprises) // 2


def test_fault_duplicate(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, "duplicate=0.05")
    df = _items(msgs)
    dups = df[df.duplicated(["meter", "ts_ms"], keep=False)]
    assert len(dups) >= out["faults"]["duplicate"] > 100
    assert (dups.groupby(["meter", "ts_ms"]).value.nunique() == 1).all()


def test_fault_out_of_order(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, "out_of_order=0.05")
    df = _items(msgs)
    backwards = (df.groupby("meter").ts_ms.diff() < 0).sum()
    assert backwards >= 0.5 * out["faults"]["out_of_order"] > 50


def test_fault_clock_skew(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, "clock_skew=1.0")
    df = _items(msgs)
    iv_ms = df.meter.map(reg.meters_frame().interval_s) * 1000
    off_grid = (df.ts_ms % iv_ms) != 0
    assert out["faults"]["clock_skew"] >= len(reg.enterprises)
    assert off_grid.mean() > 0.5


def test_fault_spike(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, "spike=0.01")
    df, mf = _counters(_items(msgs), reg)
    df = df.sort_values(["meter", "ts_ms"])
    jump = df.groupby("meter").value.diff()
    limit = 10 * df.meter.map(mf.max_rate_per_h)  # 10 h of physical maximum in 15 minutes
    assert (jump > limit).sum() >= 10


def _longest_flat(d) -> pd.Series:
    """Per meter: the longest run of consecutive identical counter readings."""
    out = {}
    for m, g in d.sort_values("ts_ms").groupby("meter"):
        same = (g.value.diff() == 0).to_numpy()
        best = cur = 0
        for s in same:
            cur = cur + 1 if s else 0
            best = max(best, cur)
        out[m] = best
    return pd.Series(out)


def test_fault_stuck(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, "stuck=0.5")
    faulty = _longest_flat(_counters(_items(msgs), reg)[0])
    clean = _longest_flat(_counters(_items(_run(stack, make_recorder, None)[2]), reg)[0])
    stuck = (faulty >= 7) & (clean.reindex(faulty.index) <= 1)  # ≥ 2 h frozen where it normally moves
    assert stuck.sum() >= 10 and out["faults"]["stuck"] > 10


def test_fault_counter_reset(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, "counter_reset=0.2")
    df, mf = _counters(_items(msgs), reg)
    df = df.sort_values(["meter", "ts_ms"])
    prev = df.groupby("meter").value.shift(1)
    reg_max = df.meter.map(mf.register_max)
    resets = (df.value < prev) & (prev < 0.9 * reg_max) & (df.value < 0.05 * reg_max)
    assert resets.sum() >= 0.8 * out["faults"]["counter_reset"] > 10


def test_fault_rollover(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, "rollover=1.0")
    df, mf = _counters(_items(msgs), reg)
    df = df.sort_values(["meter", "ts_ms"])
    prev = df.groupby("meter").value.shift(1)
    reg_max = df.meter.map(mf.register_max)
    wraps = (df.value < prev) & (prev > 0.9 * reg_max) & (df.value < 0.1 * reg_max)
    assert wraps.sum() >= 0.8 * out["faults"]["rollover"]
    assert df[wraps].meter.nunique() > 40


def test_fault_malformed(stack, make_recorder):
    reg, out, msgs = _run(stack, make_recorder, "malformed=0.5")
    reading_msgs = [(t, p) for t, p, _ in msgs if t.endswith("/reading")]
    seen = set()
    known = set(reg.meters_frame().index)
    for t, p in reading_msgs:
        if len(p) > 256 * 1024:
            seen.add("oversize")
            continue
        try:
            doc = json.loads(p, parse_constant=lambda c: seen.add("nan") or math.nan)
        except json.JSONDecodeError:
            seen.add("bad_json")
            continue
        meter = t.split("/")[3]
        if meter != "gateway" and meter not in known:
            seen.add("unknown_meter")
        if not isinstance(doc, dict):
            seen.add("not_object")
        elif "readings" not in doc:
            if "ts" not in doc:
                seen.add("missing_ts")
            for v in doc.get("values", {}).values():
                if isinstance(v, str):
                    seen.add("wrong_type")
                elif isinstance(v, float) and abs(v) > 1e15:
                    seen.add("huge")
    assert seen == set(sim_devices.faults.MALFORMED_KINDS) if out["faults"]["malformed"] > 40 else len(seen) >= 5
