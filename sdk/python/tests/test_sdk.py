"""Unit tests of subnet_sdk in plain CPython.

The SDK imports the bindings componentize-py generates (`wit_world`). Here they are
componentize-py's stub bindings (`componentize-py bindings`), generated into a temporary
directory, with the `random` and `log` host functions replaced by scripted ones, so the
SDK's own logic runs unchanged. Needs componentize-py (as `subnetd build` does).

Run: python3 sdk/python/tests/test_sdk.py
"""

import io
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SDK = ROOT / "sdk" / "python"


def _componentize_py() -> str:
    for candidate in (os.environ.get("SUBNETD_COMPONENTIZE_PY"), shutil.which("componentize-py"),
                      str(ROOT / ".venv" / "bin" / "componentize-py")):
        if candidate and Path(candidate).exists():
            return candidate
    raise SystemExit("componentize-py not found: pip install componentize-py==0.25.1")


_BINDINGS = tempfile.mkdtemp(prefix="subnet-sdk-bindings-")
subprocess.run([_componentize_py(), "-d", str(ROOT / "wit"), "-w", "validator", "bindings", _BINDINGS],
               check=True, stdout=subprocess.DEVNULL)
sys.path[:0] = [_BINDINGS, str(SDK)]

from componentize_py_types import Err  # noqa: E402
from wit_world.imports import log as host_log  # noqa: E402
from wit_world.imports import random as host_random  # noqa: E402
from wit_world.imports import types as t  # noqa: E402

import subnet_sdk as sdk  # noqa: E402
from subnet_sdk import random as sdk_random  # noqa: E402

U64_MAX = (1 << 64) - 1


class ScriptedRandom:
    """Plays back given u64 values and counts the draws."""

    def __init__(self, values):
        self.values = list(values)
        self.draws = 0

    def __call__(self):
        self.draws += 1
        return self.values.pop(0)


def install_random(values):
    scripted = ScriptedRandom(values)
    host_random.next_u64 = scripted
    return scripted


host_log.log = lambda level, message: None


def f64(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def payload(text, content_type=sdk.JSON):
    return t.Payload(content_type=content_type, body=text.encode())


def neuron(uid, permit=False, stake=1.0):
    return t.Neuron(uid=uid, hotkey=f"hk{uid}", stake=stake, validator_permit=permit, active=True,
                    incentive=0.0, dividends=0.0, emission=0.0)


def context(neurons, validator_uid=0):
    return t.EpochContext(netuid=1, block=720, epoch=2, seed=7, validator_uid=validator_uid, neurons=neurons)


class RandomTests(unittest.TestCase):
    def test_below_rejects_the_biased_zone_like_rust(self):
        bound = 1_000_000
        zone = U64_MAX - U64_MAX % bound
        scripted = install_random([zone, U64_MAX, zone - 1])
        self.assertEqual(sdk_random.below(bound), (zone - 1) % bound)
        self.assertEqual(scripted.draws, 3)

    def test_below_zero_draws_nothing(self):
        scripted = install_random([])
        self.assertEqual(sdk_random.below(0), 0)
        self.assertEqual(scripted.draws, 0)

    def test_unit_uses_the_top_53_bits(self):
        install_random([U64_MAX, 0])
        self.assertEqual(sdk_random.unit(), (2**53 - 1) / 2**53)
        self.assertEqual(sdk_random.unit(), 0.0)

    def test_shuffle_is_fisher_yates_from_the_end(self):
        # below(3) draws 2, then below(2) draws 0: [a,b,c] -> swap(2,2) -> swap(1,0).
        install_random([2, 0])
        items = ["a", "b", "c"]
        sdk_random.shuffle(items)
        self.assertEqual(items, ["b", "a", "c"])


class EmaRewardTests(unittest.TestCase):
    def test_matches_the_rust_sdk_bit_for_bit(self):
        # Golden vector: the Rust SDK's ema_reward (examples/hello-subnet) on the same input.
        state = [
            t.UidState(uid=4, hotkey="hk4", score=0.37, rounds=3),
            t.UidState(uid=1, hotkey="hk1", score=0.123456789, rounds=0xFFFF_FFFF),
            t.UidState(uid=9, hotkey="hk9", score=-0.5, rounds=1),
        ]
        round_ = [
            t.UidScore(uid=1, score=1.0, metrics=[]),
            t.UidScore(uid=2, score=0.3, metrics=[]),
            t.UidScore(uid=4, score=math.nan, metrics=[]),
            t.UidScore(uid=5, score=0.7, metrics=[]),
        ]
        result = sdk.ema_reward(state, round_, 0.1)
        self.assertEqual(
            [(s.uid, s.hotkey, bits(s.score), s.rounds) for s in result.state],
            [(4, "hk4", 4599670414621563421, 4), (1, "hk1", 4596774099624776478, 0xFFFF_FFFF),
             (9, "hk9", 13826050856027422720, 1), (2, "", 4584304132692975288, 1),
             (5, "", 4589708452245819883, 1)],
        )
        self.assertEqual(
            [(w.uid, bits(w.value)) for w in result.weights],
            [(4, 4599670414621563421), (1, 4596774099624776478), (9, 0),
             (2, 4584304132692975288), (5, 4589708452245819883)],
        )


class CodecTests(unittest.TestCase):
    def test_json_int_accepts_integers_only(self):
        codec = sdk.Json(int)
        self.assertEqual(codec.decode(payload(" 123 \n")), 123)
        for bad in ["2.0", "true", '"1"', "[1]", "1e3", "abc"]:
            with self.assertRaises(Exception, msg=bad):
                codec.decode(payload(bad))
        with self.assertRaises(ValueError):
            codec.decode(payload("1", "text/plain"))

    def test_json_round_trips_dataclasses(self):
        import dataclasses

        @dataclasses.dataclass
        class Point:
            x: int
            y: int

        codec = sdk.Json(Point)
        encoded = codec.encode(Point(1, 2))
        self.assertEqual(bytes(encoded.body), b'{"x":1,"y":2}')
        self.assertEqual(codec.decode(encoded), Point(1, 2))
        with self.assertRaises(ValueError):
            codec.decode(payload('{"x":1}'))

    def test_json_refuses_nan(self):
        with self.assertRaises(ValueError):
            sdk.Json().encode(math.nan)


class Doubling(sdk.Validator):
    task_codec = sdk.Json(int)
    answer_codec = sdk.Json(int)

    def generate_tasks(self, ctx):
        return [sdk.TaskSpec(f"double-{uid}", [uid], sdk_random.below(100), timeout_ms=2_000)
                for uid in ctx.miners()]

    def score(self, ctx, task, answers):
        self.__class__.seen = [(a.uid, a.status, a.answer) for a in answers]
        return [sdk.Score(a.uid, 1.0 if a.answer == task * 2 else 0.0).metric("latency", a.latency_ms)
                for a in answers]


class ExportTests(unittest.TestCase):
    def setUp(self):
        self.api = sdk.export_validator(Doubling)()

    def test_miners_skip_this_validator_and_big_permits(self):
        ctx = context([neuron(0, True), neuron(1), neuron(2, True, 10.0), neuron(3, True, 5000.0), neuron(4)])
        self.assertEqual(ctx.miners(), [1, 2, 4])

    def test_generate_tasks_encodes_each_task(self):
        install_random([41, 42])
        tasks = self.api.generate_tasks(context([neuron(0, True), neuron(1), neuron(2)]))
        self.assertEqual([(x.id, x.miners, bytes(x.payload.body), x.timeout_ms) for x in tasks],
                         [("double-1", [1], b"41", 2000), ("double-2", [2], b"42", 2000)])

    def test_score_decodes_answers_and_marks_bad_ones_malformed(self):
        ok, malformed, timeout = t.ResponseStatus.OK, t.ResponseStatus.MALFORMED, t.ResponseStatus.TIMEOUT
        responses = [
            t.MinerResponse(uid=1, status=ok, latency_ms=5, payload=payload("10")),
            t.MinerResponse(uid=2, status=ok, latency_ms=6, payload=payload("10.0")),
            t.MinerResponse(uid=3, status=ok, latency_ms=7, payload=None),
            t.MinerResponse(uid=4, status=timeout, latency_ms=2000, payload=None),
            t.MinerResponse(uid=5, status=ok, latency_ms=8, payload=payload("11")),
        ]
        task = t.Task(id="double-1", miners=[1], payload=payload("5"), timeout_ms=2000)
        scores = self.api.score(context([]), task, responses)
        self.assertEqual(Doubling.seen, [(1, ok, 10), (2, malformed, None), (3, malformed, None),
                                         (4, timeout, None), (5, ok, 11)])
        self.assertEqual([(s.uid, s.score) for s in scores], [(1, 1.0), (2, 0.0), (3, 0.0), (4, 0.0), (5, 0.0)])
        self.assertEqual([(m.name, m.value) for m in scores[0].metrics], [("latency", 5.0)])

    def test_a_task_that_does_not_decode_fails_the_call(self):
        task = t.Task(id="bad", miners=[1], payload=payload("x"), timeout_ms=1)
        with redirect_stderr(io.StringIO()) as err:
            with self.assertRaises(Err) as raised:
                self.api.score(context([]), task, [])
        self.assertIn("task `bad` does not decode", raised.exception.value)
        self.assertEqual(err.getvalue(), "")

    def test_an_exception_becomes_the_error_and_its_traceback_goes_to_stderr(self):
        class Broken(Doubling):
            def generate_tasks(self, ctx):
                return {}["missing"]

        api = sdk.export_validator(Broken)()
        with redirect_stderr(io.StringIO()) as err:
            with self.assertRaises(Err) as raised:
                api.generate_tasks(context([]))
        self.assertEqual(raised.exception.value, "`generate-tasks` raised KeyError: 'missing'")
        self.assertIn("Traceback (most recent call last)", err.getvalue())
        self.assertIn('return {}["missing"]', err.getvalue())

    def test_subnet_error_is_the_message_alone(self):
        class Refusing(Doubling):
            def generate_tasks(self, ctx):
                raise sdk.SubnetError("no miners yet")

        with redirect_stderr(io.StringIO()) as err:
            with self.assertRaises(Err) as raised:
                sdk.export_validator(Refusing)().generate_tasks(context([]))
        self.assertEqual(raised.exception.value, "no miners yet")
        self.assertEqual(err.getvalue(), "")

    def test_default_reward_is_ema(self):
        result = self.api.reward(context([]), [], [t.UidScore(uid=3, score=1.0, metrics=[])])
        self.assertEqual([(s.uid, s.score, s.rounds) for s in result.state], [(3, 0.1, 1)])

    def test_export_refuses_other_classes(self):
        with self.assertRaises(TypeError):
            sdk.export_validator(object)
        with self.assertRaises(TypeError):
            sdk.export_miner(Doubling)


class MinerTests(unittest.TestCase):
    def test_handle_encodes_the_answer_and_rejects_bad_tasks(self):
        class Doubler(sdk.Miner):
            task_codec = sdk.Json(int)
            answer_codec = sdk.Json(int)

            def answer(self, request, task):
                return task * 2

        api = sdk.export_miner(Doubler)()
        request = t.MinerRequest(task_id="t", netuid=1, validator="v", payload=payload("21"), timeout_ms=1)
        answer = api.handle(request)
        self.assertEqual((answer.content_type, bytes(answer.body)), (sdk.JSON, b"42"))
        request.payload = payload('"21"')
        with self.assertRaises(Err) as raised:
            api.handle(request)
        self.assertTrue(raised.exception.value.startswith("bad task:"), raised.exception.value)


if __name__ == "__main__":
    try:
        result = unittest.main(exit=False, verbosity=1).result
    finally:
        shutil.rmtree(_BINDINGS, ignore_errors=True)
    failed = len(result.failures) + len(result.errors)
    print(f"{result.testsRun - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
