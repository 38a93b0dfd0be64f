"""Lowers FX nodes (Dynamo's torch-level graph, or aten after AOT/make_fx) to braid's IR.

Two questions per node: can braid take it (`braid_ops`, used by the partitioner), and what is
it in braid's IR (`lower_region`). Both run the node's rule from the op table (`_ops.py`)
through a builder: a checking one that records the ops a node would become, and a region's that
writes them. Shapes and dtypes come from the node's fake value (`meta["example_value"]` from
Dynamo, `meta["val"]` from AOT, `meta["tensor_meta"]` from ShapeProp); a dynamic dim (a SymInt,
e.g. `s77` or `s0*s1`) becomes braid's symbolic dim, so one compiled graph serves every value
of it.

    %linear = torch._C._nn.linear(%l_x_, %w_g, None)      graph @braid_region(%l_x_: f32[s77, 8],
    %silu = torch.nn.functional.silu(%linear)      ->         %w_g: const f32[16, 8], ...) {
    %mul = operator.mul(%silu, %linear_1)                %linear = linear(%l_x_, %w_g) : f32[s77, 16]
                                                         %silu = silu(%linear) : f32[s77, 16] ...
"""
import math

import torch

from braid.torch._ops import lower_node
from braid.torch._types import (Unsupported, dtype_of, fake_value, is_tensor, number_of,
                                shape_of, symbols_of, tensor_type, type_text)


def _attr_text(value, what):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Unsupported(f"{what}: attribute {value}")
        return repr(value)  # always has a '.' or an exponent: braid reads it as a float
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_attr_text(v, what) for v in value) + "]"
    return str(value)  # an identifier (f32, bf16)


class _Builder:
    """Emits the braid ops of one FX node at a time (`node`) for the rules in `_ops.py`."""

    def __init__(self):
        self.node = None
        self.ops = []  # the braid ops emitted, in order

    def dtype(self):
        """braid's dtype of the node's result."""
        return dtype_of(self.node)

    def value(self, arg, dtype=None):
        """The braid value of an operand: a tensor node's (converted to `dtype` if that differs),
        or a number's one-element constant (of `dtype`, else of the node's dtype)."""
        if isinstance(arg, torch.fx.Node) and is_tensor(arg):
            text = self._tensor(arg)
            if dtype is not None and dtype_of(arg) != dtype:
                text = self._convert(arg, text, dtype)
            return text
        number = number_of(arg)
        if number is not None:
            return self._scalar(number, dtype or self.dtype())
        if isinstance(arg, torch.fx.Node) and isinstance(fake_value(arg),
                                                         (torch.SymFloat, torch.SymInt)):
            # A number known only at run time (under dynamic=True Dynamo passes an RMSNorm's
            # eps or an attention scale as one): a one-element input, made at each call.
            return self._runtime_scalar(arg, dtype or self.dtype())
        raise Unsupported(f"{self.node.name}: operand {arg!r} is not a tensor or a number")

    def emit(self, op, operands, attrs=None, shape=None, dtype=None, final=True):
        """Emits `op` on operand values; its result has the node's type unless `shape` / `dtype`
        say otherwise. The node's own value is named after it; `final=False` for steps before."""
        name = self.node.name if final else f"{self.node.name}.{len(self.ops)}"
        return self._emit(op, operands, attrs, shape, dtype, name)

    def _emit(self, op, operands, attrs, shape, dtype, name):
        what = self.node.name
        result = type_text(dtype or self.dtype(), shape_of(self.node) if shape is None else shape,
                           what)
        attrs = ", ".join(f"{k} = {_attr_text(v, what)}" for k, v in (attrs or {}).items())
        self.ops.append(op)
        return self._line(name, f"{op}({', '.join(operands)})" + (f" {{{attrs}}}" if attrs else ""),
                          result)

    def _convert(self, arg, text, dtype):
        return self._emit("convert", [text], {"to": dtype}, shape_of(arg), dtype,
                          f"{text.lstrip('%')}.{dtype}")


class _Check(_Builder):
    """Writes nothing: checks that every operand and result has a braid type, records the ops."""

    def is_constant(self, arg):
        return False  # known only per region; either answer is an op braid has

    def _tensor(self, arg):
        tensor_type(arg)
        return "%" + arg.name

    def _scalar(self, value, dtype):
        return "%c"

    def _runtime_scalar(self, arg, dtype):
        return "%" + arg.name

    def additive_mask(self, arg, dtype):
        shape_of(arg)
        return "%" + arg.name

    def _line(self, name, op_text, result):
        return "%" + name


def braid_ops(node):
    """The braid ops `node` lowers to (none for a no-op such as .contiguous()), or Unsupported."""
    value = fake_value(node)
    if isinstance(value, (torch.SymInt, torch.SymFloat, torch.SymBool, int, float, bool)):
        raise Unsupported(f"{node.name}: computes a size or number, not a tensor (PyTorch works "
                          f"it out; braid reads sizes from shapes)")
    b = _Check()
    b.node = node
    lower_node(node, b)
    return b.ops


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

    def __init__(self, text, inputs, constants, outputs, scalars, scalar_inputs, bool_masks):
        self.text = text
        self.inputs = inputs        # [(position in the partition's arguments)] read at run time
        self.constants = constants  # {braid name: position} bound at compile time
        self.outputs = outputs      # number of outputs
        self.scalars = scalars      # {braid name: (value, dtype)} constants made from numbers
        self.scalar_inputs = scalar_inputs  # {index in inputs: dtype} numbers passed at run time
        self.bool_masks = bool_masks  # {index in inputs: dtype} boolean masks, made additive per call


class _RegionBuilder(_Builder):
    """Writes one partition's braid graph. Placeholders become parameters when an op first reads
    them (a size argument, or the empty tensor a KV cache starts from, never does)."""

    def __init__(self, graph, is_constant):
        super().__init__()
        self.placeholders = {n: i for i, n in enumerate(
            n for n in graph.nodes if n.op == "placeholder")}
        self.is_constant_at = is_constant
        self.names = {}  # FX node -> braid value ("%name"); None for a folded transpose
        self.params, self.body, self.taken, self.emitted = [], [], set(), {}
        self.constants, self.inputs, self.scalars, self.scalar_inputs = {}, [], {}, {}
        self.bool_masks = {}
        self.symbols, self.bound = set(), set()  # the sizes the graph uses; those braid binds

    def is_constant(self, arg):
        i = self.placeholders.get(arg)
        return i is not None and self.is_constant_at(i)

    def _fresh(self, name):
        fresh, k = name, 0
        while fresh in self.taken:
            k += 1
            fresh = f"{name}.{k}"
        self.taken.add(fresh)
        return fresh

    def _param(self, name, type_text_):
        name = self._fresh(name)
        self.params.append(f"%{name}: {type_text_}")
        return name

    def _tensor(self, arg):
        if self.names.get(arg) is not None:
            return self.names[arg]
        i = self.placeholders.get(arg)
        if i is None:
            raise Unsupported(f"{self.node.name}: operand {arg.name} is not in the region")
        symbols, plain = symbols_of(shape_of(arg))
        self.symbols |= symbols
        self.bound |= plain  # braid binds a size from a dim that is that symbol alone
        if self.is_constant_at(i):
            name = self._param(f"p{i}_{_short_name(arg.name)}", "const " + tensor_type(arg))
            self.constants[name] = i
        else:
            name = self._param(f"p{i}_{_short_name(arg.name)}", tensor_type(arg))
            self.inputs.append(i)
        self.names[arg] = "%" + name
        return self.names[arg]

    def _scalar(self, value, dtype):
        for name, held in self.scalars.items():
            if held == (value, dtype):
                return "%" + name
        name = self._param(f"c{len(self.scalars)}", f"const {dtype}[1]")
        self.scalars[name] = (value, dtype)
        return "%" + name

    def _runtime_scalar(self, arg, dtype):
        if (arg, dtype) not in self.names:
            i = self.placeholders.get(arg)
            if i is None:
                raise Unsupported(f"{self.node.name}: operand {arg.name} is not in the region")
            name = self._param(f"p{i}_{_short_name(arg.name)}", f"{dtype}[1]")
            self.scalar_inputs[len(self.inputs)] = dtype
            self.inputs.append(i)
            self.names[arg, dtype] = "%" + name
        return self.names[arg, dtype]

    def additive_mask(self, arg, dtype):
        """A boolean attention mask the region reads: a `dtype` input of its shape that the
        region's caller makes from it at each call (0 where True, -inf where False)."""
        if (arg, "mask", dtype) not in self.names:
            i = self.placeholders.get(arg)
            if i is None:
                raise Unsupported(f"{self.node.name}: a boolean attn_mask computed in the region")
            symbols, plain = symbols_of(shape_of(arg))
            self.symbols |= symbols
            self.bound |= plain
            name = self._param(f"p{i}_{_short_name(arg.name)}", type_text(dtype, shape_of(arg), arg.name))
            self.bool_masks[len(self.inputs)] = dtype
            self.inputs.append(i)
            self.names[arg, "mask", dtype] = "%" + name
        return self.names[arg, "mask", dtype]

    def _line(self, name, op_text, result):
        # The same op on the same values is one value: aten graphs reshape an activation once
        # per GEMM that reads it (braid groups GEMMs of one activation), and a value converted
        # for several readers is converted once.
        key = (op_text, result)
        if key not in self.emitted:
            name = self._fresh(name)
            self.body.append(f"  %{name} = {op_text} : {result}")
            self.emitted[key] = "%" + name
        return self.emitted[key]


def lower_region(name, graph, is_constant):
    """Lowers the FX graph of one partition (placeholders, supported nodes, one output) to a
    braid graph. `is_constant(i)` says whether placeholder i is a weight bound at compile time."""
    b = _RegionBuilder(graph, is_constant)
    for node in graph.nodes:
        if node.op not in ("placeholder", "output"):
            b.node = node
            b.names[node] = lower_node(node, b)
    (output_node,) = [n for n in graph.nodes if n.op == "output"]
    results = output_node.args[0]
    results = list(results) if isinstance(results, (tuple, list)) else [results]
    returned, out_types = [], []
    for r in results:
        if not isinstance(r, torch.fx.Node) or (r not in b.names and r.op != "placeholder"):
            raise Unsupported(f"output {r}: not computed in the region")
        b.node = r
        returned.append(b.value(r))  # braid returns each output in a buffer of its own, even an
        out_types.append(tensor_type(r))  # input passed through (x.contiguous()) or a repeat
        b.symbols |= symbols_of(shape_of(r))[0]
    unbound = sorted(map(str, b.symbols - b.bound))
    if unbound:
        raise Unsupported(f"size {unbound[0]} appears in the region's inputs only inside "
                          f"expressions (e.g. s0*s1), and braid binds sizes from plain dims")
    text = (f"graph @{name}({', '.join(b.params)}) -> ({', '.join(out_types)}) {{\n" +
            "\n".join(b.body) + "\n  return " + ", ".join(returned) + "\n}\n")
    return Region(text, b.inputs, b.constants, len(results), b.scalars, b.scalar_inputs, b.bool_masks)
