"""The common message, parsed cheaply: a meter's reading (or batch of readings) in canonical form.

``FastPath.lines`` handles exactly the messages that :func:`ingest.payload.parse_payload` would
accept whole — a known meter's ``reading`` topic, ``{"ts": <int ms>, "values": {<quantity>: <number>},
"seq": <int>}`` or ``{"readings": [those]}``, every reading valid (a counter's never negative) — and returns the same
line-protocol lines, byte for byte. Anything else (a reject, an ISO timestamp, a gateway or status
topic, extra keys, escapes, duplicate keys) returns ``None``, and the caller uses ``parse_payload``,
the one place that names reasons. So the fast path can only be faster, never different: the tests
compare the two on the hostile corpus and a fuzz run.

Cost per message: one cached topic lookup, one ``msgspec`` decode (C), a few type checks and one
string format. Duplicate keys: ``msgspec`` keeps the last of two equal keys, so a message is taken
only when it has no backslash and exactly as many ``"`` as its decoded keys need (2 per key; a
dropped duplicate would leave more), which is exact for escape-free JSON.

Line layout: the measurement and tag part of each meter's lines comes from the maintained
serializer (``influxdb_client``'s ``Point``), once per topic; fields are numbers formatted as in
``ingest.payload`` (``repr`` of the float, ``<int>i``), which needs no escaping.
"""
from __future__ import annotations

import math

import msgspec

from ecm.mqtt import GATEWAY_SEGMENT, STATS_SEGMENT, TOPIC_ROOT
from ecm.schema import MEAS_READINGS
from ingest.payload import _INT64_MAX, MAX_ABS_VALUE, Limits, RegistryIndex

_READING_KEYS = frozenset(("ts", "values", "seq"))
_TS_BOUND = _INT64_MAX // 1_000_000


def line_prefix(enterprise: str, meter: str, quantity: str) -> str:
    """``readings,<tags> <quantity>=`` as the maintained serializer writes the tag part."""
    from influxdb_client import Point

    lp = Point(MEAS_READINGS).tag("enterprise", enterprise).tag("meter", meter).tag("quantity", quantity) \
        .field(quantity, 1.5).to_line_protocol()
    return lp[:lp.index(" ")] + f" {quantity}="


class FastPath:
    """Topic cache and canonical-message parser for one worker (not thread-safe; one per worker)."""

    def __init__(self, index: RegistryIndex, limits: Limits = Limits()):
        self.index, self.limits = index, limits
        self._topics: dict[bytes, tuple[str, str, bool] | None] = {}
        self._decode = msgspec.json.Decoder().decode

    def _topic(self, topic_b: bytes) -> tuple[str, str, bool] | None:
        """(quantity, line prefix, is a counter) of a known meter's reading topic; None otherwise."""
        try:
            return self._topics[topic_b]
        except KeyError:
            pass
        info = None
        try:
            parts = topic_b.decode("utf-8").split("/")
        except UnicodeDecodeError:
            parts = []
        if len(parts) == 5 and parts[0] + "/" + parts[1] == TOPIC_ROOT and parts[4] == "reading":
            ent, meter = parts[2], parts[3]
            owner = self.index.meters.get(meter)
            if (meter not in (GATEWAY_SEGMENT, STATS_SEGMENT) and ent in self.index.enterprises
                    and owner is not None and owner[0] == ent):
                info = (owner[1], line_prefix(ent, meter, owner[1]), meter in self.index.counters)
        if len(self._topics) < 100_000:
            self._topics[topic_b] = info
        return info

    def lines(self, topic_b: bytes, payload: bytes, now_ms: int) -> list[str] | None:
        """The message's lines when it is canonical and wholly valid; otherwise None."""
        info = self._topic(topic_b)
        if info is None or len(payload) > self.limits.max_payload_bytes or b"\\" in payload:
            return None
        try:
            doc = self._decode(payload)
        except (ValueError, RecursionError):  # msgspec.DecodeError, UnicodeDecodeError
            return None
        if type(doc) is not dict:
            return None
        quantity, prefix, counter = info
        lo = now_ms - self.limits.max_age_s * 1000
        hi = now_ms + self.limits.max_future_s * 1000
        tail = f",received_ms={now_ms}i"
        if "readings" in doc:
            items = doc["readings"]
            if len(doc) != 1 or type(items) is not list or not items or len(items) > self.limits.max_batch_items:
                return None
            n_keys = 1
        else:
            items, n_keys = (doc,), 0
        out = []
        for item in items:
            if type(item) is not dict or not item.keys() <= _READING_KEYS:
                return None
            ts, values, seq = item.get("ts"), item.get("values"), item.get("seq")
            if type(ts) is not int or not (lo <= ts <= hi and -_TS_BOUND < ts < _TS_BOUND):
                return None
            if type(values) is not dict or len(values) != 1:
                return None
            v = values.get(quantity)
            t = type(v)
            if t is float:
                if not math.isfinite(v) or abs(v) >= MAX_ABS_VALUE:
                    return None
            elif t is int:
                if abs(v) >= MAX_ABS_VALUE:
                    return None
                v = float(v)
            else:
                return None
            if counter and v < 0:  # value_negative
                return None
            if seq is None:
                if "seq" in item:
                    return None
                out.append(f"{prefix}{v!r}{tail} {ts}")
            else:
                if type(seq) is not int or not 0 <= seq <= _INT64_MAX:
                    return None
                out.append(f"{prefix}{v!r}{tail},seq={seq}i {ts}")
            n_keys += len(item) + 1
        if payload.count(b'"') != 2 * n_keys:  # a duplicate key was dropped by the decoder
            return None
        return out
