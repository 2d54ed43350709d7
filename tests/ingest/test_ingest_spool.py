"""Spool: durable append, in-order replay, torn tail, size bound and alarm."""
from __future__ import annotations

import pytest

from ingest.spool import Spool, SpoolFull


def test_replay_in_order_across_segments_and_delete(tmp_path):
    sp = Spool(tmp_path, max_bytes=10_000_000, segment_bytes=200)
    for i in range(10):
        sp.append([("ms", b"a%d" % i), ("ns", b"b%d" % i)])
    assert len(list(tmp_path.glob("*.spool"))) > 1 and not sp.empty
    got = []
    while sp.replay(lambda p, b: got.append((p, b))):
        pass
    assert got == [x for i in range(10) for x in (("ms", b"a%d" % i), ("ns", b"b%d" % i))]
    assert sp.empty and sp.n_bytes == 0 and not list(tmp_path.glob("*.spool"))


def test_failed_replay_keeps_segment_and_restart_sees_it(tmp_path):
    sp = Spool(tmp_path, max_bytes=1_000_000)
    sp.append([("ms", b"x")])

    def boom(p, b):
        raise RuntimeError("influx down")

    with pytest.raises(RuntimeError):
        sp.replay(boom)
    sp.close()
    again = Spool(tmp_path, max_bytes=1_000_000)  # a restarted worker finds the data
    got = []
    assert not again.empty and again.replay(lambda p, b: got.append(b)) == 1 and got == [b"x"]


def test_torn_tail_record_is_ignored(tmp_path):
    sp = Spool(tmp_path, max_bytes=1_000_000)
    sp.append([("ms", b"good")])
    sp.close()
    seg = next(tmp_path.glob("*.spool"))
    with open(seg, "ab") as fh:
        fh.write(b"#rec ms 100 123\npartial")
    assert list(Spool.read_segment(seg)) == [("ms", b"good")]


def test_bound_and_alarm(tmp_path):
    sp = Spool(tmp_path, max_bytes=1000)
    sp.append([("ms", b"x" * 700)])
    assert not sp.alarm
    sp.append([("ms", b"y" * 100)])
    assert sp.alarm and sp.fill_frac > 0.8
    with pytest.raises(SpoolFull):
        sp.append([("ms", b"z" * 300)])
