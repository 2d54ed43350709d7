"""Keyed, counter-based randomness: the same key and indices always give the same numbers.

Every random number of the simulator is a pure function of ``(seed, name, indices...)``
(SplitMix64 finaliser over uint64), never of a generator's position. So a meter's values for
day *d* are identical whether the window holds one day or five years, and whether its enterprise
is simulated alone or with 199 others.
"""
from __future__ import annotations

import hashlib

import numpy as np

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_M1 = _U64(0xBF58476D1CE4E5B9)
_M2 = _U64(0x94D049BB133111EB)
_STRIDE = _U64(0xD6E8FEB86659FD93)


def key_of(seed: int, *names: object) -> int:
    """A 64-bit key for ``(seed, names...)`` (stable across processes and Python versions)."""
    h = hashlib.blake2b(repr((int(seed), *map(str, names))).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def _mix(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> _U64(30))) * _M1
        z = (z ^ (z >> _U64(27))) * _M2
        return z ^ (z >> _U64(31))


def _bits(key: int, *idx) -> np.ndarray:
    z = np.full(np.broadcast(*[np.asarray(i) for i in idx]).shape if idx else (), key, dtype=_U64)
    with np.errstate(over="ignore"):
        for i in idx:
            z = _mix(z ^ (np.asarray(i).astype(np.int64).astype(_U64) * _STRIDE))
    return np.atleast_1d(z)


def uniform(key: int, *idx) -> np.ndarray:
    """Uniform [0, 1) floats, one per broadcast element of the integer index arrays ``idx``."""
    return (_bits(key, *idx) >> _U64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def normal(key: int, *idx) -> np.ndarray:
    """Standard normal floats (Box-Muller over two keyed uniforms)."""
    u1 = uniform(key, *idx, 1)
    u2 = uniform(key, *idx, 2)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def uniform1(key: int, *idx: int) -> float:
    """One uniform [0, 1) float for scalar indices."""
    return float(uniform(key, *idx)[0])


def tri(key: int, flat_idx: np.ndarray) -> np.ndarray:
    """Cheap symmetric noise in (-1, 1) (triangular, std 0.408), one SplitMix round per element.

    ``flat_idx``: int array (e.g. ``day * 24 + hour``). Used for the hourly noise of every meter.
    """
    z = _mix(np.asarray(flat_idx).astype(np.int64).astype(_U64) * _STRIDE ^ _U64(key))
    lo = (z & _U64(0xFFFFFFFF)).astype(np.float64)
    hi = (z >> _U64(32)).astype(np.float64)
    return (lo + hi) * (1.0 / 4294967296.0) - 1.0
