// A generator of valid random graphs (NNSmith-style) biased towards what braid is about:
// sibling GEMM groups of random size and unequal widths reading one activation, mixed bias,
// linear and matmul, 2-D and 3-D activations, const and runtime weights, epilogue chains
// (including cross-output ones), residual users, broadcast operands (bias rows, columns,
// scalars), escaping outputs and plain pointwise chains — all over a symbolic M; one graph in
// four in bf16 (compiled results then within bf16's tolerance of the interpreter's); in f32
// graphs one constant weight in four is int8 with per-channel scales, dequantised in the graph;
// reductions over the last dim (reduce_*, softmax, rms_norm) and shape ops (slice, concat, a
// reshape-transpose-reshape shuffle, expand of a size-1 dim) mixed in.
#ifndef BRAID_TESTS_FUZZ_RANDOM_GRAPH_H_
#define BRAID_TESTS_FUZZ_RANDOM_GRAPH_H_

#include <cstdint>
#include <string>

namespace braid::testing {

// The textual IR of random graph number `seed` (deterministic).
std::string RandomGraphText(uint64_t seed);

}  // namespace braid::testing

#endif  // BRAID_TESTS_FUZZ_RANDOM_GRAPH_H_
