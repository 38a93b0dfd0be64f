// Where every tensor of a compiled graph lives at run time. Generated code receives an array of
// buffer pointers (`buffers[slot]`) and an array of symbolic-dim values (`dims[index]`, symbols
// in name order); this plan assigns the slots and indices that both the emitter and the
// runtime use.
#ifndef BRAID_CODEGEN_BUFFER_PLAN_H_
#define BRAID_CODEGEN_BUFFER_PLAN_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "scheduler/schedule.h"

namespace braid {

// One GEMM of a template kernel: `linear`/`matmul` of `act` by `weight` (· `scale`) (+ `bias`).
struct GemmSpec {
  const Node* template_node = nullptr;
  int index = 0;  // position in the grouped_gemm (0 for a lone GEMM)
  OpKind kind = OpKind::kLinear;
  const Value* act = nullptr;
  const Value* weight = nullptr;
  const Value* bias = nullptr;    // may be null
  const Value* scale = nullptr;   // the weight scale, f32 per output column; may be null
  const Value* result = nullptr;  // the multi_output (or lone GEMM) result
  int packed_slot = -1;           // the prepacked weight's buffer
};

struct BufferPlan {
  absl::flat_hash_map<const Value*, int> value_slot;  // parameters and materialised values
  std::vector<const Value*> slot_value;                // slot -> value (null for packed weights)
  std::vector<GemmSpec> gemms;                         // every GEMM, kernel order
  std::vector<std::string> symbols;                    // dims[] order
  int num_slots() const { return static_cast<int>(slot_value.size()); }
  int SymbolIndex(const std::string& symbol) const;
};

// Slots for every parameter and materialised value, then one packed-weight slot per GEMM whose
// result some node reads.
BufferPlan PlanBuffers(const Schedule& schedule);

// The GEMMs of a template kernel (only those whose result is used).
std::vector<const GemmSpec*> GemmsOf(const BufferPlan& plan, const Kernel& kernel);

}  // namespace braid

#endif  // BRAID_CODEGEN_BUFFER_PLAN_H_
