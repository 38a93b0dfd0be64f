#!/usr/bin/env bash
# The test command: sets up, runs every test with Bazel, then a one-minute fuzzing session, and
# ends with "N passed, N failed" (one count per test target, plus one for the fuzzer). Extra
# arguments go to `bazel test`.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/tools/setup.sh" || exit 1
cd "$repo" || exit 1

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
bazel test --test_summary=short "$@" //... 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|FLAKY|NO STATUS|FAILED TO BUILD|INCOMPLETE)' "$log")
if [[ $status -ne 0 && $failed -eq 0 ]]; then
  failed=1  # the build itself failed before any test ran
fi

# A bounded fuzzing session (libFuzzer + ASan + UBSan) so regressions show; BRAID_FUZZ_SECONDS=0
# skips it.
fuzz_seconds="${BRAID_FUZZ_SECONDS:-60}"
if [[ "$fuzz_seconds" -gt 0 ]]; then
  echo "== fuzzing for ${fuzz_seconds}s (tools/fuzz.sh)"
  if "$repo/tools/fuzz.sh" "$fuzz_seconds" 2>&1 | grep -v 'ld.gold: warning' | tail -n 8; then
    passed=$((passed + 1))
  else
    echo "fuzzing found a problem: see fuzz-findings/"
    failed=$((failed + 1))
    status=1
  fi
fi
echo "$passed passed, $failed failed"
exit $status
