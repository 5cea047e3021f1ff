# A Python validator whose generate_tasks raises: the host's error must carry the traceback.
from subnet_sdk import Json, Score, Validator, export_validator


def lookup_task_table(ctx):
    table = {"known": 1}
    return table["missing-" + str(ctx.epoch)]


class Raises(Validator):
    task_codec = Json(int)
    answer_codec = Json(int)

    def generate_tasks(self, ctx):
        lookup_task_table(ctx)
        return []

    def score(self, ctx, task, answers):
        return [Score(a.uid, 0.0) for a in answers]


ValidatorApi = export_validator(Raises)
