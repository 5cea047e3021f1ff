#!/usr/bin/env bash
# The C SDK's own tests: subnet_json built for the host with AddressSanitizer and UBSan (any
# leak, overrun or undefined behaviour fails), then run. The wasm side is tested by the host's
# tests, which build real C guests with the SDK.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc=${CC:-cc}
"$cc" -std=c11 -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-sanitize-recover=all \
  -o "$out/json_test" "$here/json_test.c" "$here/../subnet_json.c" -lm
"$out/json_test"
