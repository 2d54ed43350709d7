"""End to end through the real broker and InfluxDB: readings, batches, gateway, status, stats,
idempotent re-sends, SIGTERM shutdown and the ingest_stats / health output."""
from __future__ import annotations

import json

import pytest

from tests.ingest.conftest import Publisher, count_points, now_ms, wait_for

pytestmark = pytest.mark.integration


def test_readings_status_and_stats_land_once(stack, bridge):
    cl = stack.client()
    base = now_ms() - 2 * 86400_000  # this test's device-time window
    bridge.start().wait_ready()
    pub = Publisher(stack, "e02")
    single = [("ecm/v1/e02/e02_elec_main/reading",
               json.dumps({"ts": base + i * 1000, "values": {"energy_kwh": 1000.0 + i}, "seq": i})) for i in range(50)]
    batch = [("ecm/v1/e02/e02_elec_main/reading",
              json.dumps({"readings": [{"ts": base + 100_000 + i * 1000, "values": {"energy_kwh": 2000.0 + i}}
                                       for i in range(25)]}))]
    gw = [("ecm/v1/e02/gateway/reading",
           json.dumps({"readings": [{"meter": "e02_elec_main", "ts": base + 200_000, "values": {"energy_kwh": 3000}}]}))]
    status = [("ecm/v1/e02/gateway/status", "online"), ("ecm/v1/e02/e02_elec_main/status", '{"state": "maintenance"}')]
    # a month outside the seeded district's history (2022 on), which later tests compare against truth
    stats = [("ecm/v1/e02/stats/monthly", json.dumps({"month": "2019-03", "output_value_10k_cny": 5230.5,
                                                       "value_added_10k_cny": 1450.2, "deflator_index": 1.031}))]
    assert set(pub.publish(single + batch + gw + status + stats)) == {0}
    assert wait_for(lambda: count_points(cl, "e02_elec_main", base, base + 300_000) == 76, 30)
    # re-sending the same readings overwrites: still 76 points
    assert set(pub.publish(single + batch)) == {0}
    st = wait_for(lambda: not cl.query_frame(
        "SELECT * FROM device_status WHERE enterprise = 'e02' AND meter = 'e02_elec_main'").empty, 20)
    assert st
    assert count_points(cl, "e02_elec_main", base, base + 300_000) == 76
    df = cl.query_frame(f"SELECT energy_kwh, received_ms, seq FROM readings WHERE meter = 'e02_elec_main' "
                        f"AND time >= {base}ms AND time < {base + 50_000}ms")
    assert len(df) == 50 and df["energy_kwh"].tolist() == [1000.0 + i for i in range(50)]
    assert (df["received_ms"] >= now_ms() - 120_000).all() and df["seq"].tolist() == list(range(50))
    ds = cl.query_frame("SELECT last(online) AS online, last(state) AS state FROM device_status "
                        "WHERE enterprise = 'e02' GROUP BY meter")
    got = dict(zip(ds["meter"], zip(ds["online"], ds["state"])))
    assert got["gateway"] == (1, "online") and got["e02_elec_main"] == (0, "maintenance")
    mo = cl.query_frame("SELECT * FROM enterprise_monthly WHERE enterprise = 'e02'")
    row = mo[mo["time"] == "2019-02-28T16:00:00Z"].iloc[0]
    assert (row.output_value_10k_cny, row.value_added_10k_cny, row.deflator_index) == (5230.5, 1450.2, 1.031)
    pub.close()
    # clean SIGTERM: exit 0, final ingest_stats point and health file written
    assert bridge.stop() == 0
    health = json.loads((stack.state_dir / "ingest" / "health-ingest-0.json").read_text())
    # 106 messages of this test, plus any retained status messages other tests left on the broker
    # (a fresh subscription receives them): every message received was acknowledged
    assert health["stopped"] and health["stats"]["messages_acked"] == health["stats"]["messages_in"] >= 106
    assert health["devices"]["e02/gateway"]["state"] == "online"
    s = cl.query_frame("SELECT last(messages_acked) FROM ingest_stats WHERE worker = 'ingest-0'")
    assert not s.empty and s.iloc[0, -1] == health["stats"]["messages_acked"]
