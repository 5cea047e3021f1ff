"""The read-only metagraph, as the host last read it from the chain."""

from typing import List, Optional

from wit_world.imports import metagraph as _host
from ._bindings import types as _t


def netuid() -> int:
    """The subnet this module runs for."""
    return _host.netuid()


def block() -> int:
    """The block the snapshot was read at."""
    return _host.block()


def neurons() -> List[_t.Neuron]:
    """Every neuron, ordered by uid."""
    return list(_host.neurons())


def get_neuron(uid: int) -> Optional[_t.Neuron]:
    """One neuron, if the uid exists."""
    return _host.get_neuron(uid)
