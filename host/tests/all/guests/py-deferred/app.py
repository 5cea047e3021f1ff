"""Test guest: guests/deferred-probe in Python. Each round sends every miner ``epoch + 1``; the
right answer is its double. Even epochs' tasks are deferred and scored the next round by
``score_deferred``; odd epochs' are scored at once. A miner that did not answer is abstained
from, not scored 0."""

from subnet_sdk import (
    Json, ResponseStatus, Score, TaskSpec, Validator, export_deferred_scorer, export_validator, miners, scoring,
)


def judge(task, answers, abstain):
    out = []
    for a in answers:
        if a.status in (ResponseStatus.OK, ResponseStatus.MALFORMED):
            out.append(Score(a.uid, 1.0 if a.answer == task * 2 else 0.0))
        else:
            abstain(a.uid)
    return out


class Predict(Validator):
    task_codec = Json(int)
    answer_codec = Json(int)

    def generate_tasks(self, ctx):
        return [TaskSpec(f"predict-{ctx.epoch}", list(miners(ctx)), ctx.epoch + 1, timeout_ms=1000)]

    def score(self, ctx, task, answers):
        if ctx.epoch % 2 == 0:
            scoring.defer(f"predict-{ctx.epoch}", 3)
            return []
        return judge(task, answers, scoring.abstain)

    def score_deferred(self, ctx, key, task, answers, age):
        return judge(task, answers, lambda uid: None) if age >= 1 else None


ValidatorApi = export_validator(Predict)
DeferredScorer = export_deferred_scorer(Predict)
