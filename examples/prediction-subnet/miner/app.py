"""The honest prediction miner: fits a line to the history (least squares) and extrapolates
it to the target block."""

from subnet_sdk import Json, Miner, SubnetError, export_miner


def extrapolate(history, target):
    if len(history) < 2:
        raise SubnetError("need at least two points of history")
    xs = [float(b) for b, _ in history]
    ys = [float(v) for _, v in history]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my + slope * (float(target) - mx)


class Forecaster(Miner):
    task_codec = Json(dict)
    answer_codec = Json(float)

    def answer(self, request, task):
        return extrapolate(task["history"], task["target_block"])


MinerApi = export_miner(Forecaster)
