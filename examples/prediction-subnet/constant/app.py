"""Adversarial: always predicts the same value, whatever the history."""

from subnet_sdk import Json, Miner, export_miner


class Constant(Miner):
    task_codec = Json(dict)
    answer_codec = Json(float)

    def answer(self, request, task):
        return 100.0


MinerApi = export_miner(Constant)
