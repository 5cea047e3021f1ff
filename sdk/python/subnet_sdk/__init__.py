"""Write a Bittensor subnet for subnetd in Python.

A subnet is a validator module and a miner module. Subclass :class:`Validator` (or
:class:`Miner`), export it once with ``ValidatorApi = export_validator(MyValidator)`` (or
``MinerApi = export_miner(MyMiner)``) in the guest's ``app.py``, and ``subnetd build`` turns
the directory into a WebAssembly component with componentize-py. The SDK hides the generated
bindings: tasks and answers are plain Python values, encoded by a codec (:class:`Json` by
default, or :data:`RAW` for images and other bytes).

Example::

    from subnet_sdk import Validator, Json, TaskSpec, Score, random, export_validator

    class Doubler(Validator):
        task_codec = Json(int)
        answer_codec = Json(int)

        def generate_tasks(self, ctx):
            return [TaskSpec(f"t{uid}", [uid], random.below(100)) for uid in ctx.miners()]

        def score(self, ctx, task, answers):
            return [Score(a.uid, 1.0 if a.answer == task * 2 else 0.0) for a in answers]

    ValidatorApi = export_validator(Doubler)

Failure modes: raising :class:`SubnetError` (or any exception) from your code makes the call
fail with its message; the SDK prints the Python traceback to stderr first, and the host
shows it under ``--- guest stderr ---`` in its error. The host carries on with the other
miners and subnets. The SDK imports the bindings that componentize-py generates
(``wit_world``), so it runs only inside a component (or with stub bindings in tests).
"""

from __future__ import annotations

import dataclasses
import json as _json
import math
import sys
import traceback
from typing import Any, Callable, Generic, Iterator, List, Optional, Sequence, TypeVar

from componentize_py_types import Err
from ._bindings import types as _t

from . import compute, http, kv, log, metagraph, random, scoring, shared_random

__all__ = [
    "ANY",
    "Answer",
    "Codec",
    "DEFAULT_ALPHA",
    "DEFAULT_TIMEOUT_MS",
    "EpochContext",
    "JSON",
    "Json",
    "Metric",
    "Miner",
    "MinerRequest",
    "MinerResponse",
    "Neuron",
    "Payload",
    "RAW",
    "ResponseStatus",
    "RewardResult",
    "Score",
    "SubnetError",
    "TEXT",
    "Task",
    "TaskSpec",
    "UidScore",
    "UidState",
    "VPERMIT_STAKE_LIMIT",
    "Validator",
    "Weight",
    "compute",
    "ema_reward",
    "export_deferred_scorer",
    "export_miner",
    "export_validator",
    "http",
    "kv",
    "log",
    "metagraph",
    "miners",
    "random",
    "scoring",
    "shared_random",
]

# The contract's records, as componentize-py generates them (dataclasses).
Payload = _t.Payload
Neuron = _t.Neuron
EpochContext = _t.EpochContext
Task = _t.Task
ResponseStatus = _t.ResponseStatus
MinerResponse = _t.MinerResponse
Metric = _t.Metric
UidScore = _t.UidScore
UidState = _t.UidState
Weight = _t.Weight
RewardResult = _t.RewardResult
MinerRequest = _t.MinerRequest

#: Content type of :class:`Json` payloads.
JSON = "application/json"
#: Content type of text payloads.
TEXT_PLAIN = "text/plain; charset=utf-8"
#: Timeout of a :class:`TaskSpec` without one: 12 s, as the subnet template's default.
DEFAULT_TIMEOUT_MS = 12_000
#: Stake above which a neuron with a validator permit counts as a validator, not a miner (the
#: subnet template's ``vpermit_tao_limit``): on small subnets every staked neuron has a permit.
VPERMIT_STAKE_LIMIT = 4096.0
#: The smoothing of :func:`ema_reward`, as the subnet template's ``moving_average_alpha``.
DEFAULT_ALPHA = 0.1

_U32_MAX = 0xFFFF_FFFF


class SubnetError(Exception):
    """An error your code reports on purpose; its message becomes the call's error."""


def miners(ctx: EpochContext) -> List[int]:
    """Uids to send tasks to, in the context's order: every neuron except this validator and
    the neurons that hold a validator permit with more than :data:`VPERMIT_STAKE_LIMIT` stake,
    as the subnet template's ``check_uid_availability`` (and the Rust SDK's ``miners``)."""
    return [
        n.uid
        for n in ctx.neurons
        if n.uid != ctx.validator_uid and not (n.validator_permit and n.stake > VPERMIT_STAKE_LIMIT)
    ]


# `ctx.miners()`, as in the Rust SDK.
EpochContext.miners = miners  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------------
# Codecs
# ----------------------------------------------------------------------------------------------

T = TypeVar("T")


class Codec(Generic[T]):
    """How a Python value travels as a :class:`Payload`.

    ``decode`` raises (any exception) when the sender broke the format; the SDK turns that into
    a ``malformed`` answer, or a failed call for a task."""

    def encode(self, value: T) -> Payload:
        raise NotImplementedError

    def decode(self, payload: Payload) -> T:
        raise NotImplementedError


class Json(Codec[Any]):
    """Values sent as JSON (``application/json``).

    ``Json()`` accepts any JSON value. ``Json(int)`` (or ``float``, ``str``, ``bool``, ``list``,
    ``dict``) also checks the decoded value's type; ``int`` rejects booleans and floats, as
    serde does in the Rust SDK, and ``float`` accepts integers. ``Json(SomeDataclass)`` encodes
    the dataclass as an object and decodes an object with exactly its fields back into it. Any
    other callable is applied to the decoded value and may raise to reject it.
    """

    def __init__(self, kind: Optional[Any] = None):
        self.kind = kind

    def __repr__(self) -> str:
        return f"Json({getattr(self.kind, '__name__', self.kind)!s})" if self.kind else "Json()"

    def encode(self, value: Any) -> Payload:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        body = _json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        return Payload(content_type=JSON, body=body)

    def decode(self, payload: Payload) -> Any:
        if not payload.content_type.startswith(JSON):
            raise ValueError(f"expected {JSON}, got `{payload.content_type}`")
        value = _json.loads(bytes(payload.body))
        return _check(value, self.kind)


def _check(value: Any, kind: Any) -> Any:
    if kind is None:
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)
    if kind in (str, bool, list, dict):
        if not isinstance(value, kind):
            raise ValueError(f"expected {kind.__name__}, got {value!r}")
        return value
    if dataclasses.is_dataclass(kind):
        if not isinstance(value, dict):
            raise ValueError(f"expected an object for {kind.__name__}, got {value!r}")
        names = {f.name for f in dataclasses.fields(kind)}
        if set(value) != names:
            raise ValueError(f"expected fields {sorted(names)} for {kind.__name__}, got {sorted(value)}")
        return kind(**value)
    return kind(value)


class _Text(Codec[str]):
    """UTF-8 text (``text/plain``)."""

    def encode(self, value: str) -> Payload:
        return Payload(content_type=TEXT_PLAIN, body=value.encode())

    def decode(self, payload: Payload) -> str:
        return bytes(payload.body).decode("utf-8")


class _Raw(Codec[Payload]):
    """Payloads as they are (images, any bytes)."""

    def encode(self, value: Payload) -> Payload:
        return value

    def decode(self, payload: Payload) -> Payload:
        return payload


#: Any JSON value.
ANY = Json()
#: Text payloads as ``str``.
TEXT = _Text()
#: Raw :class:`Payload` values (the author reads ``content_type`` and ``body``).
RAW = _Raw()


# ----------------------------------------------------------------------------------------------
# Tasks, answers, scores
# ----------------------------------------------------------------------------------------------


@dataclasses.dataclass
class TaskSpec(Generic[T]):
    """A task to send: its name (unique in the round), the miners that receive it, the task
    itself (encoded with the validator's ``task_codec``) and how long each miner has."""

    id: str
    miners: List[int]
    task: T
    timeout_ms: int = DEFAULT_TIMEOUT_MS


@dataclasses.dataclass
class Answer(Generic[T]):
    """One miner's answer to a task, decoded.

    ``status`` is ``ResponseStatus.MALFORMED`` when the answer did not decode; ``answer`` is the
    decoded value when the status is ``OK``, else ``None``."""

    uid: int
    status: ResponseStatus
    latency_ms: int
    answer: Optional[T]

    @property
    def ok(self) -> bool:
        """Whether the miner gave a valid answer in time."""
        return self.status == ResponseStatus.OK


@dataclasses.dataclass
class Score:
    """A miner's score on one task, in [0, 1], with optional named metrics."""

    uid: int
    score: float
    metrics: List[tuple] = dataclasses.field(default_factory=list)

    def metric(self, name: str, value: float) -> "Score":
        """Adds a named metric (e.g. ``quality``, ``speed``); returns the score for chaining."""
        self.metrics.append((name, float(value)))
        return self


def ema_reward(state: List[UidState], round: Sequence[UidScore], alpha: float = DEFAULT_ALPHA) -> RewardResult:
    """The default reward: each uid's running score becomes ``alpha * round + (1 - alpha) * old``
    (a uid not scored this round keeps its score; a new uid is appended with ``alpha * round``);
    weights are the running scores. Same float operations and entry order as the Rust SDK's
    ``ema_reward``, so the same inputs give bit-identical weights."""
    state = list(state)
    by_uid = {}
    for i, entry in enumerate(state):
        by_uid.setdefault(entry.uid, i)
    for scored in round:
        value = scored.score if math.isfinite(scored.score) else 0.0
        i = by_uid.get(scored.uid)
        if i is not None:
            entry = state[i]
            entry.score = alpha * value + (1.0 - alpha) * entry.score
            entry.rounds = min(entry.rounds + 1, _U32_MAX)
        else:
            by_uid[scored.uid] = len(state)
            state.append(UidState(uid=scored.uid, hotkey="", score=alpha * value, rounds=1))
    weights = [Weight(uid=s.uid, value=s.score if s.score > 0.0 else 0.0) for s in state]
    return RewardResult(state=state, weights=weights)


# ----------------------------------------------------------------------------------------------
# The author's classes
# ----------------------------------------------------------------------------------------------


class Validator:
    """A validator: makes tasks, scores answers, turns scores into weights.

    Set ``task_codec`` and ``answer_codec`` (default: any JSON value), implement
    :meth:`generate_tasks` and :meth:`score`; :meth:`reward` defaults to :func:`ema_reward` with
    ``alpha`` (0.1). A new instance is made for every call, so keep state in :mod:`kv`."""

    task_codec: Codec = ANY
    answer_codec: Codec = ANY
    alpha: float = DEFAULT_ALPHA

    def generate_tasks(self, ctx: EpochContext) -> List[TaskSpec]:
        """Makes the tasks of one round."""
        raise NotImplementedError("Validator.generate_tasks is not implemented")

    def score(self, ctx: EpochContext, task: Any, answers: List[Answer]) -> List[Score]:
        """Scores every answer to one task. Answers that did not arrive or did not decode are
        there too, with their status. Miners left out get 0."""
        raise NotImplementedError("Validator.score is not implemented")

    def reward(self, ctx: EpochContext, state: List[UidState], round: List[UidScore]) -> RewardResult:
        """Folds a round into the running state and picks weights."""
        return ema_reward(state, round, self.alpha)

    def score_deferred(
        self, ctx: EpochContext, key: str, task: Any, answers: List[Answer], age: int
    ) -> Optional[List[Score]]:
        """Scores a task ``score`` kept with :func:`scoring.defer` under ``key``, ``age`` rounds
        after it was kept (contract 0.1.2). ``None``: not yet, keep it; a list: done, and miners
        left out abstain. Called only when ``app.py`` binds ``DeferredScorer =
        export_deferred_scorer(...)``."""
        return None


class Miner:
    """A miner: answers one task. Set ``task_codec`` and ``answer_codec`` and implement
    :meth:`answer`."""

    task_codec: Codec = ANY
    answer_codec: Codec = ANY

    def answer(self, request: MinerRequest, task: Any) -> Any:
        """Answers a task; ``request`` carries who asked and the time budget."""
        raise NotImplementedError("Miner.answer is not implemented")


# ----------------------------------------------------------------------------------------------
# Glue between the classes and the generated bindings
# ----------------------------------------------------------------------------------------------


def _guarded(call: str, body: Callable[[], T]) -> T:
    """Runs an export's body; any failure becomes the call's error string, and an unexpected
    exception also prints its traceback to stderr, which the host shows in its error."""
    try:
        return body()
    except Err as e:
        raise Err(str(e.value))
    except SubnetError as e:
        raise Err(str(e) or type(e).__name__)
    except BaseException as e:  # noqa: BLE001 - every failure must reach the host as text
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        raise Err(f"`{call}` raised {type(e).__name__}: {e}")


def _decode_answer(codec: Codec, r: MinerResponse) -> Answer:
    if r.status == ResponseStatus.OK:
        if r.payload is None:
            return Answer(r.uid, ResponseStatus.MALFORMED, r.latency_ms, None)
        try:
            return Answer(r.uid, ResponseStatus.OK, r.latency_ms, codec.decode(r.payload))
        except Exception:  # noqa: BLE001 - a miner's bad answer is data, not our failure
            return Answer(r.uid, ResponseStatus.MALFORMED, r.latency_ms, None)
    return Answer(r.uid, r.status, r.latency_ms, None)


def _to_uid_score(s: Any) -> UidScore:
    if isinstance(s, UidScore):
        return s
    if not isinstance(s, Score):
        raise TypeError(f"score must return Score values, got {type(s).__name__}")
    return UidScore(
        uid=int(s.uid),
        score=float(s.score),
        metrics=[Metric(name=str(n), value=float(v)) for n, v in s.metrics],
    )


def export_validator(cls: type) -> type:
    """Exports a :class:`Validator` subclass as the component's ``validator-api``.

    Bind the result to ``ValidatorApi`` in ``app.py``: componentize-py looks for that name."""
    if not (isinstance(cls, type) and issubclass(cls, Validator)):
        raise TypeError("export_validator expects a subclass of subnet_sdk.Validator")

    class ValidatorApi:
        def generate_tasks(self, ctx: EpochContext) -> List[Task]:
            def body() -> List[Task]:
                v = cls()
                out = []
                for spec in v.generate_tasks(ctx):
                    out.append(Task(
                        id=str(spec.id),
                        miners=[int(u) for u in spec.miners],
                        payload=v.task_codec.encode(spec.task),
                        timeout_ms=int(spec.timeout_ms),
                    ))
                return out

            return _guarded("generate-tasks", body)

        def score(self, ctx: EpochContext, task: Task, responses: List[MinerResponse]) -> List[UidScore]:
            def body() -> List[UidScore]:
                v = cls()
                try:
                    decoded = v.task_codec.decode(task.payload)
                except Exception as e:  # noqa: BLE001
                    raise SubnetError(f"task `{task.id}` does not decode: {e}") from e
                answers = [_decode_answer(v.answer_codec, r) for r in responses]
                return [_to_uid_score(s) for s in v.score(ctx, decoded, answers)]

            return _guarded("score", body)

        def reward(self, ctx: EpochContext, state: List[UidState], round: List[UidScore]) -> RewardResult:
            return _guarded("reward", lambda: cls().reward(ctx, state, round))

    ValidatorApi.__qualname__ = ValidatorApi.__name__ = "ValidatorApi"
    ValidatorApi.implementation = cls  # type: ignore[attr-defined]
    return ValidatorApi


def export_deferred_scorer(cls: type) -> type:
    """Exports a :class:`Validator` subclass's ``score_deferred`` as the component's
    ``deferred-scorer`` (contract 0.1.2). Bind the result to ``DeferredScorer`` in ``app.py``,
    beside ``ValidatorApi``: ``subnetd build`` then builds the ``validator-deferred`` world."""
    if not (isinstance(cls, type) and issubclass(cls, Validator)):
        raise TypeError("export_deferred_scorer expects a subclass of subnet_sdk.Validator")

    class DeferredScorer:
        def score_deferred(
            self, ctx: EpochContext, key: str, task: Task, responses: List[MinerResponse], age: int
        ) -> Optional[List[UidScore]]:
            def body() -> Optional[List[UidScore]]:
                v = cls()
                try:
                    decoded = v.task_codec.decode(task.payload)
                except Exception as e:  # noqa: BLE001
                    raise SubnetError(f"task `{task.id}` does not decode: {e}") from e
                answers = [_decode_answer(v.answer_codec, r) for r in responses]
                scores = v.score_deferred(ctx, key, decoded, answers, age)
                return None if scores is None else [_to_uid_score(s) for s in scores]

            return _guarded("score-deferred", body)

    DeferredScorer.__qualname__ = DeferredScorer.__name__ = "DeferredScorer"
    DeferredScorer.implementation = cls  # type: ignore[attr-defined]
    return DeferredScorer


def export_miner(cls: type) -> type:
    """Exports a :class:`Miner` subclass as the component's ``miner-api``.

    Bind the result to ``MinerApi`` in ``app.py``: componentize-py looks for that name."""
    if not (isinstance(cls, type) and issubclass(cls, Miner)):
        raise TypeError("export_miner expects a subclass of subnet_sdk.Miner")

    class MinerApi:
        def handle(self, request: MinerRequest) -> Payload:
            def body() -> Payload:
                m = cls()
                try:
                    task = m.task_codec.decode(request.payload)
                except Exception as e:  # noqa: BLE001
                    raise SubnetError(f"bad task: {e}") from e
                return m.answer_codec.encode(m.answer(request, task))

            return _guarded("handle", body)

    MinerApi.__qualname__ = MinerApi.__name__ = "MinerApi"
    MinerApi.implementation = cls  # type: ignore[attr-defined]
    return MinerApi
