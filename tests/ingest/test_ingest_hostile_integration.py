"""Hostile input through the real broker: the bridge survives, every bad reading is quarantined
with its reason (file and ingest_rejects), good readings land; ACL denials never reach InfluxDB."""
from __future__ import annotations

import base64
import json
import random
import time

import pytest

from ecm.registry import get_registry
from ingest.payload import Limits, RegistryIndex, parse_payload
from tests.ingest.conftest import Publisher, count_points, now_ms, wait_for
from tests.ingest.hostile import CORPUS, E, M, render

pytestmark = pytest.mark.integration


def _quarantine(stack) -> list[dict]:
    out = []
    for f in sorted((stack.state_dir / "ingest" / "quarantine").glob("*.jsonl")):
        out += [json.loads(line) for line in f.read_text().splitlines()]
    return out


def _mutations(seed: int, n: int, t_ms: int) -> list[tuple[str, bytes]]:
    """Random byte flips, truncations and splices of the corpus (a fuzz run through the broker)."""
    rnd = random.Random(seed)
    bases = [(t, render(p, t_ms)) for _, t, p, _, _ in CORPUS if len(p) < 5000]
    out = []
    for _ in range(n):
        t, p = rnd.choice(bases)
        op = rnd.randrange(3)
        if op == 0 and p:
            b = bytearray(p)
            for _ in range(rnd.randint(1, 3)):
                b[rnd.randrange(len(b))] = rnd.randrange(256)
            p = bytes(b)
        elif op == 1:
            p = p[: rnd.randrange(len(p) + 1)]
        else:
            p = p + rnd.choice(bases)[1][: rnd.randrange(20)]
        out.append((t, p))
    return out


def test_hostile_corpus_and_fuzz_through_broker(stack, bridge):
    cl = stack.client()
    t_start = now_ms()
    bridge.start().wait_ready()
    corpus = [(t, render(p, t_start)) for _, t, p, _, _ in CORPUS]
    fuzz = _mutations(7, 500, t_start)
    pub = Publisher(stack, E)
    assert set(pub.publish(corpus + fuzz)) == {0}
    pub.close()
    idx, lim = RegistryIndex.from_registry(get_registry()), Limits()
    expected = [parse_payload(t, p, idx, t_start, lim) for t, p in corpus + fuzz]
    n_rejects = sum(len(r.rejects) for r in expected)
    # only this test's topics: the session's broker may still deliver other tests' retained messages
    topics = {t for t, _ in corpus + fuzz}
    assert wait_for(lambda: sum(len(q["rejects"]) for q in _quarantine(stack)
                                if q["received_ms"] >= t_start and q["topic"] in topics)
                    >= n_rejects, 30)
    assert bridge.alive
    q = [x for x in _quarantine(stack) if x["received_ms"] >= t_start and x["topic"] in topics]
    assert sum(len(x["rejects"]) for x in q) == n_rejects
    # every hand-written bad message is in the file with its reasons and raw payload
    records = [(x["topic"], x["payload"], x["payload_encoding"], sorted(r["reason"] for r in x["rejects"])) for x in q]
    for (name, t, p, reasons, _), (_, raw) in zip(CORPUS, corpus):
        if not reasons:
            continue
        try:
            text, enc = raw[:256 * 1024].decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, enc = base64.b64encode(raw).decode(), "base64"
        assert (t, text, enc, sorted(reasons)) in records, name
    # ingest_rejects carries one point per rejected reading
    # (not counting retained statuses the gateway tests leave for their own registry's e01_gw_* meters)
    df = cl.query_frame(f"SELECT count(detail) FROM ingest_rejects WHERE time >= {t_start}ms "
                        "AND topic !~ /^ecm\\/v1\\/e01\\/e01_gw_/ GROUP BY reason")
    assert int(df.iloc[:, -1].sum()) == n_rejects
    # good readings land: hand-written good ones + whatever the fuzz left valid
    want = {int(p.rsplit(" ", 1)[1]) for r in expected for p in r.points if p.startswith(f"readings,enterprise={E},meter={M},")}
    assert len(want) >= 2

    def got():
        df = cl.query_frame(f"SELECT energy_kwh, received_ms FROM readings WHERE meter = '{M}' AND "
                            f"received_ms >= {t_start} AND time >= {t_start - 8 * 86400_000}ms")
        return set() if df.empty else {int(t.value // 1_000_000) for t in df["time"]}

    assert wait_for(lambda: got() == want, 20)


def test_acl_enterprise_cannot_publish_to_other_nor_subscribe(stack, bridge):
    cl = stack.client()
    t0 = now_ms()
    bridge.start().wait_ready()
    a = Publisher(stack, "e08")
    seen = []
    a.c.on_message = lambda c, u, m: seen.append(m.topic)
    a.c.subscribe("ecm/v1/#", qos=1)
    a.c.subscribe("$share/ingest/ecm/v1/#", qos=1)
    time.sleep(0.3)
    foreign = [("ecm/v1/e09/e09_elec_main/reading", json.dumps({"ts": t0 - 1000, "values": {"energy_kwh": 1.0}})),
               ("ecm/v1/e09/stats/monthly", json.dumps({"month": "2024-04", "output_value_10k_cny": 1,
                                                         "value_added_current_10k_cny": 1, "deflator_index": 1}))]
    assert a.publish(foreign) == [0x87, 0x87]
    # e08's own topic naming e09's meter: passes the broker, rejected by the bridge's double-check
    own = [("ecm/v1/e08/gateway/reading",
            json.dumps({"readings": [{"meter": "e09_elec_main", "ts": t0 - 2000, "values": {"energy_kwh": 2.0}}]}))]
    assert a.publish(own) == [0]
    b = Publisher(stack, "e09")
    assert b.publish([("ecm/v1/e09/e09_elec_main/status", "online")]) == [0]
    b.close()
    assert wait_for(lambda: any(r["reason"] == "meter_not_owned" for x in _quarantine(stack)
                                if x["received_ms"] >= t0 for r in x["rejects"]), 20)
    time.sleep(1.0)
    a.close()
    assert seen == []
    # neither of the two e09 readings above (at t0-1000 and t0-2000) was stored
    assert count_points(cl, "e09_elec_main", t0 - 2000, t0 - 2000) == 0
    assert count_points(cl, "e09_elec_main", t0 - 1000, t0 - 1000) == 0
    assert cl.query_frame("SELECT * FROM enterprise_monthly WHERE enterprise = 'e09' AND "
                          "time = '2024-03-31T16:00:00Z'").empty
    assert not any("e09/e09_elec_main/reading" in x["topic"] for x in _quarantine(stack) if x["received_ms"] >= t0)
