"""The on-disk queue: order, removal, the disk cap (oldest first, counted, count kept), and
durability of committed rows across SIGKILL of the writing process."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from gateway.store import Queue
from gateway.uplink import MAX_PAYLOAD, batch_payloads, single_payload

ROOT = Path(__file__).resolve().parents[2]


def test_take_remove_in_order(tmp_path):
    q = Queue(tmp_path / "q.db", 10 * 1024 * 1024)
    q.put([("m1", "energy_kwh", 1000 + i, float(i)) for i in range(10)])
    rows = q.take(4)
    assert [r.id for r in rows] == [1, 2, 3, 4] and rows[0].meter == "m1" and rows[3].value == 3.0
    assert [r.id for r in q.take(3, exclude_below=5)] == [5, 6, 7]
    q.remove([1, 2, 3])
    assert q.pending() == 7 and [r.id for r in q.take(2)] == [4, 5]
    assert q.oldest_ts_ms() == 1003
    q.close()


def test_cap_drops_oldest_first_and_keeps_the_count(tmp_path):
    cap = 64 * 1024
    q = Queue(tmp_path / "q.db", cap)
    for k in range(40):
        q.put([("m1", "energy_kwh", k * 100 + i, float(k * 100 + i)) for i in range(100)])
    assert q.used_bytes() <= cap
    n, dropped = q.pending(), q.dropped
    assert dropped > 0 and n + dropped == 4000
    assert q.take(1)[0].id == dropped + 1            # survivors are exactly the newest
    q.close()
    q2 = Queue(tmp_path / "q.db", cap)
    assert q2.dropped == dropped and q2.pending() == n
    q2.close()
    assert (tmp_path / "q.db").stat().st_size <= 2 * cap     # freed pages reused: the file stays near the cap


def test_committed_rows_survive_sigkill(tmp_path):
    code = ("import sys; from gateway.store import Queue\n"
            f"q = Queue({str(tmp_path / 'q.db')!r}, 10**9)\n"
            "i = 0\n"
            "while True:\n"
            "    q.put([('m1', 'energy_kwh', i, float(i))]); i += 1\n"
            "    print(i, flush=True)\n")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    last = 0
    t0 = time.monotonic()
    while last < 300 and time.monotonic() - t0 < 60:
        last = int(p.stdout.readline())
    p.send_signal(signal.SIGKILL)
    p.wait(10)
    q = Queue(tmp_path / "q.db", 10**9)
    assert q.pending() >= last                      # every put reported as committed is there
    assert [r.value for r in q.take(5)] == [0.0, 1.0, 2.0, 3.0, 4.0]
    q.close()


def test_payload_forms():
    from gateway.store import Row

    r = Row(7, "e01_elec_main", "energy_kwh", 1709251200000, 1234.5)
    assert single_payload(r) == b'{"ts":1709251200000,"values":{"energy_kwh":1234.5},"seq":7}'
    rows = [Row(i, "m%d" % (i % 3), "energy_kwh", 1709251200000 + i, float(i)) for i in range(1, 2501)]
    msgs = batch_payloads(rows, 1000)
    assert [len(ids) for ids, _p in msgs] == [1000, 1000, 500]
    import json

    doc = json.loads(msgs[0][1])
    assert doc["readings"][0] == {"ts": 1709251201000 - 1000 + 1, "meter": "m1", "values": {"energy_kwh": 1.0}, "seq": 1}
    big = batch_payloads(rows, 10000)
    assert all(len(p) <= MAX_PAYLOAD for _ids, p in big) and sum(len(i) for i, _p in big) == 2500
