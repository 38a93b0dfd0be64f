#!/usr/bin/env bash
# Multi-rank runs under mpirun on this machine (2 and 4 processes, one thread each): every rank
# JIT-runs its shard and --verify compares its result with the single-process interpreter. A
# rank that fails makes every rank exit 1, within the timeout each run gets (no hang).
set -uo pipefail
braid="$(cd "$(dirname "$0")/../../tools" && pwd)/braid"
here="$(cd "$(dirname "$0")" && pwd)"
examples="$(cd "$here/../../examples" && pwd)"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
export OMPI_MCA_btl_vader_single_copy_mechanism=none  # no ptrace (CMA) inside sandboxes
export OMPI_MCA_rmaps_base_oversubscribe=1
export TMPDIR="$tmp"
failures=0

mpi() {  # mpi NP ARGS...: mpirun, bounded by a timeout
  local np="$1"; shift
  timeout 180 mpirun --allow-run-as-root --oversubscribe -np "$np" "$braid" --tp="$np" --threads=1 "$@"
}

expect_ok() {  # expect_ok DESCRIPTION NP ARGS...
  local what="$1"; shift
  local out
  out="$(mpi "$@" 2>&1)"
  local rc=$?
  if [[ $rc -ne 0 ]] || ! grep -q "verify: .*: ok" <<<"$out" || grep -q MISMATCH <<<"$out"; then
    echo "FAIL: $what (exit $rc)"; echo "$out" | head -30; failures=$((failures + 1))
  else
    echo "ok: $what: $(grep -m1 'verify:' <<<"$out")"
  fi
}

for np in 2 4; do
  for graph in mlp qkv two_layers mlp_bf16; do
    for m in 1 7; do
      expect_ok "$graph, $np ranks, M=$m" "$np" --O --run --verify --graph="$graph" --dims=M="$m" "$here/graphs.ir"
    done
  done
done
expect_ok "LLaMA-7B MLP, 2 ranks, M=4" 2 --O --run --verify --dims=M=4 "$examples/llama_mlp.ir"
# int8 weights: each rank holds its rows of gate/up (with their scales) and its K slice of down.
expect_ok "LLaMA-7B MLP with int8 weights, 2 ranks, M=1" 2 --O --run --verify --dims=M=1 "$examples/llama_mlp_int8.ir"

# Only rank 0 prints the outputs, and they equal the single-process run's.
single="$("$braid" --O --run --graph=mlp --dims=M=3 "$here/graphs.ir" | grep '%y:')"
sharded="$(mpi 2 --O --run --graph=mlp --dims=M=3 "$here/graphs.ir" 2>&1 | grep '%y:')"
if [[ "$(wc -l <<<"$sharded")" -ne 1 ]] || [[ "${single%% sum=*}" != "${sharded%% sum=*}" ]]; then
  echo "FAIL: rank 0 alone prints the outputs: single '$single', sharded '$sharded'"; failures=$((failures + 1))
else
  echo "ok: one output line: $sharded (single process: $single)"
fi

# A rank that fails alone (its per-rank input file is missing): every rank exits 1, no hang.
python3 - "$tmp/x0.npy" <<'PY'
import struct, sys
header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 64), }"
header += " " * (63 - (10 + len(header)) % 64) + "\n"
with open(sys.argv[1], "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + b"\0" * (3 * 64 * 4))
PY
for np in 2 4; do
  out="$(mpi "$np" --O --run --graph=mlp --inputs=x="$tmp/x%r.npy" "$here/graphs.ir" 2>&1)"
  rc=$?
  if [[ $rc -eq 124 ]]; then
    echo "FAIL: a failing rank made the job hang ($np ranks)"; failures=$((failures + 1))
  # Rank 1's own error line, or — when mpirun tears the job down before forwarding that rank's
  # stderr (seen once in a CI run) — mpirun's report that rank 1 was the process that failed.
  elif [[ $rc -eq 0 ]] || ! grep -q -e "braid: error: rank 1: --inputs: .*x1.npy" \
      -e "Process name: \[\[[0-9]*,[0-9]*\],1\]" <<<"$out"; then
    echo "FAIL: a failing rank ($np ranks): exit $rc"; echo "$out" | head -20; failures=$((failures + 1))
  else
    echo "ok: rank 1 failing alone stops all $np ranks: $(grep -m1 -e 'braid: error' -e 'Process name' <<<"$out")"
  fi
done

# The wrong number of processes is an error on every rank.
out="$(timeout 60 mpirun --allow-run-as-root --oversubscribe -np 2 "$braid" --tp=4 --run --dims=M=1 "$here/graphs.ir" 2>&1)"
if [[ $? -eq 0 ]] || ! grep -q "needs 4 MPI processes, but mpirun started 2" <<<"$out"; then
  echo "FAIL: --tp=4 under -np 2"; echo "$out" | head; failures=$((failures + 1))
else
  echo "ok: --tp=4 under mpirun -np 2 is an error"
fi

echo "$failures failure(s)"
[[ $failures -eq 0 ]]
