// A dense fp32 tensor in host memory, row-major (C order): what the interpreter, the driver
// and (later) compiled code exchange.
#ifndef BRAID_IR_HOST_TENSOR_H_
#define BRAID_IR_HOST_TENSOR_H_

#include <cstdint>
#include <vector>

namespace braid {

struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;

  int64_t size() const { return static_cast<int64_t>(data.size()); }
};

}  // namespace braid

#endif  // BRAID_IR_HOST_TENSOR_H_
