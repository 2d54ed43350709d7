"""The bridge's MQTT v5 session: one persistent QoS 1 subscription, messages in bulk, acks in bulk.

paho-mqtt spent more CPU per message than the rest of the bridge together (profile in
docs/benchmarks.md): it reads each packet with several small ``recv`` calls, builds a message and a
Properties object per PUBLISH, dispatches through a topic matcher under locks, and queues each
PUBACK through a socket pair to its network thread. The bridge needs a small part of MQTT v5
(OASIS MQTT Version 5.0, sections 3.1–3.14), which this module implements on a plain socket:

- CONNECT with ``clean_start = 0``, Session Expiry Interval and Receive Maximum (§3.1.2.11);
  CONNACK's Session Present flag (§3.2.2.1.1); reconnect with backoff, each connection a new
  *generation*;
- SUBSCRIBE (QoS 1) to one filter, or UNSUBSCRIBE when retiring a session (§3.8, §3.10);
- incoming PUBLISH parsed from large ``recv`` chunks (§3.3): each message becomes one tuple
  ``(packet id, qos, topic bytes, payload, received ms, generation)`` appended to ``inbox``;
- PUBACK of many packet ids in one ``sendall`` (§3.4), only for the current generation (a packet
  id of an older connection means nothing to the broker: the message is redelivered instead);
- PINGREQ within the Keep Alive (§3.1.2.10), DISCONNECT with Session Expiry 0 to end a session.

Memory is bounded by bytes: once ``max_unacked_bytes`` of received payload is not yet released (acked)
by the consumer, or ``read_ahead_bytes`` wait in the inbox untaken, the reader stops reading the
socket; the broker then holds the rest (TCP pushes back). The read-ahead keeps the working set near
a few batches when the bridge is slower than its publishers (a backlog, a seeding run).
Topic aliases are never enabled (Topic Alias Maximum stays 0), so every PUBLISH carries its topic.
"""
from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
import time
from collections import deque

log = logging.getLogger("ingest.session")

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = 10, 11, 12, 13, 14, 15
RECV_CHUNK = 1 << 18


class ProtocolError(Exception):
    pass


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _varint(len(body)) + body


def _read_varint(buf, pos: int) -> tuple[int, int] | None:
    """(value, next position), or None when ``buf`` ends inside the integer."""
    mult, val = 1, 0
    for i in range(4):
        if pos + i >= len(buf):
            return None
        b = buf[pos + i]
        val += (b & 0x7F) * mult
        if not b & 0x80:
            return val, pos + i + 1
        mult <<= 7
    raise ProtocolError("malformed variable byte integer")


def connect_packet(client_id: str, username: str, password: str, keepalive: int, session_expiry_s: int,
                   receive_maximum: int) -> bytes:
    props = b"\x11" + struct.pack(">I", session_expiry_s) + b"\x21" + struct.pack(">H", receive_maximum)
    var = _str("MQTT") + bytes([5, 0x80 | 0x40]) + struct.pack(">H", keepalive) + _varint(len(props)) + props
    return _packet(CONNECT << 4, var + _str(client_id) + _str(username) + _str(password))


def puback_packets(mids) -> bytes:
    """PUBACKs (success, no reason code: §3.4.2.1) for ``mids``, in one buffer."""
    return struct.pack(f">{len(mids)}I", *[0x40020000 | m for m in mids])


class SessionClient:
    """A persistent MQTT v5 QoS 1 subscriber feeding ``inbox``; ``start()`` runs its reader thread."""

    def __init__(self, client_id: str, username: str, password: str, host: str, port: int, topic: str, *,
                 inbox: deque, keepalive: int = 30, session_expiry_s: int = 7 * 86400,
                 receive_maximum: int = 20000, max_unacked_bytes: int = 256 << 20, read_ahead_bytes: int = 32 << 20,
                 retire: bool = False,
                 ssl_context: ssl.SSLContext | None = None, min_delay_s: float = 1.0, max_delay_s: float = 10.0,
                 on_connect=None, on_subscribe=None, on_disconnect=None, hold: threading.Event | None = None):
        self.client_id, self.username, self.password = client_id, username, password
        self.host, self.port, self.topic, self.inbox = host, port, topic, inbox
        self.keepalive, self.session_expiry_s, self.receive_maximum = keepalive, session_expiry_s, receive_maximum
        self.max_unacked_bytes, self.retire, self.ssl_context = max_unacked_bytes, retire, ssl_context
        self.read_ahead_bytes = read_ahead_bytes
        self.min_delay_s, self.max_delay_s = min_delay_s, max_delay_s
        self.on_connect, self.on_subscribe, self.on_disconnect = on_connect, on_subscribe, on_disconnect
        self.hold = hold or threading.Event()  # set: messages are no longer taken (stopping); never acked
        self.gen = 0
        self.connected = False
        self.session_present: bool | None = None
        self.pending_bytes = 0  # payload bytes received and not yet released by the consumer
        self.queued_bytes = 0  # of which still in the inbox, not yet taken
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._room = threading.Condition()
        self._stop = threading.Event()
        self._last_send = 0.0
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{client_id}", daemon=True)

    # -- consumer side (processing thread) -------------------------------------------------
    def start(self) -> "SessionClient":
        self._thread.start()
        return self

    def is_connected(self) -> bool:
        return self.connected

    def taken(self, n_bytes: int) -> None:
        """The consumer took ``n_bytes`` of payload out of the inbox (still unacked)."""
        with self._room:
            self.queued_bytes -= n_bytes
            self._room.notify_all()

    def release(self, n_bytes: int) -> None:
        """The consumer is done with ``n_bytes`` of payload (processed and acked, or dropped)."""
        with self._room:
            self.pending_bytes -= n_bytes
            self._room.notify_all()

    def ack(self, items) -> int:
        """PUBACK every QoS 1 item ``(mid, qos, ..., gen)`` of the current connection; returns the
        number acked. Items of an older connection are left to the broker's redelivery."""
        gen = self.gen
        mids = [it[0] for it in items if it[1] and it[5] == gen]
        if mids and self.connected:
            try:
                self._send(puback_packets(mids))
            except OSError:
                return 0
            return len(mids)
        return 0

    def stop(self, session_expiry_s: int | None = None, timeout_s: float = 5.0) -> None:
        """DISCONNECT (``session_expiry_s=0`` ends the session at the broker) and end the reader."""
        self._stop.set()
        with self._room:
            self._room.notify_all()
        sock = self._sock
        if sock is not None and self.connected:
            body = b"\x00" + (b"\x05\x11" + struct.pack(">I", session_expiry_s) if session_expiry_s is not None else b"\x00")
            try:
                self._send(_packet(DISCONNECT << 4, body))
            except OSError:
                pass
        self._close()
        self._thread.join(timeout_s)

    # -- reader thread ----------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        sock = self._sock
        if sock is None:
            raise OSError("not connected")
        with self._send_lock:
            sock.sendall(data)
            self._last_send = time.monotonic()

    def _close(self) -> None:
        sock, self._sock = self._sock, None
        was = self.connected
        self.connected = False
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass
        return was

    def _run(self) -> None:
        delay = self.min_delay_s
        while not self._stop.is_set():
            reason = "connection lost"
            try:
                self._connect()
                delay = self.min_delay_s
                self._read_loop()
            except (OSError, ProtocolError, ssl.SSLError) as exc:
                reason = str(exc) or type(exc).__name__
            was = self._close()
            if self._stop.is_set():
                return
            if was and self.on_disconnect:
                self.on_disconnect(reason)
            self._stop.wait(delay)
            delay = min(self.max_delay_s, delay * 2)

    def _connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        self._sock = sock
        self._buf = b""
        rm = max(1, min(self.receive_maximum, 65535))
        self._send(connect_packet(self.client_id, self.username, self.password, self.keepalive,
                                  self.session_expiry_s, rm))
        sock.settimeout(1.0)

    def _read_loop(self) -> None:
        sock, ka = self._sock, self.keepalive
        while not self._stop.is_set():
            if not self._room_left():  # backpressure: leave it in the broker
                with self._room:
                    self._room.wait_for(lambda: self._room_left() or self._stop.is_set(), timeout=1.0)
                self._ping_if_due(ka)
                continue
            try:
                data = sock.recv(RECV_CHUNK)
            except (socket.timeout, ssl.SSLWantReadError):
                self._ping_if_due(ka)
                continue
            if not data:
                raise OSError("connection closed by the broker")
            self._feed(data)
            self._ping_if_due(ka)

    def _room_left(self) -> bool:
        return self.pending_bytes < self.max_unacked_bytes and self.queued_bytes < self.read_ahead_bytes

    def _ping_if_due(self, ka: int) -> None:
        if self.connected and time.monotonic() - self._last_send > ka / 2:
            self._send(b"\xc0\x00")

    def _feed(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        n, pos, gen = len(buf), 0, self.gen
        append, inbox_bytes, hold = self.inbox.append, 0, self.hold.is_set()
        rms = time.time_ns() // 1_000_000
        while pos + 2 <= n:
            first = buf[pos]
            # remaining length (§1.5.5), inlined for the common 1- and 2-byte cases
            b1 = buf[pos + 1]
            if b1 < 0x80:
                rl, start = b1, pos + 2
            else:
                r = _read_varint(buf, pos + 1)
                if r is None:
                    break
                rl, start = r
            end = start + rl
            if end > n:
                break
            if first >> 4 == PUBLISH:
                qos = (first >> 1) & 3
                tl = (buf[start] << 8) | buf[start + 1]
                p = start + 2 + tl
                topic = buf[start + 2:p]
                mid = 0
                if qos:
                    mid = (buf[p] << 8) | buf[p + 1]
                    p += 2
                plen = buf[p]
                if plen < 0x80:
                    p += 1 + plen
                else:
                    plen, p = _read_varint(buf, p)
                    p += plen
                if not hold:  # a held message is not acked: the broker redelivers it next session
                    payload = buf[p:end]
                    inbox_bytes += end - p + tl
                    append((mid, qos, topic, payload, rms, gen))
                if qos == 2:
                    raise ProtocolError("QoS 2 delivery on a QoS 1 subscription")
            else:
                self._control(first, buf[start:end])
                gen = self.gen
            pos = end
        self._buf = buf[pos:] if pos < n else b""
        if inbox_bytes:
            with self._room:
                self.pending_bytes += inbox_bytes
                self.queued_bytes += inbox_bytes

    def _control(self, first: int, body: bytes) -> None:
        kind = first >> 4
        if kind == CONNACK:
            present, rc = bool(body[0] & 1), body[1]
            if rc >= 0x80:
                if self.on_connect:
                    self.on_connect(False, None, rc)
                raise ProtocolError(f"CONNACK refused, reason code 0x{rc:02x}")
            self.gen += 1
            self.session_present, self.connected = present, True
            if self.on_connect:
                self.on_connect(True, present, rc)
            if self.retire:
                self._send(_packet((UNSUBSCRIBE << 4) | 2, b"\x00\x01\x00" + _str(self.topic)))
            else:
                self._send(_packet((SUBSCRIBE << 4) | 2, b"\x00\x01\x00" + _str(self.topic) + b"\x01"))
        elif kind == SUBACK:
            plen, p = _read_varint(body, 2)
            codes = body[p + plen:]
            if self.on_subscribe:
                self.on_subscribe(all(c < 0x80 for c in codes), list(codes))
        elif kind == DISCONNECT:
            rc = body[0] if body else 0
            raise ProtocolError(f"DISCONNECT from the broker, reason code 0x{rc:02x}")
        elif kind in (PINGRESP, UNSUBACK, PUBACK):
            pass
        elif kind == AUTH:
            raise ProtocolError("AUTH exchange not supported")
        else:
            raise ProtocolError(f"unexpected packet type {kind}")
