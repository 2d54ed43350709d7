"""The onboarding path of docs/contracts.md: `ecm credentials` → `mosquitto_pub` → ingest → `ecm query`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def test_reading_published_with_mosquitto_pub_shows_up_in_ecm_query(stack):
    creds = json.loads(subprocess.run([str(BIN / "ecm"), "credentials", "e07"], capture_output=True, text=True,
                                      check=True).stdout)
    bridge = subprocess.Popen([sys.executable, "-m", "ingest"], env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # publish once the bridge is subscribed (a publish before that is answered 0x10 and dropped)
        health = stack.state_dir / "ingest" / "health-ingest-0.json"
        t_start = time.time() * 1000
        for _ in range(600):
            try:
                h = json.loads(health.read_text())
                if h.get("subscribed") and h.get("time_ms", 0) >= t_start:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        ts = datetime.now(timezone.utc).replace(microsecond=0)
        payload = json.dumps({"ts": ts.isoformat(), "values": {"energy_kwh": 4321.5}, "seq": 1})
        subprocess.run(["mosquitto_pub", "-h", creds["host"], "-p", str(creds["port"]), "-V", "mqttv5", "-q", "1",
                        "-u", creds["username"], "-i", creds["client_id"], "-P", creds["password"],
                        "-t", creds["reading_topic"].replace("{meter_id}", "e07_elec_main"), "-m", payload],
                       check=True, timeout=10)
        q = "SELECT energy_kwh FROM readings WHERE meter = 'e07_elec_main' AND energy_kwh = 4321.5"
        out = ""
        for _ in range(50):
            out = subprocess.run([str(BIN / "ecm"), "query", q, "--format", "json"], capture_output=True,
                                 text=True).stdout
            if "4321.5" in out:
                break
            time.sleep(0.2)
        rows = json.loads(out)
        assert len(rows) == 1 and rows[0]["energy_kwh"] == 4321.5
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(30)
