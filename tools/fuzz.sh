#!/usr/bin/env bash
# Fuzzes the front end, the passes, the scheduler and (for some small graphs) the JIT with
# libFuzzer + ASan + UBSan, seeded with every example and test .ir:
#   tools/fuzz.sh [SECONDS]          (default 60; findings land in fuzz-findings/)
# Builds with clang-19 in its own Bazel output base, so the normal (gcc) build is untouched.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
"$repo/tools/setup.sh"
"$repo/tools/setup.sh" clang-19 libclang-rt-19-dev
cd "$repo"
base="${HOME:-/root}/.cache/braid-fuzz-output"
bazel --output_base="$base" build --repo_env=CC=clang-19 --config=fuzz --noshow_progress \
  //tests/fuzz:ir_fuzzer >&2
bin="$(bazel --output_base="$base" info --repo_env=CC=clang-19 --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz/ir_fuzzer"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$repo/fuzz-findings"
# Seeds: each example and test file, and each `// -----` chunk on its own.
i=0
for f in examples/*.ir $(find tests/lit -name '*.ir'); do
  cp "$f" "$work/corpus/seed$i.ir"; i=$((i + 1))
  awk -v dir="$work/corpus" -v base="chunk$i" '
    /^\/\/ -----/ { n++; next } { print > (dir "/" base "_" n ".ir") }' "$f"
done
"$bin" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 \
  -artifact_prefix="$repo/fuzz-findings/" "$work/corpus" 2>&1 | tail -n 25
