"""Fault injection, off by default; each kind is switched on with a rate.

| kind | rate means | effect on the wire |
|---|---|---|
| dropout | P(outage) per enterprise-day | gateway offline 2-10 h (retained ``offline`` status), then sends live readings again and flushes the buffered ones 15-75 min later, as batches |
| duplicate | P per reading | the reading is sent twice |
| out_of_order | P per reading | the reading is delayed 1-4 h, arriving after newer ones |
| clock_skew | P per enterprise-day | every ts of that gateway-day shifted by ±2 min-3 h |
| spike | P per reading | counters jump by 50 h of max rate for one reading; gauges ×20 |
| stuck | P per meter-day | the meter repeats one value for 2-8 h, then catches up |
| counter_reset | P per meter-day | the register restarts at 0 at a random instant (no consumption lost) |
| rollover | share of counters | the register starts just below 10**digits so it wraps inside the window |
| malformed | P per enterprise-hour | a hostile message: bad JSON, wrong types, NaN, 1e300, unknown meter, > 256 KiB, missing ts |
| drift | efficiency loss per month, ``drift=RATE@LINE[:START]`` | a physical fault, not a wire one: every energy meter of ``LINE`` uses ``1 + RATE × months since START`` times its energy (default START 2023-01-01); the ground truth includes it (it is real consumption) |

Decisions are keyed by (seed, kind, enterprise/meter, day/reading) so a run is reproducible.
Ground truth (window.truth_frame) is never affected by the wire faults; ``drift`` is physical and
is part of it (pass the same FaultConfig to ``truth_frame``). ``all`` does not include ``drift``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from sim_devices import rng
from sim_devices.calendar import DAY_S, HOUR_S

KINDS = ("dropout", "duplicate", "out_of_order", "clock_skew", "spike", "stuck", "counter_reset",
         "rollover", "malformed")
DEFAULT_RATES = {"dropout": 0.05, "duplicate": 0.01, "out_of_order": 0.01, "clock_skew": 0.03,
                 "spike": 0.001, "stuck": 0.02, "counter_reset": 0.005, "rollover": 0.1, "malformed": 0.02}
MALFORMED_KINDS = ("bad_json", "wrong_type", "nan", "huge", "unknown_meter", "oversize", "missing_ts", "not_object")


@dataclass
class Rows:
    """Readings of one enterprise chunk as parallel arrays (times in simulator seconds)."""

    meter: np.ndarray      # int index into the enterprise's meters
    ts: np.ndarray         # int64 measurement time
    value: np.ndarray      # float64
    release: np.ndarray    # int64 time the gateway sends it
    buffered: np.ndarray   # bool: part of a late flush (batch form)

    def take(self, idx) -> "Rows":
        return Rows(self.meter[idx], self.ts[idx], self.value[idx], self.release[idx], self.buffered[idx])

    @staticmethod
    def concat(parts: list["Rows"]) -> "Rows":
        return Rows(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                      ("meter", "ts", "value", "release", "buffered")))


@dataclass
class Extra:
    """A message beside the readings: status changes and hostile payloads."""

    release: int
    topic_meter: str  # meter segment of the topic ("gateway", a meter id, or an unknown one)
    kind: str         # "reading" | "status"
    payload: bytes
    retain: bool = False


DRIFT_DEFAULT_START = "2023-01-01"


def parse_drift(value: str) -> tuple[str, float, str]:
    """``0.02@e03_l1:2023-03-01`` → ("e03_l1", 0.02, "2023-03-01") (efficiency loss per month)."""
    from datetime import date

    rate, at, rest = value.partition("@")
    line, _, start = rest.partition(":")
    try:
        r = float(rate)
        start = start or DRIFT_DEFAULT_START
        date.fromisoformat(start)
    except ValueError:
        r = None
    if not at or not line or r is None or not 0 < r < 1:
        raise ValueError(f"bad drift fault {value!r}; expected drift=RATE@LINE[:YYYY-MM-DD], e.g. drift=0.02@e03_l1:2023-03-01")
    return line, r, start


@dataclass
class FaultConfig:
    """Rates per fault kind (see module doc); an empty config injects nothing."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    #: physical efficiency drifts: (line id, fraction per month, first day ISO)
    drifts: list[tuple[str, float, str]] = field(default_factory=list)

    @classmethod
    def parse(cls, specs: list[str] | str | None, seed: int = 0) -> "FaultConfig":
        """``["dropout=0.1", "spike"]`` or ``"all"``; a kind without a rate takes DEFAULT_RATES."""
        if isinstance(specs, str):
            specs = [s for s in specs.split(",") if s]
        rates, drifts = {}, []
        for s in specs or []:
            k, _, v = s.partition("=")
            k = k.strip()
            if k == "all":
                rates.update(DEFAULT_RATES)
                continue
            if k == "drift":
                drifts.append(parse_drift(v))
                continue
            if k not in KINDS:
                raise ValueError(f"unknown fault {k!r}; known: {', '.join(KINDS)}")
            rates[k] = float(v) if v else DEFAULT_RATES[k]
        return cls(rates, seed, drifts=drifts)

    def drifts_for(self, line_ids) -> list[tuple[str, float, str]]:
        """The drifts on any of ``line_ids``."""
        ids = set(line_ids)
        return [d for d in self.drifts if d[0] in ids]

    def on(self, kind: str) -> float:
        return self.rates.get(kind, 0.0)

    def _count(self, kind: str, n: int) -> None:
        if n:
            self.counts[kind] = self.counts.get(kind, 0) + int(n)

    def key(self, *names) -> int:
        return rng.key_of(self.seed, "fault", *names)

    # -- register events (applied when the window is built) ----------------------------------
    def register_events(self, tr, full_tr, d0: int, d1: int) -> None:
        """counter_reset: restarts at 0 on selected meter-days; rollover: start just below the top."""
        mid = tr.meter.id
        if self.on("counter_reset"):
            days = np.arange(d0, d1 + 1)
            hit = days[rng.uniform(self.key("counter_reset", mid), days) < self.on("counter_reset")]
            for d in hit:
                t_r = int(d * DAY_S + int(rng.uniform1(self.key("counter_reset", mid, "t"), int(d)) * DAY_S) // 900 * 900 + 450)
                tr.replacements.append((t_r, 0.0, float(full_tr.cumulative(np.array([t_r]))[0])))
            self._count("counter_reset", len(hit))
        if self.on("rollover") and rng.uniform1(self.key("rollover", mid), d0) < self.on("rollover"):
            t_roll = d0 * DAY_S + int(rng.uniform1(self.key("rollover", mid, "t"), d0) * (d1 - d0 + 1) * DAY_S)
            c_roll = float(full_tr.cumulative(np.array([t_roll]))[0])
            tr.start = float((tr.meter.register_max - c_roll) % tr.meter.register_max)
            self._count("rollover", 1)

    # -- reading faults (applied per enterprise chunk) ----------------------------------------
    def apply(self, ent_id: str, meters: list, rows: Rows, day: int, t_lo: int | None = None,
              t_hi: int | None = None) -> tuple[Rows, list[Extra]]:
        """Faults on one enterprise's readings of [t_lo, t_hi) inside Beijing day index ``day``
        (default: the whole day). Day-level decisions are the same for every chunk of a day."""
        t_lo = day * DAY_S if t_lo is None else t_lo
        t_hi = (day + 1) * DAY_S if t_hi is None else t_hi
        inside = lambda t: t_lo <= t < t_hi  # noqa: E731
        extras: list[Extra] = []

        uid = rows.meter.astype(np.int64) * 1_000_003 + rows.ts  # a reading's identity
        if self.on("stuck"):
            for mi in np.unique(rows.meter):
                k = self.key("stuck", meters[mi].id)
                if rng.uniform1(k, day) < self.on("stuck"):
                    a = day * DAY_S + int(rng.uniform1(k, day, 1) * 14) * HOUR_S
                    b = a + (2 + int(rng.uniform1(k, day, 2) * 7)) * HOUR_S
                    sel = (rows.meter == mi) & (rows.ts >= a) & (rows.ts < b)
                    if sel.any():
                        rows.value[sel] = rows.value[np.argmax(sel)]
                        self._count("stuck", 1)
        if self.on("spike"):
            sel = rng.uniform(self.key("spike", ent_id), uid) < self.on("spike")
            for i in np.flatnonzero(sel):
                m = meters[rows.meter[i]]
                rows.value[i] = rows.value[i] * 20 + 1 if m.kind == "gauge" else rows.value[i] + 50 * (m.max_rate_per_h or 1e4)
            self._count("spike", sel.sum())
        if self.on("clock_skew") and rng.uniform1(self.key("clock_skew", ent_id), day) < self.on("clock_skew"):
            u = rng.uniform1(self.key("clock_skew", ent_id, "s"), day)
            skew = int((120 + u * (3 * HOUR_S - 120)) * (1 if u > 0.5 else -1))
            rows.ts = rows.ts + skew
            self._count("clock_skew", int(inside(day * DAY_S)))
        if self.on("out_of_order"):
            sel = rng.uniform(self.key("out_of_order", ent_id), uid) < self.on("out_of_order")
            rows.release[sel] += (1 + (rng.uniform(self.key("ooo", ent_id), uid[sel]) * 4).astype(np.int64)) * HOUR_S
            self._count("out_of_order", sel.sum())
        if self.on("duplicate"):
            sel = np.flatnonzero(rng.uniform(self.key("duplicate", ent_id), uid) < self.on("duplicate"))
            dup = rows.take(sel)
            dup.release = dup.release + 60
            rows = Rows.concat([rows, dup])
            self._count("duplicate", len(sel))
        if self.on("dropout") and rng.uniform1(self.key("dropout", ent_id), day) < self.on("dropout"):
            k = self.key("dropout", ent_id, "w")
            a = day * DAY_S + int(rng.uniform1(k, day) * 20) * HOUR_S
            b = a + (2 + int(rng.uniform1(k, day, 1) * 9)) * HOUR_S
            sel = (rows.release >= a) & (rows.release < b)
            # live readings resume at b; the backlog follows 15-75 min later as one batch
            rows.release[sel] = b + 900 + int(rng.uniform1(k, day, 2) * 3600)
            rows.buffered[sel] = True
            extras += [x for x in (Extra(a, "gateway", "status", b"offline", True),
                                   Extra(b + 1, "gateway", "status", b"online", True)) if inside(x.release)]
            self._count("dropout", int(inside(a)))
        if self.on("malformed"):
            hours = np.arange(24)
            k = self.key("malformed", ent_id)
            for h in hours[rng.uniform(k, day, hours) < self.on("malformed")]:
                if not inside(int(day * DAY_S + h * HOUR_S + 1234)):
                    continue
                kind = MALFORMED_KINDS[int(rng.uniform1(k, day, int(h), 1) * len(MALFORMED_KINDS))]
                extras.append(malformed_message(kind, meters, int(day * DAY_S + h * HOUR_S + 1234)))
                self._count("malformed", 1)
        order = np.lexsort((rows.ts, rows.release))
        return rows.take(order), extras


def malformed_message(kind: str, meters: list, t_s: int) -> Extra:
    """A hostile reading message of the given kind (see MALFORMED_KINDS)."""
    from sim_devices.window import sim_s_to_ms

    m = next((m for m in meters if m.kind == "counter"), meters[0])
    ts = int(sim_s_to_ms(np.array([t_s]))[0])
    good = {"ts": ts, "values": {m.quantity: 1.0}}
    payload: bytes
    topic_meter = m.id
    if kind == "bad_json":
        payload = b'{"ts": ' + str(ts).encode() + b', "values": {'
    elif kind == "wrong_type":
        payload = json.dumps({"ts": ts, "values": {m.quantity: "12.5"}}).encode()
    elif kind == "nan":
        payload = ('{"ts": %d, "values": {"%s": NaN}}' % (ts, m.quantity)).encode()
    elif kind == "huge":
        payload = json.dumps({"ts": ts, "values": {m.quantity: 1e300}}).encode()
    elif kind == "unknown_meter":
        topic_meter = f"{m.id.split('_')[0]}_no_such_meter"
        payload = json.dumps(good).encode()
    elif kind == "oversize":
        payload = json.dumps({"readings": [good] * 9000, "pad": "x" * 300_000}).encode()
        topic_meter = "gateway"
    elif kind == "missing_ts":
        payload = json.dumps({"values": {m.quantity: 1.0}}).encode()
    else:
        payload = b"[1, 2, 3]"
    return Extra(t_s, topic_meter, "reading", payload, False)
