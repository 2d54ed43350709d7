"""Local disk spool: an append-only, fsync'd, size-bounded log of line-protocol batches.

Used while InfluxDB is unreachable. A batch is appended (and fsync'd) before its MQTT messages are
acked, so an acked reading is always in InfluxDB or here. Replay goes oldest first; a segment file
is deleted only after every record in it was written to InfluxDB. A crash during replay replays the
segment again, which is harmless because points are idempotent.

Layout: ``<dir>/<seq:012d>.spool``; each record is ``#rec2 <precision> <n_bytes> <crc32>\\n``
followed by ``n_bytes`` of line protocol, where the CRC-32 covers ``<precision> <n_bytes>\\n`` **and**
the body, so a flipped bit anywhere in a record (header included) is detected.

Damage never stops replay and never deletes data:

- a bad record (CRC mismatch, unreadable header, unknown precision) is skipped: the reader re-syncs
  on the next ``#rec2 `` whose record has a valid CRC (a look-alike inside a body fails its CRC),
  and the good records after it are replayed;
- a torn last record (crash mid-append: never fsync'd, so never acked) is reported as torn;
- a segment with either is moved aside to ``<dir>/damaged/`` (never deleted) once its good records
  are written, and the worker counts and logs it (``spool_records_corrupt``, ``spool_tails_torn``).

Records of the first format (``#rec``, header outside the CRC) are still read.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

SEGMENT_BYTES = 64 * 1024 * 1024
ALARM_FRAC = 0.8
MAGIC = b"#rec2 "
PRECISIONS = {b"ms", b"ns"}


def encode_record(precision: str, body: bytes) -> bytes:
    meta = b"%s %d\n" % (precision.encode(), len(body))
    return MAGIC + meta[:-1] + b" %d\n" % zlib.crc32(body, zlib.crc32(meta)) + body


@dataclass
class SegmentScan:
    """Result of reading one segment: good records, and what was damaged."""

    records: list[tuple[str, bytes]] = field(default_factory=list)
    corrupt: int = 0          # bad records skipped (the good ones after them are kept)
    torn_tail: bool = False   # the last record is incomplete (crash mid-append)
    first_error: str = ""

    @property
    def damaged(self) -> bool:
        return bool(self.corrupt or self.torn_tail)


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
        """Append ``[(precision, body), ...]`` durably (write + fsync). Raises SpoolFull when the size
        limit would be passed or the disk refuses the write (then the segment is rolled back to its
        previous end, so no torn record is left behind)."""
        data = b"".join(encode_record(p, b) for p, b in batches if b)
        if not data:
            return
        if self.n_bytes + len(data) > self.max_bytes:
            raise SpoolFull(f"spool {self.dir} would exceed {self.max_bytes} bytes")
        try:
            fh = self._writer(len(data))
        except OSError as exc:
            self._close_writer()
            raise SpoolFull(f"spool {self.dir}: {exc}") from None
        pos = fh.tell()
        try:
            view = memoryview(data)
            while view:
                view = view[fh.write(view):]
            os.fsync(fh.fileno())
        except OSError as exc:
            try:
                os.ftruncate(fh.fileno(), pos)
            except OSError:
                pass
            self._close_writer()
            raise SpoolFull(f"spool {self.dir}: {exc}") from None
        self.n_bytes += len(data)

    def _writer(self, n: int):
        if self._fh is not None and self._fh.tell() + n > self.segment_bytes and self._fh.tell() > 0:
            self._close_writer()
        if self._fh is None:
            segs = self._segments()
            seq = int(segs[-1].stem) + 1 if segs else 1
            fd = os.open(self.dir / f"{seq:012d}.spool", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._fh = os.fdopen(fd, "ab", buffering=0)
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
    def scan_segment(data: bytes) -> SegmentScan:
        """Parse a segment's bytes into good records, skipping (and counting) damaged ones."""
        out = SegmentScan()
        pos, n_data = 0, len(data)
        while pos < n_data:
            rec, end, why = Spool._record_at(data, pos)
            if rec is not None:
                out.records.append(rec)
                pos = end
                continue
            nxt = Spool._next_valid(data, pos + 1)
            if nxt is None and why == "torn":
                out.torn_tail = True
            else:
                out.corrupt += 1
            out.first_error = out.first_error or f"{why} at byte {pos}"
            if nxt is None:
                break
            pos = nxt
        return out

    @staticmethod
    def _record_at(data: bytes, pos: int):
        """((precision, body), end, "") for a valid record at ``pos``, else (None, pos, why)."""
        nl = data.find(b"\n", pos, pos + 64)
        if nl < 0:
            return None, pos, "torn" if len(data) - pos < 64 else "bad header"
        parts = data[pos:nl].split(b" ")
        try:
            if parts[0] == MAGIC.strip() and len(parts) == 4 and parts[1] in PRECISIONS:
                n, crc = int(parts[2]), int(parts[3])
                body = data[nl + 1:nl + 1 + n]
                if len(body) < n:
                    return None, pos, "torn"
                if zlib.crc32(body, zlib.crc32(parts[1] + b" " + parts[2] + b"\n")) != crc:
                    return None, pos, "crc mismatch"
                return (parts[1].decode(), body), nl + 1 + n, ""
            if parts[0] == b"#rec" and len(parts) == 4 and parts[1] in PRECISIONS:  # first format
                n, crc = int(parts[2]), int(parts[3])
                body = data[nl + 1:nl + 1 + n]
                if len(body) < n:
                    return None, pos, "torn"
                if zlib.crc32(body) != crc:
                    return None, pos, "crc mismatch"
                return (parts[1].decode(), body), nl + 1 + n, ""
        except ValueError:
            pass
        return None, pos, "bad header"

    @staticmethod
    def _next_valid(data: bytes, start: int) -> int | None:
        """Offset of the next record start after ``start`` whose record is valid, else None."""
        i = start
        while True:
            cands = [x for x in (data.find(MAGIC, i), data.find(b"#rec ", i)) if x >= 0]
            if not cands:
                return None
            at = min(cands)
            if Spool._record_at(data, at)[0] is not None:
                return at
            i = at + 1

    @staticmethod
    def read_segment(path: Path) -> Iterator[tuple[str, bytes]]:
        """Yield the good (precision, body) records of one segment."""
        yield from Spool.scan_segment(Path(path).read_bytes()).records

    def replay(self, write, on_damage=None) -> int | None:
        """Write the oldest segment's good records with ``write(precision, body)`` (raises on
        failure, leaving the segment in place) and delete it, or move it to ``damaged/`` when it
        had bad records or a torn tail (``on_damage(path, scan)`` is called then); returns the records
        written (0 for a segment without a good record), None when there was no segment."""
        segs = self._segments()
        if not segs:
            self.n_bytes = 0
            return None
        seg = segs[0]
        if self._fh is not None and self._fh_seq == int(seg.stem):
            self._close_writer()  # new appends start a later segment, keeping order
        data = seg.read_bytes()
        scan = self.scan_segment(data)
        for precision, body in scan.records:
            write(precision, body)
        if scan.damaged:
            aside = self.dir / "damaged"
            aside.mkdir(exist_ok=True)
            dest = aside / seg.name
            os.replace(seg, dest)
            self._fsync_dir()
            if on_damage is not None:
                on_damage(dest, scan)
        else:
            seg.unlink()
        self.n_bytes = max(0, self.n_bytes - len(data))
        return len(scan.records)

    def _fsync_dir(self) -> None:
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def close(self) -> None:
        self._close_writer()
