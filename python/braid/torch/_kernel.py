"""One FX partition run by braid, standing in for the submodule the partitioner made of it.

It compiles the partition once, with the weights it reads (parameters) bound as braid constants
(prepacked straight from the parameter's storage), and then on each call hands braid the
runtime tensors without copying them. It falls back to the original submodule (eager PyTorch)
when braid cannot take the call, saying why in the region's report:
- autograd is recording and an operand requires grad (braid is inference-only);
- braid could not compile the partition (its error message is kept).
Compilations are cached per set of weights (identity, storage, version counter): a region that
Dynamo reuses for many layers keeps one per layer, and a replaced or in-place-updated weight
gets a fresh one before the call. Changes through `.data` escape PyTorch's version counter:
braid.torch.invalidate() after those.
"""
import collections
import weakref

import torch

import braid
from braid import _braid
from braid._memory import torch_dtypes
from braid.torch._lower import Unsupported, lower_region

# run_tensors allocates outputs with torch.empty and accepts these dtypes (by identity).
_braid.set_tensor_factory(torch.empty, torch_dtypes())


class RegionReport:
    """What happened to one partition: for braid.torch.explain."""

    def __init__(self, name, fx_nodes):
        self.name = name
        self.fx_nodes = fx_nodes     # names of the FX nodes in the partition
        self.compiled = False
        self.error = None            # why braid could not compile it
        self.braid_graph = None      # braid's graph after its passes
        self.schedule = None         # braid's kernels (grouping, fused epilogues)
        self.grouped = []            # [[FX node names]] of the GEMMs grouped into one
        self.fallbacks = {}          # reason -> calls that ran in PyTorch instead
        self.copies = 0              # non-contiguous inputs copied before a call
        self.recompiles = 0
        self.prepacked_bytes = 0     # braid's copy of the weights, packed for its GEMMs


def _grouped_gemms(graph_text):
    """[[value names]] per grouped_gemm in braid's printed graph, in GEMM order."""
    groups = {}
    for line in graph_text.splitlines():
        line = line.strip()
        if "= multi_output(" not in line:
            continue
        name = line.split("=", 1)[0].strip().lstrip("%")
        group = line.split("multi_output(", 1)[1].split(")", 1)[0].strip().lstrip("%")
        index = int(line.split("index = ", 1)[1].split("}", 1)[0]) if "index = " in line else 0
        groups.setdefault(group, []).append((index, name))
    return [[name for _, name in sorted(members)] for members in groups.values()]


# Every live region, so braid.torch.invalidate() can reach them.
_regions = weakref.WeakSet()

# Compiled graphs one region keeps, one per set of weights it has been called with: Dynamo
# reuses one graph for every instance of a module class (each layer of a model compiled on its
# own passes its own parameters to the same graph), so a region may serve many weight sets.
_MAX_WEIGHT_SETS = 64


class _Compiled:
    """One braid compilation of a region for one set of weights."""

    def __init__(self, graph, weights):
        self.graph = graph
        self.run_tensors = graph._compiled.run_tensors
        # Weak references: the cache must not keep a model's parameters alive.
        self.weights = [weakref.ref(w) for w in weights]

    def holds(self, weights):
        return all(ref() is w for ref, w in zip(self.weights, weights))


class BraidRegion(torch.nn.Module):
    def __init__(self, name, submodule, constants, report):
        """constants: {argument position: tensor} of the weights bound at compile time."""
        super().__init__()
        self.eager = submodule
        self.name = name
        self.report = report
        output = next(n for n in submodule.graph.nodes if n.op == "output")
        self._returns_tuple = isinstance(output.args[0], (tuple, list))
        self._cache = collections.OrderedDict()  # weight key -> _Compiled, least recent first
        self.region = None
        try:
            self.region = lower_region(name, submodule.graph, lambda i: i in constants)
        except Unsupported as e:
            self.report.error = str(e)
        self._positions = list(self.region.constants.values()) if self.region else []
        if self.region is not None:
            self._compiled_for([constants[p] for p in self._positions])
        _regions.add(self)

    def _key(self, weights):
        # Identity, storage and version: a replaced parameter, one whose .data was reassigned,
        # and one changed in place (under no_grad) all make a new key. (In-place changes through
        # `.data` bypass the version counter: braid.torch.invalidate() after those.)
        return tuple((id(w), w.data_ptr(), _version(w)) for w in weights)

    def _compiled_for(self, weights):
        """The compilation for these weights: cached, or compiled now (None if it fails)."""
        key = self._key(weights)
        entry = self._cache.get(key)
        if entry is not None and entry.holds(weights):
            self._cache.move_to_end(key)
            return entry
        if self._cache:
            self.report.recompiles += 1
        try:
            bound = {name: weights[self._positions.index(pos)].detach()
                     for name, pos in self.region.constants.items()}
            for name, (value, dtype) in self.region.scalars.items():
                bound[name] = torch.tensor([value], dtype=torch_dtypes()[dtype])
            graph = braid.compile(self.region.text, bound)
        except braid.Error as e:
            self.report.compiled = False
            self.report.error = str(e)
            return None
        entry = _Compiled(graph, weights)
        self._cache[key] = entry
        while len(self._cache) > _MAX_WEIGHT_SETS:
            self._cache.popitem(last=False)
        self.report.compiled = True
        self.report.error = None
        self.report.braid_graph = graph.graph_text()
        self.report.schedule = graph.schedule_text()
        self.report.prepacked_bytes = graph.prepacked_bytes
        self.report.grouped = _grouped_gemms(self.report.braid_graph)
        return entry

    def invalidate(self):
        self._cache.clear()

    def _fall_back(self, reason, args):
        self.report.fallbacks[reason] = self.report.fallbacks.get(reason, 0) + 1
        return self.eager(*args)

    def forward(self, *args):
        if self.region is None:
            return self._fall_back(f"not compiled: {self.report.error}", args)
        if torch.is_grad_enabled() and any(
                isinstance(a, torch.Tensor) and a.requires_grad for a in args):
            return self._fall_back("autograd is recording and an operand requires grad "
                                   "(braid is inference-only: use torch.no_grad())", args)
        entry = self._compiled_for([args[p] for p in self._positions])
        if entry is None:
            return self._fall_back(f"not compiled: {self.report.error}", args)
        inputs = [args[i] for i in self.region.inputs]
        for j, dtype in self.region.scalar_inputs.items():  # a float Dynamo left symbolic
            inputs[j] = torch.tensor([inputs[j]], dtype=torch_dtypes()[dtype])
        for j, dtype in self.region.bool_masks.items():  # True attends: 0, else -inf
            mask = inputs[j]
            inputs[j] = torch.zeros(mask.shape, dtype=torch_dtypes()[dtype]).masked_fill_(
                ~mask, float("-inf"))
        for j, tensor in enumerate(inputs):
            if not tensor.is_cpu:
                return self._fall_back(f"a {tensor.device.type} input (braid runs on the CPU)",
                                       args)
            if not tensor.is_contiguous():
                self.report.copies += 1
                inputs[j] = tensor.contiguous()
        outputs = entry.run_tensors(inputs)  # checks dtypes and shapes; allocates the outputs
        return tuple(outputs) if self._returns_tuple else outputs[0]


def invalidate():
    """Forgets every compilation braid.torch made for particular weights, so the next call
    recompiles from the parameters' current values. Needed only after changing weights in a way
    PyTorch does not record (through `.data`, e.g. `p.data.copy_(w)`); replacing a parameter or
    changing it in place under torch.no_grad() is noticed by itself."""
    for region in list(_regions):
        region.invalidate()


def _version(tensor):
    try:
        return tensor._version
    except RuntimeError:  # an inference tensor: it cannot change in place outside inference mode
        return -1
