"""Quotas and full disks (issue #13): the quarantine stays under its caps through 400 oversize
messages, keeping every reason without the payload past them; on a full disk (a tmpfs the test
mounts) the bridge stops acking and, once space frees, resumes with no loss."""
from __future__ import annotations

import json
import math
import os
import subprocess
import time
import urllib.request

import pytest

from ecm.services import free_port
from tests.ingest.conftest import Publisher, count_points, now_ms, readings, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MiB = 2**20


def _lines(qdir, tenant: str, t0: int) -> list[dict]:
    out = []
    for f in qdir.glob(f"{tenant}.*.jsonl"):
        out += [x for x in map(json.loads, f.read_text().splitlines()) if x["received_ms"] >= t0]
    return out


def test_quarantine_stays_under_its_caps_through_400_oversize_messages(stack, bridge_env, bridge):
    cl = stack.client()
    qdir = stack.state_dir / "ingest" / "quarantine"
    qdir.mkdir(parents=True, exist_ok=True)
    total0 = sum(f.stat().st_size for f in qdir.iterdir())
    cap_total = math.ceil(total0 / MiB) + 6
    bridge_env.update({"ECM_INGEST_QUARANTINE_TENANT_MAX_MB": "2", "ECM_INGEST_QUARANTINE_MAX_MB": str(cap_total)})
    t0 = now_ms()
    bridge.start().wait_ready()
    pub = Publisher(stack, "e13")
    big = b'{"ts": %d, "values": {"energy_kwh": 1}, "pad": "' % (t0 - 1000) + b"x" * (300 * 1024) + b'"}'
    for _ in range(8):
        assert set(pub.publish([("ecm/v1/e13/e13_elec_main/reading", big)] * 50)) == {0}
    pub.close()

    def n_rejects():
        df = cl.query_frame(f"SELECT count(detail) FROM ingest_rejects WHERE reason = 'payload_too_large' "
                            f"AND enterprise_claimed = 'e13' AND time >= {t0}ms")
        return 0 if df.empty else int(df.iloc[0, -1])

    assert wait_for(lambda: n_rejects() >= 400, 60)  # every reason kept, as a point
    time.sleep(1.5)
    assert n_rejects() == 400
    lines = _lines(qdir, "e13", t0)
    full = [x for x in lines if x["payload"] is not None]
    omitted = [x for x in lines if x.get("payload_omitted") == "tenant_cap"]
    stats = json.loads((stack.state_dir / "ingest" / "health-ingest-0.json").read_text())["stats"]
    assert len(full) + len(omitted) + stats.get("quarantine_lines_dropped", 0) == 400
    assert len(omitted) == stats["quarantine_payloads_omitted"] > 0 and 1 <= len(full) <= 8
    assert all(x["rejects"][0]["reason"] == "payload_too_large" and x["payload_bytes"] == len(big) for x in omitted)
    e13_bytes = sum(f.stat().st_size for f in qdir.glob("e13.*.jsonl"))
    assert e13_bytes <= 2 * MiB
    assert sum(f.stat().st_size for f in qdir.iterdir()) <= cap_total * MiB
    # payload-holding state files are private to the service user
    assert {oct(f.stat().st_mode & 0o777) for f in qdir.glob("e13.*.jsonl")} == {"0o600"}
    assert oct((stack.state_dir / "ingest" / "health-ingest-0.json").stat().st_mode & 0o777) == "0o600"


def _health_http(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:  # 503 still carries the figures
        return json.loads(exc.read())


def test_full_disk_stops_acking_and_resumes_without_loss(stack, bridge_env, bridge):
    cl, meter = stack.client(), "e14_elec_main"
    base = now_ms() - 6 * 86400_000 + 4 * 3_600_000
    ingest_dir = stack.state_dir / "ingest"
    hport = free_port()
    bridge_env["ECM_INGEST_HEALTH_PORT"] = str(hport)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(ingest_dir)], check=True)
    filler = ingest_dir / "filler"
    log_file = stack.state_dir / "ingest-bridge.log"
    log_at = log_file.stat().st_size
    try:
        bridge.start().wait_ready()
        stack.influx.stop()  # good readings now need the spool, bad ones the quarantine
        with open(filler, "wb") as fh:  # fill the disk
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        acked0 = _health_http(hport)["stats"].get("messages_acked", 0)
        pub = Publisher(stack, "e14")
        good = readings("e14", meter, base, 300, 1000)
        bad = [("ecm/v1/e14/e14_elec_main/reading", b'{"ts": %d, "values": ' % (base + k)) for k in range(50)]
        assert set(pub.publish(good + bad)) == {0}  # the broker holds them for the session
        time.sleep(4)
        h = _health_http(hport)
        assert bridge.alive and h["stats"].get("messages_acked", 0) == acked0, "nothing acked on a full disk"
        assert h["stats"].get("disk_full_waits", 0) > 0 or h["stats"].get("spool_alarm", 0) == 1
        filler.unlink()  # space frees
        stack.influx.start()
        assert wait_for(lambda: count_points(cl, meter, base, base + 300_000) >= 300, 60)
        assert wait_for(lambda: len(_lines(ingest_dir / "quarantine", "e14", base - 86400_000)) >= 50, 30)
        time.sleep(1.0)
        assert count_points(cl, meter, base, base + 300_000) == 300
        q = _lines(ingest_dir / "quarantine", "e14", base - 86400_000)
        assert len(q) == 50 and {x["rejects"][0]["reason"] for x in q} == {"json_invalid"}
        assert wait_for(lambda: _health_http(hport)["stats"].get("messages_acked", 0) >= acked0 + 350, 20)
        pub.close()
        log = log_file.read_bytes()[log_at:].decode("utf-8", "replace")
        assert "worker_failed_restarting" not in log and "Traceback" not in log
        assert bridge.stop() == 0
    finally:
        if not stack.influx.status().running:
            stack.influx.start()
        if bridge.alive:
            bridge.stop()
        subprocess.run(["umount", str(ingest_dir)], check=False)
    assert not os.path.ismount(ingest_dir)
