"""The honest hello-subnet miner: answers each number with its double."""

from subnet_sdk import Json, Miner, SubnetError, export_miner

_U64_MAX = (1 << 64) - 1


class Doubler(Miner):
    task_codec = Json(int)
    answer_codec = Json(int)

    def answer(self, request, task):
        if task < 0 or task * 2 > _U64_MAX:
            raise SubnetError("number too large")
        return task * 2


MinerApi = export_miner(Doubler)
