"""Hugging Face models built from small configs (random weights, nothing downloaded), compiled
with torch.compile(backend="braid") and compared with eager PyTorch (fp32: rtol 1e-4); explain
must show the MLP's gate/up and attention's Q/K/V grouped."""
import pytest
import torch

import braid.torch

transformers = pytest.importorskip("transformers")  # installed by tools/setup_python.sh

SMALL = dict(hidden_size=64, intermediate_size=172, num_attention_heads=4,
             num_key_value_heads=2, num_hidden_layers=2, vocab_size=128,
             max_position_embeddings=64)


def _close(actual, expected):
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


def _groups_of_size(explanation, size):
    return [g for g in explanation.grouped if len(g) == size]


@torch.no_grad()
def test_llama_mlp():
    from transformers.models.llama.modeling_llama import LlamaMLP
    torch.manual_seed(0)
    mlp = LlamaMLP(transformers.LlamaConfig(**SMALL)).eval()
    compiled = torch.compile(mlp, backend="braid")
    for shape in ((1, 1, 64), (2, 5, 64), (3, 9, 64)):
        x = torch.randn(*shape)
        _close(compiled(x), mlp(x))
    explanation = braid.torch.explain(mlp, torch.randn(2, 5, 64))
    assert len(explanation.grouped) == 1 and len(explanation.grouped[0]) == 2  # gate + up
    assert "epilogue [%silu, %mul]" in explanation.regions[0].schedule


@torch.no_grad()
@pytest.mark.parametrize("family", ["llama", "qwen2", "gemma"])
def test_causal_lm_forward(family):
    torch.manual_seed(0)
    if family == "llama":
        config = transformers.LlamaConfig(**SMALL)
        model = transformers.LlamaForCausalLM(config)
    elif family == "qwen2":  # Q/K/V with bias, K/V narrower than Q
        config = transformers.Qwen2Config(**SMALL)
        model = transformers.Qwen2ForCausalLM(config)
    else:  # GeGLU with gelu_tanh
        config = transformers.GemmaConfig(**SMALL, head_dim=16,
                                          hidden_activation="gelu_pytorch_tanh")
        model = transformers.GemmaForCausalLM(config)
    model.eval()
    ids = torch.randint(0, SMALL["vocab_size"], (2, 7))
    expected = model(ids).logits
    compiled = torch.compile(model, backend="braid")
    _close(compiled(ids).logits, expected)

    explanation = braid.torch.explain(model, ids)
    layers = SMALL["num_hidden_layers"]
    assert len(_groups_of_size(explanation, 3)) == layers, str(explanation)  # Q/K/V
    assert len(_groups_of_size(explanation, 2)) == layers, str(explanation)  # gate/up
    assert all(r.compiled for r in explanation.regions), str(explanation)


@torch.no_grad()
def test_padded_batch_runs_in_braid():
    # A left-padded batch: transformers hands sdpa a boolean mask, and the padding queries see
    # no key at all. braid takes the mask (made additive per call) and, as sdpa, gives those
    # queries 0 rather than NaN, which would reach every row of the sequence through the
    # padded positions' K/V in the next layer. Every logit, padding rows included, is eager's.
    torch.manual_seed(0)
    config = transformers.LlamaConfig(**SMALL, attn_implementation="sdpa")
    model = transformers.LlamaForCausalLM(config).eval()
    ids = torch.randint(0, SMALL["vocab_size"], (2, 9))
    attention_mask = torch.ones(2, 9, dtype=torch.long)
    attention_mask[1, :3] = 0
    expected = model(input_ids=ids, attention_mask=attention_mask).logits
    compiled = torch.compile(model, backend="braid")
    _close(compiled(input_ids=ids, attention_mask=attention_mask).logits, expected)
    explanation = braid.torch.explain(model, input_ids=ids, attention_mask=attention_mask)
    # One region for both layers: attention is not cut out (the mask is made in PyTorch).
    assert len(explanation.regions) == 1, str(explanation)
    # Greedy generation of the padded batch against a KV cache: eager's tokens.
    tokens = dict(input_ids=ids[:, :6], attention_mask=attention_mask[:, :6], max_new_tokens=4,
                  do_sample=False)
    assert torch.equal(compiled.generate(**tokens), model.generate(**tokens))
    assert len(_groups_of_size(explanation, 3)) == SMALL["num_hidden_layers"], str(explanation)


@torch.no_grad()
@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_bf16_causal_lm_forward(family):
    # A bf16 model: braid's regions run in bf16 (f32 accumulation and epilogues, one rounding
    # per stored value); eager PyTorch rounds after every op. Tolerance: 3e-2 of the logits'
    # rms (a few bf16 ulps, 2^-8 each, through two layers); a wrong kernel is off by far more.
    torch.manual_seed(0)
    if family == "llama":
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**SMALL))
    else:
        model = transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**SMALL))
    model = model.eval().to(torch.bfloat16)
    ids = torch.randint(0, SMALL["vocab_size"], (2, 7))
    expected = model(ids).logits.float()
    actual = torch.compile(model, backend="braid")(ids).logits.float()
    rms = expected.pow(2).mean().sqrt().item()
    torch.testing.assert_close(actual, expected, rtol=0, atol=3e-2 * rms)
    explanation = braid.torch.explain(model, ids)
    layers = SMALL["num_hidden_layers"]
    assert len(_groups_of_size(explanation, 3)) == layers, str(explanation)
    assert len(_groups_of_size(explanation, 2)) == layers, str(explanation)
    assert all(r.compiled for r in explanation.regions), str(explanation)
