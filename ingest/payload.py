"""Pure parsing and validation of one MQTT message into InfluxDB line protocol (docs/contracts.md §1).

``parse_payload(topic, payload, index, now_ms, limits) -> (points, rejects)``:

- ``points`` are line-protocol strings at **millisecond** precision for ``readings``,
  ``device_status`` and ``enterprise_monthly``; their identity is (measurement, tags, time), so a
  redelivered message overwrites its own points.
- ``rejects`` are :class:`Reject` records, one per invalid reading (or one for the whole message
  when it cannot be read at all), each with a snake_case ``reason`` from :data:`REASONS`.

Nothing here does I/O or reads the clock; ``now_ms`` (epoch ms at the bridge) is the receive time.

Authentication double-check: with MQTT 5 the subscriber cannot see the publisher's username, so the
broker ACL (``pattern write ecm/v1/%u/#``) is the primary guard. Here the topic's enterprise must
be registered and must own every meter it names (topic meter or batch ``meter`` items), so even a
mis-configured ACL cannot make enterprise A's topic carry B's meters.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from ecm.mqtt import GATEWAY_SEGMENT, STATS_SEGMENT, TOPIC_ROOT
from ecm.stats import FIELDS as STATS_FIELDS
from ecm.stats import MEASUREMENT as STATS_MEASUREMENT

READINGS = "readings"
DEVICE_STATUS = "device_status"
MAX_ABS_VALUE = 1e15
MAX_BATCH_ITEMS = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)
_SHANGHAI = ZoneInfo("Asia/Shanghai")
_INT64_MAX = 2**63 - 1

#: every reject reason, with its meaning (ingest/README.md lists the same)
REASONS = {
    "payload_too_large": "payload exceeds ECM_INGEST_MAX_PAYLOAD_BYTES",
    "topic_invalid": "topic is not ecm/v1/{enterprise}/{meter}/{reading|status} or .../stats/monthly",
    "unknown_enterprise": "topic enterprise is not in the registry",
    "enterprise_disabled": "topic enterprise was offboarded (`ecm enterprise disable`; registry `disabled`)",
    "unknown_meter": "meter id is not in the registry",
    "meter_not_owned": "meter belongs to another enterprise than the topic's",
    "meter_missing": "gateway batch item lacks a string 'meter'",
    "json_invalid": "payload is not UTF-8 JSON",
    "json_duplicate_key": "a JSON object repeats a key (which one wins is undefined)",
    "text_invalid": "a string is not well-formed UTF-8 (a lone surrogate escape such as \\ud800)",
    "shape_invalid": "JSON is not an object with ts+values or readings[]",
    "batch_too_large": "more than 10,000 readings in one message",
    "batch_empty": "readings is an empty list",
    "ts_missing": "reading has no ts",
    "ts_invalid": "ts is neither an ISO 8601 string with UTC offset nor integer epoch ms",
    "ts_future": "ts more than ECM_INGEST_MAX_FUTURE_S after receive time",
    "ts_too_old": "ts more than ECM_INGEST_MAX_AGE_S before receive time",
    "values_invalid": "values is not a non-empty object",
    "quantity_mismatch": "values key is not the meter's registry quantity (<quantity>_<unit>)",
    "value_not_number": "value is not a JSON number (string, bool, null, object)",
    "value_not_finite": "value is NaN, Infinity or |x| >= 1e15",
    "value_negative": "a counter (kind: counter) register reading is negative",
    "seq_invalid": "seq is not a non-negative integer",
    "status_invalid": "status payload is not online/offline or {\"state\": ...}",
    "stats_invalid": "monthly stats fail the ecm.stats rules (month, finite, >= 0, deflator 0.5-2)",
    "influx_rejected": "InfluxDB refused the point (HTTP 4xx), e.g. a field type conflict",
    "internal_error": "the bridge failed while handling the message (detail: exception type); a bug",
}


@dataclass(frozen=True)
class Limits:
    """Validation limits: ages in seconds, payload size in bytes."""

    max_age_s: int = 7 * 86400
    max_future_s: int = 300
    max_payload_bytes: int = 256 * 1024
    max_batch_items: int = MAX_BATCH_ITEMS

    @classmethod
    def from_settings(cls, s) -> "Limits":
        return cls(max_age_s=s.ingest_max_age_s, max_future_s=s.ingest_max_future_s,
                   max_payload_bytes=s.ingest_max_payload_bytes)


@dataclass(frozen=True)
class Reject:
    """One rejected reading (``item`` = index in a batch, None = whole message)."""

    reason: str
    detail: str
    topic: str
    enterprise_claimed: str
    item: int | None = None
    item_json: str | None = None


@dataclass(frozen=True)
class RegistryIndex:
    """Registry lookups the parser needs: meter -> (enterprise, quantity), enterprise ids.

    ``enterprises`` and ``meters`` hold ACTIVE enterprises only; a disabled one (``ecm enterprise
    disable``) is in ``disabled``, so its messages are rejected as ``enterprise_disabled``."""

    meters: dict[str, tuple[str, str]]
    enterprises: frozenset[str]
    counters: frozenset[str] = frozenset()  # meters of kind counter (a register never reads < 0)
    disabled: frozenset[str] = frozenset()

    @classmethod
    def from_registry(cls, reg) -> "RegistryIndex":
        active = [e for e in reg.enterprises if e.disabled is None]
        return cls({m.id: (e.id, m.quantity) for e in active for m in e.meters},
                   frozenset(e.id for e in active),
                   frozenset(m.id for e in active for m in e.meters if m.kind == "counter"),
                   frozenset(e.id for e in reg.enterprises if e.disabled is not None))


@dataclass
class Parsed:
    """Result of one message: line-protocol points, rejects and the number of readings seen."""

    points: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    n_readings: int = 0
    device: tuple[str, str, str] | None = None  # (enterprise, meter, state) of a status message


class _Bad(Exception):
    def __init__(self, reason: str, detail: str = ""):
        self.reason, self.detail = reason, detail


def _nan(_const: str) -> float:
    return math.nan


class _DuplicateKey(ValueError):
    pass


def _pairs(pairs: list) -> dict:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _DuplicateKey(safe_text(dup)[:40])
    return d


def safe_text(s: str) -> str:
    """``s`` with lone surrogates shown as ``\\udXXX`` escapes (always encodable as UTF-8)."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _loads(payload: bytes):
    """Strict JSON: UTF-8 only (bytes would sniff UTF-16/32), no duplicate keys, and every string
    well-formed Unicode (JSON may escape a lone surrogate, ``"\\ud800"``, which UTF-8 cannot carry)."""
    try:
        doc = json.loads(payload.decode("utf-8"), parse_constant=_nan, object_pairs_hook=_pairs)
    except _DuplicateKey as exc:
        raise _Bad("json_duplicate_key", f"duplicate key {exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _Bad("json_invalid", safe_text(str(exc))[:200]) from None
    if b"\\u" in payload:  # only an escape can produce a lone surrogate
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _Bad("text_invalid", f"lone surrogate at {exc.start}") from None
        except (ValueError, RecursionError):
            raise _Bad("json_invalid", "too deeply nested") from None
    return doc


def parse_ts_ms(ts) -> int:
    """Device timestamp -> epoch ms: int epoch ms, or ISO 8601 with a UTC offset. ISO digits below the
    millisecond are truncated, not rounded (docs/contracts.md §1.1)."""
    if type(ts) is int:
        if not -_INT64_MAX // 1_000_000 < ts < _INT64_MAX // 1_000_000:
            raise _Bad("ts_invalid", "epoch ms out of range")
        return ts
    if isinstance(ts, str):
        try:
            dt = datetime.fromisoformat(ts)
        except ValueError:
            raise _Bad("ts_invalid", f"not ISO 8601: {ts[:40]!r}") from None
        if dt.tzinfo is None or dt.utcoffset() is None:
            raise _Bad("ts_invalid", "ISO timestamp without UTC offset")
        return (dt - _EPOCH) // _MS
    raise _Bad("ts_invalid", f"ts of type {type(ts).__name__}")


def _number(v) -> float:
    t = type(v)
    if t is float:
        if v != v or v in (math.inf, -math.inf) or abs(v) >= MAX_ABS_VALUE:
            raise _Bad("value_not_finite", repr(v)[:40])
        return v
    if t is int:
        if abs(v) >= MAX_ABS_VALUE:
            raise _Bad("value_not_finite", repr(v)[:40])
        return float(v)
    raise _Bad("value_not_number", f"value of type {t.__name__}")


def _reading_line(item, enterprise: str, meter: str, quantity: str, now_ms: int, limits: Limits,
                  counter: bool = False) -> str:
    if type(item) is not dict:
        raise _Bad("shape_invalid", "reading is not an object")
    ts = item.get("ts")
    if ts is None:
        raise _Bad("ts_missing")
    ts_ms = parse_ts_ms(ts)
    if ts_ms > now_ms + limits.max_future_s * 1000:
        raise _Bad("ts_future", f"ts {ts_ms} is {(ts_ms - now_ms) / 1000:.0f} s ahead")
    if ts_ms < now_ms - limits.max_age_s * 1000:
        raise _Bad("ts_too_old", f"ts {ts_ms} is {(now_ms - ts_ms) / 1000:.0f} s old")
    values = item.get("values")
    if type(values) is not dict or not values:
        raise _Bad("values_invalid")
    if len(values) != 1 or quantity not in values:
        bad = next((k for k in values if k != quantity), "")
        raise _Bad("quantity_mismatch", f"{str(bad)[:40]!r} is not {quantity} of meter {meter}")
    value = _number(values[quantity])
    if counter and value < 0:
        raise _Bad("value_negative", f"{value!r} on counter {meter}")
    seq = item.get("seq")
    tail = ""
    if seq is not None:
        if type(seq) is not int or not 0 <= seq <= _INT64_MAX:
            raise _Bad("seq_invalid", repr(seq)[:40])
        tail = f",seq={seq}i"
    return (f"readings,enterprise={enterprise},meter={meter},quantity={quantity} "
            f"{quantity}={value!r},received_ms={now_ms}i{tail} {ts_ms}")


def _item_json(item) -> str:
    try:
        return json.dumps(item, ensure_ascii=False, allow_nan=True)[:2048]
    except (TypeError, ValueError):
        return repr(item)[:2048]


def _parse_readings(out: Parsed, doc, topic: str, enterprise: str, meter: str, idx: RegistryIndex,
                    now_ms: int, limits: Limits) -> None:
    if type(doc) is not dict:
        raise _Bad("shape_invalid", "top level is not an object")
    gateway = meter == GATEWAY_SEGMENT
    if "readings" in doc:
        items = doc["readings"]
        if type(items) is not list:
            raise _Bad("shape_invalid", "readings must be a list")
        if len(items) > limits.max_batch_items:
            raise _Bad("batch_too_large", f"{len(items)} items > {limits.max_batch_items}")
        if not items:
            raise _Bad("batch_empty", "readings: []")
        batch = True
    else:
        items, batch = [doc], False
    quantity = None
    if not gateway:
        quantity = idx.meters[meter][1]
    counters = idx.counters
    points, rejects = out.points, out.rejects
    for i, item in enumerate(items):
        out.n_readings += 1
        try:
            if gateway:
                m = item.get("meter") if type(item) is dict else None
                if type(m) is not str:
                    raise _Bad("meter_missing")
                owner = idx.meters.get(m)
                if owner is None:
                    raise _Bad("unknown_meter", safe_text(m[:40]))
                if owner[0] != enterprise:
                    raise _Bad("meter_not_owned", f"meter {m} belongs to {owner[0]}")
                points.append(_reading_line(item, enterprise, m, owner[1], now_ms, limits, m in counters))
            else:
                points.append(_reading_line(item, enterprise, meter, quantity, now_ms, limits, meter in counters))
        except _Bad as bad:
            rejects.append(Reject(bad.reason, safe_text(bad.detail), topic, enterprise, i if batch else None,
                                  safe_text(_item_json(item)) if batch else None))


def _parse_status(out: Parsed, payload: bytes, enterprise: str, meter: str, now_ms: int) -> None:
    text = payload.strip()
    if text in (b"online", b"offline"):
        state = text.decode()
    else:
        try:
            doc = _loads(payload)
        except _Bad as bad:
            if bad.reason in ("text_invalid", "json_duplicate_key"):
                raise
            doc = None
        if type(doc) is not dict or type(doc.get("state")) is not str or not doc["state"]:
            raise _Bad("status_invalid", "expected online/offline or {\"state\": ...}")
        state = doc["state"][:64]
    online = 1 if state == "online" else 0
    esc = state.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    out.points.append(f'{DEVICE_STATUS},enterprise={enterprise},meter={meter} online={online}i,state="{esc}" {now_ms}')
    out.device = (enterprise, meter, state)


def month_start_ms(month: str) -> int:
    """'2024-03' -> epoch ms of 2024-03-01 00:00 Asia/Shanghai."""
    if type(month) is not str or len(month) != 7 or month[4] != "-" or not (month[:4] + month[5:]).isdigit():
        raise _Bad("stats_invalid", f"month {str(month)[:20]!r} is not YYYY-MM")
    y, m = int(month[:4]), int(month[5:])
    if not (1 <= m <= 12 and 1990 <= y <= 2200):
        raise _Bad("stats_invalid", f"month {month} out of range")
    return (datetime(y, m, 1, tzinfo=_SHANGHAI) - _EPOCH) // _MS


def _parse_stats(out: Parsed, doc, enterprise: str) -> None:
    """Same rules as ecm.stats.validate_stats (10^4 yuan current prices, deflator 2022 = 1.0)."""
    if type(doc) is not dict:
        raise _Bad("stats_invalid", "not an object")
    t_ms = month_start_ms(doc.get("month"))
    vals = {}
    for f in STATS_FIELDS:
        v = doc.get(f)
        if type(v) not in (int, float) or not math.isfinite(v):
            raise _Bad("stats_invalid", f"{f} is not a finite number")
        vals[f] = float(v)
    if vals["output_value_10k_cny"] < 0 or vals["value_added_10k_cny"] < 0:
        raise _Bad("stats_invalid", "negative value")
    if not 0.5 < vals["deflator_index"] < 2.0:
        raise _Bad("stats_invalid", "deflator_index outside (0.5, 2.0)")
    fields = ",".join(f"{k}={v!r}" for k, v in vals.items())
    out.points.append(f"{STATS_MEASUREMENT},enterprise={enterprise} {fields} {t_ms}")


def parse_payload(topic: str, payload: bytes, index: RegistryIndex, now_ms: int,
                  limits: Limits = Limits()) -> Parsed:
    """Validate one MQTT message and turn it into line-protocol points and rejects (never raises)."""
    out = Parsed()
    enterprise = ""
    try:
        parts = topic.split("/")
        if len(parts) != 5 or parts[0] + "/" + parts[1] != TOPIC_ROOT:
            raise _Bad("topic_invalid", topic[:200])
        enterprise, meter, kind = parts[2], parts[3], parts[4]
        if enterprise not in index.enterprises:
            if enterprise in index.disabled:
                raise _Bad("enterprise_disabled", enterprise)
            raise _Bad("unknown_enterprise", enterprise[:40])
        if len(payload) > limits.max_payload_bytes:
            raise _Bad("payload_too_large", f"{len(payload)} bytes > {limits.max_payload_bytes}")
        if meter == STATS_SEGMENT:
            if kind != "monthly":
                raise _Bad("topic_invalid", topic[:200])
            _parse_stats(out, _loads(payload), enterprise)
            return out
        if kind not in ("reading", "status"):
            raise _Bad("topic_invalid", topic[:200])
        if meter != GATEWAY_SEGMENT:
            owner = index.meters.get(meter)
            if owner is None:
                raise _Bad("unknown_meter", meter[:40])
            if owner[0] != enterprise:
                raise _Bad("meter_not_owned", f"meter {meter} belongs to {owner[0]}")
        if kind == "status":
            _parse_status(out, payload, enterprise, meter, now_ms)
        else:
            _parse_readings(out, _loads(payload), topic, enterprise, meter, index, now_ms, limits)
    except _Bad as bad:
        out.points.clear()
        out.rejects.append(Reject(bad.reason, safe_text(bad.detail), topic, enterprise))
    return out
