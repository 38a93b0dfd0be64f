#!/usr/bin/env bash
# Installs the Debian packages braid needs, and only those that are missing. Idempotent and
# quiet when everything is present. Needs root (or sudo) only when something must be installed.
#   tools/setup.sh                 # what building and testing need
#   tools/setup.sh PKG...          # these packages instead (e.g. the fuzzer's clang-19)
set -euo pipefail

packages=(
  bazel-bootstrap   # Bazel 4.2.3, offline
  g++
  python3           # lit
  llvm-19-dev       # LLVM 19 headers + libLLVM-19 (ORC JIT)
  llvm-19-tools     # FileCheck, not, lit
  libabsl-dev       # Abseil 20220623
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  libopenmpi-dev    # Open MPI 4.1: tensor parallelism across processes (//mpi)
  openmpi-bin       # mpirun
)

[[ $# -gt 0 ]] && packages=("$@")
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
