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
    while sp.replay(lambda p, b: got.append((p, b))) is not None:
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


def test_torn_tail_record_is_reported_and_good_records_kept(tmp_path):
    sp = Spool(tmp_path, max_bytes=1_000_000)
    sp.append([("ms", b"good")])
    sp.close()
    seg = next(tmp_path.glob("*.spool"))
    with open(seg, "ab") as fh:
        fh.write(b"#rec2 ms 100 123\npartial")
    scan = Spool.scan_segment(seg.read_bytes())
    assert scan.records == [("ms", b"good")] and scan.torn_tail and scan.corrupt == 0


def _flip(data: bytes, at: int, bit: int = 0) -> bytes:
    b = bytearray(data)
    b[at] ^= 1 << bit
    return bytes(b)


@pytest.mark.parametrize("where", ["body", "precision", "length", "crc", "magic"])
def test_any_flipped_bit_loses_only_its_record(tmp_path, where):
    sp = Spool(tmp_path, max_bytes=1_000_000)
    recs = [("ms", b"readings a=%d 1" % i) for i in range(3)]
    sp.append(recs)
    sp.close()
    seg = next(tmp_path.glob("*.spool"))
    data = seg.read_bytes()
    at = {"body": data.index(b"\n") + 3, "precision": 6, "length": 9, "crc": data.index(b"\n") - 1,
          "magic": 1}[where]
    scan = Spool.scan_segment(_flip(data, at))
    assert scan.records == recs[1:] and scan.corrupt == 1 and not scan.torn_tail
    # ms -> ns is not a one-bit flip, but a header rewritten to another valid precision fails the CRC too
    scan = Spool.scan_segment(data.replace(b"#rec2 ms", b"#rec2 ns", 1))
    assert scan.records == recs[1:] and scan.corrupt == 1


def test_damaged_segment_is_moved_aside_and_reported(tmp_path):
    sp = Spool(tmp_path, max_bytes=1_000_000)
    sp.append([("ms", b"r1"), ("ms", b"r2")])
    sp.close()
    seg = next(tmp_path.glob("*.spool"))
    seg.write_bytes(_flip(seg.read_bytes(), seg.read_bytes().index(b"\n") + 1))
    sp = Spool(tmp_path, max_bytes=1_000_000)
    got, damage = [], []
    assert sp.replay(lambda p, b: got.append(b), lambda path, scan: damage.append((path, scan.corrupt)))
    assert got == [b"r2"] and damage == [(tmp_path / "damaged" / seg.name, 1)]
    assert (tmp_path / "damaged" / seg.name).exists() and sp.empty


def test_first_format_records_are_still_read(tmp_path):
    import zlib

    seg = tmp_path / "000000000001.spool"
    seg.write_bytes(b"#rec ms 2 %d\nab" % zlib.crc32(b"ab"))
    assert list(Spool.read_segment(seg)) == [("ms", b"ab")]


def test_bound_and_alarm(tmp_path):
    sp = Spool(tmp_path, max_bytes=1000)
    sp.append([("ms", b"x" * 700)])
    assert not sp.alarm
    sp.append([("ms", b"y" * 100)])
    assert sp.alarm and sp.fill_frac > 0.8
    with pytest.raises(SpoolFull):
        sp.append([("ms", b"z" * 300)])


def test_a_segment_without_a_good_record_counts_zero_replayed(tmp_path):
    sp = Spool(tmp_path, max_bytes=1_000_000)
    sp.append([("ms", b"only")])
    sp.close()
    seg = next(tmp_path.glob("*.spool"))
    seg.write_bytes(_flip(seg.read_bytes(), seg.read_bytes().index(b"\n") + 1))  # its one record corrupt
    sp = Spool(tmp_path, max_bytes=1_000_000)
    got, damage = [], []
    assert sp.replay(lambda p, b: got.append(b), lambda path, scan: damage.append(scan.corrupt)) == 0
    assert got == [] and damage == [1] and sp.empty
    assert sp.replay(lambda p, b: got.append(b)) is None   # nothing left
