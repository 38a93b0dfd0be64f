#!/usr/bin/env bash
# The Performance issue's benchmark: braid vs oneDNN and OpenBLAS on the LLaMA MLP, with the
# machine's FMA peak and read bandwidth measured in the same run (tests/bench/gate_up_bench.cc).
# Installs the benchmark-only peers (libdnnl-dev, libopenblas-dev) if missing.
#   tools/bench.sh                                          # every row (~10 min), then the table
#   tools/bench.sh --benchmark_filter='gate_up/7B/M:1/'     # Google Benchmark flags pass through
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/tools/setup.sh"
"$repo/tools/setup.sh" libdnnl-dev libopenblas-dev
(cd "$repo" && bazel build -c opt --noshow_progress //tests/bench:gate_up_bench >&2)
bin="$(cd "$repo" && bazel info -c opt bazel-bin 2>/dev/null)/tests/bench/gate_up_bench"
exec "$bin" --benchmark_color=false "$@"
