"""What braid.torch did with each graph Dynamo (or torch.fx) gave it: for explain()."""


class GraphReport:
    def __init__(self, index):
        self.index = index
        self.fx_nodes = 0
        self.regions = []          # RegionReport per partition braid was given
        self.left_to_pytorch = {}  # FX node name -> why PyTorch runs it
        self.error = None          # the backend itself failed: the whole graph ran in PyTorch

    def __str__(self):
        lines = [f"graph {self.index}: {self.fx_nodes} FX nodes, "
                 f"{sum(r.compiled for r in self.regions)} braid region(s), "
                 f"{len(self.left_to_pytorch)} node(s) left to PyTorch"]
        if self.error:
            lines.append(f"  backend failed, the graph runs in PyTorch: {self.error}")
        for region in self.regions:
            lines.append(f"  region {region.name}: {', '.join(region.fx_nodes)}")
            if not region.compiled:
                lines.append(f"    not compiled, runs in PyTorch: {region.error}")
                continue
            for group in region.grouped:
                lines.append(f"    grouped GEMM: {' + '.join(group)}")
            lines.extend("    " + line for line in region.schedule.strip().splitlines())
            for reason, calls in region.fallbacks.items():
                lines.append(f"    {calls} call(s) ran in PyTorch: {reason}")
            if region.copies:
                lines.append(f"    {region.copies} non-contiguous input(s) copied")
            if region.recompiles:
                lines.append(f"    recompiled {region.recompiles} time(s): a weight changed")
        for name, reason in self.left_to_pytorch.items():
            lines.append(f"  PyTorch: {reason}" if reason.startswith(name + ":")
                         else f"  PyTorch: {name}: {reason}")
        return "\n".join(lines)


class Explanation:
    """Reports of the graphs compiled by one explain() call."""

    def __init__(self, graphs):
        self.graphs = list(graphs)

    @property
    def regions(self):
        return [r for g in self.graphs for r in g.regions]

    @property
    def grouped(self):
        """[[FX node names]] of every grouped GEMM braid made."""
        return [group for r in self.regions for group in r.grouped]

    @property
    def left_to_pytorch(self):
        merged = {}
        for g in self.graphs:
            merged.update(g.left_to_pytorch)
        return merged

    def __str__(self):
        if not self.graphs:
            return "no graph reached the braid backend (Dynamo compiled nothing)"
        return "\n".join(str(g) for g in self.graphs)
