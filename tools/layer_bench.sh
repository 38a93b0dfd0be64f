#!/usr/bin/env bash
# The whole-layer benchmark (tools/layer_bench.py): braid vs PyTorch eager and Inductor on a
# 7B-sized LLaMA decoder layer, prefill and decode. Sets up the Python package first.
#   tools/layer_bench.sh [--shapes prefill:128 decode:2048] [--rounds N] [--no-inductor]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/tools/setup_python.sh" >&2
exec python3 "$repo/tools/layer_bench.py" "$@"
