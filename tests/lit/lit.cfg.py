# lit configuration for braid's FileCheck tests. Run through `bazel test //tests/lit:lit_test`
# (tests/lit/run_lit.sh puts the braid binary and LLVM's FileCheck/not on PATH).
import os

import lit.formats

config.name = "braid"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".ir", ".test"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
# Sources are read-only in the Bazel sandbox; write outputs under the test's temp dir.
config.test_exec_root = os.environ.get("TEST_TMPDIR", "/tmp/braid-lit")
config.environment["PATH"] = os.environ["PATH"]
config.substitutions.append(("%examples", os.environ["BRAID_EXAMPLES"]))

# Hosts with AVX-512F can run the AVX-512 code path (REQUIRES: avx512), those with
# AVX512-BF16 and AVX512-VNNI too the dot-product paths (REQUIRES: avx512bf16).
try:
    with open("/proc/cpuinfo") as cpuinfo:
        flags = cpuinfo.read()
        if " avx512f" in flags:
            config.available_features.add("avx512")
            if " avx512_bf16" in flags and " avx512_vnni" in flags:
                config.available_features.add("avx512bf16")
except OSError:
    pass
