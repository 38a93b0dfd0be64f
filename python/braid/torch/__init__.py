"""braid.torch: braid as a PyTorch compiler backend.

    model = torch.compile(model, backend="braid")      # Dynamo; or backend=braid.torch.backend
    model = braid.torch.compile(model, example_inputs) # torch.fx, without Dynamo
    print(braid.torch.explain(model, x))               # what braid compiled, grouped and fused

The FX graph is cut into regions of the nodes braid takes (the op table in `_ops.py`: GEMMs —
`linear`, `mm`/`addmm` of a transposed weight, matmul — attention, the pointwise ops, reductions
and softmax, the shape ops — view, transpose, slicing, cat, expand — and the no-ops: contiguous,
same-dtype `.to`, eval dropout; float32 and bfloat16, and int8 weights converted to
either) by torch.fx's capability-based partitioner;
everything else stays PyTorch, node by node. A whole decoder layer (RMSNorm, Q/K/V, rotary
embedding, KV cache append, attention, MLP) is one region. Each region with a GEMM or attention
is compiled by braid: sibling GEMMs that read one activation are grouped, their pointwise
epilogues fused. Parameters become braid constants, prepacked once from their storage; so do
a quantised linear's int8 weight and its scale held in module buffers (`F.linear(x,
self.qweight.to(x.dtype) * self.scale)`: braid keeps the weight int8 in the GEMM). Dynamic
sizes (Dynamo's SymInts) become braid symbolic dims: one compiled region serves every batch and
sequence length.

Inference only: while autograd records and an operand requires grad, a region runs in PyTorch
(use torch.no_grad() or torch.inference_mode()).
"""
import copy
import operator

import torch
from torch.fx.passes.infra.partitioner import CapabilityBasedPartitioner
from torch.fx.passes.operator_support import OperatorSupportBase
from torch.fx.passes.shape_prop import ShapeProp

from braid.torch._kernel import BraidRegion, RegionReport, invalidate
from braid.torch._lower import braid_ops
from braid.torch._ops import COMPUTE_OPS, target_name
from braid.torch._types import Unsupported, fake_value, is_tensor
from braid.torch._report import Explanation, GraphReport

__all__ = ["backend", "compile", "explain", "invalidate", "Explanation"]

_collectors = []  # lists of GraphReports, one per explain() call in progress
_graphs_compiled = 0


def _new_report():
    global _graphs_compiled
    report = GraphReport(_graphs_compiled)
    _graphs_compiled += 1
    for collector in _collectors:
        collector.append(report)
    return report


class _BraidSupport(OperatorSupportBase):
    """The nodes braid's regions take: every node braid can lower. `compute` holds those that
    make a region worth compiling (GEMMs, attention); a region without one stays in PyTorch —
    braid would run its pointwise or shape ops as loops of their own, no faster."""

    def __init__(self, gm, report):
        super().__init__()
        self.taken, self.compute = set(), set()
        for node in gm.graph.nodes:
            if node.op in ("placeholder", "output", "get_attr"):
                continue  # the partition's boundary, not its ops
            try:
                ops = braid_ops(node)
            except Unsupported as e:
                report.left_to_pytorch[node.name] = str(e)
                continue
            self.taken.add(node)
            if COMPUTE_OPS.intersection(ops):
                self.compute.add(node)

    def is_node_supported(self, submodules, node):
        return node in self.taken


def _rejoin_input_slices(gm, partitions, support):
    """torch's partitioner puts a getitem in the partition of the value it indexes, so a slice of
    a graph input (attention_mask[:, :, :, :key_len]) lands in none. It joins its readers'
    partition when they share one: reading only graph inputs and sizes computed from them, it
    cannot close a cycle through PyTorch."""
    def reads_only_inputs(node):
        return all(arg.op in ("placeholder", "get_attr") or
                   (not is_tensor(arg) and reads_only_inputs(arg)) for arg in node.all_input_nodes)

    home = {n: p for p in partitions for n in p.nodes}
    for node in gm.graph.nodes:
        if node in home or node not in support.taken or node.target is not operator.getitem or \
                not reads_only_inputs(node):
            continue
        readers = {home.get(user) for user in node.users}
        if len(readers) == 1 and None not in readers:
            home[node] = readers.pop()
            home[node].add_node(node)


def _module_buffer(node):
    """True if Dynamo lifted placeholder `node` from a module's buffer (its source is
    `...._buffers['name']`)."""
    source = getattr(node.meta.get("grapharg"), "source", None)
    name = getattr(source, "name", "")
    name = name() if callable(name) else name
    return isinstance(name, str) and "._buffers[" in name


def _writes(node):
    """True if the graph may write into `node`'s tensor (an in-place op or method on it)."""
    # (in-place methods and ops end in "_": x.mul_(), aten.mul_.Tensor)
    return any(target_name(user).split(".")[0].endswith("_") or "out" in user.kwargs for user in node.users)


def _quantised_weight_buffers(gm):
    """The placeholders of module buffers that hold a quantised linear's weight: int8 buffers,
    and the buffers that scale a float conversion of one (`q.to(x.dtype) * scale`), when the
    graph does not write into them. braid binds them at compile time like parameters (as
    Inductor's freezing binds buffers), so the int8 weight stays int8 in the GEMM."""
    buffers = [n for n in gm.graph.nodes if n.op == "placeholder" and _module_buffer(n) and not _writes(n)]
    int8 = {n for n in buffers if getattr(fake_value(n), "dtype", None) == torch.int8}
    scales = set()
    for q in int8:
        for convert in q.users:
            if target_name(convert) not in ("to", "float", "bfloat16", "type", "type_as", "_to_copy",
                                            "_to_copy.default"):
                continue
            for mul in convert.users:
                if target_name(mul) in ("mul", "mul.Tensor") or mul.target is operator.mul:
                    scales |= {a for a in mul.args if a in buffers and a not in int8}
    return {n.name for n in int8 | scales}  # by name: partitioning may copy the graph's nodes


def _constant_of(gm, node, example_inputs, placeholder_index, weight_buffers=frozenset()):
    """The weight tensor `node` stands for, if it is one braid may bind at compile time: a
    parameter (Dynamo lifts them to placeholders), a quantised weight's buffer (above), or a
    get_attr of one."""
    if node.op == "placeholder":
        i = placeholder_index.get(node)
        value = example_inputs[i] if i is not None and i < len(example_inputs) else None
        if isinstance(value, torch.nn.Parameter) or (node.name in weight_buffers and isinstance(value, torch.Tensor)):
            return value
        return None
    if node.op == "get_attr":
        value = operator.attrgetter(node.target)(gm)
        return value if isinstance(value, torch.Tensor) else None
    return None


def _compile_graph_module(gm, example_inputs, report):
    if not any(fake_value(n) is not None for n in gm.graph.nodes if n.op != "output"):
        ShapeProp(gm).propagate(*example_inputs)
    report.fx_nodes = sum(1 for n in gm.graph.nodes if n.op in ("call_function", "call_method",
                                                               "call_module"))
    weight_buffers = _quantised_weight_buffers(gm)
    support = _BraidSupport(gm, report)
    partitioner = CapabilityBasedPartitioner(gm, support, allows_single_node_partition=True)
    partitions = partitioner.propose_partitions()
    _rejoin_input_slices(gm, partitions, support)
    kept = [p for p in partitions if any(n in support.compute for n in p.nodes)]
    dropped = {n for p in partitions if p not in kept for n in p.nodes}
    in_regions = {n for p in kept for n in p.nodes}
    for node in gm.graph.nodes:
        if node in support.taken and node not in in_regions:
            report.left_to_pytorch[node.name] = (
                "no GEMM or attention in its region (PyTorch runs it as well)" if node in dropped
                else "in no region (the partitioner keeps a getitem with the value it indexes)")
    if not kept:
        return gm
    before = {name for name, _ in gm.named_children()}
    fused = partitioner.fuse_partitions(kept)
    made = {name for name, _ in fused.named_children()} - before  # the partitions' submodules
    placeholder_index = {n: i for i, n in enumerate(
        n for n in fused.graph.nodes if n.op == "placeholder")}
    for node in list(fused.graph.nodes):
        if node.op != "call_module" or node.target not in made:
            continue
        submodule = getattr(fused, node.target)
        constants = {}
        for pos, arg in enumerate(node.args):
            if isinstance(arg, torch.fx.Node):
                value = _constant_of(fused, arg, example_inputs, placeholder_index, weight_buffers)
                if value is not None:
                    constants[pos] = value
        fx_nodes = [n.name for n in submodule.graph.nodes
                    if n.op not in ("placeholder", "output")]
        region_report = RegionReport(f"braid_{node.target}", fx_nodes)
        report.regions.append(region_report)
        region = BraidRegion(f"braid_{node.target}", submodule, constants, region_report)
        setattr(fused, node.target, region)
        # Call the region's forward directly, not through nn.Module.__call__ (hooks, Dynamo's
        # disable wrappers): a few microseconds per call that decode-sized GEMMs notice.
        node.op, node.target = "call_function", region.forward
    fused.recompile()
    return fused


def backend(gm, example_inputs, **kwargs):
    """The torch.compile backend (also registered as "braid"): returns a callable running the
    regions braid takes with braid and the rest with PyTorch. Never fails the model: if anything
    goes wrong while compiling, the graph runs in PyTorch and explain() says why."""
    report = _new_report()
    try:
        return _compile_graph_module(gm, list(example_inputs), report).forward
    except Exception as e:  # noqa: BLE001 — an unforeseen graph must not break the user's model
        report.error = f"{type(e).__name__}: {e}"
        return gm.forward


def compile(module, example_inputs, dynamic=True):
    """Compiles an nn.Module (or an FX GraphModule, e.g. from make_fx) with torch.fx, no
    Dynamo: symbolic_trace, shapes from
    `example_inputs`, then the same partitioning as `backend`. With `dynamic`, every dim of the
    inputs but the last (batch, sequence) is a symbol: one compilation serves all their sizes;
    else the example inputs' shapes are the only ones accepted."""
    if isinstance(module, torch.fx.GraphModule):
        # Already a graph (e.g. aten from make_fx): a copy, so the caller's stays as it was.
        gm = torch.fx.GraphModule(module, copy.deepcopy(module.graph))
    else:
        gm = _functional_modules(torch.fx.symbolic_trace(module))
    example_inputs = list(example_inputs)
    if dynamic:
        _propagate_symbolic_shapes(gm, example_inputs)
    report = _new_report()
    module = _compile_graph_module(gm, list(example_inputs), report)
    module.braid_report = report  # explain(module) reads it
    return module


def _propagate_symbolic_shapes(gm, example_inputs):
    """Records fake values with symbolic leading dims on every node (meta["val"])."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import (DimDynamic, ShapeEnv,
                                                       StatelessSymbolicContext)
    from torch.fx.passes.fake_tensor_prop import FakeTensorProp

    mode = FakeTensorMode(shape_env=ShapeEnv(specialize_zero_one=False, duck_shape=False),
                          allow_non_fake_inputs=True)  # parameters (get_attr) stay real
    fakes = []
    for t in example_inputs:
        if isinstance(t, torch.Tensor):
            sizes = [DimDynamic.DYNAMIC] * (t.dim() - 1) + [DimDynamic.STATIC] * min(t.dim(), 1)
            t = mode.from_tensor(t, symbolic_context=StatelessSymbolicContext(
                dynamic_sizes=sizes))
        fakes.append(t)
    with mode:
        FakeTensorProp(gm, mode).propagate_dont_convert_inputs(*fakes)


_MODULE_FUNCTIONS = {
    torch.nn.SiLU: torch.nn.functional.silu,
    torch.nn.ReLU: torch.nn.functional.relu,
    torch.nn.Sigmoid: torch.sigmoid,
    torch.nn.Tanh: torch.tanh,
}


def _functional_modules(gm):
    """Rewrites call_module nodes of nn.Linear and activations as the functions they call, so
    the partitioner sees their weights (get_attr) and ops."""
    modules = dict(gm.named_modules())
    for node in list(gm.graph.nodes):
        if node.op != "call_module":
            continue
        module = modules[node.target]
        with gm.graph.inserting_before(node):
            if type(module) is torch.nn.Linear:
                weight = gm.graph.get_attr(node.target + ".weight")
                bias = gm.graph.get_attr(node.target + ".bias") if module.bias is not None \
                    else None
                replacement = gm.graph.call_function(torch.nn.functional.linear,
                                                     (node.args[0], weight, bias))
            elif type(module) is torch.nn.GELU:
                replacement = gm.graph.call_function(
                    torch.nn.functional.gelu, (node.args[0],),
                    {"approximate": module.approximate})
            elif type(module) in _MODULE_FUNCTIONS:
                replacement = gm.graph.call_function(_MODULE_FUNCTIONS[type(module)],
                                                     (node.args[0],))
            else:
                continue
        node.replace_all_uses_with(replacement)
        gm.graph.erase_node(node)
    gm.recompile()
    return gm


def explain(model, *args, **kwargs):
    """Compiles `model` with torch.compile(backend=braid), runs it once on `args` under
    torch.no_grad(), and returns what happened (for a module from braid.torch.compile, what
    happened when it was compiled): per Dynamo graph, the regions braid compiled
    (its graph, which GEMMs it grouped, its kernels with their fused epilogues), and each FX
    node left to PyTorch with the reason."""
    if isinstance(getattr(model, "braid_report", None), GraphReport):
        return Explanation([model.braid_report])  # made by braid.torch.compile: nothing to run
    reports = []
    def explaining_backend(gm, example_inputs):  # a backend of its own: Dynamo compiles afresh
        return backend(gm, example_inputs)

    compiled = torch.compile(model, backend=explaining_backend)
    _collectors.append(reports)
    try:
        with torch.no_grad():
            compiled(*args, **kwargs)
    finally:
        _collectors.remove(reports)
    return Explanation(reports)
