"""Device sources: read a set of profile points once, return physical values or raise ReadError.

A failed read never yields a value: a timeout, a Modbus exception response, a CRC or checksum
error, a connection failure or an undecodable register becomes a :class:`ReadError`, which the
service turns into a device status event. One module per protocol would be tidier at scale; the
three sources share this small interface: ``await src.read(points) -> {name: value}``, ``close()``.
"""
from __future__ import annotations

import asyncio
import logging

from gateway.codec import DecodeError, decode, physical
from gateway.config import REGISTER_TYPES, Device, Point, Profile

log = logging.getLogger("gateway.sources")
MAX_REGS_PER_READ = 120


class ReadError(Exception):
    """kind: timeout | modbus_exception | crc | checksum | connection | decode | protocol | opcua."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


# ------------------------------------------------------------------------------------------- Modbus
def plan_reads(prof: Profile, points: dict[str, Point]) -> list[tuple[str, int, int, list[str]]]:
    """Group points into few requests: (function, start, count, point names), ≤ MAX_REGS_PER_READ each."""
    by_fn: dict[str, list[tuple[int, int, str]]] = {}
    for name, p in points.items():
        by_fn.setdefault(prof.fn(p), []).append((p.address, REGISTER_TYPES[p.type], name))
    plans = []
    for fn, items in by_fn.items():
        items.sort()
        cur = None
        for addr, n, name in items:
            if cur and addr + n - cur[1] <= MAX_REGS_PER_READ and addr <= cur[1] + cur[2] + 8:
                cur[2] = max(cur[2], addr + n - cur[1])
                cur[3].append(name)
            else:
                cur = [fn, addr, n, [name]]
                plans.append(cur)
    return [tuple(p) for p in plans]


def crc16(data: bytes) -> bytes:
    """Modbus RTU CRC-16 (polynomial 0xA001 reflected, init 0xFFFF), low byte first."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes((crc & 0xFF, crc >> 8))


class ModbusSource:
    def __init__(self, dev: Device, prof: Profile):
        from pymodbus import FramerType
        from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

        self.dev, self.prof = dev, prof
        if dev.transport == "modbus_rtu":
            self.client = AsyncModbusSerialClient(dev.serial_port, framer=FramerType.RTU, baudrate=dev.baudrate,
                                                  timeout=dev.timeout_s, retries=0)
        else:
            rtu = dev.transport == "modbus_rtu_over_tcp"
            self.client = AsyncModbusTcpClient(dev.host, port=dev.port, framer=FramerType.RTU if rtu else FramerType.SOCKET,
                                               timeout=dev.timeout_s, retries=0, reconnect_delay=0, name=dev.id,
                                               trace_packet=self._trace if rtu else None)
        self._plans: dict[tuple, list] = {}
        self._crc_bad = False

    def _trace(self, sending: bool, data: bytes) -> bytes:
        """RTU frames: note a received frame whose CRC does not match (pymodbus drops it silently and the
        request times out; the status event then says crc, not timeout)."""
        if not sending and len(data) >= 5 and crc16(data[:-2]) != data[-2:]:
            self._crc_bad = True
        return data

    async def _ensure(self) -> None:
        if not self.client.connected:
            try:
                ok = await asyncio.wait_for(self.client.connect(), self.dev.timeout_s + 1)
            except (asyncio.TimeoutError, OSError) as exc:
                raise ReadError("connection", f"{self.dev.host}:{self.dev.port}: {exc or 'timeout'}") from None
            if not ok:
                raise ReadError("connection", f"cannot connect to {self.dev.host}:{self.dev.port}")

    async def read(self, points: dict[str, Point]) -> dict[str, float]:
        from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

        key = tuple(sorted(points))
        plans = self._plans.get(key)
        if plans is None:
            plans = self._plans[key] = plan_reads(self.prof, points)
        await self._ensure()
        self._crc_bad = False
        out: dict[str, float] = {}
        for fn, start, count, names in plans:
            call = self.client.read_holding_registers if fn == "holding" else self.client.read_input_registers
            try:
                rr = await asyncio.wait_for(call(start, count=count, device_id=self.dev.unit),
                                            self.dev.timeout_s + 1)
            except (asyncio.TimeoutError, ModbusIOException) as exc:
                self.client.close()   # drop a half-read stream (a late answer would shift the next one)
                kind = "crc" if self._crc_bad or "crc" in str(exc).lower() else "timeout"
                self._crc_bad = False
                raise ReadError(kind, f"no valid answer to {fn} {start}+{count} from unit {self.dev.unit} "
                                      f"within {self.dev.timeout_s} s") from None
            except ConnectionException as exc:
                self.client.close()
                raise ReadError("connection", str(exc)) from None
            except ModbusException as exc:
                raise ReadError("protocol", str(exc)) from None
            if rr.isError():
                code = getattr(rr, "exception_code", 0)
                raise ReadError("modbus_exception", f"exception code {code} to {fn} {start}+{count}")
            regs = rr.registers
            if len(regs) < count:
                raise ReadError("protocol", f"short answer: {len(regs)} of {count} registers")
            for name in names:
                p = points[name]
                off = p.address - start
                bo, wo = self.prof.orders(p)
                try:
                    raw = decode(regs[off:off + REGISTER_TYPES[p.type]], p.type, bo, wo)
                except DecodeError as exc:
                    raise ReadError("decode", f"{name}: {exc}") from None
                out[name] = physical(raw, p.scale, p.offset)
        return out

    async def close(self) -> None:
        self.client.close()


# ---------------------------------------------------------------------------------------- DL/T 645
class Dlt645Source:
    def __init__(self, dev: Device, prof: Profile):
        from gateway.dlt645 import Dlt645Client

        self.dev, self.prof = dev, prof
        self.client = Dlt645Client(dev.host, dev.port, timeout_s=dev.timeout_s, serial_port=dev.serial_port,
                                   baudrate=dev.baudrate)
        self.address = None if dev.address == "discover" else dev.address

    async def read(self, points: dict[str, Point]) -> dict[str, float]:
        from gateway.dlt645 import Dlt645Error

        try:
            if self.address is None:
                self.address = await self.client.discover()
                log.info("dlt645_address_discovered", extra={"device": self.dev.id, "address": self.address})
            out = {}
            for name, p in points.items():
                raw = await self.client.read(self.address, p.di)
                out[name] = physical(raw, p.scale, p.offset)
            return out
        except Dlt645Error as exc:
            await self.client.close()
            raise ReadError(exc.kind, str(exc)) from None

    async def close(self) -> None:
        await self.client.close()


# ------------------------------------------------------------------------------------------- OPC UA
class OpcUaSource:
    """Polled reads of node ids, or a subscription whose latest data changes are returned."""

    def __init__(self, dev: Device, prof: Profile):
        self.dev, self.prof = dev, prof
        self.client = None
        self.latest: dict[str, tuple[float, bool]] = {}
        self._sub = None

    async def _connect(self) -> None:
        from asyncua import Client, ua
        from asyncua.crypto import security_policies

        o = self.dev.opcua
        c = Client(self.dev.endpoint, timeout=self.dev.timeout_s)
        if o.username:
            import os

            c.set_user(o.username)
            c.set_password(os.environ.get(o.password_env or "", ""))
        if o.security_policy != "None":
            c.application_uri = _cert_uri(o.certificate) or c.application_uri   # must match the certificate
            policy = getattr(security_policies, f"SecurityPolicy{o.security_policy}")
            await c.set_security(policy, str(o.certificate), str(o.private_key),
                                 server_certificate=str(o.server_certificate) if o.server_certificate else None,
                                 mode=getattr(ua.MessageSecurityMode, o.security_mode))
        try:
            await asyncio.wait_for(c.connect(), self.dev.timeout_s + 2)
        except Exception as exc:  # asyncua raises many types (ua.UaError, OSError, TimeoutError)
            raise ReadError("connection", f"{self.dev.endpoint}: {type(exc).__name__}: {exc}") from None
        self.client = c
        if o.mode == "subscribe":
            handler = _SubHandler(self)
            self._sub = await c.create_subscription(int(min(self.prof.groups.values()) * 500), handler)
            nodes = [c.get_node(p.node) for p in self.prof.points.values()]
            self._node_names = {n.nodeid: name for n, name in zip(nodes, self.prof.points)}
            await self._sub.subscribe_data_change(nodes)

    async def read(self, points: dict[str, Point]) -> dict[str, float]:
        from asyncua import ua

        if self.client is None:
            await self._connect()
        out = {}
        if self.dev.opcua.mode == "subscribe":
            for name, p in points.items():
                if name not in self.latest:
                    raise ReadError("opcua", f"{name}: no data change received yet")
                v, good = self.latest[name]
                if not good:
                    raise ReadError("opcua", f"{name}: status not Good")
                out[name] = physical(v, p.scale, p.offset)
            return out
        try:
            nodes = [self.client.get_node(p.node) for p in points.values()]
            dvs = await asyncio.wait_for(self.client.read_attributes(nodes, ua.AttributeIds.Value), self.dev.timeout_s + 1)
        except Exception as exc:
            await self.close()
            raise ReadError("connection" if not isinstance(exc, ua.UaError) else "opcua",
                            f"{type(exc).__name__}: {exc}") from None
        for (name, p), dv in zip(points.items(), dvs):
            if not dv.StatusCode.is_good():
                raise ReadError("opcua", f"{name}: status {dv.StatusCode.name}")
            v = dv.Value.Value
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ReadError("decode", f"{name}: value {v!r} is not a number")
            out[name] = physical(float(v), p.scale, p.offset)
        return out

    async def close(self) -> None:
        c, self.client = self.client, None
        if c is not None:
            try:
                await c.disconnect()
            except Exception:  # the server may already be gone
                pass


def _cert_uri(path) -> str | None:
    """The application URI in a certificate's subject alternative names (DER or PEM)."""
    from cryptography import x509

    raw = open(path, "rb").read()
    try:
        cert = x509.load_der_x509_certificate(raw)
    except ValueError:
        cert = x509.load_pem_x509_certificate(raw)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


class _SubHandler:
    def __init__(self, src: OpcUaSource):
        self.src = src

    def datachange_notification(self, node, val, data):
        name = self.src._node_names.get(node.nodeid)
        if name is not None:
            good = data.monitored_item.Value.StatusCode.is_good()
            ok = isinstance(val, (int, float)) and not isinstance(val, bool)
            self.src.latest[name] = (float(val) if ok else float("nan"), good and ok)


def make_source(dev: Device, prof: Profile):
    if prof.protocol == "modbus":
        return ModbusSource(dev, prof)
    if prof.protocol == "dlt645":
        return Dlt645Source(dev, prof)
    return OpcUaSource(dev, prof)
