"""One ingest worker: MQTT v5 persistent session → validated line protocol → InfluxDB (or spool).

Delivery guarantee (at-least-once, idempotent):

- fixed client id ``<ECM_INGEST_CLIENT_ID>-<index>``, ``clean_start=False`` and a session expiry,
  QoS 1 on ``$share/ingest/ecm/v1/#``, ``manual_ack=True``;
- the session's reader thread (ingest/session.py) only appends ``(mid, qos, topic, payload,
  received_ms, generation)`` to an in-memory inbox; the processing thread (the caller of :meth:`Worker.run`) parses a batch, writes it to InfluxDB — or
  fsyncs it to the local spool when InfluxDB is down — fsyncs quarantine lines, and only then acks
  the batch's messages, in the order received, with one ``sendall`` of PUBACKs;
- unacked messages (crash, SIGKILL) stay in the broker session and are redelivered; re-writing them
  overwrites the same points (identity = measurement + tags + device time);
- backpressure: nothing is acked while neither InfluxDB nor the spool accepts a batch, so the broker
  stops after ``ECM_INGEST_RECEIVE_MAXIMUM`` unacked messages and keeps the rest queued; and the
  reader stops reading the socket while ``ECM_INGEST_MAX_UNACKED_MB`` of received payload is not yet
  processed, so memory is bounded by bytes whatever the message size.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import yaml

from ecm.errors import EcmError, InfluxError
from ecm.schema import F_SPOOL_RECORDS_REPLAYED
from ecm.influx import InfluxClient
from ecm.registry import get_registry, parse_registry, read_yaml, registry_digest
from ecm.secrets import INGEST_USER, mqtt_credentials
from ecm.settings import get_settings
from ingest.fastpath import FastPath
from ingest.health import HealthServer
from ingest.payload import Limits, Parsed, RegistryIndex, Reject, parse_payload, safe_text
from ingest.quarantine import Quarantine
from ingest.session import SessionClient
from ingest.spool import Spool, SpoolFull
from ingest.stats import Stats

log = logging.getLogger("ingest.service")

SHARE_TOPIC = "$share/ingest/ecm/v1/#"
WRITE_CHUNK_LINES = 20_000
RETRY_INFLUX_S = 1.0
REPLAY_BUDGET_S = 0.5
#: a batch stops growing at this many payload bytes (big gateway batches stay bounded in memory)
BATCH_MAX_BYTES = 8 << 20


class InfluxDown(Exception):
    """InfluxDB cannot take the batch now (connection error, 5xx, auth, missing database)."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Worker:
    """One bridge worker; ``run()`` blocks until ``stop()`` (or SIGTERM when ``handle_signals``)."""

    def __init__(self, index: int = 0, settings=None, registry=None, *, retire: bool = False,
                 stop_event: threading.Event | None = None):
        s = self.s = settings or get_settings()
        self.index, self.retire = index, retire
        self.client_id = f"{s.ingest_client_id}-{index}"
        self.registry_path = Path(s.district_path)
        self._reg_key, raw = self._registry_stat(), None  # stat first: a change after it is seen next time
        try:
            raw = self.registry_path.read_bytes()
        except OSError:
            pass
        if registry is None:  # the very bytes the digest is taken of (get_registry() for its error)
            registry = (parse_registry(read_yaml(raw.decode("utf-8")), str(self.registry_path))
                        if raw is not None else get_registry())
        # the file's SHA-256 as it was at start; reload_registry() swaps in any later version
        self.registry_sha256 = registry_digest(raw) if raw is not None else ""
        self.index_reg = RegistryIndex.from_registry(registry)
        self.limits = Limits.from_settings(s)
        self.fast = FastPath(self.index_reg, self.limits)
        base = s.state_path / "ingest"
        self.spool = Spool(base / "spool" / self.client_id, s.ingest_spool_max_mb * 2**20)
        self.quarantine = Quarantine(base / "quarantine", self.client_id, index,
                                     enterprises=self.index_reg.enterprises | self.index_reg.disabled,
                                     max_bytes=s.ingest_quarantine_max_mb * 2**20,
                                     tenant_max_bytes=s.ingest_quarantine_tenant_max_mb * 2**20)
        self.health_path: Path = base / f"health-{self.client_id}.json"
        self.stats = Stats(self.client_id)
        cfg = InfluxClient.from_settings().cfg
        self.influx = InfluxClient(replace(cfg, retries=1, timeout_s=min(cfg.timeout_s, 10.0)))
        self.inbox: deque = deque()
        self._batch_bytes = 0
        self._inflight = None  # (future, batch, bytes, readings, points) of the write in flight
        self._writer = ThreadPoolExecutor(1, thread_name_prefix=f"write-{self.client_id}")
        self.gen = 0
        self.session_present: bool | None = None
        self.subscribed = False
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._next_influx_try = 0.0
        self._spool_alarm_logged = False
        self.client = None

    # -- MQTT (session reader thread) -------------------------------------------------
    def _on_connect(self, ok: bool, session_present: bool | None, rc: int) -> None:
        if not ok:
            log.error("mqtt_connect_refused", extra={"worker": self.client_id, "reason": f"0x{rc:02x}"})
            return
        self.gen += 1
        self.session_present = session_present
        if not session_present and self.gen > 1:
            log.error("mqtt_session_lost", extra={"worker": self.client_id})
        log.info("mqtt_connected", extra={"worker": self.client_id, "session_present": self.session_present})

    def _on_subscribe(self, ok: bool, reason_codes: list[int]) -> None:
        self.subscribed = ok
        if not ok:
            log.error("mqtt_subscribe_refused", extra={"worker": self.client_id,
                                                        "reasons": [f"0x{r:02x}" for r in reason_codes]})

    def _on_disconnect(self, reason: str) -> None:
        self.subscribed = False
        if not self._stop.is_set():
            log.warning("mqtt_disconnected", extra={"worker": self.client_id, "reason": reason})

    def _start_mqtt(self) -> None:
        user, password = mqtt_credentials(self.s.state_path, INGEST_USER)
        self.client = SessionClient(
            self.client_id, user, password, self.s.mqtt_host, self.s.mqtt_port, SHARE_TOPIC, inbox=self.inbox,
            keepalive=30, session_expiry_s=self.s.ingest_session_expiry_s,
            receive_maximum=self.s.ingest_receive_maximum, max_unacked_bytes=self.s.ingest_max_unacked_mb << 20,
            read_ahead_bytes=4 * BATCH_MAX_BYTES,
            retire=self.retire, on_connect=self._on_connect, on_subscribe=self._on_subscribe,
            on_disconnect=self._on_disconnect, hold=self._stop).start()

    # -- InfluxDB -----------------------------------------------------------------
    def _post(self, precision: str, body: bytes) -> None:
        """Write one body; a 4xx point error is narrowed down and the bad lines quarantined."""
        t0 = time.perf_counter()
        try:
            status, text = self.influx.write_body(body, precision=precision, retries=0)
        except InfluxError as exc:
            raise InfluxDown(str(exc)) from None
        self.stats.add_latency((time.perf_counter() - t0) * 1000, [])
        if status == 204:
            return
        if status == 400:
            self._bisect(precision, body.split(b"\n"), text)
            return
        raise InfluxDown(f"HTTP {status}: {text[:200]}")

    def _bisect(self, precision: str, lines: list[bytes], text: str) -> None:
        if len(lines) == 1:
            t = now_ms()
            raw = lines[0]
            rej = Reject("influx_rejected", text[:300], "", "")
            self.quarantine.record([("(influxdb)", raw, t, [rej])])
            self.stats.rejects["influx_rejected"] += 1
            log.warning("influx_rejected_point", extra={"worker": self.client_id, "error": text[:300]})
            return
        mid = len(lines) // 2
        for part in (lines[:mid], lines[mid:]):
            try:
                status, text2 = self.influx.write_body(b"\n".join(part), precision=precision, retries=0)
            except InfluxError as exc:
                raise InfluxDown(str(exc)) from None
            if status == 400:
                self._bisect(precision, part, text2)
            elif status != 204:
                raise InfluxDown(f"HTTP {status}: {text2[:200]}")

    def _store(self, writes: list[tuple[str, bytes]]) -> bool:
        """Durably store ``[(precision, body)]``: InfluxDB when up and the spool is empty (order),
        else the spool. Blocks (no ack → broker backpressure) while the spool is full."""
        writes = [w for w in writes if w[1]]
        if not writes:
            return True
        if self.spool.empty and time.monotonic() >= self._next_influx_try:
            try:
                for precision, body in writes:
                    self._post(precision, body)
                self.stats.influx_up = 1
                return True
            except InfluxDown as exc:
                self._influx_down(exc)
        while True:
            try:
                self.spool.append(writes)
                self.stats.c["spooled_batches"] += 1
                self._spool_gauge()
                return True
            except SpoolFull:
                self._spool_gauge(full=True)
                if self._stop.is_set():
                    return False
                time.sleep(0.5)
                self._replay()

    def _quarantine(self, entries: list) -> bool:
        """Write quarantine lines durably; while the disk refuses (full), retry without acking
        (backpressure). False only when stopping meanwhile."""
        told = False
        while True:
            try:
                self.quarantine.record(entries)
                if told:
                    log.warning("quarantine_disk_writable_again", extra={"worker": self.client_id})
                return True
            except OSError as exc:
                if not told:
                    log.error("quarantine_disk_full_backpressure", extra={"worker": self.client_id,
                                                                          "error": f"{type(exc).__name__}: {exc}"[:200]})
                    told = True
                self.stats.c["disk_full_waits"] += 1
                if self._stop.wait(0.5):
                    return False

    def _influx_down(self, exc: Exception) -> None:
        if self.stats.influx_up:
            log.warning("influx_down_spooling", extra={"worker": self.client_id, "error": str(exc)[:300]})
        self.stats.influx_up = 0
        self._next_influx_try = time.monotonic() + RETRY_INFLUX_S

    def _spool_gauge(self, full: bool = False) -> None:
        self.stats.spool_bytes, self.stats.spool_fill_frac = self.spool.n_bytes, self.spool.fill_frac
        self.stats.spool_alarm = int(self.spool.alarm or full)
        if self.stats.spool_alarm and not self._spool_alarm_logged:
            log.error("spool_near_full", extra={"worker": self.client_id, "spool_bytes": self.spool.n_bytes,
                                                "fill_frac": round(self.spool.fill_frac, 3)})
        self._spool_alarm_logged = bool(self.stats.spool_alarm)

    def _replay(self) -> None:
        """Drain spool segments oldest first while InfluxDB takes them (bounded time per call)."""
        if self.spool.empty or time.monotonic() < self._next_influx_try:
            return
        deadline = time.monotonic() + REPLAY_BUDGET_S
        try:
            while not self.spool.empty and time.monotonic() < deadline:
                n = self.spool.replay(self._post, self._spool_damaged)
                self.stats.c[F_SPOOL_RECORDS_REPLAYED] += n or 0
            self.stats.influx_up = 1
            if self.spool.empty:
                log.warning("spool_drained", extra={"worker": self.client_id})
        except InfluxDown as exc:
            self._influx_down(exc)
        self._spool_gauge()

    def _spool_damaged(self, moved_to: Path, scan) -> None:
        """A spool segment had bad records or a torn tail: its good records were written; count,
        log, and keep the segment (moved aside) for inspection."""
        self.stats.c["spool_records_corrupt"] += scan.corrupt
        self.stats.c["spool_tails_torn"] += int(scan.torn_tail)
        self.stats.c["spool_segments_damaged"] += 1
        log.error("spool_segment_damaged", extra={"worker": self.client_id, "segment": str(moved_to),
                                                  "records_replayed": len(scan.records),
                                                  "records_corrupt": scan.corrupt, "tail_torn": scan.torn_tail,
                                                  "first_error": scan.first_error})

    # -- registry reload (onboarding/offboarding without restart) -----------------------
    def _registry_stat(self) -> tuple | None:
        try:
            st = os.stat(self.registry_path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)

    def reload_registry(self) -> bool:
        """Swap in the registry file when it changed since the last look (stat, then SHA-256).

        Called from the processing thread before every batch and once a second when idle, so a swap
        never splits a batch. The new file is validated whole (``parse_registry``) before anything is swapped; a
        bad file keeps the running registry and logs one line, once per version of the file.
        Returns True when a new registry was swapped in."""
        key = self._registry_stat()
        if key is None or key == self._reg_key:
            return False
        self._reg_key = key
        try:
            raw = self.registry_path.read_bytes()
            digest = registry_digest(raw)
            if digest == self.registry_sha256:
                return False
            data = read_yaml(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise EcmError(f"{self.registry_path}: top level must be a mapping with district and enterprises")
            new = RegistryIndex.from_registry(parse_registry(data, str(self.registry_path)))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, EcmError) as exc:
            log.error("registry_reload_failed_keeping_previous",
                      extra={"worker": self.client_id, "error": " ".join(str(exc).split())[:300]})
            return False
        old = self.index_reg
        self.index_reg, self.fast = new, FastPath(new, self.limits)
        self.quarantine.enterprises = new.enterprises | new.disabled
        self.registry_sha256 = digest
        log.warning("registry_reloaded", extra={
            "worker": self.client_id, "sha256": digest[:16], "enterprises": len(new.enterprises),
            "added": sorted(new.enterprises - old.enterprises), "disabled": sorted(new.disabled - old.disabled)})
        return True

    # -- processing thread ----------------------------------------------------------
    def _take_batch(self) -> list:
        inbox = self.inbox
        if not inbox:
            return []
        limit = self.s.ingest_batch_messages
        if (len(inbox) < limit and now_ms() - inbox[0][4] < self.s.ingest_batch_ms and not self._stop.is_set()
                and self.client.queued_bytes < BATCH_MAX_BYTES):
            return []
        batch, size, pop = [], 0, inbox.popleft
        while inbox and len(batch) < limit and size < BATCH_MAX_BYTES:
            item = pop()
            size += len(item[2]) + len(item[3])
            batch.append(item)
        self._batch_bytes = size
        self.client.taken(size)
        return batch

    def process(self, batch: list) -> None:
        """Parse, store and ack one batch of inbox items (the heart of the bridge)."""
        points: list[str] = []
        reject_lines: list[str] = []
        q_entries = []
        st, idx, limits, quarantine = self.stats, self.index_reg, self.limits, self.quarantine
        n_readings = 0
        fast = self.fast.lines
        for _mid, _qos, topic_b, payload, rms, _gen in batch:
            try:  # the common, wholly valid message: same lines as parse_payload, far cheaper
                lines = fast(topic_b, payload, rms)
            except Exception:  # noqa: BLE001 - parse_payload below decides, and quarantines if need be
                lines = None
            if lines is not None:
                points.extend(lines)
                n_readings += len(lines)
                continue
            topic = "(undecodable)"
            try:  # no message may stop the worker: a failure quarantines that message (internal_error)
                topic = topic_b.decode("utf-8", "replace")
                r = parse_payload(topic, payload, idx, rms, limits)
                if r.points:  # line protocol must be UTF-8; the parser guarantees it, this proves it
                    "\n".join(r.points).encode("utf-8")
                if r.device:
                    st.devices[f"{r.device[0]}/{r.device[1]}"] = (r.device[2], rms)
            except Exception as exc:  # noqa: BLE001
                r = Parsed(rejects=[Reject("internal_error", safe_text(f"{type(exc).__name__}: {exc}")[:300],
                                           topic, "")])
                log.error("internal_error", extra={"worker": self.client_id, "topic": topic[:200],
                                                   "error": type(exc).__name__})
            n_readings += r.n_readings
            if r.points:
                points.extend(r.points)
            if r.rejects:
                q_entries.append((topic, payload, rms, r.rejects))
                for rj in r.rejects:
                    st.rejects[rj.reason] += 1
        if q_entries:
            if not self._quarantine(q_entries):
                return  # stopping while the disk is full: leave unacked for redelivery
            omitted = quarantine.omitted_by_last_record
            for k, (topic, payload, rms, rejects) in enumerate(q_entries):
                reject_lines.extend(quarantine.reject_lines(topic, payload, rms, rejects, k in omitted))
            st.c["quarantine_payloads_omitted"] = quarantine.payloads_omitted
            st.c["quarantine_lines_dropped"] = quarantine.lines_dropped
        writes = [("ms", "\n".join(points[i:i + WRITE_CHUNK_LINES]).encode())
                  for i in range(0, len(points), WRITE_CHUNK_LINES)]
        writes.append(("ns", "\n".join(reject_lines).encode("utf-8", "backslashreplace")))
        # one write in flight: this batch is stored while the next one is parsed; acks follow its store
        self._finish_write()
        self._inflight = (self._writer.submit(self._store, writes), batch, self._batch_bytes, n_readings, len(points))

    def _finish_write(self) -> None:
        """Wait for the write in flight, then ack its batch (nothing when it was left unstored)."""
        if self._inflight is None:
            return
        fut, batch, n_bytes, n_readings, n_points = self._inflight
        self._inflight = None
        if not fut.result():
            return  # stopping while the spool is full: leave unacked for redelivery
        st = self.stats
        t_done = now_ms()
        n_acked = self.client.ack(batch)
        self.client.release(n_bytes)
        st.c["messages_in"] += len(batch)
        st.c["messages_acked"] += n_acked
        st.c["readings_in"] += n_readings
        st.c["points_written"] += n_points
        st.add_latency(None, [t_done - b[4] for b in batch])

    def _periodic(self, state: dict) -> None:
        t = time.monotonic()
        if t >= state["health"] or (self.subscribed and not state["told_subscribed"]):
            state["health"] = t + 1.0
            state["told_subscribed"] = self.subscribed
            self.reload_registry()
            if t >= state["stats"]:
                self._finish_write()  # the writer thread adds latency samples; none in flight now
            snap = self.stats.snapshot() if t >= state["stats"] else None
            if snap is not None:
                state["stats"] = t + self.s.ingest_stats_interval_s
                self._store([("ms", self.stats.line(snap, now_ms()).encode())])
            try:
                self.stats.write_health(self.health_path, snap or self.stats.snapshot(reset=False),
                                        {"connected": bool(self.client and self.client.is_connected()),
                                         "session_present": self.session_present, "subscribed": self.subscribed,
                                         "inbox": len(self.inbox),
                                         "spool_bytes": self.spool.n_bytes, "retire": self.retire,
                                         "registry_sha256": self.registry_sha256})
                state["health_failed"] = False
            except OSError as exc:  # disk full: the health file waits; the HTTP endpoint still answers
                if not state.get("health_failed"):
                    log.warning("health_file_write_failed", extra={"worker": self.client_id,
                                                                   "error": f"{type(exc).__name__}: {exc}"[:200]})
                state["health_failed"] = True

    def stop(self) -> None:
        self._stop.set()

    def run(self, handle_signals: bool = False, idle_exit_s: float | None = None) -> None:
        """Run until stopped; on stop, flush and ack what was received, then disconnect.
        ``idle_exit_s``: exit after that long without messages (used to retire a worker's session)."""
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self._stop.set())
        self.health_path.parent.mkdir(parents=True, exist_ok=True)
        health = HealthServer.start(self, self.s.ingest_health_port + self.index) if self.s.ingest_health_port else None
        self._start_mqtt()
        state = {"health": 0.0, "told_subscribed": False, "stats": time.monotonic() + self.s.ingest_stats_interval_s}
        last_msg = time.monotonic()
        try:
            while True:
                batch = self._take_batch()
                if batch:
                    # a stat (~16 µs) per batch: what is processed after a registry change (e.g. a
                    # tenant disabled while its messages were queued) is judged by the new registry
                    self.reload_registry()
                    self.process(batch)
                    last_msg = time.monotonic()
                else:
                    self._finish_write()
                    self._replay()
                    if self._stop.is_set() and not self.inbox:
                        break
                    if idle_exit_s is not None and self.gen and time.monotonic() - last_msg > idle_exit_s:
                        break
                    time.sleep(0.002)
                self._periodic(state)
        finally:
            self._shutdown(health)

    def _shutdown(self, health) -> None:
        try:
            self._finish_write()
        finally:
            self._writer.shutdown(wait=True)
        c = self.client
        if c is not None:  # acks went out synchronously; a retired worker's session ends now (expiry 0)
            c.stop(session_expiry_s=0 if self.retire else None)
        self.spool.close()
        try:
            snap = self.stats.snapshot()
            self._store([("ms", self.stats.line(snap, now_ms()).encode())])
            self.stats.write_health(self.health_path, snap, {"connected": False, "stopped": True,
                                                             "spool_bytes": self.spool.n_bytes})
        except Exception:  # noqa: BLE001 - shutdown must finish
            log.exception("final_stats_failed")
        if health:
            health.stop()
        log.info("worker_stopped", extra={"worker": self.client_id, **{k: int(v) for k, v in self.stats.c.items()}})
