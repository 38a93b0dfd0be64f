"""Lowers FX nodes (Dynamo's torch-level graph, or aten after AOT/make_fx) to braid's IR.

Two questions per node: can braid take it (`unsupported_reason`, used by the partitioner), and
what is it in braid's IR (`lower_region`). Shapes and dtypes come from the node's fake value
(`meta["example_value"]` from Dynamo, `meta["val"]` from AOT, `meta["tensor_meta"]` from
ShapeProp); a dynamic dim (a SymInt that is a plain symbol, e.g. `s77`) becomes a braid symbol,
so one compiled graph serves every value of it.

    %linear = torch._C._nn.linear(%l_x_, %w_g, None)      graph @braid_region(%l_x_: f32[s77, 8],
    %silu = torch.nn.functional.silu(%linear)      ->         %w_g: const f32[16, 8], ...) {
    %mul = operator.mul(%silu, %linear_1)                %linear = linear(%l_x_, %w_g) : f32[s77, 16]
                                                         %silu = silu(%linear) : f32[s77, 16] ...
"""
import operator

import torch
import torch.nn.functional as F

aten = torch.ops.aten


class Unsupported(Exception):
    """A node braid does not take; the message says why."""


_UNARY = {
    F.silu: "silu", aten.silu.default: "silu",
    F.relu: "relu", torch.relu: "relu", aten.relu.default: "relu",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", aten.sigmoid.default: "sigmoid",
    torch.tanh: "tanh", F.tanh: "tanh", aten.tanh.default: "tanh",
    torch.exp: "exp", aten.exp.default: "exp",
    torch.neg: "neg", operator.neg: "neg", aten.neg.default: "neg",
}
_UNARY_METHODS = {"silu": "silu", "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh",
                  "exp": "exp", "neg": "neg"}
_GELU = {F.gelu, aten.gelu.default}
_BINARY = {
    operator.add: "add", torch.add: "add", aten.add.Tensor: "add",
    operator.sub: "sub", torch.sub: "sub", aten.sub.Tensor: "sub",
    operator.mul: "mul", torch.mul: "mul", aten.mul.Tensor: "mul",
    operator.truediv: "div", torch.div: "div", aten.div.Tensor: "div",
    torch.maximum: "maximum", aten.maximum.default: "maximum",
}
_BINARY_METHODS = {"add": "add", "sub": "sub", "mul": "mul", "div": "div"}
_LINEAR = {torch._C._nn.linear, F.linear, aten.linear.default}
_TRANSPOSE = {aten.t.default, torch.t}
_MM = {aten.mm.default}
_ADDMM = {aten.addmm.default}


def fake_value(node):
    """The fake tensor (or tensor_meta) FX recorded for `node`, or None."""
    for key in ("example_value", "val", "tensor_meta"):
        value = node.meta.get(key)
        if value is not None:
            return value
    return None


def _dim_text(dim, what):
    if isinstance(dim, int):
        return str(dim)
    if isinstance(dim, torch.SymInt):
        expr = dim.node.expr
        if getattr(expr, "is_Symbol", False):
            return str(expr)
        if getattr(expr, "is_Integer", False):
            return str(int(expr))
        raise Unsupported(f"{what}: dim {expr} is an expression of dynamic sizes")
    raise Unsupported(f"{what}: dim of type {type(dim).__name__}")


_DTYPES = {torch.float32: "f32", torch.bfloat16: "bf16"}  # what braid compiles so far


def braid_dtype(node, what=None):
    value = fake_value(node)
    dtype = getattr(value, "dtype", None)
    if dtype not in _DTYPES:
        raise Unsupported(f"{what or node.name}: dtype {dtype} (braid compiles float32 and "
                          f"bfloat16 so far)")
    return _DTYPES[dtype]


def tensor_type(node, what=None):
    """braid's type text for the tensor `node` produces, e.g. "f32[s77, 4096]"."""
    what = what or node.name
    value = fake_value(node)
    if value is None or not hasattr(value, "shape") or not hasattr(value, "dtype"):
        raise Unsupported(f"{what}: no tensor shape recorded")
    dtype = braid_dtype(node, what)
    if len(value.shape) == 0:
        raise Unsupported(f"{what}: a 0-d tensor")
    return dtype + "[" + ", ".join(_dim_text(d, what) for d in value.shape) + "]"


def _target_name(node):
    target = node.target
    return getattr(target, "__name__", None) or str(target)


def _is_transpose_2d(node):
    if node.op != "call_function":
        return False
    if node.target in _TRANSPOSE:
        return True
    if node.target in (aten.permute.default,) and list(node.args[1]) in ([1, 0], [-1, -2]):
        return True
    return False


def _check_tensor_args(node, tensors):
    for arg in tensors:
        if not isinstance(arg, torch.fx.Node):
            raise Unsupported(f"{node.name}: operand {arg!r} is not a tensor")


def unsupported_reason(node):
    """None if braid takes `node` (given its operands arrive as braid values), else why not."""
    try:
        _classify(node)
        if node.op == "call_function" and _is_transpose_2d(node):
            for user in node.users:
                if user.op != "call_function" or user.target not in (_MM | _ADDMM) or \
                        user.args[-1] is not node:
                    raise Unsupported(f"{node.name}: a transpose braid takes only as a GEMM weight")
            return None
        tensor_type(node)
        return None
    except Unsupported as e:
        return str(e)


def _classify(node):
    """(braid op, tensor operands, attributes) for `node`, or Unsupported."""
    if node.op == "call_method":
        name = node.target
        if name in _UNARY_METHODS and not node.kwargs and len(node.args) == 1:
            return _UNARY_METHODS[name], list(node.args), ""
        if name in _BINARY_METHODS and len(node.args) == 2 and not node.kwargs:
            return _BINARY_METHODS[name], list(node.args), ""
        raise Unsupported(f"{node.name}: method .{name}() is not an op braid has")
    if node.op != "call_function":
        raise Unsupported(f"{node.name}: {node.op} nodes run in PyTorch")
    target = node.target
    kwargs = dict(node.kwargs)
    if target in _UNARY:
        inplace = kwargs.pop("inplace", node.args[1] if len(node.args) > 1 else False)
        if inplace or kwargs or len(node.args) > 2:
            raise Unsupported(f"{node.name}: {_target_name(node)} with extra arguments")
        return _UNARY[target], [node.args[0]], ""
    if target in _GELU:
        approximate = kwargs.pop("approximate", node.args[1] if len(node.args) > 1 else "none")
        if kwargs or approximate not in ("none", "tanh"):
            raise Unsupported(f"{node.name}: gelu with approximate={approximate!r}")
        return ("gelu" if approximate == "none" else "gelu_tanh"), [node.args[0]], ""
    if target in _BINARY:
        alpha = kwargs.pop("alpha", 1)
        if kwargs or alpha != 1 or len(node.args) != 2:
            raise Unsupported(f"{node.name}: {_target_name(node)} with alpha, rounding or out")
        return _BINARY[target], list(node.args), ""
    if target in _LINEAR:
        args = list(node.args) + [kwargs.pop("bias", None)] * (3 - len(node.args))
        if kwargs:
            raise Unsupported(f"{node.name}: linear with {sorted(kwargs)}")
        x, w, b = args[:3]
        _check_tensor_args(node, [x, w])
        return "linear", [x, w] + ([b] if b is not None else []), ""
    if target in _MM:
        x, wt = node.args
        if not (isinstance(wt, torch.fx.Node) and _is_transpose_2d(wt)):
            raise Unsupported(f"{node.name}: mm whose second operand is not a transposed weight")
        return "linear", [x, wt.args[0]], ""
    if target in _ADDMM:
        b, x, wt = node.args[:3]
        if kwargs.get("beta", 1) != 1 or kwargs.get("alpha", 1) != 1:
            raise Unsupported(f"{node.name}: addmm with beta or alpha")
        if not (isinstance(wt, torch.fx.Node) and _is_transpose_2d(wt)):
            raise Unsupported(f"{node.name}: addmm whose weight is not a transposed weight")
        bias_value = fake_value(b) if isinstance(b, torch.fx.Node) else None
        if bias_value is None or len(bias_value.shape) != 1:
            raise Unsupported(f"{node.name}: addmm with a bias that is not a row")
        return "linear", [x, wt.args[0], b], ""
    if _is_transpose_2d(node):
        return "transpose", list(node.args[:1]), ""
    raise Unsupported(f"{node.name}: {_target_name(node)} is not an op braid has")


def _short_name(fx_name):
    """Dynamo's placeholder names spell the attribute path of a parameter
    (l_self_modules_mlp_modules_up_proj_parameters_weight_); keep the path, drop the noise."""
    name = fx_name
    for noise in ("_modules_", "_parameters_", "_buffers_"):
        name = name.replace(noise, "_")
    for prefix in ("l_self_", "l_args_0_", "l_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    if name.startswith("model_"):
        name = name[len("model_"):]
    return name.strip("_") or fx_name


class Region:
    """One partition lowered to braid: its IR text and how to call it."""

    def __init__(self, text, inputs, constants, outputs, scalars, gemms):
        self.text = text
        self.inputs = inputs        # [(position in the partition's arguments)] read at run time
        self.constants = constants  # {braid name: position} bound at compile time
        self.outputs = outputs      # number of outputs
        self.scalars = scalars      # {braid name: (value, dtype)} constants made from numbers
        self.gemms = gemms          # number of GEMMs before grouping


def lower_region(name, graph, is_constant):
    """Lowers the FX graph of one partition (placeholders, supported nodes, one output) to a
    braid graph. `is_constant(i)` says whether placeholder i is a weight bound at compile time."""
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    body, params, constants, inputs, scalars = [], [], {}, [], {}
    names = {}
    for i, node in enumerate(placeholders):
        if not node.users:
            continue
        braid_name = f"p{i}_{_short_name(node.name)}"
        names[node] = braid_name
        if is_constant(i):
            constants[braid_name] = i
            params.append(f"%{braid_name}: const {tensor_type(node)}")
        else:
            inputs.append(i)
            params.append(f"%{braid_name}: {tensor_type(node)}")
    gemms = 0
    for node in graph.nodes:
        if node.op in ("placeholder", "output"):
            continue
        op, operands, _ = _classify(node)
        if op == "transpose":
            continue  # folded into the GEMM that reads it (unsupported_reason checked that)
        texts = []
        for arg in operands:
            if isinstance(arg, torch.fx.Node):
                if arg not in names:
                    raise Unsupported(f"{node.name}: operand {arg.name} is not in the region")
                texts.append("%" + names[arg])
            elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
                # A number becomes a one-element constant of the op's dtype.
                scalar = f"c{len(scalars)}"
                dtype = braid_dtype(node)
                scalars[scalar] = (float(arg), dtype)
                params.append(f"%{scalar}: const {dtype}[1]")
                texts.append("%" + scalar)
            else:
                raise Unsupported(f"{node.name}: operand {arg!r}")
        gemms += op == "linear"
        names[node] = node.name
        body.append(f"  %{node.name} = {op}({', '.join(texts)}) : {tensor_type(node)}")
    (output_node,) = [n for n in graph.nodes if n.op == "output"]
    results = output_node.args[0]
    results = list(results) if isinstance(results, (tuple, list)) else [results]
    out_types = []
    for r in results:
        if not isinstance(r, torch.fx.Node) or r not in names or r.op == "placeholder":
            raise Unsupported(f"output {r}: not computed in the region")
        out_types.append(tensor_type(r))
    text = (f"graph @{name}({', '.join(params)}) -> ({', '.join(out_types)}) {{\n" +
            "\n".join(body) + "\n  return " + ", ".join("%" + names[r] for r in results) +
            "\n}\n")
    return Region(text, inputs, constants, len(results), scalars, gemms)
