"""MQTT I/O of the simulated fleet: one client per enterprise (own credentials, last will on
its gateway status topic), batch backfill and real-time publishing. The only module here that
touches the network; generation is in window.py / plant.py / meter.py.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from ecm.errors import EcmError
from ecm.mqtt import GATEWAY_SEGMENT, gateway_client_id, make_client, reading_topic, stats_topic, status_topic
from ecm.schema import ENTERPRISE_MONTHLY_FIELDS
from ecm.secrets import mqtt_credentials
from sim_devices.calendar import DAY_S, EPOCH_S
from sim_devices.faults import Extra, FaultConfig, Rows

log = logging.getLogger("sim_devices.publisher")
_TZ = timezone(timedelta(hours=8))
#: PUBACK reason codes worth a resend (ingest/README.md): 0x10 no matching subscribers (e.g. the
#: bridge re-subscribing after a broker restart), 0x80 unspecified, 0x83 implementation specific,
#: 0x91 packet id in use, 0x97 quota exceeded. Others (0x87 not authorized, 0x8F topic invalid,
#: 0x99 payload format invalid) are permanent: resending cannot help.
RETRY_CODES = frozenset({0x10, 0x80, 0x83, 0x91, 0x97})
MAX_ATTEMPTS = 30


class Gateways:
    """One paho client per enterprise; QoS 1 with a large in-flight window. A message is done when
    the broker PUBACKs it with 0; a retryable reason code resends it with back-off (up to
    ``MAX_ATTEMPTS``), and a lost connection resends what was in flight (paho, on reconnect)."""

    def __init__(self, enterprise_ids: list[str], host: str, port: int, state_dir: Path,
                 inflight: int = 1000, connect_timeout_s: float = 15.0):
        self.clients = {}
        self._lock = threading.Lock()
        self.unacked = 0
        self.n_messages = 0
        self.n_bytes = 0
        self.n_resent = 0
        self.failed: list[tuple[str, str, int]] = []  # (enterprise, topic, reason code) given up
        self._msgs: dict[tuple[str, int], tuple[str, bytes, bool, int]] = {}
        self._events: deque = deque()
        self._due: list[tuple[float, str, str, bytes, bool, int]] = []
        self._closing = threading.Event()
        self._retrier = threading.Thread(target=self._retry_loop, name="sim-publish-retry", daemon=True)
        self._retrier.start()
        self._failed: dict[str, str] = {}
        self._connected: set[str] = set()
        for e in enterprise_ids:
            user, pw = mqtt_credentials(Path(state_dir), e)
            c = make_client(gateway_client_id(user), user, pw, will_topic=status_topic(e))
            c.max_inflight_messages_set(inflight)
            c.max_queued_messages_set(0)
            c.on_connect = self._on_connect(e)
            c.on_publish = self._on_publish(e)
            c.connect_async(host, port, keepalive=60)
            c.loop_start()
            self.clients[e] = c
        deadline = time.monotonic() + connect_timeout_s
        while time.monotonic() < deadline and len(self._connected) + len(self._failed) < len(self.clients):
            time.sleep(0.02)
        if self._failed or len(self._connected) < len(self.clients):
            self.close(clean=False)
            bad = self._failed or {e: "timeout" for e in self.clients if e not in self._connected}
            e, why = next(iter(bad.items()))
            raise EcmError(f"enterprise {e} could not connect to mqtt://{host}:{port}: {why}",
                           hint="check `ecm services status`; run `ecm services start` to create credentials")

    def _on_connect(self, e: str):
        def cb(client, userdata, flags, reason_code, properties):
            if reason_code.is_failure:
                self._failed[e] = str(reason_code)
                return
            client.publish(status_topic(e), "online", qos=1, retain=True)
            self._connected.add(e)
        return cb

    def _on_publish(self, e: str):
        def cb(client, userdata, mid, reason_code, properties):
            self._events.append((e, mid, reason_code.value, 0))  # network thread: only queue it
        return cb

    def _send(self, e: str, topic: str, payload, retain: bool, attempt: int) -> None:
        info = self.clients[e].publish(topic, payload, qos=1, retain=retain)
        with self._lock:
            self._msgs[(e, info.mid)] = (topic, payload, retain, attempt)

    def publish(self, e: str, topic: str, payload, retain: bool = False) -> None:
        with self._lock:
            self.unacked += 1
        self._send(e, topic, payload, retain, 1)
        self.n_messages += 1
        self.n_bytes += len(payload)

    def _retry_loop(self) -> None:
        while not self._closing.is_set():
            busy = False
            for _ in range(len(self._events)):
                e, mid, code, tries = self._events.popleft()
                with self._lock:
                    msg = self._msgs.pop((e, mid), None)
                if msg is None:  # PUBACK raced ahead of _send's bookkeeping (or a status message)
                    if tries < 100:
                        self._events.append((e, mid, code, tries + 1))
                    continue
                busy = True
                topic, payload, retain, attempt = msg
                if code == 0:
                    with self._lock:
                        self.unacked -= 1
                elif code in RETRY_CODES and attempt < MAX_ATTEMPTS:
                    self._due.append((time.monotonic() + min(0.2 * 2 ** (attempt - 1), 5.0), e, topic, payload,
                                      retain, attempt + 1))
                else:
                    log.error("publish_refused", extra={"enterprise": e, "topic": topic, "reason_code": hex(code),
                                                        "attempts": attempt})
                    with self._lock:
                        self.failed.append((e, topic, code))
                        self.unacked -= 1
            now = time.monotonic()
            due = [d for d in self._due if d[0] <= now]
            if due:
                self._due = [d for d in self._due if d[0] > now]
                for _t, e, topic, payload, retain, attempt in due:
                    self.n_resent += 1
                    self._send(e, topic, payload, retain, attempt)
            if not busy:
                time.sleep(0.01)

    def drain(self, timeout_s: float = 300.0) -> None:
        """Wait until the broker accepted every message (PUBACK 0, after resends); raise when one
        was refused for good or the time runs out."""
        deadline = time.monotonic() + timeout_s
        while self.unacked > 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.failed:
            e, topic, code = self.failed[0]
            raise EcmError(f"{len(self.failed)} messages refused by the broker; first: {topic} as {e}, "
                           f"reason code {code:#04x}", hint="0x87: topic outside ecm/v1/<enterprise>/")
        if self.unacked > 0:
            raise EcmError(f"{self.unacked} messages not acknowledged by the broker after {timeout_s:.0f} s")

    def close(self, clean: bool = True) -> None:
        """Clean stop: publish retained ``offline`` and disconnect (the will covers crashes)."""
        for e, c in self.clients.items():
            if clean and e in self._connected:
                c.publish(status_topic(e), "offline", qos=1, retain=True).wait_for_publish(5)
            c.disconnect()
            c.loop_stop()
        self._closing.set()


def rows_between(tracks, t_lo: int, t_hi: int, interval_s: int | None) -> Rows:
    """Readings of every meter on its grid (multiples of its interval from the epoch midnight,
    so aligned to Beijing midnight) with t_lo <= ts < t_hi."""
    parts = []
    for i, tr in enumerate(tracks):
        iv = int(interval_s or tr.meter.interval_s)
        t = np.arange(-(-t_lo // iv) * iv, t_hi, iv, dtype=np.int64)
        if not len(t):
            continue
        v = tr.register(t) if tr.meter.kind == "counter" else tr.gauge(t)
        parts.append(Rows(np.full(len(t), i, dtype=np.int64), t, v, t.copy(), np.zeros(len(t), dtype=bool)))
    if not parts:
        z = np.zeros(0, dtype=np.int64)
        return Rows(z, z, z.astype(float), z, z.astype(bool))
    rows = Rows.concat(parts)
    return rows.take(np.lexsort((rows.meter, rows.ts)))


class Packer:
    """Turns rows into (release_s, topic, payload, retain) messages for one enterprise."""

    def __init__(self, ent_id: str, tracks, interval_s: int | None):
        self.e = ent_id
        self.meters = [tr.meter for tr in tracks]
        self.iv = [int(interval_s or m.interval_s) for m in self.meters]
        self.fmt = ["%.3f" if m.kind == "counter" else "%.2f" for m in self.meters]
        self.item_head = [f',"meter":"{m.id}","values":{{"{m.quantity}":' for m in self.meters]
        self.single_head = [f'"values":{{"{m.quantity}":' for m in self.meters]
        self.gw_topic = reading_topic(ent_id, GATEWAY_SEGMENT)

    def _items(self, rows: Rows) -> list[str]:
        ms = (rows.ts + EPOCH_S) * 1000
        out = []
        for mi, t, v, tsim in zip(rows.meter.tolist(), ms.tolist(), rows.value.tolist(), rows.ts.tolist()):
            out.append('{"ts":%d%s%s},"seq":%d}' % (t, self.item_head[mi], self.fmt[mi] % v, tsim // self.iv[mi]))
        return out

    def batches(self, rows: Rows, max_items: int) -> list[tuple[int, str, bytes, bool]]:
        """Gateway batch messages (``{"readings": [...]}`` with ``meter`` per item); a late flush
        (buffered rows) always goes in its own messages."""
        msgs = []
        if not len(rows.ts):
            return msgs
        items = self._items(rows)
        cut = np.flatnonzero(np.diff(rows.buffered.astype(np.int8)) != 0) + 1
        bounds = [0, *cut.tolist(), len(items)]
        for a, b in zip(bounds[:-1], bounds[1:]):
            for s in range(a, b, max_items):
                e = min(s + max_items, b)
                payload = ('{"readings":[' + ",".join(items[s:e]) + "]}").encode()
                msgs.append((int(rows.release[e - 1]), self.gw_topic, payload, False))
        return msgs

    def singles(self, rows: Rows) -> list[tuple[int, str, bytes, bool]]:
        """Real-time form: one message per reading on its meter topic (ISO ts with +08:00);
        buffered rows (a late flush) are sent as gateway batches."""
        msgs = []
        buf = rows.buffered
        if buf.any():
            msgs += self.batches(rows.take(np.flatnonzero(buf)), 500)
        idx = np.flatnonzero(~buf)
        for i, mi, t, v, rel in zip(idx.tolist(), rows.meter[idx].tolist(), rows.ts[idx].tolist(),
                                    rows.value[idx].tolist(), rows.release[idx].tolist()):
            iso = datetime.fromtimestamp(t + EPOCH_S, _TZ).isoformat()
            payload = '{"ts":"%s",%s%s},"seq":%d}' % (iso, self.single_head[mi], self.fmt[mi] % v, t // self.iv[mi])
            msgs.append((rel, reading_topic(self.e, self.meters[mi].id), payload.encode(), False))
        return msgs

    def extra(self, x: Extra) -> tuple[int, str, bytes, bool]:
        topic = status_topic(self.e, x.topic_meter) if x.kind == "status" else reading_topic(self.e, x.topic_meter)
        return x.release, topic, x.payload, x.retain


def stats_messages(frame) -> list[tuple[str, str, bytes]]:
    """(enterprise, topic, payload) of monthly statistics rows (docs/contracts.md §1.3)."""
    import json

    out = []
    for r in frame.itertuples(index=False):
        payload = json.dumps({"month": r.month, **{f: float(getattr(r, f)) for f in ENTERPRISE_MONTHLY_FIELDS}})
        out.append((r.enterprise, stats_topic(r.enterprise), payload.encode()))
    return out


def release_split(rows: Rows, t_hi: int) -> tuple[Rows, Rows]:
    """(rows released before t_hi, rows carried to a later chunk)."""
    now = rows.release < t_hi
    return rows.take(np.flatnonzero(now)), rows.take(np.flatnonzero(~now))


def apply_faults(fc: FaultConfig | None, ent_id: str, meters, rows: Rows, day: int, t_lo: int, t_hi: int):
    if fc is None or not fc.rates:
        return rows, []
    return fc.apply(ent_id, meters, rows, day, t_lo, t_hi)


__all__ = ["Gateways", "Packer", "rows_between", "stats_messages", "release_split", "apply_faults", "DAY_S"]
