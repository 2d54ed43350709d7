"""Modbus register decoding: type, byte order, word order, BCD, scale. Pure functions.

Registers are 16-bit words as the PDU carries them (big-endian on the wire, Modbus Application
Protocol v1.1b3 §4.2). Byte order swaps the two bytes inside each word ("little" = CDAB-style
devices that send low byte first); word order says whether the first register holds the most
significant word ("big", ABCD) or the least ("little", CDAB), as most meter manuals describe it.
"""
from __future__ import annotations

import math
import struct

from gateway.config import REGISTER_TYPES

_STRUCT = {"u16": ">H", "i16": ">h", "u32": ">I", "i32": ">i", "u64": ">Q", "i64": ">q", "f32": ">f", "f64": ">d"}


class DecodeError(ValueError):
    """The registers do not hold a valid value of the type (bad BCD digit, NaN, ...)."""


def to_bytes(words: list[int], byte_order: str = "big", word_order: str = "big") -> bytes:
    """Registers → big-endian bytes of the value (most significant byte first)."""
    ws = list(words) if word_order == "big" else list(reversed(words))
    out = bytearray()
    for w in ws:
        hi, lo = (w >> 8) & 0xFF, w & 0xFF
        out += bytes((hi, lo)) if byte_order == "big" else bytes((lo, hi))
    return bytes(out)


def from_bytes(raw: bytes, byte_order: str = "big", word_order: str = "big") -> list[int]:
    """Inverse of :func:`to_bytes` (used by emulators and tests)."""
    words = []
    for i in range(0, len(raw), 2):
        hi, lo = raw[i], raw[i + 1]
        words.append((hi << 8 | lo) if byte_order == "big" else (lo << 8 | hi))
    return words if word_order == "big" else list(reversed(words))


def bcd_to_int(raw: bytes) -> int:
    """Packed BCD, most significant digit first; raises DecodeError on a nibble > 9."""
    n = 0
    for b in raw:
        hi, lo = b >> 4, b & 0x0F
        if hi > 9 or lo > 9:
            raise DecodeError(f"invalid BCD byte 0x{b:02X}")
        n = n * 100 + hi * 10 + lo
    return n


def int_to_bcd(n: int, nbytes: int) -> bytes:
    if n < 0 or n >= 10 ** (2 * nbytes):
        raise ValueError(f"{n} does not fit {nbytes} BCD bytes")
    s = f"{n:0{2 * nbytes}d}"
    return bytes(int(s[i]) << 4 | int(s[i + 1]) for i in range(0, len(s), 2))


def decode(words: list[int], typ: str, byte_order: str = "big", word_order: str = "big") -> float:
    """Raw number held by ``words`` (before scale)."""
    n = REGISTER_TYPES[typ]
    if len(words) != n:
        raise DecodeError(f"{typ} needs {n} registers, got {len(words)}")
    raw = to_bytes(words, byte_order, word_order)
    if typ.startswith("bcd"):
        return float(bcd_to_int(raw))
    v = struct.unpack(_STRUCT[typ], raw)[0]
    if isinstance(v, float) and not math.isfinite(v):
        raise DecodeError(f"{typ} is not finite ({v})")
    return float(v)


def encode(value: float, typ: str, byte_order: str = "big", word_order: str = "big") -> list[int]:
    """Registers holding the raw number ``value`` (emulators and tests)."""
    n = REGISTER_TYPES[typ]
    if typ.startswith("bcd"):
        raw = int_to_bcd(int(value), 2 * n)
    elif typ[0] == "f":
        raw = struct.pack(_STRUCT[typ], float(value))
    else:
        raw = struct.pack(_STRUCT[typ], int(value))
    return from_bytes(raw, byte_order, word_order)


def physical(raw: float, scale: float, offset: float = 0.0) -> float:
    """Physical value, rounded to 12 significant digits so 0.01 steps do not print 123.45000000001
    (a register holds at most 10 significant decimal digits of information, so nothing is lost)."""
    if scale == 1.0 and offset == 0.0:
        return float(raw)
    return float(f"{raw * scale + offset:.12g}")
