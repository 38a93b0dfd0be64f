"""One FX partition run by braid, standing in for the submodule the partitioner made of it.

It compiles the partition once, with the weights it reads (parameters) bound as braid constants
(prepacked straight from the parameter's storage), and then on each call hands braid the
runtime tensors without copying them. It falls back to the original submodule (eager PyTorch)
when braid cannot take the call, saying why in the region's report:
- autograd is recording and an operand requires grad (braid is inference-only);
- braid could not compile the partition (its error message is kept).
A weight that changed since compilation (another tensor, or its version counter moved: an
in-place update) is recompiled before the call, never read stale.
"""
import torch

import braid
from braid import _braid
from braid.torch._lower import Unsupported, lower_region

# run_tensors allocates outputs with torch.empty and accepts these dtypes (by identity).
_braid.set_tensor_factory(torch.empty, {"f32": torch.float32, "bf16": torch.bfloat16,
                                        "f16": torch.float16, "i8": torch.int8,
                                        "i32": torch.int32})


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


class BraidRegion(torch.nn.Module):
    def __init__(self, name, submodule, constants, report):
        """constants: {argument position: tensor} of the weights bound at compile time."""
        super().__init__()
        self.eager = submodule
        self.name = name
        self.report = report
        output = next(n for n in submodule.graph.nodes if n.op == "output")
        self._returns_tuple = isinstance(output.args[0], (tuple, list))
        self._compile(constants)

    def _compile(self, constants):
        self.compiled = None
        self.region = None
        self.watched = []
        try:
            region = lower_region(self.name, self.eager.graph, lambda i: i in constants)
            bound = {name: constants[pos].detach() for name, pos in region.constants.items()}
            for name, (value, dtype) in region.scalars.items():
                bound[name] = torch.tensor(
                    [value], dtype=torch.bfloat16 if dtype == "bf16" else torch.float32)
            self.compiled = braid.compile(region.text, bound)
            self._run_tensors = self.compiled._compiled.run_tensors
            self.region = region
            self.watched = [(pos, constants[pos], _version(constants[pos]))
                            for pos in region.constants.values()]
            self.report.compiled = True
            self.report.error = None
            self.report.braid_graph = self.compiled.graph_text()
            self.report.schedule = self.compiled.schedule_text()
            self.report.prepacked_bytes = self.compiled.prepacked_bytes
            self.report.grouped = [g for g in _grouped_gemms(self.report.braid_graph)]
        except (Unsupported, braid.Error) as e:
            self.report.compiled = False
            self.report.error = str(e)

    def _fall_back(self, reason, args):
        self.report.fallbacks[reason] = self.report.fallbacks.get(reason, 0) + 1
        return self.eager(*args)

    def forward(self, *args):
        if self.compiled is None:
            return self._fall_back(f"not compiled: {self.report.error}", args)
        if torch.is_grad_enabled() and any(
                isinstance(a, torch.Tensor) and a.requires_grad for a in args):
            return self._fall_back("autograd is recording and an operand requires grad "
                                   "(braid is inference-only: use torch.no_grad())", args)
        for pos, tensor, version in self.watched:
            current = args[pos]
            if current is not tensor or _version(current) != version:
                self.report.recompiles += 1
                self._compile({p: args[p] for p in self.region.constants.values()})
                if self.compiled is None:
                    return self._fall_back(f"recompile failed: {self.report.error}", args)
                break
        inputs = [args[i] for i in self.region.inputs]
        for j, tensor in enumerate(inputs):
            if not tensor.is_cpu:
                return self._fall_back(f"a {tensor.device.type} input (braid runs on the CPU)",
                                       args)
            if not tensor.is_contiguous():
                self.report.copies += 1
                inputs[j] = tensor.contiguous()
        outputs = self._run_tensors(inputs)  # checks dtypes and shapes; allocates the outputs
        return tuple(outputs) if self._returns_tuple else outputs[0]


def _version(tensor):
    try:
        return tensor._version
    except RuntimeError:  # an inference tensor: it cannot change in place outside inference mode
        return -1
