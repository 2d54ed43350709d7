"""MQTT uplink: drains the on-disk queue to the broker in the contract's forms (docs/contracts.md §1).

* One paho 2.x MQTT v5 client, user = enterprise, last will ``offline`` (retained) on
  ``ecm/v1/{E}/gateway/status``; ``online`` (retained, with the drop count) after each connect.
* Readings leave the queue oldest first: one pending reading goes as a single reading on its meter
  topic; a backlog goes in batch form on ``ecm/v1/{E}/gateway/reading`` (items carry ``meter``),
  up to ``batch_max`` items and 200 KiB per message.
* A row is deleted only when its message's PUBACK reason code is a success (< 0x80 and not 0x10
  "no matching subscribers", which Mosquitto answers while the bridge's shared subscription is
  being restored, without storing the message). Any other code puts the rows back for a resend
  after a back-off. On a disconnect paho re-sends every unacknowledged message after reconnecting
  (DUP flag); after a crash the rows are still on disk and go again. Re-sent readings overwrite
  themselves at the platform (identity = enterprise, meter, quantity, ts).
"""
from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections import deque

from ecm.mqtt import GATEWAY_SEGMENT, make_client, reading_topic, status_topic
from gateway.store import Queue, Row

log = logging.getLogger("gateway.uplink")
MAX_PAYLOAD = 200 * 1024
RETRY_BACKOFF_S = 1.0


def single_payload(r: Row) -> bytes:
    return ('{"ts":%d,"values":{"%s":%s},"seq":%d}' % (r.ts_ms, r.quantity, repr(float(r.value)), r.id)).encode()


def batch_payloads(rows: list[Row], max_items: int) -> list[tuple[list[int], bytes]]:
    """Split rows into batch messages: (row ids, payload) each ≤ max_items and ≤ MAX_PAYLOAD bytes."""
    out, ids, items, size = [], [], [], 16
    for r in rows:
        it = '{"ts":%d,"meter":"%s","values":{"%s":%s},"seq":%d}' % (r.ts_ms, r.meter, r.quantity,
                                                                      repr(float(r.value)), r.id)
        if items and (len(items) >= max_items or size + len(it) + 1 > MAX_PAYLOAD):
            out.append((ids, ('{"readings":[' + ",".join(items) + "]}").encode()))
            ids, items, size = [], [], 16
        ids.append(r.id)
        items.append(it)
        size += len(it) + 1
    if items:
        out.append((ids, ('{"readings":[' + ",".join(items) + "]}").encode()))
    return out


class Uplink:
    def __init__(self, queue: Queue, enterprise: str, host: str, port: int, username: str, password: str,
                 client_id: str, *, batch_max: int = 1000, inflight_max: int = 20, keepalive_s: int = 30,
                 tls: bool = False, ca_file=None):
        self.q, self.e = queue, enterprise
        self.batch_max, self.inflight_max = batch_max, inflight_max
        self.gw_status = status_topic(enterprise)
        self.c = make_client(client_id, username, password, will_topic=self.gw_status)
        if tls:
            self.c.tls_set(ca_certs=str(ca_file) if ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        self.c.max_inflight_messages_set(max(inflight_max, 20) + 50)
        self.c.max_queued_messages_set(0)
        self.c.reconnect_delay_set(1, 30)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_publish = self._on_publish
        self.host, self.port, self.keepalive = host, port, keepalive_s
        self._acks: deque = deque()
        self._inflight: dict[int, list[int]] = {}   # mid -> row ids
        self._retry: deque = deque()                # row lists to re-send
        self._retry_at = 0.0
        self._cursor = 0                            # highest row id handed to paho
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.connected = False
        self.connect_error = ""
        self.last_connect_ms = None
        self.status_extra: dict = {}
        self.broker_skew_s: float | None = None
        self.n_published = self.n_acked_rows = self.n_resent = self.n_failed_acks = 0
        self.last_puback_reason = ""
        self._thread = threading.Thread(target=self._run, name="gateway-uplink", daemon=True)

    # ------------------------------------------------------------------ paho callbacks (network thread)
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.connect_error = str(reason_code)
            log.warning("mqtt_connect_refused", extra={"reason": str(reason_code)})
            return
        self.connected = True
        self.connect_error = ""
        self.last_connect_ms = int(time.time() * 1000)
        client.publish(self.gw_status, self.status_payload("online"), qos=1, retain=True)
        log.info("mqtt_connected", extra={"host": self.host, "port": self.port})
        self._wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        if self.connected and not self._stop.is_set():
            log.warning("mqtt_disconnected", extra={"reason": str(reason_code)})
        self.connected = False

    def _on_publish(self, client, userdata, mid, reason_code, properties):
        self._acks.append((mid, reason_code.value))
        self._wake.set()

    # ------------------------------------------------------------------ public
    def start(self) -> "Uplink":
        self.c.connect_async(self.host, self.port, keepalive=self.keepalive)
        self.c.loop_start()
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def status_payload(self, state: str) -> str:
        return json.dumps({"state": state, "ts": int(time.time() * 1000), "dropped": self.q.dropped,
                           **self.status_extra})

    def publish_status(self, meter: str, doc: dict) -> None:
        """Retained per-device status (QoS 1); paho re-sends it after a reconnect."""
        if self.connected:
            self.c.publish(status_topic(self.e, meter), json.dumps(doc), qos=1, retain=True)

    def republish_gateway_status(self) -> None:
        if self.connected:
            self.c.publish(self.gw_status, self.status_payload("online"), qos=1, retain=True)

    def inflight_rows(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._inflight.values())

    def stop(self, timeout_s: float = 10.0) -> None:
        """Drain while connected (up to ``timeout_s``: the queue, then in-flight PUBACKs), publish
        ``offline``, disconnect. What is left stays on disk for the next start."""
        deadline = time.monotonic() + timeout_s
        while self.connected and (self._inflight or self._retry or self.q.pending()) and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._thread.join(5)
        if self.connected:
            try:
                self.c.publish(self.gw_status, self.status_payload("offline"), qos=1, retain=True).wait_for_publish(3)
            except (RuntimeError, ValueError):
                pass
        self.c.disconnect()
        self.c.loop_stop()

    # ------------------------------------------------------------------ the drain loop (own thread)
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            try:
                self._handle_acks()
                if self.connected:
                    self._send()
            except Exception:  # keep draining whatever happens; the rows stay on disk
                log.exception("uplink_error")
                time.sleep(1)
        self._handle_acks()

    def _handle_acks(self) -> None:
        done: list[int] = []
        while self._acks:
            mid, rc = self._acks.popleft()
            with self._lock:
                ids = self._inflight.pop(mid, None)
            if ids is None:
                continue
            if rc < 0x80 and rc != 0x10:
                done += ids
            else:
                self.n_failed_acks += 1
                self.last_puback_reason = f"0x{rc:02X}"
                self._retry.append(ids)
                self._retry_at = time.monotonic() + RETRY_BACKOFF_S
                log.warning("puback_failure", extra={"reason_code": f"0x{rc:02X}", "rows": len(ids)})
        if done:
            self.q.remove(done)
            self.n_acked_rows += len(done)

    def _send(self) -> None:
        while self.connected and len(self._inflight) < self.inflight_max:
            rows = self._next_rows()
            if not rows:
                return
            if len(rows) == 1:
                msgs = [([rows[0].id], reading_topic(self.e, rows[0].meter), single_payload(rows[0]))]
            else:
                topic = reading_topic(self.e, GATEWAY_SEGMENT)
                msgs = [(ids, topic, p) for ids, p in batch_payloads(rows, self.batch_max)]
            for ids, topic, payload in msgs:
                with self._lock:
                    info = self.c.publish(topic, payload, qos=1)
                    self._inflight[info.mid] = ids
                self.n_published += 1

    def _next_rows(self) -> list[Row]:
        if self._retry and time.monotonic() >= self._retry_at:
            ids = self._retry.popleft()          # contiguous in the queue, apart from rows dropped at the cap
            self.n_resent += len(ids)
            want = set(ids)
            return [r for r in self.q.take(max(ids) - min(ids) + 1, min(ids)) if r.id in want]
        rows = self.q.take(self.batch_max, self._cursor + 1)
        if rows:
            self._cursor = rows[-1].id
        return rows
