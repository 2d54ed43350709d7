"""The bridge's MQTT session against the real broker: memory bounded by bytes, nothing lost.

Large gateway batches (~60 kB each) are published while the consumer does not take them: the
reader must stop reading once its byte bounds are reached (the broker keeps the rest), then deliver
every message, exactly once each, as the consumer takes, acks and releases them.
"""
from __future__ import annotations

import json
import time
from collections import deque

from ingest.session import RECV_CHUNK, SessionClient
from tests.ingest.conftest import Publisher, now_ms, wait_for

METER, ENT = "e19_elec_main", "e19"


def _batch(base: int, k: int) -> bytes:
    return json.dumps({"readings": [{"ts": base + k * 2000 + i, "values": {"energy_kwh": float(i)}}
                                    for i in range(1500)]}).encode()


def test_reader_stops_at_the_byte_bound_and_then_delivers_every_message(stack):
    inbox: deque = deque()
    c = SessionClient(f"ingest-session-test-{time.monotonic_ns()}", "ingest", stack.mqtt_password("ingest"),
                      stack.mqtt_host, stack.mqtt_port, f"ecm/v1/{ENT}/{METER}/reading", inbox=inbox,
                      session_expiry_s=0, max_unacked_bytes=10 * RECV_CHUNK, read_ahead_bytes=10 * RECV_CHUNK)
    subscribed = []
    c.on_subscribe = lambda ok, codes: subscribed.append(ok)
    c.start()
    pub = Publisher(stack, ENT)
    try:
        assert wait_for(lambda: subscribed == [True], 10)
        base = now_ms() - 3_600_000
        bodies = [_batch(base, k) for k in range(120)]  # 120 × ~60 kB = ~7 MB, bound ~2.6 MB
        size = len(bodies[0])
        assert all(code == 0 for code in pub.publish([(f"ecm/v1/{ENT}/{METER}/reading", b) for b in bodies]))
        time.sleep(1.0)
        held = sum(len(it[3]) for it in inbox)
        # bound + at most one recv chunk and one message beyond it
        assert held <= 10 * RECV_CHUNK + RECV_CHUNK + size, held
        assert len(inbox) < len(bodies), "the reader must stop before taking everything"
        got = []
        deadline = time.monotonic() + 60
        while len(got) < len(bodies) and time.monotonic() < deadline:
            items = [inbox.popleft() for _ in range(len(inbox))]
            if not items:
                time.sleep(0.05)
                continue
            n = sum(len(it[2]) + len(it[3]) for it in items)
            c.taken(n)
            assert c.ack(items) == len(items)
            c.release(n)
            got.extend(it[3] for it in items)
        assert got == bodies  # every message, once, in order
        assert c.pending_bytes == 0 and c.queued_bytes == 0
    finally:
        pub.close()
        c.stop(session_expiry_s=0)
