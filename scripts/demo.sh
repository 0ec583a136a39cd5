#!/usr/bin/env bash
# Runs the demo of the most advanced phase: the phase 1 store (kv) in a data directory it leaves
# behind for you to reopen, then the same store on phase 2's LSM tree. On a fresh Debian 12
# machine it first installs what is missing and builds (release preset).
#
#   scripts/demo.sh [DATA_DIR]      (default: ./demo-data)
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="${1:-demo-data}"
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target kv
kv=build/release/phase1_single_node/kv

echo "== 1. A scripted session (scripts/demo.kv): two sessions, one write-write conflict"
"$kv" --data-dir "$data_dir" --echo < scripts/demo.kv
echo
echo "== 2. Reopen: the committed state is recovered from the checkpoint and the log"
printf 'GET balance:alice\nGET balance:bob\n' | "$kv" --data-dir "$data_dir" --echo
echo
echo
echo "== 3. The same store with its versions in phase 2's LSM tree (--engine lsm): range scans"
printf 'PUT balance:carol 25\nSCAN balance: balance;\nSCAN "" "" 1\nSTATS\n' |
  "$kv" --data-dir "$data_dir" --engine lsm --echo
echo
echo "The data is in $data_dir/. Explore it yourself:  $kv --data-dir $data_dir [--engine lsm]"
