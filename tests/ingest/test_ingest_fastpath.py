"""The fast path gives parse_payload's exact lines for the messages it takes, and declines the rest.

Property: for every (topic, payload), ``FastPath.lines`` is ``None`` or equal to
``parse_payload(...).points`` with no rejects. Checked on the hostile corpus, on hand-written
near-canonical messages (duplicate keys, escapes, negative counters, extra keys) and on 5,000+
generated payloads; and the fast path must actually take canonical messages.
"""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.fastpath import FastPath, line_prefix
from ingest.payload import parse_payload
from tests.ingest.hostile import CORPUS, render
from tests.ingest.test_ingest_payload import IDX, LIMITS, NOW_MS, doc, payloads

FP = FastPath(IDX, LIMITS)
_owned = sorted(IDX.meters)
COUNTER = next(m for m in _owned if m in IDX.counters)
NOT_COUNTER = next((m for m in _owned if m not in IDX.counters), None)


def _same(topic: str, payload: bytes) -> list[str] | None:
    fast = FP.lines(topic.encode("utf-8", "surrogatepass"), payload, NOW_MS)
    if fast is not None:
        slow = parse_payload(topic, payload, IDX, NOW_MS, LIMITS)
        assert slow.rejects == [], (topic, payload, slow.rejects)
        assert fast == slow.points, (topic, payload)
    return fast


def _topic(meter: str) -> str:
    return f"ecm/v1/{IDX.meters[meter][0]}/{meter}/reading"


@pytest.mark.parametrize("name,topic,payload,reasons,n_good", CORPUS, ids=[c[0] for c in CORPUS])
def test_hostile_corpus_fast_path_agrees_or_declines(name, topic, payload, reasons, n_good):
    fast = _same(topic, render(payload, NOW_MS))
    if reasons:
        assert fast is None, f"{name}: a message with rejects must go to parse_payload"


def test_canonical_messages_take_the_fast_path_with_exact_lines():
    m = COUNTER
    ent, q = IDX.meters[m]
    t = NOW_MS - 60_000
    single = b'{"ts":%d,"values":{"%s":12.5},"seq":7}' % (t, q.encode())
    assert _same(_topic(m), single) == [f"readings,enterprise={ent},meter={m},quantity={q} {q}=12.5,"
                                        f"received_ms={NOW_MS}i,seq=7i {t}"]
    spaced = b'{ "ts" : %d , "values" : { "%s" : 3 } }' % (t, q.encode())
    assert _same(_topic(m), spaced) == [f"readings,enterprise={ent},meter={m},quantity={q} {q}=3.0,"
                                        f"received_ms={NOW_MS}i {t}"]
    batch = json.dumps({"readings": [{"ts": t + k, "values": {q: k * 1.25}} for k in range(25)]}).encode()
    lines = _same(_topic(m), batch)
    assert lines is not None and len(lines) == 25 and lines[3].endswith(f"{q}=3.75,received_ms={NOW_MS}i {t + 3}")


@pytest.mark.parametrize("body,reason", [
    (b'{"ts":{t},"ts":{t},"values":{"Q":1}}', "json_duplicate_key"),
    (b'{"ts":{t},"values":{"Q":1,"Q":2}}', "json_duplicate_key"),
    (b'{"readings":[{"ts":{t},"values":{"Q":1}}],"readings":[]}', "json_duplicate_key"),
    (b'{"readings":[{"ts":{t},"values":{"Q":1},"seq":1,"seq":2}]}', "json_duplicate_key"),
    (b'{"ts":{t},"values":{"Q":1},"\\u0074s":5}', "json_duplicate_key"),
    (b'{"ts":{t},"values":{"Q":-1}}', "value_negative"),
    (b'{"ts":{t},"values":{"Q":NaN}}', "value_not_finite"),
    (b'{"ts":{t},"values":{"Q":1e400}}', "value_not_finite"),
    (b'{"ts":{t},"values":{"Q":true}}', "value_not_number"),
    (b'{"ts":{t},"values":{"Q":1},"seq":-1}', "seq_invalid"),
    (b'{"readings":[]}', "batch_empty"),
    (b'{"ts":1,"values":{"Q":1}}', "ts_too_old"),
])
def test_near_canonical_messages_are_declined_and_rejected_by_the_parser(body, reason):
    q = IDX.meters[COUNTER][1]
    p = body.replace(b"{t}", b"%d" % (NOW_MS - 1000)).replace(b"Q", q.encode())
    assert FP.lines(_topic(COUNTER).encode(), p, NOW_MS) is None
    assert reason in [r.reason for r in parse_payload(_topic(COUNTER), p, IDX, NOW_MS, LIMITS).rejects]


def test_other_topics_are_declined():
    e = sorted(IDX.enterprises)[0]
    other = next(m for m in _owned if IDX.meters[m][0] != e)
    good = b'{"ts":%d,"values":{"energy_kwh":1}}' % (NOW_MS - 1000)
    for t in (f"ecm/v1/{e}/{other}/reading", f"ecm/v1/{e}/gateway/reading", f"ecm/v1/{e}/nope/reading",
              f"ecm/v1/{e}/{other}/status", "ecm/v1/zz/x/reading", "ecm/v2/e01/e01_elec_main/reading"):
        assert FP.lines(t.encode(), good, NOW_MS) is None, t


def test_line_prefix_is_the_maintained_serializers_and_values_match_it():
    from influxdb_client import Point

    for m in _owned:
        ent, q = IDX.meters[m]
        assert line_prefix(ent, m, q) == f"readings,enterprise={ent},meter={m},quantity={q} {q}="
    rng = random.Random(7)
    ent, q = IDX.meters[COUNTER]
    for _ in range(2000):
        v = rng.choice([rng.uniform(0, 1e14), rng.random(), float(rng.randrange(10**12)), 1e-7 * rng.random()])
        line = FP.lines(_topic(COUNTER).encode(), b'{"ts":%d,"values":{"%s":%s}}' % (NOW_MS, q.encode(), repr(v).encode()),
                        NOW_MS)[0]
        ours = line.split(" ")[1].split(",")[0].split("=")[1]
        theirs = Point("readings").field(q, v).to_line_protocol().split(" ")[1].split("=")[1]
        assert float(ours) == float(theirs) == v


_canonical = st.builds(
    lambda m, off, v, seq, n: (m, [{"ts": NOW_MS + off + k, "values": {IDX.meters[m][1]: v}, **({"seq": seq} if seq is not None else {})}
                                   for k in range(n)]),
    st.sampled_from(_owned), st.integers(-8 * 86400_000, 600_000),
    st.one_of(st.floats(allow_nan=False), st.integers(-2**60, 2**60)), st.one_of(st.none(), st.integers(-3, 2**64)),
    st.integers(0, 3))


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_canonical, batch=st.booleans(), mutate=st.sampled_from(["none", "none", "dup", "space", "tail", "cut"]))
def test_fuzz_near_canonical(case, batch, mutate):
    meter, items = case
    body = json.dumps({"readings": items} if batch or len(items) != 1 else items[0]).encode()
    if mutate == "dup":
        body = body.replace(b'"ts": ', b'"ts": 1, "ts": ', 1)
    elif mutate == "space":
        body = body.replace(b":", b" :\t")
    elif mutate == "tail":
        body = body + b" x"
    elif mutate == "cut":
        body = body[:-1]
    fast = _same(_topic(meter), body)
    if mutate in ("dup", "tail", "cut"):
        assert fast is None


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(meter=st.sampled_from(_owned), payload=st.one_of(payloads, doc.map(lambda d: json.dumps(d).encode())))
def test_fuzz_any_payload_on_owned_topics(meter, payload):
    _same(_topic(meter), payload)
