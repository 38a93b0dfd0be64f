"""braid: a graph-IR compiler for CPU inference with grouped-GEMM fusion.

    import braid
    g = braid.compile(ir_text, {"wg": wg, "wu": wu})   # constants: torch tensors or NumPy arrays
    (h,) = g.run(x)                                     # or g.run_into([x], [h])

`braid.torch` is the PyTorch bridge: `torch.compile(model, backend="braid")`.
Every failure is a `braid.Error` (a ValueError) with braid's message.
"""
from braid._braid import Error
from braid._api import CompiledGraph, compile, configure, interpret

__all__ = ["CompiledGraph", "Error", "compile", "configure", "interpret"]
__version__ = "0.1.0"
