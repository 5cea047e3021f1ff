"""Scoring that waits for the truth (contract 0.1.2), called from ``Validator.score``.

- :func:`abstain` leaves a miner unscored on the task being scored: not a 0; the default
  EMA ``reward`` leaves its running score as it was.
- :func:`defer` keeps the task and its answers for a later round; the host hands them to
  ``Validator.score_deferred`` each round until it returns scores or ``max_rounds`` pass. Every
  miner of a deferred task abstains this round. Deferring needs the ``deferred-scorer`` export:
  bind ``DeferredScorer = export_deferred_scorer(MyValidator)`` in ``app.py`` next to
  ``ValidatorApi`` (``subnetd build`` then targets the ``validator-deferred`` world).

Only the validator world imports the interface: calling these from a miner fails."""

from componentize_py_types import Err


try:
    # Imported while the component is built (componentize-py bundles the bindings modules
    # imported then); the miner world's bindings have no `scoring`.
    from wit_world.imports import scoring as _bindings
except ImportError:  # pragma: no cover - miner world
    _bindings = None


def _host():
    if _bindings is None:
        raise RuntimeError("`scoring` is imported by the validator world only")
    return _bindings


def abstain(uid: int) -> None:
    """Leave ``uid`` unscored on the task being scored."""
    _host().abstain(uid)


def defer(key: str, max_rounds: int) -> None:
    """Keep the task being scored under ``key`` for at most ``max_rounds`` rounds; raises
    ``ValueError`` with the host's reason when it refuses (empty or long key, 0 rounds)."""
    try:
        _host().defer(key, max_rounds)
    except Err as e:
        raise ValueError(str(e.value)) from None
