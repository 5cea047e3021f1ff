#!/usr/bin/env bash
# Where a JavaScript or Python module's cost goes, in figures: for each bundle named (default:
# the JS and Python hello subnets), a cold build of each module alone (the modules one after
# the other), a cold build of the whole bundle (modules in parallel), the component sizes, and
# the first load of the validator with an empty compile cache and with the cache `subnetd
# build` warmed. Needs a built subnetd (cargo build -p subnet-host; $SUBNETD overrides).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
subnetd=${SUBNETD:-$root/target/debug/subnetd}
bundles=("$@")
[ ${#bundles[@]} -eq 0 ] && bundles=(examples/hello-subnet-js examples/hello-subnet-py)
export SUBNETD_ROOT=$root
seconds() { local start=$1; echo "$(( $(date +%s%N) - start ))" | awk '{printf "%.1f", $1 / 1e9}'; }
for bundle in "${bundles[@]}"; do
  dir=$root/$bundle
  cache=$(mktemp -d)
  export SUBNETD_CACHE_DIR=$cache
  echo "== $bundle"
  rm -rf "$dir/build"
  for module in validator miner; do
    t=$(date +%s%N)
    "$subnetd" build "$dir/$module" --world "$module" --out "$dir/build/alone-$module.wasm" --no-warm >/dev/null
    echo "  $module alone, cold: $(seconds "$t") s, $(du -k "$dir/build/alone-$module.wasm" | cut -f1) KiB"
  done
  rm -rf "$dir/build"
  t=$(date +%s%N)
  "$subnetd" build "$dir" --no-warm >/dev/null
  echo "  bundle (modules in parallel), cold: $(seconds "$t") s"
  t=$(date +%s%N)
  "$subnetd" check "$dir/build/validator.wasm" >/dev/null
  echo "  first load of the validator, empty compile cache: $(seconds "$t") s"
  rm -rf "$cache" && mkdir -m 700 "$cache"
  t=$(date +%s%N)
  "$subnetd" build "$dir" >/dev/null
  echo "  build when up to date, warming the cache: $(seconds "$t") s"
  t=$(date +%s%N)
  "$subnetd" check "$dir/build/validator.wasm" >/dev/null
  echo "  first load of the validator after build warmed the cache: $(seconds "$t") s"
  rm -rf "$cache"
done
