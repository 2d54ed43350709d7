"""Stop means stop (issue #13): SIGTERM ends the bridge within 10 s during a crash loop and during a
30 s InfluxDB outage, and nothing acknowledged to a gateway is lost."""
from __future__ import annotations

import shutil
import signal
import threading
import time

import pytest

from tests.ingest.conftest import Publisher, count_points, now_ms, readings, stream, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _sigterm_exit_s(bridge) -> float:
    t = time.monotonic()
    bridge.proc.send_signal(signal.SIGTERM)
    bridge.proc.wait(30)
    return time.monotonic() - t


def test_sigterm_during_a_crash_loop_exits_within_10s_and_loses_nothing(stack, bridge):
    cl, meter = stack.client(), "e08_elec_main"
    base = now_ms() - 6 * 86400_000 + 3_600_000
    bridge.start().wait_ready()  # the session exists and is subscribed
    assert bridge.stop() == 0
    spool = stack.state_dir / "ingest" / "spool" / "ingest-0"
    assert not list(spool.glob("*.spool"))
    shutil.rmtree(spool)
    spool.write_text("not a folder")  # every worker incarnation now fails at start: a crash loop
    log_file = stack.state_dir / "ingest-bridge.log"
    log_at = log_file.stat().st_size
    try:
        bridge.start()
        pub = Publisher(stack, "e08")
        assert set(pub.publish(readings("e08", meter, base, 500, 100))) == {0}  # queued in the session
        pub.close()
        assert wait_for(lambda: log_file.read_bytes()[log_at:].count(b"worker_failed_restarting") >= 2, 30)
        time.sleep(0.3)  # inside a restart back-off
        assert bridge.alive
        took = _sigterm_exit_s(bridge)
        assert took <= 10.0, f"exit took {took:.1f} s"
    finally:
        spool.unlink()
        spool.mkdir()
    bridge.start().wait_ready()
    assert wait_for(lambda: count_points(cl, meter, base, base + 50_000) >= 500, 30)
    time.sleep(0.5)
    assert count_points(cl, meter, base, base + 50_000) == 500


def test_sigterm_during_a_30s_influx_outage_exits_within_10s_and_loses_nothing(stack, bridge):
    cl, meter = stack.client(), "e09_elec_main"
    base = now_ms() - 6 * 86400_000 + 2 * 3_600_000
    n = 6000
    bridge.start().wait_ready()
    pub = Publisher(stack, "e09")
    out: dict = {}
    t = threading.Thread(target=stream, args=(pub, readings("e09", meter, base, n, 10)),
                         kwargs={"out": out, "chunk": 200, "pause_s": 0.2})
    t.start()
    assert wait_for(lambda: count_points(cl, meter, base, base + n * 10) > 200, 30, 0.05)
    stack.influx.stop()
    t_down = time.monotonic()
    try:
        time.sleep(5)
        took = _sigterm_exit_s(bridge)  # mid-outage, mid-stream, spool in use
        assert took <= 10.0, f"exit took {took:.1f} s"
        assert bridge.proc.returncode == 0
        bridge.start()
        while time.monotonic() - t_down < 30:
            time.sleep(0.5)
        assert bridge.alive
    finally:
        stack.influx.start()
    t.join(120)
    pub.close()
    assert set(out["codes"]) == {0} and len(out["codes"]) == n
    assert wait_for(lambda: count_points(cl, meter, base, base + n * 10) >= n, 90)
    time.sleep(1.0)
    assert count_points(cl, meter, base, base + n * 10) == n
