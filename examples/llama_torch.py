"""A small LLaMA through torch.compile(backend="braid"), checked against eager PyTorch.

    python3 examples/llama_torch.py      # after tools/setup_python.sh (or tools/test.sh)

Random weights from a config: nothing is downloaded. Prints what braid compiled, which GEMMs it
grouped and which epilogues it fused, and what it left to PyTorch.
"""
import torch
from transformers import LlamaConfig, LlamaForCausalLM

import braid.torch

torch.manual_seed(0)
config = LlamaConfig(hidden_size=256, intermediate_size=688, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, vocab_size=512)
model = LlamaForCausalLM(config).eval()
ids = torch.randint(0, config.vocab_size, (1, 16))

fast = torch.compile(model, backend="braid")
with torch.no_grad():
    expected = model(ids).logits
    actual = fast(ids).logits
torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)
print(f"logits match eager PyTorch (max abs difference {(actual - expected).abs().max():.2e})")
print(braid.torch.explain(model, ids))
