#!/usr/bin/env bash
# Runs every test of subnetd: installs what the tests need (scripts/setup.sh), checks the
# repository's structure, formatting and lints (clippy with warnings denied), then the Rust
# workspace's tests (which build real guests in all four languages), then the Python,
# JavaScript and C SDKs' own unit tests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/scripts/setup.sh"
export SUBNETD_PYTHON="$root/.venv/bin/python"
printf '\033[1m==> structure (layout, file sizes, module layers)\033[0m\n'
python3 scripts/check-structure.py
printf '\033[1m==> SDK docs (every export named in its README)\033[0m\n'
python3 scripts/check-sdk-docs.py
printf '\033[1m==> cargo fmt --check\033[0m\n'
cargo fmt --all -- --check
printf '\033[1m==> cargo clippy (warnings denied)\033[0m\n'
cargo clippy --workspace --all-targets --locked -- -D warnings
printf '\033[1m==> cargo test\033[0m\n'
cargo test --locked "$@"
printf '\033[1m==> Python SDK tests\033[0m\n'
"$SUBNETD_PYTHON" sdk/python/tests/test_sdk.py
printf '\033[1m==> JavaScript SDK tests\033[0m\n'
(cd sdk/js && npm test --silent)
printf '\033[1m==> C SDK tests (JSON, under AddressSanitizer and UBSan)\033[0m\n'
sdk/c/tests/run.sh
printf '\033[1m==> all tests passed\033[0m\n'
