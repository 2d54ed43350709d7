"""A point InfluxDB refuses (HTTP 400 field type conflict) is quarantined as influx_rejected; the
rest of the batch lands and the bridge keeps acking."""
from __future__ import annotations

import json

import pytest

from tests.ingest.conftest import Bridge, Publisher, count_points, wait_for

pytestmark = pytest.mark.integration

T2001_MS = 978_307_200_000  # 2001-01-01T00:00:00Z: a shard no other test writes


def test_field_type_conflict_is_quarantined(stack, bridge_env):
    cl = stack.client()
    # poison output_t as a string field in this shard
    assert cl.write_body(b'readings,enterprise=e11,meter=x,quantity=output_t output_t="text" %d' % T2001_MS)[0] == 204
    env = dict(bridge_env, ECM_INGEST_MAX_AGE_S=str(40 * 365 * 86400))
    b = Bridge(env).start()
    try:
        b.wait_ready()
        pub = Publisher(stack, "e11")
        gw = {"readings": [{"meter": "e11_elec_main", "ts": T2001_MS + 1000, "values": {"energy_kwh": 1.0}},
                           {"meter": "e11_l1_output", "ts": T2001_MS + 2000, "values": {"output_t": 5.0}},
                           {"meter": "e11_elec_main", "ts": T2001_MS + 3000, "values": {"energy_kwh": 2.0}}]}
        assert pub.publish([("ecm/v1/e11/gateway/reading", json.dumps(gw))]) == [0]
        pub.close()
        assert wait_for(lambda: count_points(cl, "e11_elec_main", T2001_MS, T2001_MS + 10_000) == 2, 20)

        def rejected():
            for f in (stack.state_dir / "ingest" / "quarantine").glob("*.jsonl"):
                for line in f.read_text().splitlines():
                    d = json.loads(line)
                    if d["rejects"][0]["reason"] == "influx_rejected" and "e11_l1_output" in d["payload"]:
                        return d
            return None

        d = wait_for(rejected, 20)
        assert d and "conflict" in d["rejects"][0]["detail"]
        assert b.alive
    finally:
        assert b.stop() == 0
