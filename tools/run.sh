#!/usr/bin/env bash
# The run command: sets up, builds the driver (optimised) and runs it from the caller's
# working directory. With no input file it runs the LLaMA MLP example.
#   tools/run.sh        # examples/llama_mlp.ir --O --run --verify --bench --dims=M=16
#   tools/run.sh --run --dims=M=4 my_graph.ir
#   tools/run.sh examples/gqa_qkv.ir               # parse, verify, print
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/tools/setup.sh"

(cd "$repo" && bazel build -c opt --noshow_progress //tools:braid >&2)
bin="$(cd "$repo" && bazel info -c opt bazel-bin 2>/dev/null)/tools/braid"

has_input=0
for arg in "$@"; do
  [[ "$arg" == "-" || "$arg" != -* ]] && has_input=1
done
if [[ $has_input -eq 0 ]]; then
  if [[ $# -eq 0 ]]; then
    set -- --O --run --verify --bench --dims=M=16
  fi
  set -- "$@" "$repo/examples/llama_mlp.ir"
fi
exec "$bin" "$@"
