#!/usr/bin/env bash
# Runs the demo of the most advanced phase that exists. On a fresh Debian 12 machine it first
# installs what is missing and builds (release preset).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target kv_crash_demo
./build/release/common/kv_crash_demo
