"""Store and forward: every reading is committed to an SQLite queue (WAL, ``synchronous=FULL``)
before it is published, and removed only when the broker's PUBACK reports success.

SQLite's WAL with FULL sync makes each committed transaction survive SIGKILL and power loss (the
WAL is fsync'd at commit). Disk use is bounded by ``max_bytes``: when the live pages pass it, the
oldest readings are deleted first and counted in ``dropped`` (kept in the file, so the count
survives restarts). Freed pages are reused, so the file stops growing at about the cap.
"""
from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    meter TEXT NOT NULL,
    quantity TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    value REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Row:
    id: int
    meter: str
    quantity: str
    ts_ms: int
    value: float


class Queue:
    """One SQLite file; safe to use from several threads (one connection, a lock)."""

    def __init__(self, path: Path, max_bytes: int, sync: str = "FULL"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(f"PRAGMA synchronous={sync}")
        self.db.execute("PRAGMA journal_size_limit=4194304")
        self.db.executescript(_SCHEMA)
        self.page_size = self.db.execute("PRAGMA page_size").fetchone()[0]
        self.dropped = self._meta("dropped")
        self.enqueued = 0
        self.removed = 0

    def _meta(self, k: str) -> int:
        r = self.db.execute("SELECT v FROM meta WHERE k = ?", (k,)).fetchone()
        return int(r[0]) if r else 0

    def used_bytes(self) -> int:
        pc = self.db.execute("PRAGMA page_count").fetchone()[0]
        free = self.db.execute("PRAGMA freelist_count").fetchone()[0]
        return (pc - free) * self.page_size

    def put(self, rows: list[tuple[str, str, int, float]]) -> int:
        """Commit ``(meter, quantity, ts_ms, value)`` rows durably; returns how many old rows were dropped."""
        if not rows:
            return 0
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany("INSERT INTO queue (meter, quantity, ts_ms, value) VALUES (?, ?, ?, ?)", rows)
                dropped = self._enforce_cap()
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.enqueued += len(rows)
            self.dropped += dropped
            return dropped

    def _enforce_cap(self) -> int:
        """Delete the oldest rows until live pages fit the cap (inside the caller's transaction)."""
        dropped = 0
        while self.used_bytes() > self.max_bytes:
            n = self.db.execute("SELECT count(*) FROM queue").fetchone()[0]
            if n == 0:
                break
            k = max(1, n // 20)
            cur = self.db.execute("DELETE FROM queue WHERE id IN (SELECT id FROM queue ORDER BY id LIMIT ?)", (k,))
            dropped += cur.rowcount
        if dropped:
            self.db.execute("INSERT INTO meta (k, v) VALUES ('dropped', ?) "
                            "ON CONFLICT(k) DO UPDATE SET v = v + excluded.v", (dropped,))
        return dropped

    def take(self, limit: int, exclude_below: int = 0) -> list[Row]:
        """The oldest ``limit`` rows with id ≥ ``exclude_below``, in id order."""
        with self._lock:
            cur = self.db.execute("SELECT id, meter, quantity, ts_ms, value FROM queue WHERE id >= ? "
                                  "ORDER BY id LIMIT ?", (exclude_below, limit))
            return [Row(*r) for r in cur]

    def remove(self, ids: list[int]) -> None:
        if not ids:
            return
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                self.db.execute(f"DELETE FROM queue WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            self.db.execute("COMMIT")
            self.removed += len(ids)

    def pending(self) -> int:
        with self._lock:
            return self.db.execute("SELECT count(*) FROM queue").fetchone()[0]

    def oldest_ts_ms(self) -> int | None:
        with self._lock:
            r = self.db.execute("SELECT min(ts_ms) FROM queue").fetchone()
            return r[0] if r else None

    def close(self) -> None:
        with self._lock:
            self.db.close()
