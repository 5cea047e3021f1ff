"""Deterministic randomness seeded by the host: the same sandbox seed gives the same values.

:func:`below` uses the same rejection sampling as the Rust SDK's ``random::below``, so a Python
subnet draws exactly the numbers a Rust one draws from the same host stream."""

from typing import List, MutableSequence, TypeVar

from wit_world.imports import random as _host

_U64_MAX = (1 << 64) - 1


def next_u64() -> int:
    """64 random bits, as an int in ``[0, 2**64)``."""
    return _host.next_u64()


def below(bound: int) -> int:
    """A uniform value in ``range(bound)`` (0 when ``bound`` is 0), without modulo bias."""
    if bound <= 0:
        return 0
    if bound > _U64_MAX:
        raise ValueError("bound must fit in 64 bits")
    zone = _U64_MAX - _U64_MAX % bound
    while True:
        v = _host.next_u64()
        if v < zone:
            return v % bound


def unit() -> float:
    """A uniform float in [0, 1)."""
    return (_host.next_u64() >> 11) / float(1 << 53)


def bytes_(length: int) -> bytes:
    """``length`` random bytes (at most 1 MiB per call)."""
    return bytes(_host.fill(length))


T = TypeVar("T")


def shuffle(items: MutableSequence[T]) -> None:
    """Shuffles ``items`` in place (Fisher-Yates, the same draws as the Rust SDK)."""
    for i in range(len(items) - 1, 0, -1):
        j = below(i + 1)
        items[i], items[j] = items[j], items[i]


def choice(items: List[T]) -> T:
    """One element of a non-empty list."""
    if not items:
        raise IndexError("choice from an empty list")
    return items[below(len(items))]
