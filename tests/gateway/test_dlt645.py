"""DL/T 645-2007 codec against hand-computed frames, and the TCP master against the slave-side responder."""
from __future__ import annotations

import asyncio

import pytest

from gateway.dlt645 import (Dlt645Client, Dlt645Error, Dlt645Responder, build_frame, decode_address, decode_value,
                            encode_address, encode_value, parse_frame, parse_read_response, read_request)

ADDR = "000012345678"


def test_read_request_frame_by_hand():
    # 68 A0..A5 68 C L DI0..DI3(+33) CS 16; address low byte first; CS = Σ bytes from 68 mod 256.
    # Σ(68 78 56 34 12 00 00 68 11 04 33 33 34 33) = 710 = 0x2C6 -> CS 0xC6
    assert read_request(ADDR, "00010000") == bytes.fromhex("FEFEFEFE 68785634120000 68 11 04 33333433 C6 16")


def test_broadcast_read_address_frame():
    # the textbook read-address frame: 68 AA×6 68 13 00 DF 16 (Σ = 1247, mod 256 = 0xDF)
    assert build_frame("AAAAAAAAAAAA", 0x13, preamble=False) == bytes.fromhex("68AAAAAAAAAAAA681300DF16")


def test_address_bcd_low_byte_first():
    assert encode_address(ADDR) == bytes([0x78, 0x56, 0x34, 0x12, 0x00, 0x00])
    assert decode_address(bytes([0x78, 0x56, 0x34, 0x12, 0x00, 0x00])) == ADDR


def test_energy_response_decodes():
    # 123456.78 kWh = BCD 12 34 56 78 sent low byte first (78 56 34 12), each +0x33 -> AB 89 67 45
    data = bytes.fromhex("33333433 AB896745")
    body = bytes.fromhex("68785634120000 68 91 08") + data
    frame = bytes.fromhex("FEFE") + body + bytes([sum(body) & 0xFF, 0x16])
    got, used = parse_frame(frame)
    assert used == len(frame)
    assert got[0] == ADDR and got[1] == 0x91 and got[2][:4] == bytes([0, 0, 1, 0])
    assert parse_read_response("00010000", got) == 123456.78


def test_signed_power_and_formats():
    # -12.3456 kW: BCD 12 34 56, sign bit on the top byte -> 92 34 56, sent 56 34 92
    assert encode_value("02030000", -12.3456) == bytes([0x56, 0x34, 0x92])
    assert decode_value("02030000", bytes([0x56, 0x34, 0x92])) == -12.3456
    assert decode_value("02010100", bytes([0x05, 0x22])) == 220.5          # XXX.X V
    assert decode_value("02060000", bytes([0x85, 0x09])) == 0.985           # X.XXX
    assert decode_value("00010400", encode_value("00010400", 999999.99)) == 999999.99
    with pytest.raises(Dlt645Error, match="no known format"):
        decode_value("04000401", b"\x00")


def test_bad_checksum_framing_and_errors():
    good = build_frame(ADDR, 0x91, bytes([0, 0, 1, 0, 0x78, 0x56, 0x34, 0x12]), preamble=False)
    bad = good[:-2] + bytes([(good[-2] + 1) & 0xFF, 0x16])
    with pytest.raises(Dlt645Error) as ei:
        parse_frame(bad)
    assert ei.value.kind == "checksum"
    with pytest.raises(Dlt645Error, match="end byte"):
        parse_frame(good[:-1] + b"\x17")
    assert parse_frame(good[:9]) == (None, 0)                                  # incomplete: wait for more
    assert parse_frame(b"\x00\x01" + good[:5]) == (None, 2)                    # noise before 68 skipped
    err = parse_frame(build_frame(ADDR, 0xD1, bytes([0x02]), preamble=False))[0]
    with pytest.raises(Dlt645Error, match="no requested data") as ei:
        parse_read_response("00010000", err)
    assert ei.value.kind == "meter_error"
    other = parse_frame(build_frame(ADDR, 0x91, bytes([0, 0, 2, 0, 1, 2, 3, 4]), preamble=False))[0]
    with pytest.raises(Dlt645Error, match="answer carries DI 00020000"):
        parse_read_response("00010000", other)


def test_master_and_responder_over_tcp():
    regs = {"00010000": 10234.56, "00010100": 1000.01, "00010200": 4000.5, "00010300": 3000.0,
            "00010400": 2234.05, "02030000": -3.2101}

    async def main():
        srv = await Dlt645Responder({ADDR: regs}).start()
        cl = Dlt645Client("127.0.0.1", srv.port, timeout_s=0.5)
        try:
            assert await cl.discover() == ADDR
            got = {di: await cl.read(ADDR, di) for di in regs}
            assert got == regs
            with pytest.raises(Dlt645Error, match="no requested data"):
                await cl.read(ADDR, "00020000")
            srv.fault = "checksum"
            with pytest.raises(Dlt645Error) as ei:
                await cl.read(ADDR, "00010000")
            assert ei.value.kind == "checksum"
            await cl.close()
            srv.fault = "silent"
            with pytest.raises(Dlt645Error) as ei:
                await cl.read(ADDR, "00010000")
            assert ei.value.kind == "timeout"
            await cl.close()
            srv.fault = None
            with pytest.raises(Dlt645Error) as ei:                           # another address: silence
                await cl.read("000000000001", "00010000")
            assert ei.value.kind == "timeout"
        finally:
            await cl.close()
            await srv.stop()

    asyncio.run(main())
