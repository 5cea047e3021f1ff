"""Randomness every validator of the subnet draws alike within one epoch (contract 0.1.2).

**Public by design**: a pure function of the netuid and the epoch (the WIT gives the
derivation, :func:`seed_for` reproduces it), so miners can compute it too. Use it for
challenges that must be common to all validators (one question set per epoch), never for
hidden checks: those take :mod:`subnet_sdk.random`.

Only the validator world imports the interface: calling these functions from a miner fails."""

import hashlib


try:
    # Imported while the component is built (componentize-py bundles the bindings modules
    # imported then); the miner world's bindings have no `shared_random`.
    from wit_world.imports import shared_random as _bindings
except ImportError:  # pragma: no cover - miner world
    _bindings = None


def _host():
    if _bindings is None:
        raise RuntimeError("`shared_random` is imported by the validator world only")
    return _bindings


def seed() -> int:
    """The epoch's shared seed."""
    return _host().seed()


def bytes_(offset: int, length: int) -> bytes:
    """``length`` bytes of the epoch's stream from byte ``offset`` (at most 1 MiB per call)."""
    return bytes(_host().bytes(offset, length))


def u64_at(index: int) -> int:
    """The ``index``-th 64-bit word of the epoch's stream (little-endian)."""
    return int.from_bytes(bytes_(8 * index, 8), "little")


def seed_for(netuid: int, epoch: int) -> int:
    """The shared seed of ``netuid`` in ``epoch``, computed locally, as anyone can."""
    h = hashlib.sha256(b"subnet:plugin/shared-random" + netuid.to_bytes(2, "little") + epoch.to_bytes(8, "little"))
    return int.from_bytes(h.digest()[:8], "little")
