#!/usr/bin/env python3
"""The whole-layer benchmark: one LLaMA decoder layer (examples/llama_decoder_layer.ir, 7B-sized:
hidden 4096, 32 query heads and 8 KV heads of 128, intermediate 11008; fp32, or bf16 with --dtype bf16) compiled by braid,
against the same layer in PyTorch eager and under torch.compile (Inductor, with freezing, so its
weights are constants too), in one process, on the same weights and inputs.

The PyTorch layer is written as transformers' LlamaDecoderLayer computes it (RMSNorm, Q/K/V,
rotary embedding, KV cache concatenated, repeat_kv, matmul-softmax-matmul attention with an
additive mask, o_proj, residual, RMSNorm, SwiGLU MLP, residual). braid's output is checked against
eager's before anything is timed. Timing alternates the implementations round by round and
reports medians and ratios measured in this run.

    tools/layer_bench.sh                       # every shape (prefill T=128, 512; decode S=512, 2048)
    tools/layer_bench.sh --shapes decode:512 --rounds 5 --no-inductor
    tools/layer_bench.sh --dtype bf16           # the bf16 layer against eager and Inductor in bf16

The "torch.compile" column is the same PyTorch layer compiled through braid's PyTorch backend
(torch.compile(layer, backend="braid"): the bridge writes the braid graph from the FX graph);
the "braid" column is the example's IR compiled through the Python API.
"""
import argparse
import importlib
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

import braid

HIDDEN, HEADS, KV_HEADS, HEAD_DIM, INTER, EPS = 4096, 32, 8, 128, 11008, 1e-5
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Layer(torch.nn.Module):
    """LlamaDecoderLayer's arithmetic, as eager transformers runs it (attn_implementation="eager")."""

    def __init__(self, weights):
        super().__init__()
        for name, tensor in weights.items():
            self.register_parameter(name, torch.nn.Parameter(tensor, requires_grad=False))

    @staticmethod
    def rms_norm(x, w):
        # As LlamaRMSNorm: the statistics in fp32, the normalised row rounded back to x's dtype.
        xf = x.float()
        variance = xf.pow(2).mean(-1, keepdim=True)
        return w * (xf * torch.rsqrt(variance + EPS)).to(x.dtype)

    @staticmethod
    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    @staticmethod
    def repeat_kv(x, n):
        b, h, s, d = x.shape
        return x[:, :, None, :, :].expand(b, h, n, s, d).reshape(b, h * n, s, d)

    def forward(self, x, cos, sin, mask, k_past, v_past):
        b, t, _ = x.shape
        h = self.rms_norm(x, self.w_in)
        q = F.linear(h, self.wq).view(b, t, HEADS, HEAD_DIM).transpose(1, 2)
        k = F.linear(h, self.wk).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = F.linear(h, self.wv).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q = q * cos + self.rotate_half(q) * sin
        k = k * cos + self.rotate_half(k) * sin
        k_all = torch.cat((k_past, k), dim=2)
        v_all = torch.cat((v_past, v), dim=2)
        k_rep = self.repeat_kv(k_all, HEADS // KV_HEADS)
        v_rep = self.repeat_kv(v_all, HEADS // KV_HEADS)
        scores = torch.matmul(q, k_rep.transpose(2, 3)) * self.scale + mask
        p = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)  # as eager attention
        o = torch.matmul(p, v_rep).transpose(1, 2).reshape(b, t, HIDDEN)
        x2 = x + F.linear(o, self.wo)
        h2 = self.rms_norm(x2, self.w_post)
        y = x2 + F.linear(F.silu(F.linear(h2, self.wg)) * F.linear(h2, self.wu), self.wd)
        return y, k_all, v_all


def make_weights(gen):
    def w(*shape, scale=None):
        scale = scale if scale is not None else 1 / math.sqrt(shape[-1])
        return (torch.rand(*shape, generator=gen) * 2 - 1) * scale
    return {
        "w_in": 1 + 0.1 * w(HIDDEN, scale=1), "wq": w(HIDDEN, HIDDEN), "wk": w(KV_HEADS * HEAD_DIM, HIDDEN),
        "wv": w(KV_HEADS * HEAD_DIM, HIDDEN), "wo": w(HIDDEN, HIDDEN), "w_post": 1 + 0.1 * w(HIDDEN, scale=1),
        "wg": w(INTER, HIDDEN), "wu": w(INTER, HIDDEN), "wd": w(HIDDEN, INTER),
        "scale": torch.tensor([1 / math.sqrt(HEAD_DIM)]),
    }


def make_inputs(gen, t, past):
    """x, rotary cos/sin for positions past .. past+t-1, the causal mask, and a KV cache."""
    x = torch.randn(1, t, HIDDEN, generator=gen)
    positions = torch.arange(past, past + t, dtype=torch.float32)
    inv_freq = 1.0 / (10000 ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))
    angles = torch.outer(positions, inv_freq)
    emb = torch.cat((angles, angles), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    mask = torch.zeros(1, 1, t, past + t)
    mask[0, 0] = torch.triu(torch.full((t, past + t), float("-inf")), diagonal=past + 1)
    k_past = torch.randn(1, KV_HEADS, past, HEAD_DIM, generator=gen)
    v_past = torch.randn(1, KV_HEADS, past, HEAD_DIM, generator=gen)
    return x, cos, sin, mask, k_past, v_past


def timed(fn, iterations):
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    return (time.perf_counter() - start) * 1e3 / iterations


def relative_rms(got, want):
    return ((got.float() - want.float()).norm() / want.float().norm()).item()


def check(name, who, got, want, reference):
    """fp32: `got` within 1e-4 of eager's `want`. bf16: against the fp32 layer on the same
    (bf16-valued) weights and inputs, `got` no further off than twice eager bf16's error."""
    for g, w, r, what in zip(got, want, reference or want, ("y", "k_all", "v_all")):
        err = relative_rms(g, w if reference is None else r)
        bound = 1e-4 if reference is None else 2 * relative_rms(w, r) + 1e-3
        if not err <= bound:
            sys.exit(f"{name}: {who}'s {what} is off by {err:.2e} (relative rms; bound {bound:.2e})")


def bench_shape(name, t, past, layer, reference_layer, compiled_braid, inductor, bridge, rounds, gen, dtype):
    inputs = [i.to(dtype) for i in make_inputs(gen, t, past)]
    with torch.no_grad():
        want = layer(*inputs)
        reference = reference_layer(*[i.float() for i in inputs]) if reference_layer is not None else None
        outputs = [torch.empty_like(w) for w in want]
        compiled_braid.run_into(list(inputs), outputs)
        check(name, "braid", outputs, want, reference)
        runs = {"eager": lambda: layer(*inputs), "braid": lambda: compiled_braid.run_into(list(inputs), outputs)}
        if inductor is not None:
            check(name, "Inductor", inductor(*inputs)[:1], want, reference)
            runs["inductor"] = lambda: inductor(*inputs)
        if bridge is not None:
            check(name, "torch.compile(backend='braid')", bridge(*inputs), want, reference)
            runs["bridge"] = lambda: bridge(*inputs)
        iterations = 1 if t >= 128 else 5
        for fn in runs.values():  # warm up (Inductor compiles this shape here)
            fn()
        samples = {k: [] for k in runs}
        for _ in range(rounds):
            for k, fn in runs.items():
                samples[k].append(timed(fn, iterations))
    med = {k: statistics.median(v) for k, v in samples.items()}
    flops = 2 * t * (HIDDEN * HIDDEN * 2 + 2 * KV_HEADS * HEAD_DIM * HIDDEN + 3 * INTER * HIDDEN) + \
        4 * HEADS * t * (past + t) * HEAD_DIM
    row = [f"{name:<16}", f"{med['eager']:9.1f}"]
    row.append(f"{med['inductor']:9.1f}" if "inductor" in med else f"{'-':>9}")
    row += [f"{med['braid']:9.1f}", f"{med['eager'] / med['braid']:6.2f}x"]
    row.append(f"{med['inductor'] / med['braid']:6.2f}x" if "inductor" in med else f"{'-':>7}")
    row.append(f"{flops / med['braid'] / 1e6:7.1f}")
    if "bridge" in med:
        row += [f"{med['bridge']:9.1f}", f"{med['eager'] / med['bridge']:6.2f}x"]
    print(" ".join(row), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="*", default=["prefill:128", "prefill:512", "decode:512", "decode:2048"],
                        help="prefill:T (P = 0) or decode:S (T = 1 against S - 1 cached positions)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--no-inductor", action="store_true")
    parser.add_argument("--no-bridge", action="store_true",
                        help="leave out torch.compile(layer, backend='braid')")
    parser.add_argument("--dtype", choices=["f32", "bf16"], default="f32",
                        help="bf16: weights, activations and the KV cache in bfloat16 (braid compiles the "
                             "example with every f32 tensor made bf16; eager and Inductor run the layer in "
                             "bf16, its norms and softmax in fp32 as transformers does)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[args.dtype]
    gen = torch.Generator().manual_seed(0)
    weights = {k: v.to(dtype) for k, v in make_weights(gen).items()}
    layer = Layer(weights).eval()
    # bf16 results are checked against the fp32 layer on the same bf16-valued weights.
    reference_layer = Layer({k: v.float() for k, v in weights.items()}).eval() if args.dtype != "f32" else None
    with open(os.path.join(REPO, "examples", "llama_decoder_layer.ir"), encoding="utf-8") as f:
        text = f.read().replace("f32[", f"{args.dtype}[")
    compiled = braid.compile(text, {k: v.contiguous() for k, v in weights.items()}, threads=args.threads)
    inductor = None
    if not args.no_inductor:
        import torch._inductor.config as inductor_config
        inductor_config.freezing = True
        inductor = torch.compile(layer, dynamic=False)
    bridge = None
    if not args.no_bridge:
        importlib.import_module("braid.torch")  # registers the "braid" backend
        bridge = torch.compile(layer, backend="braid", dynamic=False)
    print(f"# {args.dtype} layer; braid {compiled.isa}, {args.threads} threads; torch {torch.__version__}; medians of {args.rounds} "
          f"alternating rounds (ms)")
    print(f"{'shape':<16} {'eager':>9} {'inductor':>9} {'braid':>9} {'/eager':>7} {'/induct':>7} {'GFLOP/s':>7}"
          + ("" if bridge is None else f" {'t.compile':>9} {'/eager':>7}"))
    for shape in args.shapes:
        kind, _, size = shape.partition(":")
        size = int(size)
        if kind == "prefill":
            bench_shape(f"prefill T={size}", size, 0, layer, reference_layer, compiled, inductor, bridge, args.rounds, gen, dtype)
        elif kind == "decode":
            bench_shape(f"decode S={size}", 1, size - 1, layer, reference_layer, compiled, inductor, bridge, args.rounds, gen, dtype)
        else:
            sys.exit(f"--shapes: {shape!r} is not prefill:T or decode:S")


if __name__ == "__main__":
    main()
