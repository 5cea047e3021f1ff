# Usage: pip download bittensor==10.0.0 --no-deps; unzip the wheel; python gen_weights.py <wheel>/bittensor/utils/weight_utils.py
# Prints the literals of tests/weights_sdk.rs (numpy 2.4.6 produced them).
"""Runs bittensor 10.0.0's own bittensor/utils/weight_utils.py (unmodified, loaded from the PyPI wheel)
with numpy, stubbing only the imports the two functions do not use, and prints Rust literals."""
import sys, types, importlib.util
import numpy as np
# Stubs for imports weight_utils.py makes at module level but the tested functions do not use.
for name in ["bittensor", "bittensor.core", "bittensor.utils", "bittensor.utils.btlogging",
             "bittensor.utils.registration", "bittensor.core.types", "bittensor_wallet", "scalecodec"]:
    sys.modules[name] = types.ModuleType(name)
class _Log:
    def __getattr__(self, _): return lambda *a, **k: None
sys.modules["bittensor.utils.btlogging"].logging = _Log()
reg = sys.modules["bittensor.utils.registration"]
reg.legacy_torch_api_compat = lambda f: f
reg.torch = None
reg.use_torch = lambda: False
sys.modules["bittensor.core.types"].Weights = object
sys.modules["bittensor_wallet"].Keypair = object
sc = sys.modules["scalecodec"]; sc.U16 = sc.ScaleBytes = sc.Vec = object
spec = importlib.util.spec_from_file_location("weight_utils", sys.argv[1])
wu = importlib.util.module_from_spec(spec); spec.loader.exec_module(wu)

rng = np.random.default_rng(20260701)
def f(x): return repr(float(x))
cases = []
def case(name, weights, n, min_allowed, limit_u16, q):
    uids = np.arange(len(weights), dtype=np.int64)
    w = np.array(weights, dtype=np.float32)
    limit = float(limit_u16) / float(65535)   # subtensor.max_weight_limit: u16_normalized_float
    pu, pw = wu.process_weights(uids=uids, weights=w, num_neurons=n, min_allowed_weights=min_allowed,
                                max_weight_limit=limit, exclude_quantile=q)
    eu, ev = wu.convert_weights_and_uids_for_emit(np.asarray(pu), np.asarray(pw))
    cases.append((name, [float(np.float32(x)) for x in weights], n, min_allowed, limit_u16, q,
                  [int(u) for u in pu], [float(x) for x in pw], str(np.asarray(pw).dtype), eu, ev))

case("plain", rng.random(10).astype(np.float32).tolist(), 10, 1, 65535, 0)
skew = (rng.random(20) ** 4).astype(np.float32); skew[3] = 5.0
case("max_weight_limit", skew.tolist(), 20, 1, 6553, 0)
case("exclude_quantile", rng.random(16).astype(np.float32).tolist(), 16, 2, 65535, 6553)
case("quantile_capped_by_min_allowed", rng.random(8).astype(np.float32).tolist(), 8, 6, 65535, 32768)
case("all_zero_uniform", [0.0] * 7, 7, 1, 65535, 0)
case("nan_and_negative", [0.3, float("nan"), -1.0, 0.0, 0.7, 0.2], 6, 1, 65535, 0)
few = [0.0] * 12; few[2] = 0.9; few[5] = 0.4; few[11] = 0.05
case("fewer_than_min_allowed", few, 12, 8, 32768, 0)
case("n_below_min_allowed", [0.2, 0.5, 0.1], 3, 4, 65535, 0)
case("limit_unreachable_uniform", [0.9, 0.05, 0.02, 0.02, 0.01], 5, 1, 6553, 0)
big = (rng.random(256) ** 2).astype(np.float32); big[:40] = 0
case("dense_256", big.tolist(), 256, 8, 3276, 1000)
big2 = rng.exponential(size=300).astype(np.float32)
case("dense_300_limit", big2.tolist(), 300, 16, 655, 0)

emits = []
def emit(name, weights):
    u = np.arange(len(weights), dtype=np.int64); w = np.array(weights, dtype=np.float64)
    eu, ev = wu.convert_weights_and_uids_for_emit(u, w)
    emits.append((name, weights, eu, ev))
emit("ties_round_half_even", [0.5, 1.5, 2.5, 3.5, 65535.0])
emit("drops_zeros", [0.0, 1e-9, 0.25, 1.0])
emit("all_zero", [0.0, 0.0])

print("// numpy", np.__version__)
for (name, w, n, mn, lim, q, pu, pw, dt, eu, ev) in cases:
    print(f"    Case {{ name: {name!r}, weights: &[{', '.join(f(x) for x in w)}], n: {n}, min_allowed: {mn}, "
          f"max_weight_limit: {lim}, exclude_quantile: {q}, uids: &{pu}, processed: &[{', '.join(f(x) for x in pw)}], "
          f"dtype: {dt!r}, emit_uids: &{eu}, emit_values: &{ev} }},".replace("'", '"'))
for (name, w, eu, ev) in emits:
    print(f"    ({name!r}, &[{', '.join(f(x) for x in w)}], &{eu}, &{ev}),".replace("'", '"'))
