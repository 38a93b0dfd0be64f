"""braid types of FX values: shapes and dtypes read from the fake tensors FX recorded.

A static dim is its number; a dynamic one (a SymInt) is braid's polynomial text of its symbols,
e.g. `s77`, `s0*s1` (a flattened batch and sequence) or `s87 + 1` (a KV cache grown by one).
"""
import sympy
import torch


class Unsupported(Exception):
    """A node braid does not take; the message says why."""


def fake_value(node):
    """The fake tensor (or tensor_meta, or SymInt) FX recorded for `node`, or None."""
    for key in ("example_value", "val", "tensor_meta"):
        value = node.meta.get(key)
        if value is not None:
            return value
    return None


def is_tensor(node):
    value = fake_value(node)
    return hasattr(value, "shape") and hasattr(value, "dtype")


def shape_of(node):
    """The shape `node` produces (ints and SymInts); Unsupported if it is not a tensor."""
    if not is_tensor(node):
        raise Unsupported(f"{node.name}: not a tensor (no shape recorded)")
    return tuple(fake_value(node).shape)


def number_of(value):
    """A Python number, or a SymInt / SymFloat (or the FX node computing one) whose value is
    fixed, as a float; None for anything else (a size or float known only at run time)."""
    if isinstance(value, torch.fx.Node):
        value = fake_value(value)
    if isinstance(value, (torch.SymInt, torch.SymFloat)):
        expr = value.node.expr
        return float(expr) if expr.is_Number else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def dim_expr(dim):
    """A dim as a sympy expression (an int as a sympy Integer), for comparing dims."""
    if isinstance(dim, torch.SymInt):
        return dim.node.expr
    return sympy.Integer(dim)


def symbols_of(shape):
    """(every symbol in the dims of `shape`, the symbols that are a dim on their own)."""
    exprs = [dim_expr(d) for d in shape]
    return (set().union(*(e.free_symbols for e in exprs)),
            {e for e in exprs if e.is_Symbol})


def _polynomial_text(expr, what):
    # braid's dims are sums of products of symbols with positive integer coefficients; torch
    # may also produce subtraction, floor division or max, which braid cannot express.
    terms = []
    for term in sympy.Add.make_args(sympy.expand(expr)):
        coeff, rest = term.as_coeff_Mul()
        factors = []
        for factor in sympy.Mul.make_args(rest):
            if factor == 1:  # a constant term: rest is 1
                continue
            base, exp = factor.as_base_exp()
            if not (base.is_Symbol and exp.is_Integer and exp > 0):
                factors = None
                break
            factors += [str(base)] * int(exp)
        if factors is None or not coeff.is_Integer or coeff <= 0:
            raise Unsupported(f"{what}: dim {expr} is not a sum of products of sizes (braid's dims "
                              f"have no subtraction or division)")
        terms.append("*".join(([str(coeff)] if coeff != 1 or not factors else []) + factors))
    return " + ".join(terms)


def dim_text(dim, what):
    if isinstance(dim, int):
        return str(dim)
    if isinstance(dim, torch.SymInt):
        expr = dim.node.expr
        if expr.is_Integer:
            return str(int(expr))
        return _polynomial_text(expr, what)
    raise Unsupported(f"{what}: dim of type {type(dim).__name__}")


# What braid compiles: float32 and bfloat16 arithmetic; int8 only as stored weights that the
# graph converts to a float dtype (a quantised linear's `q.to(x.dtype) * scale`).
DTYPES = {torch.float32: "f32", torch.bfloat16: "bf16", torch.int8: "i8"}


def dtype_of(node, what=None):
    """braid's name for the dtype `node` produces ("f32"), or Unsupported."""
    dtype = getattr(fake_value(node), "dtype", None)
    if dtype not in DTYPES:
        raise Unsupported(f"{what or node.name}: dtype {dtype} (braid compiles float32 and "
                          f"bfloat16, and int8 weights)")
    return DTYPES[dtype]


def type_text(dtype, shape, what):
    """braid's type text, e.g. "f32[s77, 4096]"."""
    if len(shape) == 0:
        raise Unsupported(f"{what}: a 0-d tensor")
    return dtype + "[" + ", ".join(dim_text(d, what) for d in shape) + "]"


def tensor_type(node, what=None):
    """braid's type text for the tensor `node` produces, e.g. "f32[s77, 4096]"."""
    what = what or node.name
    if not is_tensor(node):
        raise Unsupported(f"{what}: no tensor shape recorded")
    return type_text(dtype_of(node, what), shape_of(node), what)
