#!/usr/bin/env bash
# Builds and runs the tests. On a fresh Debian 12 machine it first installs what is missing.
#
#   scripts/test.sh                     every test, debug build (the README's test command)
#   scripts/test.sh common              one phase alone: builds only that phase's tests and
#   scripts/test.sh phase1              what they depend on, then runs the tests with that label
#   scripts/test.sh m1                  (labels: common, phase1, m1, m2, m3, ...; see README)
#   scripts/test.sh --fast              everything but the suites labelled `slow`
#   scripts/test.sh --preset asan common phase1
#                                       the same under AddressSanitizer + UBSan
#
# Environment: KV_WERROR=ON turns warnings into errors (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

preset=debug
fast=0
labels=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --preset) preset="$2"; shift 2 ;;
    --fast) fast=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "test.sh: unknown option $1" >&2; exit 2 ;;
    *) labels+=("$1"); shift ;;
  esac
done

scripts/install-deps.sh
cmake --preset "$preset" -DKV_WERROR="${KV_WERROR:-OFF}" >/dev/null

ctest_args=(--preset "$preset")
if [[ ${#labels[@]} -eq 0 ]]; then
  cmake --build --preset "$preset"
else
  targets=()
  for l in "${labels[@]}"; do targets+=("tests_$l"); done
  cmake --build --preset "$preset" --target "${targets[@]}"
  regex=$(IFS='|'; echo "^(${labels[*]})\$")
  ctest_args+=(-L "$regex")
fi
if [[ $fast -eq 1 ]]; then ctest_args+=(-LE '^slow$'); fi
ctest "${ctest_args[@]}"
