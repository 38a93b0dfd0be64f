"""Describes tensors to the C++ core as (address, dtype, shape) without copying them.

Accepted: CPU torch tensors and NumPy arrays, C-contiguous, of a dtype braid knows. Anything
else is a braid.Error naming the tensor and what is wrong with it; nothing is copied silently.
"""
import sys

from braid._braid import Error

# braid's dtype names and their NumPy and torch counterparts: the one table (NumPy has no bf16).
NUMPY_NAMES = {"f32": "float32", "f16": "float16", "i8": "int8", "i32": "int32"}
_NUMPY_DTYPES = {numpy_name: name for name, numpy_name in NUMPY_NAMES.items()}


def torch_dtypes():
    """{braid dtype name: torch dtype}; empty until torch is imported."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {}
    return {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16,
            "i8": torch.int8, "i32": torch.int32}


def _torch_dtypes():
    return {dtype: name for name, dtype in torch_dtypes().items()}


def is_torch_tensor(obj):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def describe(obj, what, writable=False):
    """(address, dtype name, shape) of a tensor or array `obj`; `what` names it in errors."""
    if is_torch_tensor(obj):
        if obj.device.type != "cpu":
            raise Error(f"{what}: a {obj.device.type} tensor; braid runs on the CPU "
                        f"(move it with .cpu())")
        dtype = _torch_dtypes().get(obj.dtype)
        if dtype is None:
            raise Error(f"{what}: dtype {obj.dtype} is not one braid knows "
                        f"(float32, bfloat16, float16, int8, int32)")
        if not obj.is_contiguous():
            raise Error(f"{what}: not contiguous (strides {tuple(obj.stride())} for shape "
                        f"{tuple(obj.shape)}); pass .contiguous()")
        if writable and obj.requires_grad:
            raise Error(f"{what}: requires grad; braid writes outputs outside autograd")
        shape = tuple(obj.shape)
        if obj.numel() == 0:
            return (1, dtype, shape)  # never read: any non-null address
        return (obj.data_ptr(), dtype, shape)
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(obj, numpy.ndarray):
        dtype = _NUMPY_DTYPES.get(obj.dtype.name)
        if dtype is None:
            raise Error(f"{what}: NumPy dtype {obj.dtype} is not one braid knows "
                        f"(float32, float16, int8, int32; bf16 as a torch tensor)")
        if not obj.flags["C_CONTIGUOUS"]:
            raise Error(f"{what}: not C-contiguous; pass numpy.ascontiguousarray(...)")
        if writable and not obj.flags["WRITEABLE"]:
            raise Error(f"{what}: read-only array")
        return (obj.ctypes.data if obj.size else 1, dtype, tuple(obj.shape))
    raise Error(f"{what}: expected a torch.Tensor or numpy.ndarray, got {type(obj).__name__}")
