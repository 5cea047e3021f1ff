"""The smallest validator, as the subnet template's dummy: each miner gets a number and must
answer with its double. Right answers score 1, anything else 0.

The same subnet as examples/hello-subnet (Rust): same draws from the host's random stream, same
scores, same reward, so the same seed gives the same weights."""

from subnet_sdk import Json, Score, TaskSpec, Validator, export_validator, random


class Hello(Validator):
    task_codec = Json(int)
    answer_codec = Json(int)

    def generate_tasks(self, ctx):
        # One task per miner, each with its own number, so miners cannot copy each other.
        return [
            TaskSpec(f"double-{uid}", [uid], random.below(1_000_000), timeout_ms=2_000)
            for uid in ctx.miners()
        ]

    def score(self, ctx, task, answers):
        return [Score(a.uid, 1.0 if a.answer == task * 2 else 0.0) for a in answers]


ValidatorApi = export_validator(Hello)
