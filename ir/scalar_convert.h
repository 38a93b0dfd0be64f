// Scalar conversions between the IR's dtypes, as the interpreter defines them: narrowing to
// bf16/f16 rounds to nearest even (NaN stays NaN, overflow becomes infinity); widening is exact.
// Shared by the interpreter, `.npy` I/O, comparisons and the tests, so each rule exists once.
#ifndef BRAID_IR_SCALAR_CONVERT_H_
#define BRAID_IR_SCALAR_CONVERT_H_

#include <cstdint>

#include "ir/types.h"

namespace braid {

uint16_t F32ToBf16(float value);
float Bf16ToF32(uint16_t bits);
uint16_t F32ToF16(float value);
float F16ToF32(uint16_t bits);

// Element `index` of an array of `dtype` at `data`, exactly, as a double.
double LoadAsDouble(DType dtype, const void* data, int64_t index);

}  // namespace braid

#endif  // BRAID_IR_SCALAR_CONVERT_H_
