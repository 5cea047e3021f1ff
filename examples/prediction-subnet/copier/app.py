"""Adversarial: predicts the last value it was shown (no model at all)."""

from subnet_sdk import Json, Miner, export_miner


class LastValue(Miner):
    task_codec = Json(dict)
    answer_codec = Json(float)

    def answer(self, request, task):
        return float(task["history"][-1][1])


MinerApi = export_miner(LastValue)
