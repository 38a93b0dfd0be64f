"""Weight-only int8 models through torch.compile(backend="braid"): a quantised linear written as
`F.linear(x, self.qweight.to(x.dtype) * self.scale)` with the int8 weight and its per-channel
scale in module buffers. braid binds those buffers at compile time, folds the dequantisation
into the GEMM (the weight stays int8 in the kernel, the scale goes to the epilogue) and still
groups gate/up; results are compared with eager PyTorch (fp32), and in bf16 with the fp32
computation on the same weights (braid no further off than eager bf16)."""
import pytest
import torch
import torch.nn.functional as F

import braid.torch


class Int8Linear(torch.nn.Module):
    def __init__(self, out_features, in_features, dtype):
        super().__init__()
        w = torch.randn(out_features, in_features) / in_features ** 0.5
        s = w.abs().amax(dim=1, keepdim=True) / 127
        self.register_buffer("qweight", torch.round(w / s).clamp(-127, 127).to(torch.int8))
        self.register_buffer("scale", s.to(dtype))

    def forward(self, x):
        return F.linear(x, self.qweight.to(x.dtype) * self.scale)


class Int8Mlp(torch.nn.Module):
    def __init__(self, dtype, hidden=64, inter=96):
        super().__init__()
        self.gate = Int8Linear(inter, hidden, dtype)
        self.up = Int8Linear(inter, hidden, dtype)
        self.down = Int8Linear(hidden, inter, dtype)

    def forward(self, x):
        return x + self.down(F.silu(self.gate(x)) * self.up(x))


def _relative_rms(got, want):
    return ((got.float() - want.float()).norm() / want.float().norm()).item()


@torch.no_grad()
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_int8_weight_mlp_keeps_int8_in_the_grouped_gemm(dtype):
    torch.manual_seed(0)
    model = Int8Mlp(dtype).eval()
    x = torch.randn(7, 64).to(dtype)
    explanation = braid.torch.explain(model, x)
    assert explanation.left_to_pytorch == {}
    (region,) = explanation.regions
    assert explanation.grouped == [["linear", "linear_1"]]
    # Two kernels: the grouped gate/up GEMM reading the int8 weights and scales (no pointwise
    # kernel dequantising them), then down_proj with the residual.
    kernels = [line for line in region.schedule.splitlines() if line.startswith("kernel")]
    assert len(kernels) == 2, region.schedule
    assert "grouped_gemm" in kernels[0] and "gate_qweight" in kernels[0] and "gate_scale" in kernels[0]
    compiled = torch.compile(model, backend="braid")
    if dtype == torch.float32:
        for rows in (1, 7, 33):
            x = torch.randn(rows, 64)
            torch.testing.assert_close(compiled(x), model(x), rtol=1e-4, atol=1e-5)
    else:
        # The fp32 computation on the same int8 weights and scales; eager bf16 rounds the
        # dequantised weight to bf16, braid applies the scale to the f32 accumulator.
        reference = Int8Mlp(torch.float32).eval()
        reference.load_state_dict({k: v.float() if v.is_floating_point() else v
                                   for k, v in model.state_dict().items()})
        for rows in (1, 7, 33):
            x = torch.randn(rows, 64).bfloat16()
            want = reference(x.float())
            eager_error = _relative_rms(model(x), want)
            assert _relative_rms(compiled(x), want) <= 2 * eager_error + 1e-3


@torch.no_grad()
@pytest.mark.parametrize("spelling", ["float", "type_as"])
def test_other_spellings_of_the_conversion_fold_too(spelling):
    class Spelled(Int8Linear):
        def forward(self, x):
            w = self.qweight.float() if spelling == "float" else self.qweight.type_as(x)
            return F.linear(x, w * self.scale)

    torch.manual_seed(0)
    model = Spelled(24, 32, torch.float32).eval()
    x = torch.randn(5, 32)
    torch.testing.assert_close(torch.compile(model, backend="braid")(x), model(x), rtol=1e-4, atol=1e-5)
    (region,) = braid.torch.explain(model, x).regions
    kernels = [line for line in region.schedule.splitlines() if line.startswith("kernel")]
    assert len(kernels) == 1 and "qweight" in kernels[0] and "scale" in kernels[0], region.schedule


@torch.no_grad()
def test_a_buffer_the_graph_writes_is_read_at_run_time():
    # A buffer the graph changes in place is an input of braid's region, not a constant (bound
    # as one, every call would change it and recompile the region).
    from braid.torch import _kernel

    class Drifting(Int8Linear):
        def forward(self, x):
            y = F.linear(x, self.qweight.to(x.dtype) * self.scale)
            self.qweight.neg_()
            return y

    torch.manual_seed(0)
    eager, braid_model = Drifting(16, 32, torch.float32).eval(), Drifting(16, 32, torch.float32).eval()
    braid_model.load_state_dict(eager.state_dict())
    before = set(_kernel._regions)
    compiled = torch.compile(braid_model, backend="braid")
    x = torch.randn(3, 32)
    for _ in range(4):
        torch.testing.assert_close(compiled(x), eager(x), rtol=1e-4, atol=1e-5)
    (region,) = [r for r in _kernel._regions if r not in before]
    assert region.report.compiled and region.report.recompiles == 0


@torch.no_grad()
def test_int8_arithmetic_is_left_to_pytorch():
    class Int8Sum(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("q", torch.randint(-100, 100, (8, 16), dtype=torch.int8))

        def forward(self, x):
            doubled = self.q * 2  # int8 arithmetic: PyTorch's (wrapping) meaning, not braid's
            return F.linear(x, doubled.to(x.dtype))

    model = Int8Sum().eval()
    x = torch.randn(4, 16)
    explanation = braid.torch.explain(model, x)
    assert any("int8 result" in reason for reason in explanation.left_to_pytorch.values())
    torch.testing.assert_close(torch.compile(model, backend="braid")(x), model(x))
