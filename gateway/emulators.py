"""Meter emulators speaking the real protocols (pymodbus server, DL/T 645 responder, asyncua server).

Used by the tests, ``ecm bench gateway`` and for commissioning practice: a profile's registers are
filled from physical values with the same codec the gateway decodes with, so an emulated device is
what a profile describes. Faults are injected on the wire (a corrupted CRC, an exception response,
silence), never by mocking the gateway.
"""
from __future__ import annotations

import asyncio

from gateway.codec import encode
from gateway.config import REGISTER_TYPES, Profile

FN_CODE = {"holding": 3, "input": 4}


class ModbusEmulator:
    """One pymodbus TCP server holding several unit ids, each a device of ``profile``.

    ``framer="rtu"`` serves RTU frames over TCP (a serial server in transparent mode).
    ``corrupt_crc = True`` flips a CRC byte of every answer (RTU framing only)."""

    def __init__(self, profile: Profile, units: list[int], host: str = "127.0.0.1", port: int = 0,
                 framer: str = "socket", size: int = 0x4100, serial_port: str | None = None, baudrate: int = 9600):
        from pymodbus import FramerType
        from pymodbus.datastore import ModbusDeviceContext, ModbusSequentialDataBlock, ModbusServerContext

        self.profile, self.host, self.port = profile, host, port
        self.serial_port, self.baudrate = serial_port, baudrate
        self.framer = FramerType.RTU if framer == "rtu" or serial_port else FramerType.SOCKET
        self.devices = {u: ModbusDeviceContext(hr=ModbusSequentialDataBlock(0, [0] * size),
                                               ir=ModbusSequentialDataBlock(0, [0] * size)) for u in units}
        self.context = ModbusServerContext(devices=self.devices, single=False)
        self.corrupt_crc = False
        self.server = None

    def set(self, unit: int, point: str, value: float) -> None:
        """Store a physical value in the point's registers (raw = (value − offset) / scale)."""
        p = self.profile.points[point]
        bo, wo = self.profile.orders(p)
        raw = (value - p.offset) / p.scale
        if not p.type.startswith("f"):
            raw = round(raw)
        words = encode(raw, p.type, bo, wo)
        self.devices[unit].setValues(FN_CODE[self.profile.fn(p)], p.address, words)

    def set_raw(self, unit: int, point: str, words: list[int]) -> None:
        p = self.profile.points[point]
        assert len(words) == REGISTER_TYPES[p.type]
        self.devices[unit].setValues(FN_CODE[self.profile.fn(p)], p.address, words)

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if sending and self.corrupt_crc and self.framer.value == "rtu" and len(data) > 2:
            return data[:-1] + bytes([data[-1] ^ 0xFF])
        return data

    async def start(self) -> "ModbusEmulator":
        from pymodbus.server import ModbusSerialServer, ModbusTcpServer

        if self.serial_port:                    # Modbus RTU on a serial line (e.g. a pty pair in tests)
            self.server = ModbusSerialServer(self.context, framer=self.framer, port=self.serial_port,
                                             baudrate=self.baudrate, trace_packet=self._trace)
            await self.server.serve_forever(background=True)
            return self
        if self.port == 0:
            from ecm.services import free_port

            self.port = free_port()
        self.server = ModbusTcpServer(self.context, framer=self.framer, address=(self.host, self.port),
                                      trace_packet=self._trace)
        await self.server.serve_forever(background=True)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None


class OpcUaEmulator:
    """An asyncua server with one float variable per profile point (node ids as in the profile)."""

    def __init__(self, profile: Profile, host: str = "127.0.0.1", port: int = 0, cert_dir=None):
        """``cert_dir``: serve only Basic256Sha256 SignAndEncrypt with a self-signed certificate
        (``server_cert.der``, ``server_key.pem``) made there."""
        self.profile, self.host, self.port, self.cert_dir = profile, host, port, cert_dir
        self.server = None
        self.vars = {}

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/ecm/"

    async def start(self) -> "OpcUaEmulator":
        from asyncua import Server, ua

        if self.port == 0:
            from ecm.services import free_port

            self.port = free_port()
        srv = Server()
        await srv.init()
        srv.set_endpoint(self.endpoint)
        if self.cert_dir is None:
            srv.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        else:
            from pathlib import Path

            from cryptography.x509.oid import ExtendedKeyUsageOID

            from asyncua.crypto.cert_gen import setup_self_signed_certificate

            d = Path(self.cert_dir)
            await setup_self_signed_certificate(d / "server_key.pem", d / "server_cert.der", "urn:ecm:emulator",
                                                "localhost", [ExtendedKeyUsageOID.SERVER_AUTH], {"commonName": "ecm-emulator"})
            await srv.load_certificate(str(d / "server_cert.der"))
            await srv.load_private_key(str(d / "server_key.pem"))
            srv.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        ns_idx = {}
        for name, p in self.profile.points.items():
            nid = ua.NodeId.from_string(p.node)
            if nid.NamespaceIndex not in ns_idx:
                while await srv.register_namespace(f"urn:ecm:emulator:{len(ns_idx)}") < nid.NamespaceIndex:
                    pass
                ns_idx[nid.NamespaceIndex] = True
            self.vars[name] = await srv.nodes.objects.add_variable(nid, name, 0.0)
        await srv.start()
        self.server = srv
        return self

    async def set(self, point: str, value: float) -> None:
        await self.vars[point].write_value(float(value))

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None


def run_in_thread(coro_factory):
    """Run an emulator on its own event loop in a daemon thread; returns (loop, emulator, thread)."""
    import threading

    loop = asyncio.new_event_loop()
    box = {}
    ready = threading.Event()

    def main():
        asyncio.set_event_loop(loop)
        box["emu"] = loop.run_until_complete(coro_factory())
        ready.set()
        loop.run_forever()

    t = threading.Thread(target=main, name="emulator", daemon=True)
    t.start()
    if not ready.wait(30):
        raise RuntimeError("emulator did not start")
    return loop, box["emu"], t


def call(loop, coro, timeout_s: float = 30):
    """Run ``coro`` on an emulator's loop from another thread and wait for it."""
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout_s)


async def _serve_fleet(profile_name: str, servers: int, units: int, ports_file: str) -> None:
    """``servers`` Modbus TCP servers with ``units`` unit ids each; energy counters advance every second."""
    import json
    import os

    from gateway.config import load_profiles

    prof = load_profiles()[profile_name]
    emus = [await ModbusEmulator(prof, list(range(1, units + 1))).start() for _ in range(servers)]
    tmp = ports_file + ".tmp"
    with open(tmp, "w") as fh:
        json.dump([e.port for e in emus], fh)
    os.replace(tmp, ports_file)
    raw = {(s, u): 100_000 * u for s in range(servers) for u in range(1, units + 1)}
    counters = [n for n, p in prof.points.items() if p.kind == "counter"]
    gauges = [n for n, p in prof.points.items() if p.kind == "gauge"]
    while True:
        for (s, u), v in raw.items():
            raw[(s, u)] = v + u
            for n in counters:
                emus[s].set(u, n, (raw[(s, u)] % 10**8) * prof.points[n].scale)
            for n in gauges:
                emus[s].set(u, n, 10.0 + u)
        await asyncio.sleep(1.0)


def main() -> None:
    """``python -m gateway.emulators --profile P --servers N --units K --ports-file F`` (runs until killed)."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m gateway.emulators")
    ap.add_argument("--profile", default="din_rail_3ph_int")
    ap.add_argument("--servers", type=int, default=1)
    ap.add_argument("--units", type=int, default=10)
    ap.add_argument("--ports-file", required=True)
    a = ap.parse_args()
    import logging

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    asyncio.run(_serve_fleet(a.profile, a.servers, a.units, a.ports_file))


if __name__ == "__main__":
    main()
