#!/usr/bin/env bash
# Regenerates docs/benchmarks.md and its plots (docs/benchmarks/*.svg) from one full kvbench run:
# every engine, every workload of WORKLOADS.md, N = 1,000,000. Takes a while (tens of minutes on
# two cores); the JSON of the run is kept in docs/benchmarks/results.json.
#
# Usage: scripts/bench-report.sh [kvbench options, e.g. --num 100000 --engines mem,leveldb]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target kvbench
mkdir -p docs/benchmarks
build/release/phase2_storage/bench/kvbench --engines all --workloads all \
  --json docs/benchmarks/results.json --report docs/benchmarks.md "$@"
