"""Sorting floats as integers: order-preserving uint64 keys and an LSD radix sort.

Shared by ``metrics.py`` (ranking metrics) and ``drift.py`` (KS, Wasserstein,
PSI quantiles). The IEEE-754 trick maps every non-NaN float to an unsigned
integer that orders like the float (-0.0 and 0.0 get the same key, so ties
stay ties; ±inf are the extreme keys), and an LSD radix sort, one byte per
pass, skipping bytes that every key shares, sorts those keys in linear time:
4-6x faster than ``np.sort`` at 1e5-1e7 values on the dev box (11- and 16-bit
digits were measured too and were slower: their scatter targets overflow L1).
The sorted output is unique, so it does not depend on how it was computed.

Imports nothing from the rest of lockgate.
"""

from __future__ import annotations

import numpy as np

from lockgate.kernels._compile import njit

_SIGN = np.uint64(1 << 63)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)

# A key above every float's key (NaN is never keyed): ends merged walks.
SENTINEL = _ALL


@njit(nogil=True)
def _sort_key(value):
    """An unsigned integer that orders like ``value`` does (any float, not NaN).

    The IEEE-754 trick: flip every bit of a negative number, only the sign bit
    of a positive one. Adding 0.0 first turns -0.0 into 0.0, so that equal
    floats get equal keys and ties stay ties. float32 widens to float64
    exactly, so one key type serves both.
    """
    bits = np.float64(np.float64(value) + 0.0).view(np.uint64)
    negative = bits >> np.uint64(63)
    return bits ^ ((np.uint64(0) - negative) | _SIGN)


@njit(nogil=True)
def _key_value(key):
    """The float64 a key came from (0.0 for a -0.0)."""
    positive = key >> np.uint64(63)
    return np.uint64(key ^ (_SIGN | (positive - np.uint64(1)))).view(np.float64)


@njit(nogil=True)
def _radix_passes(keys, scratch, counts):
    """LSD radix sort of ``keys`` given its per-byte histograms ``counts`` (8 x 256).

    Bytes that every key shares are skipped. Returns the number of passes
    made: the result is in ``keys`` when even, in ``scratch`` when odd.
    """
    n = keys.size
    source, target = keys, scratch
    offsets = np.empty(256, np.int64)
    passes = 0
    for digit in range(8):
        if counts[digit].max() == n:  # every key has this byte: nothing to move
            continue
        total = 0
        for byte in range(256):
            offsets[byte] = total
            total += counts[digit, byte]
        shift = np.uint64(8 * digit)
        for i in range(n):
            key = source[i]
            byte = (key >> shift) & np.uint64(0xFF)
            target[offsets[byte]] = key
            offsets[byte] += 1
        source, target = target, source
        passes += 1
    return passes


@njit(nogil=True)
def _radix_sort(keys, scratch):
    """Sort uint64 ``keys``; returns whichever of ``keys``/``scratch`` holds the result.

    LSD radix sort, one byte per pass, skipping bytes that every key shares
    (scores in [0, 1) share their top byte; float32 scores their low three).
    Linear time: 4-6x faster than ``np.sort`` on this box at 1e5-1e7 values.
    """
    if _radix_passes(keys, scratch, _byte_counts(keys)) % 2:
        return scratch
    return keys


@njit(nogil=True)
def _radix_sort_in_place(keys, scratch):
    """Sort uint64 ``keys`` in place (``scratch`` is as long: a copy back when needed)."""
    if _radix_passes(keys, scratch, _byte_counts(keys)) % 2:
        keys[:] = scratch


@njit(nogil=True)
def _byte_counts(keys):
    """The 8 x 256 per-byte histograms of ``keys`` that ``_radix_passes`` needs."""
    counts = np.zeros((8, 256), np.int64)
    for i in range(keys.size):
        key = keys[i]
        for digit in range(8):
            counts[digit, (key >> np.uint64(8 * digit)) & np.uint64(0xFF)] += 1
    return counts


@njit(nogil=True)
def _float_keys(values, out, counts):
    """Keys of the non-NaN ``values``, in order, into ``out``; returns how many.

    Fills ``counts`` (8 x 256, zeroed by the caller) with the keys' byte
    histograms, so that the radix sort needs no counting pass of its own.
    Branch-free: a NaN's key is written and then overwritten by the next one.
    """
    m = 0
    for i in range(values.size):
        value = values[i]
        key = _sort_key(value)
        out[m] = key
        keep = value == value
        for digit in range(8):
            counts[digit, (key >> np.uint64(8 * digit)) & np.uint64(0xFF)] += keep
        m += keep
    return m


@njit(nogil=True)
def _sorted_float_keys(values, keys, scratch):
    """Sort the keys of ``values``' non-NaN entries; returns (count m, result in scratch?).

    ``keys`` and ``scratch`` hold at least ``values.size + 1`` slots; the
    sorted keys are the first m of the returned buffer and slot m holds
    ``SENTINEL``.
    """
    counts = np.zeros((8, 256), np.int64)
    m = _float_keys(values, keys, counts)
    odd = _radix_passes(keys[:m], scratch[:m], counts) % 2 == 1
    if odd:
        scratch[m] = SENTINEL
    else:
        keys[m] = SENTINEL
    return m, odd


@njit(nogil=True)
def _merge(a, b, out):
    """Merge ascending runs ``a`` and ``b`` into ``out`` (the select is branch-free)."""
    i = j = k = 0
    while i < a.size and j < b.size:
        x = a[i]
        y = b[j]
        take_b = y < x
        out[k] = y if take_b else x
        j += take_b
        i += 1 - take_b
        k += 1
    while i < a.size:
        out[k] = a[i]
        i += 1
        k += 1
    while j < b.size:
        out[k] = b[j]
        j += 1
        k += 1


def sorted_keys(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Ascending sort keys of ``values``' non-NaN entries (float64 array), and their count m.

    The returned buffer has m + 1 slots, the last one ``SENTINEL``.
    """
    n = values.size
    keys = np.empty(n + 1, dtype=np.uint64)
    scratch = np.empty(n + 1, dtype=np.uint64)
    m, odd = _sorted_float_keys(values, keys, scratch)
    out = scratch if odd else keys
    return out[: m + 1], int(m)
