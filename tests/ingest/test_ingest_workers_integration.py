"""Several workers share $share/ingest; shrinking the worker count retires the removed sessions
without losing what was queued for them; `ecm ingest status` reports the workers."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ingest.conftest import ROOT, Publisher, count_points, now_ms, readings, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_two_workers_then_one_retires_the_other_session(stack, bridge):
    cl, meter, n = stack.client(), "e10_elec_main", 4000
    base = now_ms() - 4 * 86400_000
    items = readings("e10", meter, base, n, 10)
    bridge.start("--workers", "2")
    bridge.wait_ready("ingest-0")
    bridge.wait_ready("ingest-1")
    pub = Publisher(stack, "e10")
    assert set(pub.publish(items[:2000])) == {0}
    assert wait_for(lambda: count_points(cl, meter, base, base + n * 10) == 2000, 30)
    def acked(w):
        return json.loads((stack.state_dir / "ingest" / f"health-ingest-{w}.json").read_text())["stats"].get(
            "messages_acked", 0)

    assert wait_for(lambda: acked(0) > 0 and acked(1) > 0 and acked(0) + acked(1) >= 2000, 10), \
        "both workers share the load"
    assert bridge.stop() == 0
    # both sessions now queue their share while nothing runs
    assert set(pub.publish(items[2000:])) == {0}
    pub.close()
    bridge.start("--workers", "1")
    assert wait_for(lambda: count_points(cl, meter, base, base + n * 10) == n, 60), "retired session drained"
    r = subprocess.run([str(Path(sys.executable).parent / "ecm"), "ingest", "status", "--json"], cwd=ROOT,
                       env=bridge.env, capture_output=True, text=True, timeout=60)
    docs = {d["worker"]: d for d in json.loads(r.stdout)}
    assert docs["ingest-0"]["ok"] and docs["ingest-0"]["connected"] and "ingest-1" in docs
    assert wait_for(lambda: json.loads((stack.state_dir / "ingest" / "workers.json").read_text())["workers_max"] == 1,
                    30)
