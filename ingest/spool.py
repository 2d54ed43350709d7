"""Local disk spool: an append-only, fsync'd, size-bounded log of line-protocol batches.

Used while InfluxDB is unreachable. A batch is appended (and fsync'd) before its MQTT messages are
acked, so an acked reading is always in InfluxDB or here. Replay goes oldest first; a segment file
is deleted only after every record in it was written to InfluxDB. A crash during replay replays the
segment again, which is harmless because points are idempotent.

Layout: ``<dir>/<seq:012d>.spool``; each record is ``#rec <precision> <n_bytes> <crc32>\\n`` followed
by ``n_bytes`` of line protocol. A torn tail record (crash mid-append, never acked) fails its CRC
and ends the segment.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Iterator

SEGMENT_BYTES = 64 * 1024 * 1024
ALARM_FRAC = 0.8


class SpoolFull(Exception):
    """Appending would exceed the spool's size limit (the caller stops acking: backpressure)."""


class Spool:
    """Append-only spool under ``directory`` bounded by ``max_bytes`` (alarm at 80 %)."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int = SEGMENT_BYTES):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes, self.segment_bytes = max_bytes, segment_bytes
        self._fh = None
        self._fh_seq = -1
        self.n_bytes = sum(p.stat().st_size for p in self._segments())

    # -- state --------------------------------------------------------------------
    def _segments(self) -> list[Path]:
        return sorted(self.dir.glob("*.spool"))

    @property
    def empty(self) -> bool:
        return self.n_bytes == 0

    @property
    def fill_frac(self) -> float:
        return self.n_bytes / self.max_bytes if self.max_bytes else 0.0

    @property
    def alarm(self) -> bool:
        """True when the spool is at least 80 % full."""
        return self.fill_frac >= ALARM_FRAC

    # -- append -------------------------------------------------------------------
    def append(self, batches: list[tuple[str, bytes]]) -> None:
        """Append ``[(precision, body), ...]`` durably (write + fsync). Raises SpoolFull."""
        data = b"".join(b"#rec %s %d %d\n" % (p.encode(), len(b), zlib.crc32(b)) + b for p, b in batches if b)
        if not data:
            return
        if self.n_bytes + len(data) > self.max_bytes:
            raise SpoolFull(f"spool {self.dir} would exceed {self.max_bytes} bytes")
        fh = self._writer(len(data))
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
        self.n_bytes += len(data)

    def _writer(self, n: int):
        if self._fh is not None and self._fh.tell() + n > self.segment_bytes and self._fh.tell() > 0:
            self._close_writer()
        if self._fh is None:
            segs = self._segments()
            seq = int(segs[-1].stem) + 1 if segs else 1
            self._fh = open(self.dir / f"{seq:012d}.spool", "ab")
            self._fh_seq = seq
            dfd = os.open(self.dir, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        return self._fh

    def _close_writer(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh, self._fh_seq = None, -1

    # -- replay -------------------------------------------------------------------
    @staticmethod
    def read_segment(path: Path) -> Iterator[tuple[str, bytes]]:
        """Yield (precision, body) records of one segment, stopping at a torn or corrupt tail."""
        with open(path, "rb") as fh:
            while True:
                head = fh.readline()
                if not head:
                    return
                parts = head.split()
                if len(parts) != 4 or parts[0] != b"#rec":
                    return
                try:
                    n, crc = int(parts[2]), int(parts[3])
                except ValueError:
                    return
                body = fh.read(n)
                if len(body) != n or zlib.crc32(body) != crc:
                    return
                yield parts[1].decode(), body

    def replay(self, write) -> int:
        """Write the oldest segment's records with ``write(precision, body)`` (raises on failure,
        leaving the segment in place) and delete it; returns records written, 0 when empty."""
        segs = self._segments()
        if not segs:
            self.n_bytes = 0
            return 0
        seg = segs[0]
        if self._fh is not None and self._fh_seq == int(seg.stem):
            self._close_writer()  # new appends start a later segment, keeping order
        n = 0
        for precision, body in self.read_segment(seg):
            write(precision, body)
            n += 1
        size = seg.stat().st_size
        seg.unlink()
        self.n_bytes = max(0, self.n_bytes - size)
        return max(n, 1)

    def close(self) -> None:
        self._close_writer()
