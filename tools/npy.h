// NumPy `.npy` files (format versions 1-3), C order, little-endian: float32 (`<f4`), float16
// (`<f2`), int8 (`|i1`), int32 (`<i4`). NumPy has no bf16: a bf16 tensor travels as a 2-byte
// integer array holding its bits — written as `<u2`, read from `<u2` or `<i2`
// (`np.save(f, t.view(torch.int16).numpy())`, and back with `torch.from_numpy(a).view(torch.bfloat16)`).
// This is how PyTorch and NumPy users feed tensors to the driver and read its results.
#ifndef BRAID_TOOLS_NPY_H_
#define BRAID_TOOLS_NPY_H_

#include <string>

#include "absl/status/statusor.h"
#include "ir/tensor.h"

namespace braid {

// Reads `path`. Any other dtype, Fortran order, a malformed header or a size that does not match
// the header is an error naming the file; nothing larger than the file is ever allocated.
absl::StatusOr<Tensor> ReadNpy(const std::string& path);
// Parses the bytes of an .npy file (`name` is used in errors).
absl::StatusOr<Tensor> ParseNpy(const std::string& name, const std::string& bytes);

absl::Status WriteNpy(const std::string& path, const Tensor& tensor);

}  // namespace braid

#endif  // BRAID_TOOLS_NPY_H_
