#!/usr/bin/env bash
# The test command: sets up, runs every test with Bazel, the Python tests with pytest, then a
# one-minute fuzzing session, and ends with "N passed, N failed" (one count per Bazel test
# target and per pytest test, plus one for the fuzzer). Extra arguments go to `bazel test`.
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/tools/setup.sh" || exit 1
cd "$repo" || exit 1

# First the Python side's packages (pybind11 and the interpreter's headers feed the Bazel
# build of the extension, //python), the extension itself and the installed package.
setup_python_ok=1
"$repo/tools/setup_python.sh" || setup_python_ok=0

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
bazel test --test_summary=short "$@" //... 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log")
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|FLAKY|NO STATUS|FAILED TO BUILD|INCOMPLETE)' "$log")
if [[ $status -ne 0 && $failed -eq 0 ]]; then
  failed=1  # the build itself failed before any test ran
fi

# The Python package (tools/setup_python.sh: pinned PyPI packages, the extension, pip install)
# and its tests, run from outside the source tree so they import the installed `braid`. One
# count per pytest test.
py_passed=0 py_failed=0
if [[ $setup_python_ok -eq 1 ]]; then
  echo "== Python: pytest python/tests"
  pylog="$(mktemp)"
  (cd "$(mktemp -d)" && python3 -m pytest -q -p no:logging -p no:cacheprovider \
     "$repo/python/tests") 2>&1 | tee "$pylog"
  [[ ${PIPESTATUS[0]} -eq 0 ]] || status=1
  summary="$(grep -E '[0-9]+ (passed|failed|errors?)\b.* in [0-9.]+s' "$pylog" | tail -1)"
  py_passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | cut -d' ' -f1)
  py_failed=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$summary" | awk '{s+=$1} END {print s+0}')
  if [[ -z "$py_passed" && "$py_failed" -eq 0 ]]; then py_failed=1; fi  # pytest did not run
  rm -f "$pylog"
else
  echo "setting up the Python package failed: its tests did not run"
  py_failed=1
  status=1
fi
passed=$((passed + ${py_passed:-0}))
failed=$((failed + py_failed))

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
