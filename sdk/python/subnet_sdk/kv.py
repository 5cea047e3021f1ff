"""The subnet's key-value store, kept by the host across calls and restarts.

Failures raise :class:`KvError` with the host's reason (``denied``, ``too-large``, ``io``)."""

import json
from typing import Any, List, Optional

from componentize_py_types import Err
from wit_world.imports import kv as _host


class KvError(Exception):
    """A store operation failed; ``kind`` is ``denied``, ``too-large`` or ``io``."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"kv {kind}" + (f": {detail}" if detail else ""))
        self.kind = kind
        self.detail = detail


def _lift(e: Err) -> KvError:
    v = e.value
    if isinstance(v, _host.KvError_Denied):
        return KvError("denied")
    if isinstance(v, _host.KvError_TooLarge):
        return KvError("too-large", v.value)
    if isinstance(v, _host.KvError_Io):
        return KvError("io", v.value)
    return KvError("io", repr(v))


def get(key: str) -> Optional[bytes]:
    """Raw bytes under ``key``, or None."""
    try:
        value = _host.get(key)
    except Err as e:
        raise _lift(e) from None
    return None if value is None else bytes(value)


def set(key: str, value: bytes) -> None:  # noqa: A001 - mirrors the contract's name
    """Stores raw bytes."""
    try:
        _host.set(key, bytes(value))
    except Err as e:
        raise _lift(e) from None


def delete(key: str) -> None:
    """Removes a key."""
    try:
        _host.delete(key)
    except Err as e:
        raise _lift(e) from None


def keys(prefix: str = "", limit: int = 1000) -> List[str]:
    """Keys that start with ``prefix``, in byte order, at most ``limit``."""
    try:
        return list(_host.keys(prefix, limit))
    except Err as e:
        raise _lift(e) from None


def get_json(key: str) -> Any:
    """A JSON value under ``key``; a missing key or a value that does not decode reads as None."""
    raw = get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def set_json(key: str, value: Any) -> None:
    """Stores a value as JSON."""
    set(key, json.dumps(value, separators=(",", ":")).encode())
