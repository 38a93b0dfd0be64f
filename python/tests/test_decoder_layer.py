"""A whole Hugging Face LlamaDecoderLayer (RMSNorm, Q/K/V, rotary embedding, KV cache append,
grouped-query attention, MLP) as one braid region, for eager and sdpa attention: compiled with
torch.compile(backend="braid") and compared with eager PyTorch (fp32: rtol 1e-4, atol 1e-5) at
prefill and at decode against a DynamicCache; explain must show nothing inside a layer left to
PyTorch, and what braid does not take must say why."""
import copy
import operator

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import braid
import braid.torch
from braid.torch._kernel import BraidRegion

transformers = pytest.importorskip("transformers")  # installed by tools/setup_python.sh
from test_models import SMALL  # noqa: E402  (the tests' directory is on sys.path)
from transformers.cache_utils import DynamicCache  # noqa: E402
from transformers.models.llama.modeling_llama import (LlamaDecoderLayer,  # noqa: E402
                                                      LlamaRotaryEmbedding)

ATTENTION = ["eager", "sdpa"]


def _close(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def _layer(attention):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(**SMALL, attn_implementation=attention)
    return LlamaDecoderLayer(config, layer_idx=0).eval(), LlamaRotaryEmbedding(config), config


def _inputs(rope, attention, past, t, batch=2):
    """Hidden states for positions past .. past + t, and the layer's keyword arguments as
    LlamaModel passes them: an additive causal mask for eager attention, none for sdpa (which
    then uses is_causal at prefill)."""
    x = torch.randn(batch, t, SMALL["hidden_size"])
    cos, sin = rope(x, torch.arange(past, past + t)[None].expand(batch, t))
    mask = torch.full((t, past + t), float("-inf")).triu(past + 1)
    mask = mask[None, None].expand(batch, 1, t, past + t)
    return x, dict(attention_mask=mask if attention == "eager" else None,
                   position_embeddings=(cos, sin))


def _tensor_nodes_left(explanation):
    """FX nodes computing tensors that PyTorch ran (size arithmetic aside)."""
    return {name: reason for name, reason in explanation.left_to_pytorch.items()
            if "computes a size" not in reason}


@torch.no_grad()
@pytest.mark.parametrize("attention", ATTENTION)
def test_prefill_matches_eager(attention):
    layer, rope, _ = _layer(attention)
    compiled = torch.compile(layer, backend="braid")
    for t in (7, 5, 12):  # 7 static, then dynamic sequence lengths
        x, kwargs = _inputs(rope, attention, 0, t)
        _close(compiled(x, **kwargs), layer(x, **kwargs))


@torch.no_grad()
@pytest.mark.parametrize("attention", ATTENTION)
def test_dynamic_true_keeps_the_layer_whole(attention):
    # Under dynamic=True Dynamo passes the RMSNorm eps (and eager attention's scale) as floats
    # read with .item() at run time: braid takes them as one-element inputs.
    layer, rope, _ = _layer(attention)
    graphs = []

    def capturing_backend(gm, example_inputs):
        compiled = braid.torch.backend(gm, example_inputs)
        graphs.append(compiled.__self__)
        return compiled

    compiled = torch.compile(layer, backend=capturing_backend, dynamic=True)
    for t in (7, 3):
        x, kwargs = _inputs(rope, attention, 0, t)
        _close(compiled(x, **kwargs), layer(x, **kwargs))
    (graph,) = graphs
    left = {n.target for n in graph.graph.nodes if n.op in ("call_function", "call_method")}
    assert {t for t in left if not isinstance(getattr(t, "__self__", None), BraidRegion)} == \
        {"item"}


@torch.no_grad()
@pytest.mark.parametrize("attention", ATTENTION)
def test_decode_with_cache_matches_eager(attention):
    layer, rope, config = _layer(attention)
    compiled = torch.compile(layer, backend="braid")
    eager_cache, braid_cache = DynamicCache(config=config), DynamicCache(config=config)
    past = 0
    for t in (7, 1, 1, 1):  # prefill, then one token at a time against the grown cache
        x, kwargs = _inputs(rope, attention, past, t)
        expected = layer(x, cache=eager_cache, **kwargs)
        _close(compiled(x, cache=braid_cache, **kwargs), expected)
        _close(braid_cache.layers[0].keys, eager_cache.layers[0].keys)
        _close(braid_cache.layers[0].values, eager_cache.layers[0].values)
        past += t
    assert braid_cache.get_seq_length() == 10


@torch.no_grad()
@pytest.mark.parametrize("attention", ATTENTION)
def test_layer_is_one_region(attention):
    layer, rope, config = _layer(attention)
    x, kwargs = _inputs(rope, attention, 0, 7)
    explanation = braid.torch.explain(layer, x, **kwargs)
    (region,) = explanation.regions
    assert region.compiled and not region.fallbacks, str(explanation)
    assert not explanation.left_to_pytorch, str(explanation)
    assert [len(g) for g in explanation.grouped] == [3, 2]  # Q/K/V and gate/up
    if attention == "sdpa":
        assert "= attention(" in region.braid_graph
    # Each RMSNorm's rsqrt(mean(x²) + eps) is one rms_scale row kernel; the q/k/v transposes and
    # the rotary embedding are the Q/K/V GEMM's epilogue: no copy and no pointwise kernel.
    assert _kernel_kinds(region) == ["reduction", "grouped_gemm", "attention", "gemm", "reduction",
                                     "grouped_gemm", "gemm"], region.schedule
    assert "q_embed" in _kernel_line(region, "grouped_gemm") and "k_embed" in _kernel_line(region, "grouped_gemm")

    # Decode: the cache's keys and values are inputs, the grown ones outputs of the region.
    cache = DynamicCache(config=config)
    layer(x, cache=cache, **kwargs)
    x, kwargs = _inputs(rope, attention, 7, 1)
    explanation = braid.torch.explain(layer, x, cache=cache, **kwargs)
    (region,) = explanation.regions
    assert region.compiled and not region.fallbacks, str(explanation)
    assert not _tensor_nodes_left(explanation), str(explanation)
    assert "concat(" in region.braid_graph


@torch.no_grad()
@pytest.mark.parametrize("attention", ATTENTION)
def test_causal_lm_layers_run_in_braid(attention):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(**SMALL, attn_implementation=attention)
    model = transformers.LlamaForCausalLM(config).eval()
    ids = torch.randint(0, SMALL["vocab_size"], (2, 7))
    graphs = []

    def capturing_backend(gm, example_inputs):
        compiled = braid.torch.backend(gm, example_inputs)
        graphs.append(compiled.__self__)  # the partitioned module: what is left runs in PyTorch
        return compiled

    _close(torch.compile(model, backend=capturing_backend)(ids).logits, model(ids).logits)
    # Embedding, rotary cos/sin and the mask stay PyTorch; nothing of a decoder layer does but
    # the empty tensors the cache starts from and the unpacking of a region's outputs.
    def region_call(node):
        return isinstance(node, torch.fx.Node) and isinstance(
            getattr(node.target, "__self__", None), BraidRegion)

    def in_layer(node):
        value = node.meta.get("example_value")
        return (node.op in ("call_function", "call_method") and hasattr(value, "shape") and
                value.numel() > 0 and not region_call(node) and
                not (node.target is operator.getitem and region_call(node.args[0])) and
                any(cls is LlamaDecoderLayer
                    for _, cls in node.meta.get("nn_module_stack", {}).values()))

    regions = [n.target.__self__ for g in graphs for n in g.graph.nodes if region_call(n)]
    assert regions and all(r.report.compiled and not r.report.fallbacks for r in regions)
    in_layers = [n.name for g in graphs for n in g.graph.nodes if in_layer(n)]
    assert not in_layers


@torch.no_grad()
def test_aten_decoder_layer_from_make_fx():
    # AOT-style aten: mm of transposed weights, bmm, _softmax, clone, _unsafe_view, slice.
    from torch.fx.experimental.proxy_tensor import make_fx
    layer, rope, _ = _layer("eager")
    x, kwargs = _inputs(rope, "eager", 0, 7)
    cos, sin = kwargs["position_embeddings"]
    mask = kwargs["attention_mask"].contiguous()

    def f(x, cos, sin, mask):
        return layer(x, attention_mask=mask, position_embeddings=(cos, sin))

    gm = make_fx(f)(x, cos, sin, mask)
    compiled = braid.torch.compile(gm, [x, cos, sin, mask], dynamic=False)
    _close(compiled(x, cos, sin, mask), f(x, cos, sin, mask))
    explanation = braid.torch.explain(compiled)
    assert len(explanation.regions) == 1 and not explanation.left_to_pytorch, str(explanation)
    assert [len(g) for g in explanation.grouped] == [3, 2]  # one reshape of x for Q, K and V
    # Bad input is a braid error naming what is wrong, not a wrong result.
    with pytest.raises(braid.Error, match="dim 1 is 5"):
        compiled(x[:, :5], cos[:, :5], sin[:, :5], mask[..., :5, :5].contiguous())
    with pytest.raises(braid.Error, match="dtype"):
        compiled(x.double(), cos, sin, mask)


@torch.no_grad()
def test_mismatched_inputs_raise_as_in_eager():
    layer, rope, _ = _layer("eager")
    compiled = torch.compile(layer, backend="braid")
    x, kwargs = _inputs(rope, "eager", 0, 7)
    compiled(x, **kwargs)
    kwargs["attention_mask"] = torch.zeros(2, 1, 7, 8)  # one key too many
    for run in (layer, compiled):
        with pytest.raises(RuntimeError, match="must match the size"):
            run(x, **kwargs)


class Unsupported(nn.Module):
    """Attention and slicing forms braid does not take, each next to a GEMM."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 16)

    def forward(self, q, k, v):
        h = self.proj(q)
        b = F.scaled_dot_product_attention(h[:, :, :3], k, v, is_causal=True)  # 3 q, 5 keys
        c = h[..., ::2]  # a step
        return b, c


@torch.no_grad()
def test_unsupported_forms_say_why():
    model = Unsupported().eval()
    q, k, v = torch.randn(1, 2, 5, 16), torch.randn(1, 2, 5, 16), torch.randn(1, 2, 5, 16)
    expected = model(q, k, v)
    actual = torch.compile(model, backend="braid")(q, k, v)
    for a, e in zip(actual, expected):
        _close(a, e)
    reasons = " | ".join(braid.torch.explain(model, q, k, v).left_to_pytorch.values())
    assert "is_causal with 3 queries and 5 keys" in reasons
    assert "a slice with step 2" in reasons


class BoolMaskAttention(nn.Module):
    """sdpa with a boolean mask (True attends), as transformers passes one for padded batches."""

    def __init__(self, dtype):
        super().__init__()
        self.proj = nn.Linear(16, 16).to(dtype)

    def forward(self, q, k, v, bool_mask):
        return F.scaled_dot_product_attention(self.proj(q), k, v, attn_mask=bool_mask)


@torch.no_grad()
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("mask_shape", [(5, 7), (2, 1, 5, 7), (2, 3, 5, 7)])
def test_boolean_attention_mask(dtype, mask_shape):
    # braid's mask is additive: the region is handed 0 where the mask is True and -inf where it
    # is False, made at each call; one region, nothing left to PyTorch, eager's results.
    torch.manual_seed(0)
    model = BoolMaskAttention(dtype).eval()
    q, k, v = (torch.randn(2, 3, s, 16).to(dtype) for s in (5, 7, 7))
    for _ in range(2):  # a new mask each call: read at run time
        bool_mask = torch.rand(*mask_shape) > 0.4
        bool_mask[..., 0] = True  # every query sees a key (all False gives NaN in both)
        compiled = torch.compile(model, backend="braid")
        if dtype == torch.float32:
            _close(compiled(q, k, v, bool_mask), model(q, k, v, bool_mask))
        else:
            torch.testing.assert_close(compiled(q, k, v, bool_mask), model(q, k, v, bool_mask),
                                       rtol=2e-2, atol=2e-2)
    explanation = braid.torch.explain(model, q, k, v, bool_mask)
    assert explanation.left_to_pytorch == {} and len(explanation.regions) == 1
    assert "attention" in explanation.regions[0].schedule


class ShapeOps(nn.Module):
    """The other spellings the bridge lowers, under dynamic sizes."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(16, 16)
        self.w = nn.Parameter(torch.randn(16, 24) * 0.2)  # h @ w: a 2-D weight, a braid matmul

    def forward(self, x, mask):  # x [B, T, 16], mask [B, 1, T, 2T]
        h = self.proj(x)
        y = (h.flatten(0, 1) @ self.w).view(x.shape[0], x.shape[1], 24)  # dims B*T
        p = torch.softmax(y.to(torch.bfloat16), dim=-1, dtype=torch.float32)  # bf16 in, f32 out
        r = y.sum(-1) + y.amax(dim=-1) - torch.mean(y, dim=1, keepdim=True).squeeze(1)[:, :1]
        heads = h.view(x.shape[0], x.shape[1], 2, 8).permute(2, 0, 3, 1)
        q = h.unsqueeze(1).expand(-1, 2, -1, -1)
        kv = torch.cat([q, q], dim=2)  # [B, 2, 2T, 16]
        m = mask[:, :, :, :kv.shape[2]]  # the whole (symbolic) dim: no op
        a = F.scaled_dot_product_attention(q, kv, kv, attn_mask=m, scale=0.3)
        s = torch.matmul(q, kv.transpose(-1, -2)).pow(2).add(1.0).rsqrt()
        return p, r, heads, a, s, h[:, None, :, 1:3].contiguous()


@torch.no_grad()
def test_shape_ops_reductions_and_conversions_under_dynamic_sizes():
    model = ShapeOps().eval()
    compiled = torch.compile(model, backend="braid")
    for t, extra in ((5, 0), (6, 0), (9, 0), (9, 3)):  # a longer mask: the slice is not a no-op
        x, mask = torch.randn(2, t, 16), torch.randn(2, 1, t, 2 * t + extra)
        for actual, expected in zip(compiled(x, mask), model(x, mask)):
            _close(actual, expected)
    x, mask = torch.randn(2, 7, 16), torch.randn(2, 1, 7, 14)
    torch._dynamo.mark_dynamic(x, 1)  # explain's trace: dynamic from the start
    torch._dynamo.mark_dynamic(mask, 2)
    torch._dynamo.mark_dynamic(mask, 3)
    explanation = braid.torch.explain(model, x, mask)
    assert not _tensor_nodes_left(explanation), str(explanation)
    (region,) = explanation.regions
    assert region.compiled and "f32[2*s" in region.braid_graph, str(explanation)  # B*T


class FlatInput(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):  # the region's input is [B*T, 8]: braid cannot bind B and T from it
        return self.proj(torch.cumsum(x.flatten(0, 1), 0))


@torch.no_grad()
def test_sizes_braid_cannot_bind_fall_back_with_a_reason():
    model = FlatInput().eval()
    x = torch.randn(3, 4, 8)
    torch._dynamo.mark_dynamic(x, 0)
    torch._dynamo.mark_dynamic(x, 1)
    _close(torch.compile(model, backend="braid")(x), model(x))
    (region,) = braid.torch.explain(model, x).regions
    assert not region.compiled and "braid binds sizes from plain dims" in region.error


@torch.no_grad()
def _kernel_kinds(region):
    """The kinds of the region's kernels that run code (views are none)."""
    kinds = [line.split(":")[1].split()[0] for line in region.schedule.splitlines() if line.startswith("kernel")]
    return [k for k in kinds if k != "view"]


def _kernel_line(region, kind):
    return next(line for line in region.schedule.splitlines() if line.startswith("kernel") and f": {kind} " in line)


@pytest.mark.parametrize("attention", ATTENTION)
def test_bf16_layer_is_as_close_to_fp32_as_eager_bf16(attention):
    """The layer in bf16 (weights and activations; RMSNorm folded into the grouped GEMMs as a
    bf16 model writes it: x.float(), x·r rounded back to bf16, times the bf16 weight; eager
    attention's softmax in fp32 folded into the attention template): one braid region, and its
    error against the fp32 layer is about eager bf16's own."""
    layer, rope, _ = _layer(attention)
    x, kwargs = _inputs(rope, attention, 0, 7)
    want = layer(x, **kwargs)
    layer16 = copy.deepcopy(layer).to(torch.bfloat16)
    x16 = x.to(torch.bfloat16)
    kwargs16 = dict(kwargs, position_embeddings=tuple(t.to(torch.bfloat16) for t in kwargs["position_embeddings"]))
    if kwargs["attention_mask"] is not None:
        kwargs16["attention_mask"] = kwargs["attention_mask"].to(torch.bfloat16)
    eager = layer16(x16, **kwargs16).float()
    got = torch.compile(layer16, backend="braid")(x16, **kwargs16).float()

    def error(y):
        return ((y - want).norm() / want.norm()).item()

    print(f"relative error vs fp32: braid {error(got):.2e}, eager bf16 {error(eager):.2e}")
    assert error(eager) < 2e-2  # bf16 rounding, not a broken reference
    assert error(got) <= 1.5 * error(eager) + 1e-3, (error(got), error(eager))
    explanation = braid.torch.explain(layer16, x16, **kwargs16)
    assert not _tensor_nodes_left(explanation)
    # The same 7 kernels as fp32: the bf16 row factor is converted as its reduction stores it.
    (region,) = explanation.regions
    assert _kernel_kinds(region) == ["reduction", "grouped_gemm", "attention", "gemm", "reduction",
                                     "grouped_gemm", "gemm"], region.schedule


class RowFactors(nn.Module):
    """RMSNorm row factors as models write them, and near misses that must stay rsqrt (after a
    linear: a region needs a GEMM to be worth compiling)."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(24, 24)

    def forward(self, x):
        x = self.proj(x)
        rms = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)           # rms_scale
        rms16 = torch.rsqrt(x.bfloat16().float().pow(2).mean(-1, keepdim=True) + 1e-5)  # of bf16 x
        quartic = torch.rsqrt(x.pow(4).mean(-1, keepdim=True) + 1e-6)      # not a square
        first = torch.rsqrt(x.pow(2).mean(1, keepdim=True) + 1e-6)          # not the last dim
        return x * rms, rms16, quartic, first


@torch.no_grad()
def test_rms_statistics_become_rms_scale():
    model = RowFactors().eval()
    x = torch.randn(2, 5, 24)
    for actual, expected in zip(torch.compile(model, backend="braid")(x), model(x)):
        _close(actual, expected)
    (region,) = braid.torch.explain(model, x).regions
    graph = region.braid_graph
    assert graph.count("rms_scale(") == 2 and "eps = 1e-06" in graph and "eps = 1e-05" in graph, graph
    assert graph.count("rsqrt(") == 2, graph  # the quartic and the first dim
