#!/bin/bash
# Runs the lit/FileCheck tests under `bazel test`, against the braid binary in the runfiles.
set -euo pipefail
runfiles="${TEST_SRCDIR:?run me through bazel test}/${TEST_WORKSPACE:-braid}"
export PATH="$runfiles/tools:/usr/lib/llvm-19/bin:$PATH"
export BRAID_EXAMPLES="$runfiles/examples"
exec /usr/bin/python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv "$@" "$runfiles/tests/lit"
