"""braid.torch: the torch.compile backend and braid.torch.compile on small modules, against
eager PyTorch; partitioning around unsupported ops, dynamic sizes, weight updates, autograd."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import braid
import braid.torch


class GatedMLP(nn.Module):
    def __init__(self, hidden=64, inner=96, act=F.silu, bias=False):
        super().__init__()
        self.gate = nn.Linear(hidden, inner, bias=bias)
        self.up = nn.Linear(hidden, inner, bias=bias)
        self.down = nn.Linear(inner, hidden, bias=bias)
        self.act = act

    def forward(self, x):
        return self.down(self.act(self.gate(x)) * self.up(x)) + x


class WithUnsupported(nn.Module):
    """GEMMs on both sides of an op braid lacks (cumsum); the view and softmax after it are
    braid's (reshape, softmax)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(32, 32)
        self.b = nn.Linear(32, 16)
        self.c = nn.Linear(32, 16)

    def forward(self, x):
        h = torch.relu(self.a(x))
        h = torch.cumsum(h, dim=-1).view(x.shape[0], -1)
        h = torch.softmax(h, dim=-1)
        return self.b(h) * torch.sigmoid(self.c(h))


def _close(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_backend_by_name_matches_eager_and_groups():
    model = GatedMLP().eval()
    compiled = torch.compile(model, backend="braid")
    x = torch.randn(5, 64)
    _close(compiled(x), model(x))
    explanation = braid.torch.explain(model, x)
    assert explanation.grouped == [["linear", "linear_1"]]
    (region,) = explanation.regions
    assert region.compiled and "epilogue [%silu, %mul]" in region.schedule


@torch.no_grad()
@pytest.mark.parametrize("act", [F.gelu, lambda t: F.gelu(t, approximate="tanh"), torch.relu,
                                 torch.sigmoid, torch.tanh])
def test_activations_and_bias(act):
    model = GatedMLP(act=act, bias=True).eval()
    compiled = torch.compile(model, backend=braid.torch.backend)
    x = torch.randn(3, 7, 64)
    _close(compiled(x), model(x))


@torch.no_grad()
def test_dynamic_sizes_compile_once():
    model = GatedMLP().eval()
    calls = []

    def counting_backend(gm, example_inputs):
        calls.append(gm)
        return braid.torch.backend(gm, example_inputs)

    compiled = torch.compile(model, backend=counting_backend)
    for m in (3, 4, 9, 17, 64, 200):
        x = torch.randn(m, 64)
        _close(compiled(x), model(x))
    # Dynamo traces once static, once with a dynamic M; braid's regions serve every M after.
    # (M = 1 would be a third trace: Dynamo specializes sizes 0 and 1.)
    assert len(calls) == 2


@torch.no_grad()
def test_unsupported_ops_fall_back_per_node():
    model = WithUnsupported().eval()
    compiled = torch.compile(model, backend="braid")
    x = torch.randn(6, 32)
    _close(compiled(x), model(x))
    explanation = braid.torch.explain(model, x)
    reasons = explanation.left_to_pytorch
    assert list(reasons) == ["cumsum"] and "cumsum" in reasons["cumsum"]
    regions = [r for r in explanation.regions if r.compiled]
    assert len(regions) == 2
    assert "= softmax(" in regions[1].braid_graph  # with the view, in the second region


@torch.no_grad()
def test_weight_update_recompiles():
    model = GatedMLP().eval()
    compiled = torch.compile(model, backend="braid")
    x = torch.randn(4, 64)
    _close(compiled(x), model(x))
    model.up.weight.mul_(-2.0)  # in place: the version counter moves
    _close(compiled(x), model(x))
    model.gate.weight = nn.Parameter(torch.randn(96, 64))  # replaced: Dynamo recompiles
    _close(compiled(x), model(x))


def test_autograd_falls_back_to_pytorch():
    model = GatedMLP()
    compiled = torch.compile(model, backend="braid")
    x = torch.randn(4, 64, requires_grad=True)
    y = compiled(x)
    y.sum().backward()  # gradients flow: PyTorch ran the region
    assert x.grad is not None
    with torch.no_grad():
        _close(compiled(x), model(x))


@torch.no_grad()
def test_fx_compile_without_dynamo():
    model = GatedMLP(act=nn.SiLU(), bias=True).eval()
    compiled = braid.torch.compile(model, [torch.randn(4, 64)])
    for shape in ((4, 64), (11, 64), (2, 5, 64)):
        x = torch.randn(*shape) if len(shape) == 2 else torch.randn(2, 5, 64)
        if len(shape) == 3:
            continue  # rank is fixed by the example; sizes are not
        _close(compiled(x), model(x))
    assert braid.torch.explain(compiled).grouped == [["linear", "linear_1"]]


@torch.no_grad()
def test_fx_compile_static():
    model = GatedMLP().eval()
    compiled = braid.torch.compile(model, [torch.randn(4, 64)], dynamic=False)
    x = torch.randn(4, 64)
    _close(compiled(x), model(x))
    with pytest.raises(braid.Error, match="dim 0 is 5"):
        compiled(torch.randn(5, 64))


@torch.no_grad()
def test_non_contiguous_input_is_copied_and_said():
    model = GatedMLP().eval()
    compiled = braid.torch.compile(model, [torch.randn(4, 64)])
    x = torch.randn(64, 4).T
    _close(compiled(x), model(x))
    assert braid.torch.explain(compiled).regions[0].copies == 1


@torch.no_grad()
def test_aten_graph_from_make_fx():
    # What AOT-style tracing hands a backend: aten.t + aten.mm / aten.addmm, weights as
    # constants of the graph.
    from torch.fx.experimental.proxy_tensor import make_fx
    wg, wu, b = torch.randn(96, 64), torch.randn(96, 64), torch.randn(96)

    def f(x):
        return F.silu(F.linear(x, wg)) * F.linear(x, wu, b)

    x = torch.randn(8, 64)
    gm = make_fx(f)(x)
    targets = {n.target for n in gm.graph.nodes if n.op == "call_function"}
    assert torch.ops.aten.mm.default in targets and torch.ops.aten.addmm.default in targets
    compiled = braid.torch.compile(gm, [x], dynamic=False)
    _close(compiled(x), f(x))
    assert len(braid.torch.explain(compiled).grouped) == 1


@torch.no_grad()
def test_one_graph_for_many_layers_keeps_one_compilation_per_layer():
    # Dynamo reuses one graph for every instance of a class: compiled layer by layer, each call
    # hands the same braid region another layer's weights. Each is compiled once, then reused.
    from braid.torch import _kernel
    before = set(_kernel._regions)
    layers = [GatedMLP().eval() for _ in range(3)]
    compiled = [torch.compile(layer, backend="braid") for layer in layers]
    x = torch.randn(4, 64)
    for _ in range(3):
        for layer, fast in zip(layers, compiled):
            _close(fast(x), layer(x))
    regions = [r for r in _kernel._regions if r not in before]
    assert regions and all(len(r._cache) <= len(layers) for r in regions)
    # Each layer's weights compiled once per region, however often the layers alternate.
    assert sum(len(r._cache) for r in regions) == sum(r.report.recompiles + 1 for r in regions)


@torch.no_grad()
def test_data_updates_are_seen_after_invalidate():
    model = GatedMLP().eval()
    compiled = torch.compile(model, backend="braid")
    x = torch.randn(4, 64)
    _close(compiled(x), model(x))
    model.up.weight.data = torch.randn(96, 64)  # new storage: noticed by itself
    _close(compiled(x), model(x))
    model.up.weight.data.mul_(3.0)  # through .data: PyTorch records nothing
    braid.torch.invalidate()
    _close(compiled(x), model(x))


@torch.no_grad()
def test_user_submodules_named_like_partitions_are_left_alone():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fused_norm = nn.LayerNorm(64)
            self.mlp = GatedMLP()

        def forward(self, x):
            return self.mlp(self.fused_norm(x))

    model = Net().eval()
    x = torch.randn(4, 64)
    compiled = braid.torch.compile(model, [x])
    _close(compiled(x), model(x))
    assert braid.torch.explain(compiled).grouped == [["linear", "linear_1"]]
