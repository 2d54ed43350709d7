"""DL/T 645-2007 (多功能电能表通信协议) codec, TCP master, and a slave-side responder.

No maintained Python library covers the 2007 edition with address discovery and strict checksum
handling, so this is a small codec tested clause by clause (tests/gateway/test_dlt645.py):

* Frame (§4.1 of DL/T 645-2007): ``68 A0..A5 68 C L DATA CS 16``; the address is 12 BCD digits sent
  low byte first; ``CS`` is the modulo-256 sum of every byte from the first 0x68 through the data;
  a master may send up to four ``FE`` wake-up bytes first.
* Data field (§4.1.6): every byte is transmitted plus 0x33 (and minus 0x33 on receipt).
* Control codes (§4.1.4): 0x11 read data, answered 0x91 (0xB1 with follow-up frames) or 0xD1 with
  one error byte; 0x13 read address (sent to AAAAAAAAAAAA), answered 0x93 with the address.
* Data identifiers (Appendix A, DI3 DI2 DI1 DI0, sent DI0 first): ``00010000`` forward active total
  energy, ``000101xx``–``000104xx`` its tariffs 1–4 (尖/峰/平/谷 as the meter's tariff table sets them),
  ``00000000`` combined active total, ``02030000`` total active power, ``0201010x`` voltage,
  ``0202010x`` current, ``02060000`` power factor. Values are BCD, low byte first; for signed items
  the top bit of the most significant byte is the sign.
"""
from __future__ import annotations

import asyncio

from gateway.codec import bcd_to_int, int_to_bcd

START, END, OFFSET = 0x68, 0x16, 0x33
BROADCAST_ADDR = "AAAAAAAAAAAA"
C_READ, C_READ_ADDR = 0x11, 0x13
ERRORS = {0x01: "other error", 0x02: "no requested data", 0x04: "password error / unauthorised",
          0x08: "baud rate cannot change", 0x10: "annual time zones exceeded", 0x20: "daily slots exceeded",
          0x40: "tariffs exceeded"}


class Dlt645Error(Exception):
    """kind: checksum | framing | timeout | connection | meter_error | protocol."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind, self.detail = kind, detail


def di_format(di: str) -> tuple[int, int, bool]:
    """(bytes, decimals, signed) of a data identifier's value (Appendix A, tables A.1 and A.3)."""
    d3, d2 = di[:2], di[2:4]
    if d3 == "00":
        return 4, 2, False                 # energy XXXXXX.XX kWh
    if d3 == "02":
        if d2 == "01":
            return 2, 1, False             # voltage XXX.X V
        if d2 == "02":
            return 3, 3, True              # current XXX.XXX A
        if d2 in ("03", "04", "05"):
            return 3, 4, True              # active/reactive/apparent power XX.XXXX kW
        if d2 == "06":
            return 2, 3, True              # power factor X.XXX
        if di == "02800002":
            return 2, 2, False             # grid frequency XX.XX Hz
    raise Dlt645Error("protocol", f"data identifier {di} has no known format")


def encode_address(addr: str) -> bytes:
    if addr.upper() == BROADCAST_ADDR:
        return bytes([0xAA] * 6)
    return int_to_bcd(int(addr), 6)[::-1]


def decode_address(raw: bytes) -> str:
    return "%012d" % bcd_to_int(raw[::-1])


def _di_bytes(di: str) -> bytes:
    return bytes.fromhex(di)[::-1]          # DI0 first


def build_frame(addr: str, control: int, data: bytes = b"", preamble: bool = True) -> bytes:
    body = bytes([START]) + encode_address(addr) + bytes([START, control, len(data)]) + \
        bytes((b + OFFSET) & 0xFF for b in data)
    return (b"\xFE" * 4 if preamble else b"") + body + bytes([sum(body) & 0xFF, END])


def read_request(addr: str, di: str) -> bytes:
    return build_frame(addr, C_READ, _di_bytes(di))


def parse_frame(buf: bytes) -> tuple[tuple[str, int, bytes] | None, int]:
    """Find one frame in ``buf``: ((address, control, data with 0x33 removed) or None, bytes consumed).

    Returns (None, n) when more bytes are needed (n = bytes of leading noise to discard).
    Raises Dlt645Error on a bad checksum or framing."""
    i = buf.find(bytes([START]))
    if i < 0:
        return None, len(buf)
    f = buf[i:]
    if len(f) < 12:
        return None, i
    if f[7] != START:
        raise Dlt645Error("framing", "second 0x68 missing")
    n = f[9]
    if len(f) < 12 + n:
        return None, i
    frame = f[:12 + n]
    if frame[-1] != END:
        raise Dlt645Error("framing", f"end byte 0x{frame[-1]:02X} is not 0x16")
    cs = sum(frame[:10 + n]) & 0xFF
    if cs != frame[10 + n]:
        raise Dlt645Error("checksum", f"checksum 0x{frame[10 + n]:02X}, computed 0x{cs:02X}")
    data = bytes((b - OFFSET) & 0xFF for b in frame[10:10 + n])
    return (decode_address(frame[1:7]) if frame[1:7] != b"\xAA" * 6 else BROADCAST_ADDR, frame[8], data), i + 12 + n


def decode_value(di: str, raw: bytes) -> float:
    """Value bytes (0x33 already removed, low byte first) → number."""
    nbytes, decimals, signed = di_format(di)
    if len(raw) != nbytes:
        raise Dlt645Error("protocol", f"{di}: {len(raw)} value bytes, expected {nbytes}")
    be = bytearray(raw[::-1])
    neg = False
    if signed and be[0] & 0x80:
        neg, be[0] = True, be[0] & 0x7F
    try:
        n = bcd_to_int(bytes(be))
    except ValueError as exc:
        raise Dlt645Error("protocol", f"{di}: {exc}") from None
    v = n / 10 ** decimals
    return -v if neg else v


def encode_value(di: str, value: float) -> bytes:
    nbytes, decimals, signed = di_format(di)
    n = round(abs(value) * 10 ** decimals)
    be = bytearray(int_to_bcd(n % 10 ** (2 * nbytes), nbytes))
    if signed and value < 0:
        be[0] |= 0x80
    return bytes(be[::-1])


def parse_read_response(di: str, frame: tuple[str, int, bytes]) -> float:
    addr, control, data = frame
    if control == 0xD1:
        code = data[0] if data else 0
        raise Dlt645Error("meter_error", f"meter {addr} refused {di}: {ERRORS.get(code, f'error 0x{code:02X}')}")
    if control not in (0x91, 0xB1):
        raise Dlt645Error("protocol", f"unexpected control code 0x{control:02X} to a read")
    if data[:4] != _di_bytes(di):
        raise Dlt645Error("protocol", f"answer carries DI {data[:4][::-1].hex().upper()}, asked {di}")
    return decode_value(di, data[4:])


class Dlt645Client:
    """Master over TCP (an RS-485 serial server in transparent mode). One request at a time."""

    def __init__(self, host: str, port: int, timeout_s: float = 2.0, **_serial):
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.reader = self.writer = None

    async def _connect(self) -> None:
        if self.writer is None:
            try:
                self.reader, self.writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), self.timeout_s)
            except (OSError, asyncio.TimeoutError) as exc:
                raise Dlt645Error("connection", f"{self.host}:{self.port}: {exc or 'timeout'}") from None

    async def _exchange(self, frame: bytes) -> tuple[str, int, bytes]:
        await self._connect()
        self.writer.write(frame)
        buf = b""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        try:
            while True:
                got, used = parse_frame(buf)
                if got is not None:
                    return got
                buf = buf[used:]
                left = deadline - loop.time()
                if left <= 0:
                    raise asyncio.TimeoutError
                chunk = await asyncio.wait_for(self.reader.read(512), left)
                if not chunk:
                    raise Dlt645Error("connection", "serial server closed the connection")
                buf += chunk
        except asyncio.TimeoutError:
            raise Dlt645Error("timeout", f"no complete answer within {self.timeout_s} s") from None

    async def read(self, addr: str, di: str) -> float:
        return parse_read_response(di, await self._exchange(read_request(addr, di)))

    async def discover(self) -> str:
        """Read-address command to the broadcast address: the single meter on the line answers."""
        addr, control, data = await self._exchange(build_frame(BROADCAST_ADDR, C_READ_ADDR))
        if control != 0x93 or len(data) != 6:
            raise Dlt645Error("protocol", f"unexpected answer 0x{control:02X} to read-address")
        return decode_address(data)

    async def close(self) -> None:
        w, self.writer, self.reader = self.writer, None, None
        if w is not None:
            w.close()
            try:
                await w.wait_closed()
            except OSError:
                pass


class Dlt645Responder:
    """Slave side over TCP for tests, benchmarks and commissioning practice: meters by address, each a
    ``{di: value}`` map. Faults: ``fault = "checksum"`` corrupts answers, ``"silent"`` never answers."""

    def __init__(self, meters: dict[str, dict[str, float]], host: str = "127.0.0.1", port: int = 0):
        self.meters, self.host, self.port = meters, host, port
        self.fault: str | None = None
        self.requests = 0
        self.server = None
        self._conns: set = set()

    async def start(self) -> "Dlt645Responder":
        self.server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.server.close()
        for t in list(self._conns):
            t.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        await self.server.wait_closed()

    def answer(self, frame: tuple[str, int, bytes]) -> bytes | None:
        addr, control, data = frame
        if control == C_READ_ADDR and addr == BROADCAST_ADDR and len(self.meters) == 1:
            a = next(iter(self.meters))
            return build_frame(a, 0x93, encode_address(a), preamble=False)
        if control != C_READ or addr not in self.meters:
            return None                      # not addressed to us: a real meter stays silent
        di = data[:4][::-1].hex().upper()
        regs = self.meters[addr]
        if di not in regs:
            return build_frame(addr, 0xD1, bytes([0x02]), preamble=False)
        return build_frame(addr, 0x91, data[:4] + encode_value(di, regs[di]), preamble=False)

    async def _serve(self, reader, writer) -> None:
        task = asyncio.current_task()
        self._conns.add(task)
        buf = b""
        try:
            while True:
                chunk = await reader.read(512)
                if not chunk:
                    break
                buf += chunk
                while True:
                    try:
                        got, used = parse_frame(buf)
                    except Dlt645Error:
                        buf = b""
                        break
                    buf = buf[used:]
                    if got is None:
                        break
                    self.requests += 1
                    out = self.answer(got)
                    if out is None or self.fault == "silent":
                        continue
                    if self.fault == "checksum":
                        out = out[:-2] + bytes([(out[-2] + 1) & 0xFF, END])
                    writer.write(out)
                    await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass
        finally:
            self._conns.discard(task)
            writer.close()
