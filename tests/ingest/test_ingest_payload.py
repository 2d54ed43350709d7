"""The pure parser: hand-written hostile corpus and a hypothesis fuzz run (≥ 5,000 payloads)."""
from __future__ import annotations

import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecm.registry import get_registry
from ingest.payload import REASONS, Limits, RegistryIndex, parse_payload, parse_ts_ms
from tests.ingest.hostile import CORPUS, E, M, render

NOW_MS = 1_772_000_000_000  # fixed receive time: 2026-02-25T06:13:20Z
IDX = RegistryIndex.from_registry(get_registry())
LIMITS = Limits()
LINE_RE = re.compile(r"^readings,enterprise=(\w+),meter=(\w+),quantity=(\w+) (\w+)=([-0-9.e+]+),"
                     r"received_ms=(\d+)i(?:,seq=(\d+)i)? (-?\d+)$")


@pytest.mark.parametrize("name,topic,payload,reasons,n_good", CORPUS, ids=[c[0] for c in CORPUS])
def test_hostile_corpus(name, topic, payload, reasons, n_good):
    r = parse_payload(topic, render(payload, NOW_MS), IDX, NOW_MS, LIMITS)
    assert sorted(x.reason for x in r.rejects) == sorted(reasons)
    assert all(x.reason in REASONS and x.topic == topic for x in r.rejects)
    assert len(r.points) == n_good
    for line in r.points:
        assert LINE_RE.match(line), line


def test_corpus_is_large_enough():
    assert sum(1 for c in CORPUS if c[3]) >= 50


def test_good_single_reading_line_is_exact():
    r = parse_payload(f"ecm/v1/{E}/{M}/reading", b'{"ts": "2026-02-25T14:13:20.123+08:00", "values": {"energy_kwh": 7}, '
                      b'"seq": 3}', IDX, NOW_MS, LIMITS)
    assert r.rejects == []
    assert r.points == [f"readings,enterprise={E},meter={M},quantity=energy_kwh energy_kwh=7.0,"
                        f"received_ms={NOW_MS}i,seq=3i 1772000000123"]


def test_ts_forms_and_limits():
    assert parse_ts_ms("2024-03-01T08:15:00+08:00") == parse_ts_ms("2024-03-01T00:15:00Z") == 1709252100000
    assert parse_ts_ms(1709252100000) == 1709252100000
    lim = Limits(max_age_s=60, max_future_s=10)
    t = f"ecm/v1/{E}/{M}/reading"
    ok = parse_payload(t, b'{"ts": %d, "values": {"energy_kwh": 1}}' % (NOW_MS - 60_000), IDX, NOW_MS, lim)
    old = parse_payload(t, b'{"ts": %d, "values": {"energy_kwh": 1}}' % (NOW_MS - 60_001), IDX, NOW_MS, lim)
    fut = parse_payload(t, b'{"ts": %d, "values": {"energy_kwh": 1}}' % (NOW_MS + 10_001), IDX, NOW_MS, lim)
    assert len(ok.points) == 1 and old.rejects[0].reason == "ts_too_old" and fut.rejects[0].reason == "ts_future"


def test_status_and_stats_points():
    s = parse_payload(f"ecm/v1/{E}/gateway/status", b" offline\n", IDX, NOW_MS, LIMITS)
    assert s.points == [f'device_status,enterprise={E},meter=gateway online=0i,state="offline" {NOW_MS}']
    s = parse_payload(f"ecm/v1/{E}/{M}/status", b'{"state": "on\\"line", "ts": 1}', IDX, NOW_MS, LIMITS)
    assert s.points == [f'device_status,enterprise={E},meter={M} online=0i,state="on\\"line" {NOW_MS}']
    m = parse_payload(f"ecm/v1/{E}/stats/monthly", b'{"month": "2024-01", "output_value_10k_cny": 1, '
                      b'"value_added_current_10k_cny": 2.5, "deflator_index": 1.0}', IDX, NOW_MS, LIMITS)
    # 2024-01-01 00:00 Asia/Shanghai = 2023-12-31T16:00Z
    assert m.points == [f"enterprise_monthly,enterprise={E} output_value_10k_cny=1.0,value_added_current_10k_cny=2.5,"
                        f"deflator_index=1.0 1704038400000"]


def test_stats_deprecated_value_added_alias():
    """value_added_10k_cny (the pre-rename name of value added at current prices) is still accepted,
    stored under the new name; given with the new key it must be equal, else the message is rejected."""
    topic = f"ecm/v1/{E}/stats/monthly"
    want = [f"enterprise_monthly,enterprise={E} output_value_10k_cny=1.0,value_added_current_10k_cny=2.5,"
            f"deflator_index=1.0 1704038400000"]
    old = parse_payload(topic, b'{"month": "2024-01", "output_value_10k_cny": 1, "value_added_10k_cny": 2.5, '
                        b'"deflator_index": 1.0}', IDX, NOW_MS, LIMITS)
    assert (old.points, old.rejects) == (want, [])
    same = parse_payload(topic, b'{"month": "2024-01", "output_value_10k_cny": 1, "value_added_10k_cny": 2.5, '
                         b'"value_added_current_10k_cny": 2.5, "deflator_index": 1.0}', IDX, NOW_MS, LIMITS)
    assert (same.points, same.rejects) == (want, [])
    clash = parse_payload(topic, b'{"month": "2024-01", "output_value_10k_cny": 1, "value_added_10k_cny": 2.4, '
                          b'"value_added_current_10k_cny": 2.5, "deflator_index": 1.0}', IDX, NOW_MS, LIMITS)
    assert clash.points == [] and [r.reason for r in clash.rejects] == ["stats_invalid"]
    assert clash.rejects[0].detail == ("value_added_10k_cny (deprecated alias) = 2.4 differs from "
                                       "value_added_current_10k_cny = 2.5")


# -- fuzz ----------------------------------------------------------------------------------------
_meters = sorted(IDX.meters)
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                      st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_any = st.recursive(json_leaf, lambda ch: st.one_of(st.lists(ch, max_size=4),
                                                        st.dictionaries(st.text(max_size=8), ch, max_size=4)),
                        max_leaves=12)
ts_value = st.one_of(st.integers(min_value=NOW_MS - 8 * 86400_000, max_value=NOW_MS + 600_000),
                     st.sampled_from(["2026-02-25T14:00:00+08:00", "2026-02-25T06:00:00Z", "2026-02-25T06:00:00",
                                      "bad", ""]), json_leaf)
quantity = st.sampled_from(["energy_kwh", "gas_m3", "power_kw", "temperature_c", "coal_t", "x"])
reading = st.fixed_dictionaries({"ts": ts_value, "values": st.one_of(
    st.dictionaries(quantity, st.one_of(st.floats(allow_nan=True), st.integers(), json_leaf), max_size=2), json_any)},
    optional={"seq": st.one_of(st.integers(min_value=-5, max_value=2**64), json_leaf),
              "meter": st.sampled_from(_meters[:20] + ["nope", ""])})
doc = st.one_of(reading, st.fixed_dictionaries({"readings": st.lists(st.one_of(reading, json_any), max_size=6)}),
                json_any)


def _encode(d) -> bytes:
    return json.dumps(d, allow_nan=True).encode()


payloads = st.one_of(doc.map(_encode), st.binary(max_size=64), doc.map(_encode).map(lambda b: b[: len(b) // 2]))
topics = st.one_of(
    st.builds(lambda e, m, k: f"ecm/v1/{e}/{m}/{k}", st.sampled_from(sorted(IDX.enterprises)[:5] + ["zz", "ingest"]),
              st.sampled_from(_meters[:30] + ["gateway", "stats", "bogus"]),
              st.sampled_from(["reading", "status", "monthly", "x"])),
    st.text(max_size=30))


@settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
@given(topic=topics, payload=payloads)
def test_fuzz_parser_never_raises_and_accounts_for_every_reading(topic, payload):
    r = parse_payload(topic, payload, IDX, NOW_MS, LIMITS)
    assert all(x.reason in REASONS and x.detail is not None for x in r.rejects)
    readings = [p for p in r.points if p.startswith("readings,")]
    if r.n_readings:
        assert len(readings) + len(r.rejects) == r.n_readings
    else:
        assert not readings and len(r.rejects) <= 1
    parts = topic.split("/")
    for line in readings:
        m = LINE_RE.match(line)
        assert m, line
        ent, meter, qty, field, value, rec, _seq, ts = m.groups()
        assert ent == parts[2] and IDX.meters[meter] == (ent, qty) and field == qty
        assert math.isfinite(float(value)) and abs(float(value)) < 1e15 and int(rec) == NOW_MS
        assert NOW_MS - LIMITS.max_age_s * 1000 <= int(ts) <= NOW_MS + LIMITS.max_future_s * 1000


@settings(max_examples=1000, deadline=None)
@given(meter=st.sampled_from(_meters), ts_off_ms=st.integers(min_value=-7 * 86400_000, max_value=300_000),
       value=st.floats(min_value=-1e14, max_value=1e14, allow_nan=False), seq=st.integers(0, 2**62))
def test_fuzz_valid_readings_always_land_exactly(meter, ts_off_ms, value, seq):
    ent, qty = IDX.meters[meter]
    if meter in IDX.counters:  # a counter register never reads below 0 (value_negative)
        value = abs(value)
    body = json.dumps({"ts": NOW_MS + ts_off_ms, "values": {qty: value}, "seq": seq}).encode()
    r = parse_payload(f"ecm/v1/{ent}/{meter}/reading", body, IDX, NOW_MS, LIMITS)
    assert r.rejects == []
    assert r.points == [f"readings,enterprise={ent},meter={meter},quantity={qty} {qty}={float(value)!r},"
                        f"received_ms={NOW_MS}i,seq={seq}i {NOW_MS + ts_off_ms}"]
