// NumPy `.npy` files (format versions 1-3): little-endian float32 (`<f4`), C order. This is how
// PyTorch and NumPy users feed tensors to the driver and read its results.
#ifndef BRAID_TOOLS_NPY_H_
#define BRAID_TOOLS_NPY_H_

#include <string>

#include "absl/status/statusor.h"
#include "ir/host_tensor.h"

namespace braid {

// Reads `path`. Any other dtype, Fortran order, a malformed header or a size that does not match
// the header is an error naming the file; nothing larger than the file is ever allocated.
absl::StatusOr<HostTensor> ReadNpy(const std::string& path);
// Parses the bytes of an .npy file (`name` is used in errors).
absl::StatusOr<HostTensor> ParseNpy(const std::string& name, const std::string& bytes);

absl::Status WriteNpy(const std::string& path, const HostTensor& tensor);

}  // namespace braid

#endif  // BRAID_TOOLS_NPY_H_
