"""Model calls served by the host (embeddings, generation).

Failures raise :class:`ComputeError` whose ``kind`` is the contract's case
(``not-available``, ``unknown-model``, ``invalid-input``, ``timeout``, ``failed``)."""

import math
from typing import List, Sequence

from componentize_py_types import Err
from wit_world.imports import compute as _host
from ._bindings import types as _t


class ComputeError(Exception):
    """A model call failed."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"compute {kind}" + (f": {detail}" if detail else ""))
        self.kind = kind
        self.detail = detail


_KINDS = {
    "ComputeError_NotAvailable": "not-available",
    "ComputeError_UnknownModel": "unknown-model",
    "ComputeError_InvalidInput": "invalid-input",
    "ComputeError_Timeout": "timeout",
    "ComputeError_Failed": "failed",
}


def _lift(e: Err) -> ComputeError:
    v = e.value
    kind = _KINDS.get(type(v).__name__, "failed")
    return ComputeError(kind, str(getattr(v, "value", "")))


def embed_text(model: str, texts: Sequence[str]) -> List[List[float]]:
    """One L2-normalised embedding per text."""
    try:
        return [list(v) for v in _host.embed_text(model, list(texts))]
    except Err as e:
        raise _lift(e) from None


def embed_image(model: str, images: Sequence[_t.Payload]) -> List[List[float]]:
    """One L2-normalised embedding per image (PNG or JPEG payloads)."""
    try:
        return [list(v) for v in _host.embed_image(model, list(images))]
    except Err as e:
        raise _lift(e) from None


def models() -> List[str]:
    """The models this subnet was granted, by name."""
    return list(_host.models())


def generate_text(model: str, prompt: str, max_tokens: int, seed: int) -> str:
    """Text generation, deterministic for a given seed."""
    try:
        return _host.generate_text(model, prompt, max_tokens, seed)
    except Err as e:
        raise _lift(e) from None


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is empty or zero)."""
    dot = na = nb = 0.0
    for x, y in zip(a, b):
        dot += x * y
        na += x * x
        nb += y * y
    if na == 0.0 or nb == 0.0:
        return 0.0
    return dot / (math.sqrt(na) * math.sqrt(nb))
