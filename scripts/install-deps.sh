#!/usr/bin/env bash
# Installs exactly the Debian 12 packages the build, the tests and the demo need.
# Idempotent: it asks apt-get only for what is missing, so on a machine that has
# everything it returns in well under a second without touching the network.
#
# Usage: scripts/install-deps.sh        (uses sudo when not run as root)
set -euo pipefail

# Build tools.
packages=(
  cmake ninja-build g++ make pkg-config ccache
  clang-format clang-tidy                           # formatting, lint
  clang-19 libclang-rt-19-dev                       # libFuzzer targets (scripts/fuzz.sh)
)
# Libraries, each found by CMake with find_package.
packages+=(
  libgtest-dev libgmock-dev        # GoogleTest + GMock
  librapidcheck-dev                # property tests (with rapidcheck/gtest.h)
  libbenchmark-dev                 # Google Benchmark
  libasio-dev                      # standalone Asio (phase 3 on)
  libcereal-dev                    # serialization (phase 3 on)
  libfmt-dev                       # formatting (g++ 12 has no <format>)
  libcli11-dev                     # command-line parsing for the tools
  libedit-dev                      # line editing for the kv REPL
)
# The production engines kvbench compares the course's engines with, and the report's plots.
packages+=(
  libleveldb-dev librocksdb-dev liblmdb-dev libsqlite3-dev
  gnuplot-nox
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only if a first attempt cannot find a package.
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
