"""Zero extra weight copies: compiling a model through the bridge grows the process by braid's
packed weights (read straight from the parameters' storage) and little else."""
import gc
import re

import torch
import torch.nn as nn
import torch.nn.functional as F

import braid.torch


def _rss_bytes():
    with open("/proc/self/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024


class MLP(nn.Module):
    def __init__(self, hidden, inner):
        super().__init__()
        self.gate = nn.Linear(hidden, inner, bias=False)
        self.up = nn.Linear(hidden, inner, bias=False)
        self.down = nn.Linear(inner, hidden, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


@torch.no_grad()
def test_compiling_grows_rss_by_the_packed_weights_only():
    warm = MLP(64, 128).eval()  # Dynamo's, LLVM's and the pool's one-time allocations
    torch.compile(warm, backend="braid")(torch.randn(2, 64))
    model = MLP(1024, 2816).eval()  # 33 MiB of weights
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    gc.collect()
    before = _rss_bytes()
    compiled = braid.torch.compile(model, [torch.randn(16, 1024)])
    compiled(torch.randn(16, 1024))
    growth = _rss_bytes() - before
    (region,) = braid.torch.explain(compiled).regions
    assert region.prepacked_bytes >= weight_bytes
    # The packed weights, plus 8 MiB for code, run buffers and Python objects.
    assert growth <= region.prepacked_bytes + (8 << 20), (growth, region.prepacked_bytes)
