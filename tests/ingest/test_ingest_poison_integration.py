"""No message can stop the bridge (issue #13): lone surrogates in a status or a batch meter id, and a
hypothesis fuzz of 5,000 status payloads, ids and nested structures, all through the real broker.
The worker never restarts, every bad message is quarantined with a reason, and another tenant's
100 readings land."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecm.registry import get_registry
from ingest.payload import REASONS, Limits, RegistryIndex, parse_payload
from tests.ingest.conftest import Publisher, count_points, now_ms, readings, wait_for

pytestmark = pytest.mark.integration
IDX = RegistryIndex.from_registry(get_registry())
E = "e03"
_meters = sorted(m for m, (e, _q) in IDX.meters.items() if e == E)

# strings with lone surrogates (JSON escapes them as \udXXX), control characters and plain ids
any_char = st.characters()
surrogate = st.characters(categories=["Cs"])
text = st.one_of(st.text(any_char, max_size=10), st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), surrogate,
                                                             st.text(max_size=3)), st.sampled_from(_meters + ["online"]))
leaf = st.one_of(st.none(), st.booleans(), st.integers(-2**64, 2**64), st.floats(allow_nan=True), text)
nested = st.recursive(leaf, lambda ch: st.one_of(st.lists(ch, max_size=4), st.dictionaries(text, ch, max_size=4)),
                      max_leaves=15)
ts = st.one_of(st.just("{now}"), st.integers(-2**63, 2**63), text)
item = st.fixed_dictionaries({"meter": st.one_of(st.sampled_from(_meters), text), "ts": ts,
                              "values": st.one_of(st.dictionaries(text, leaf, max_size=2), nested)})
status_doc = st.one_of(st.fixed_dictionaries({"state": text}), st.fixed_dictionaries({"state": nested}), nested)
batch_doc = st.one_of(st.fixed_dictionaries({"readings": st.lists(st.one_of(item, nested), max_size=5)}), nested)
# topic levels must be valid MQTT topics (the broker refuses others before the bridge sees them)
topic_id = st.one_of(st.sampled_from(_meters + ["gateway", "stats"]),
                     st.text(st.characters(exclude_categories=("Cs", "Cc", "Cn"), exclude_characters="/#+"),
                             min_size=1, max_size=12))


def _dump(d) -> bytes:
    return json.dumps(d, allow_nan=True).encode()


messages = st.one_of(
    st.tuples(st.builds(lambda m: f"ecm/v1/{E}/{m}/status", topic_id), st.one_of(status_doc.map(_dump),
                                                                                  st.binary(max_size=40))),
    st.tuples(st.builds(lambda m: f"ecm/v1/{E}/{m}/reading", topic_id), batch_doc.map(_dump)),
)


def _generate(n: int) -> list[tuple[str, bytes]]:
    out: list = []

    @settings(max_examples=n, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(messages)
    def collect(msg):
        out.append(msg)

    collect()
    return out


def _quarantine(stack, t0: int, topics: set[str] | None = None) -> list[dict]:
    """Quarantined messages received since ``t0`` (on ``topics`` only, when given: the session's
    broker may still deliver other tests' retained messages)."""
    out = []
    for f in sorted((stack.state_dir / "ingest" / "quarantine").glob("*.jsonl")):
        out += [x for x in map(json.loads, f.read_text().splitlines())
                if x["received_ms"] >= t0 and (topics is None or x["topic"] in topics)]
    return out


def test_poison_messages_and_5000_case_fuzz_never_stop_the_bridge(stack, bridge):
    cl = stack.client()
    t0 = now_ms()
    log_file = stack.state_dir / "ingest-bridge.log"
    log_at = log_file.stat().st_size if log_file.exists() else 0
    bridge.start().wait_ready()
    pid0 = json.loads((stack.state_dir / "ingest" / "health-ingest-0.json").read_text())["pid"]
    poison = [(f"ecm/v1/{E}/gateway/status", b'{"state":"\\ud800"}'),
              (f"ecm/v1/{E}/gateway/reading",
               b'{"readings":[{"meter":"\\ud800","ts":%d,"values":{"energy_kwh":1}}]}' % (t0 - 1000))]
    fuzz = _generate(5000)
    assert len(fuzz) >= 5000
    fuzz = [(t, p.replace(b'"{now}"', b"%d" % (t0 - 30_000))) for t, p in fuzz]
    pub = Publisher(stack, E)
    assert set(pub.publish(poison + fuzz)) == {0}
    pub.close()
    # another tenant's 100 readings, published after the poison
    base = t0 - 4 * 3_600_000
    other = Publisher(stack, "e05")
    assert set(other.publish(readings("e05", "e05_elec_main", base, 100, 1000))) == {0}
    other.close()
    lim = Limits()
    expected = [parse_payload(t, p, IDX, t0, lim) for t, p in poison + fuzz]
    n_bad_msgs = sum(1 for r in expected if r.rejects)
    assert [r.rejects[0].reason for r in expected[:2]] == ["text_invalid", "text_invalid"]
    assert wait_for(lambda: count_points(cl, "e05_elec_main", base, base + 100_000) >= 100, 60)
    topics = {t for t, _ in poison + fuzz}
    assert wait_for(lambda: len(_quarantine(stack, t0, topics)) >= n_bad_msgs, 60)
    q = _quarantine(stack, t0, topics)
    assert len(q) == n_bad_msgs
    assert all(r["reason"] in REASONS and r["reason"] != "internal_error" for x in q for r in x["rejects"])
    assert sum(len(x["rejects"]) for x in q) == sum(len(r.rejects) for r in expected)
    assert count_points(cl, "e05_elec_main", base, base + 100_000) == 100
    # the same process, never restarted; no internal error
    h = json.loads((stack.state_dir / "ingest" / "health-ingest-0.json").read_text())
    assert bridge.alive and h["pid"] == pid0 == bridge.proc.pid
    log = log_file.read_bytes()[log_at:].decode("utf-8", "replace")
    assert "worker_failed_restarting" not in log and "Traceback" not in log
    n_msgs = len(poison + fuzz) + 100
    assert wait_for(lambda: json.loads((stack.state_dir / "ingest" / "health-ingest-0.json").read_text())
                    ["stats"].get("messages_acked", 0) >= n_msgs, 10)
