// Tells Linux `perf` where the JIT put each generated function, so `perf record` attributes
// samples to kernel, block function, micro-kernel and packing by name instead of to anonymous
// addresses. perf's convention (the same as V8's --perf-basic-prof): one line per function,
// "<start hex> <size hex> <name>", in /tmp/perf-<pid>.map, read when `perf report` runs.
//
// On by setting BRAID_PERF_MAP=1 in the environment (any JIT of the process then appends to
// the map); off, nothing is added to the JIT.
//
//   BRAID_PERF_MAP=1 perf record -e cpu-clock -F 4000 -- braid --O --run --bench FILE.ir
//   perf report --stdio
//
// (`-e cpu-clock` samples by a timer, so it works in guests without a hardware PMU.)
#ifndef BRAID_CODEGEN_PERF_MAP_H_
#define BRAID_CODEGEN_PERF_MAP_H_

#include "llvm/ExecutionEngine/Orc/LLJIT.h"

namespace braid {

// True when the environment asks for a perf map (BRAID_PERF_MAP set and not "0").
bool PerfMapRequested();

// Makes `jit`'s linker append every function it links to /tmp/perf-<pid>.map. Does nothing if
// the JIT does not link with JITLink (an RTDyld layer has no hook for it).
void AddPerfMapWriter(llvm::orc::LLJIT& jit);

}  // namespace braid

#endif  // BRAID_CODEGEN_PERF_MAP_H_
