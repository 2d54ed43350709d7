"""The gateway service: poll every device on its schedule, queue each reading on disk, drain the
queue to MQTT, report status and health.

One asyncio loop runs the polls (one task per device and schedule group; a device's reads are
serialised on its connection); the MQTT uplink drains the queue in its own thread. Timestamps come
from the gateway clock at the start of each read, in epoch milliseconds.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from gateway.config import Device, Site
from gateway.sources import ReadError, make_source
from gateway.store import Queue
from gateway.uplink import Uplink

log = logging.getLogger("gateway.service")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class DeviceState:
    state: str = "unknown"                 # online | offline | unknown (not read yet)
    last_ok_ms: int | None = None
    last_error: str = ""
    last_error_ms: int | None = None
    reads_ok: int = 0
    reads_failed: int = 0
    errors_by_kind: dict = field(default_factory=dict)


class Gateway:
    def __init__(self, site: Site, password: str | None = None):
        self.site = site
        cfg = site.cfg
        self.queue = Queue(site.store_path, int(cfg.store.max_mb * 1024 * 1024))
        self.uplink = Uplink(self.queue, cfg.enterprise, cfg.mqtt.host, cfg.mqtt.port, cfg.username,
                             password if password is not None else cfg.mqtt.password(), cfg.client_id,
                             batch_max=cfg.store.batch_max, inflight_max=cfg.store.inflight_max,
                             keepalive_s=cfg.mqtt.keepalive_s, tls=cfg.mqtt.tls, ca_file=cfg.mqtt.ca_file)
        self.devices = {d.id: DeviceState() for d in cfg.devices}
        self.sources: dict = {}             # made inside the event loop (pymodbus needs a running loop)
        self.locks: dict[str, asyncio.Lock] = {}
        self.clock_skew_s: float | None = None
        self.started_ms = now_ms()
        self._stop: asyncio.Event | None = None
        self._was_connected = False
        self._dropped_reported = self.queue.dropped
        self.polls = 0

    # ---------------------------------------------------------------------------------- polling
    async def poll_once(self, dev: Device, group: str | None) -> None:
        """Read the device's published points of ``group`` (None = all) and queue them."""
        pts = {name: pt for name, (_m, pt) in self.site.published_points(dev).items()
               if group is None or pt.group == group}
        if not pts:
            return
        meters = dev.meters
        async with self.locks.setdefault(dev.id, asyncio.Lock()):
            ts = now_ms()
            try:
                values = await self.sources[dev.id].read(pts)
            except ReadError as exc:
                self._failed(dev, exc)
                return
        self.polls += 1
        dropped = self.queue.put([(meters[n], pts[n].quantity, ts, v) for n, v in values.items()])
        if dropped:
            log.warning("queue_full_dropped_oldest", extra={"dropped": dropped, "dropped_total": self.queue.dropped})
        self.uplink.wake()
        st = self.devices[dev.id]
        st.reads_ok += 1
        st.last_ok_ms = ts
        if st.state != "online":
            st.state = "online"
            self._publish_device_status(dev)

    def _failed(self, dev: Device, exc: ReadError) -> None:
        st = self.devices[dev.id]
        st.reads_failed += 1
        st.last_error, st.last_error_ms = str(exc), now_ms()
        st.errors_by_kind[exc.kind] = st.errors_by_kind.get(exc.kind, 0) + 1
        log.warning("device_read_failed", extra={"device": dev.id, "kind": exc.kind, "detail": exc.detail})
        if st.state != "offline":
            st.state = "offline"
        self._publish_device_status(dev)    # every failure is a status event (carries the latest error)

    def _publish_device_status(self, dev: Device) -> None:
        st = self.devices[dev.id]
        doc = {"state": st.state, "ts": now_ms(), "device": dev.id, "error": st.last_error if st.state == "offline" else ""}
        for meter in dev.meters.values():
            self.uplink.publish_status(meter, doc)

    async def _schedule(self, dev: Device, group: str) -> None:
        iv = self.site.interval(dev, group)
        jit = self.site.cfg.jitter_frac * iv
        loop = asyncio.get_running_loop()
        base = loop.time() + random.uniform(0, iv)      # spread devices over the first interval
        k = 0
        while not self._stop.is_set():
            due = base + k * iv + random.uniform(-jit, jit)
            delay = due - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(self._stop.wait(), delay)
                    return
                except asyncio.TimeoutError:
                    pass
            try:
                await self.poll_once(dev, group)
            except Exception:  # a bug in one device's read must not stop the others
                log.exception("poll_error", extra={"device": dev.id})
            k = max(k + 1, int((loop.time() - base) // iv) + 1)   # skip missed slots, never burst

    # ---------------------------------------------------------------------------- status, health
    def health(self) -> dict:
        q, u = self.queue, self.uplink
        return {
            "gateway": self.site.cfg.client_id, "enterprise": self.site.cfg.enterprise, "time_ms": now_ms(),
            "started_ms": self.started_ms, "pid": os.getpid(), "connected": u.connected,
            "connect_error": u.connect_error, "last_connect_ms": u.last_connect_ms,
            "queue": {"pending": q.pending(), "dropped": q.dropped, "enqueued": q.enqueued, "acked": u.n_acked_rows,
                      "used_bytes": q.used_bytes(), "max_bytes": q.max_bytes, "inflight_rows": u.inflight_rows()},
            "uplink": {"messages_published": u.n_published, "failed_pubacks": u.n_failed_acks,
                       "rows_resent": u.n_resent, "last_failure_reason": u.last_puback_reason},
            "clock_skew_s": self.clock_skew_s, "polls": self.polls,
            "devices": {d: {"state": s.state, "last_ok_ms": s.last_ok_ms, "last_error": s.last_error,
                            "last_error_ms": s.last_error_ms, "reads_ok": s.reads_ok, "reads_failed": s.reads_failed,
                            "errors": s.errors_by_kind} for d, s in self.devices.items()},
        }

    def write_health(self) -> None:
        path = self.site.health_path
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.health()))
        os.replace(tmp, path)

    async def _housekeeping(self) -> None:
        next_clock = 0.0
        while not self._stop.is_set():
            u = self.uplink
            u.status_extra = {"pending": self.queue.pending()}
            if u.connected and not self._was_connected:
                for dev in self.site.cfg.devices:       # retained device states after each (re)connect
                    if self.devices[dev.id].state != "unknown":
                        self._publish_device_status(dev)
            if u.connected and self.queue.dropped != self._dropped_reported:
                self._dropped_reported = self.queue.dropped
                u.republish_gateway_status()            # the drop count goes out on the status topic
            self._was_connected = u.connected
            if self.site.cfg.clock_check_url and time.monotonic() >= next_clock:
                next_clock = time.monotonic() + 600
                await asyncio.get_running_loop().run_in_executor(None, self.check_clock)
            try:
                self.write_health()
            except OSError as exc:
                log.warning("health_write_failed", extra={"error": str(exc)})
            try:
                await asyncio.wait_for(self._stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass

    def check_clock(self) -> None:
        """Compare the gateway clock with the Date header of the configured platform URL."""
        import requests

        try:
            t0 = time.time()
            r = requests.get(self.site.cfg.clock_check_url, timeout=5)
            t1 = time.time()
            remote = parsedate_to_datetime(r.headers["Date"]).timestamp()
        except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
            log.info("clock_check_failed", extra={"error": str(exc)[:200]})
            return
        # the Date header has 1 s resolution: compare with the midpoint, allow the truncation
        self.clock_skew_s = round((t0 + t1) / 2 - (remote + 0.5), 3)
        if abs(self.clock_skew_s) > self.site.cfg.skew_warn_s:
            log.warning("clock_skew", extra={"skew_s": self.clock_skew_s, "limit_s": self.site.cfg.skew_warn_s})

    # ------------------------------------------------------------------------------------ run
    async def run_async(self, stop_after_s: float | None = None) -> None:
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self._stop.set)
            except (ValueError, RuntimeError):   # not the main thread
                pass
        self.sources = {d.id: make_source(d, self.site.profile(d)) for d in self.site.cfg.devices}
        self.uplink.start()
        log.info("gateway_started", extra={"devices": len(self.site.cfg.devices), "pending": self.queue.pending(),
                                           "queue": str(self.site.store_path)})
        tasks = [asyncio.create_task(self._housekeeping())]
        for dev in self.site.cfg.devices:
            groups = {pt.group for _m, pt in self.site.published_points(dev).values()}
            tasks += [asyncio.create_task(self._schedule(dev, g)) for g in sorted(groups)]
        if stop_after_s is not None:
            loop.call_later(stop_after_s, self._stop.set)
        await self._stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)
        for src in self.sources.values():
            await src.close()
        await loop.run_in_executor(None, self.uplink.stop)
        self.write_health()
        self.queue.close()
        log.info("gateway_stopped")

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()


def quiet_third_party() -> None:
    for name in ("pymodbus", "asyncua", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL if name != "asyncio" else logging.ERROR)


def setup_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for ``gateway.*`` (the ecm formatter); third-party noise off."""
    import sys

    from ecm.logs import JsonFormatter

    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(JsonFormatter())
    lg = logging.getLogger("gateway")
    lg.handlers[:] = [h]
    lg.setLevel(level.upper())
    lg.propagate = False
    quiet_third_party()


def run(config_path, stop_after_s: float | None = None) -> None:
    from gateway.config import load_config

    site = load_config(config_path)
    gw = Gateway(site)
    asyncio.run(gw.run_async(stop_after_s))


# ------------------------------------------------------------------------------------- check
async def check_async(site: Site) -> list[dict]:
    """Read every point of every device once (published and diagnostic): the commissioning table."""
    rows = []
    for dev in site.cfg.devices:
        prof = site.profile(dev)
        src = make_source(dev, prof)
        meter_of = dev.meters
        try:
            for name, p in prof.points.items():   # point by point: one unsupported register hides nothing else
                ts = now_ms()
                try:
                    value, quality, err = (await src.read({name: p}))[name], "good", ""
                except ReadError as exc:
                    value, quality, err = None, exc.kind, exc.detail
                rows.append({"device": dev.id, "point": name, "meter": meter_of.get(name, ""),
                             "quantity": p.quantity or "", "value": value, "unit": p.unit_label,
                             "quality": quality, "error": err, "ts_ms": ts})
        finally:
            await src.close()
    return rows


def check(site: Site) -> list[dict]:
    quiet_third_party()
    return asyncio.run(check_async(site))
