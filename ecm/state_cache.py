"""Content-keyed caches under ``<ECM_STATE_DIR>/cache/<name>``: derived files (the parsed registry,
the report's CJK font cut) that are costly to make and depend only on their key.

A cache that cannot be read or written only costs the next process the work: every function here
returns None or does nothing on an OS error. The state folder is written only by the platform.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def folder(name: str) -> Path | None:
    """``<ECM_STATE_DIR>/cache/<name>`` (created), or None when there is no usable state folder."""
    try:
        from ecm.settings import get_settings

        d = get_settings().state_path / "cache" / name
        d.mkdir(parents=True, exist_ok=True)
        return d
    except Exception:  # noqa: BLE001 - invalid settings or an unwritable folder: no cache
        return None


def key(*parts: bytes | str) -> str:
    """A file-name-safe digest of ``parts``."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8") if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()[:40]


def get(path: Path) -> bytes | None:
    """The entry's bytes (its time bumped, so pruning keeps it), or None."""
    try:
        data = path.read_bytes()
        os.utime(path)
        return data
    except OSError:
        return None


def put(path: Path, data: bytes, *, keep: int) -> None:
    """Write the entry atomically, then keep only the ``keep`` newest entries of its kind
    (the files of its folder sharing its name's first ``-`` part and its suffix)."""
    try:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        kind = f"{path.name.split('-', 1)[0]}-*{path.suffix}"
        entries = sorted(path.parent.glob(kind), key=lambda q: q.stat().st_mtime, reverse=True)
        for old in entries[keep:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
