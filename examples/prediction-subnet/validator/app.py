"""The prediction subnet's validator.

Each round it fetches the feed's recent history (``GET /history?block=B&n=N``: the values up
to the round's block), sends every miner that history and asks for the value HORIZON blocks
later, and keeps the task and the answers for later (``scoring.defer``): the truth does not
exist yet. Each later round, ``score_deferred`` asks the feed for the target block's value
(``GET /value?block=T``); the feed answers 404 until that block has passed, and the validator
waits (returns ``None``). Once the value exists, a prediction scores ``exp(-|error| / SCALE)``;
a miner that did not answer is abstained from (it neither gains nor loses).

The feed is the one outbound host the operator allows (``--outbound-host`` in the sandbox,
``[subnet.capabilities] outbound_hosts`` in a daemon); every other host is refused by the host,
with the rule named.
"""

import math

from subnet_sdk import (
    Json,
    ResponseStatus,
    Score,
    SubnetError,
    TaskSpec,
    Validator,
    export_deferred_scorer,
    export_validator,
    http,
    log,
    miners,
    scoring,
)

FEED = "http://127.0.0.1:18790"
#: How far ahead miners predict, in blocks.
HORIZON = 10
#: Values of history sent with each task.
HISTORY = 10
#: The error (in price units) that scores 1/e.
SCALE = 2.0
#: Rounds a kept task waits for its truth before the host drops it.
MAX_WAIT_ROUNDS = 64


def fetch(path):
    response = http.get(FEED + path)
    if response.status == 404:
        return None
    if response.status != 200:
        raise SubnetError(f"the feed answered {response.status} to {path}: {response.text()[:200]}")
    return response.json()


def judge(truth, answers, abstain):
    scores = []
    for a in answers:
        if a.status == ResponseStatus.OK and isinstance(a.answer, (int, float)) and math.isfinite(a.answer):
            scores.append(Score(a.uid, math.exp(-abs(a.answer - truth) / SCALE)).metric("error", abs(a.answer - truth)))
        elif a.status == ResponseStatus.MALFORMED:
            scores.append(Score(a.uid, 0.0))
        else:
            abstain(a.uid)
    return scores


class Prediction(Validator):
    task_codec = Json(dict)
    answer_codec = Json(float)

    def generate_tasks(self, ctx):
        history = fetch(f"/history?block={ctx.block}&n={HISTORY}")
        if not history:
            raise SubnetError("the feed has no history yet")
        target = ctx.block + HORIZON
        task = {"target_block": target, "history": history}
        return [TaskSpec(f"predict-{target}", list(miners(ctx)), task, timeout_ms=2000)]

    def score(self, ctx, task, answers):
        # The truth is HORIZON blocks away: keep the task and its answers, score them later.
        scoring.defer(f"predict-{task['target_block']}", MAX_WAIT_ROUNDS)
        return []

    def score_deferred(self, ctx, key, task, answers, age):
        truth = fetch(f"/value?block={task['target_block']}")
        if truth is None:
            return None
        log.debug(f"{key}: truth {truth['value']} after {age} rounds")
        return judge(truth["value"], answers, lambda uid: None)


ValidatorApi = export_validator(Prediction)
DeferredScorer = export_deferred_scorer(Prediction)
