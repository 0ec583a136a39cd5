#!/usr/bin/env bash
# Builds the libFuzzer targets with clang 19 (preset `fuzz`: ASan + UBSan) and runs each for a
# bounded time. libFuzzer needs clang, and clang 14 cannot compile libstdc++ 12's std::expected,
# so clang 19 it is (Debian 12: clang-19, libclang-rt-19-dev). Skipped, with a message, where it
# is absent. Exits non-zero if a fuzzer finds a crash; the reproducer is left in build/fuzz/.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! command -v clang++-19 >/dev/null; then
  echo "fuzz.sh: skipped: clang++-19 is not installed (apt-get install clang-19 libclang-rt-19-dev)"
  exit 0
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target wal_record_fuzz
mkdir -p build/fuzz/corpus/wal_record
cd build/fuzz
./phase1_single_node/wal_record_fuzz -max_total_time="$seconds" -print_final_stats=1 \
  corpus/wal_record 2>&1 | tail -n 12
