"""braid against its PyTorch peers on the LLaMA MLP, fp32, CPU, inference, one process.

    python3 benchmarks/torch_peers.py                       # everything (7B max-autotune: slow)
    python3 benchmarks/torch_peers.py --quick --shapes 1024 --threads 1 \
        --peers eager,inductor,braid-torch,braid-api        # smoke run
    python3 benchmarks/torch_peers.py --json out.json       # also write the rows as JSON

Modules: `mlp` = down(silu(gate(x)) * up(x)) and `gate_up` = silu(gate(x)) * up(x), no bias,
x: [M, hidden]. Both share one set of random weights per shape (7B: ~0.5 GB per copy).
Peers:
  eager             PyTorch eager.
  inductor          torch.compile default (Inductor; static shapes on a first compile).
  inductor-grouped  Inductor with the grouped-GEMM RFC's settings (freezing, max_autotune,
                    CPP,ATEN GEMM backends, cpp.enable_grouped_gemm_template), dynamic M: on an
                    MKL build Inductor packs a *static*-batch fp32 linear as mkl._mkl_linear,
                    which the grouping pass does not match, so only a symbolic M reaches the
                    grouped template (backed_size_oblivious keeps M=1 symbolic too). Whether the
                    template was really used is read from the generated code (column `notes`).
  braid-torch       torch.compile(backend="braid"): Dynamo + FX bridge + braid.
  braid-api         braid.compile(IR text) and CompiledGraph.run: still Python, no Dynamo/FX.
Every point (shape, module, threads, M, peer) is compiled afresh (torch._dynamo.reset()), so the
compile time column is the first call's latency in a warm process (one-time start-up is paid by
a throw-away compile of a tiny model first). Inductor compiles each point inside fresh_cache():
an empty temporary cache (deleted after the first call; the loaded code stays), so no kernel
built earlier, in this run or another, makes a compile look cheap.
"""
import argparse
import gc
import itertools
import json
import platform
import statistics
import sys
import time

import torch
import torch._inductor.config as inductor_config
import torch.fx.experimental._config as fx_config
from torch._dynamo.utils import counters
from torch._inductor.utils import fresh_cache, run_and_get_code

import braid
import braid.torch  # noqa: F401  (registers the "braid" backend)

SHAPES = {"7b": (4096, 11008), "1024": (1024, 2816)}  # name -> (hidden, inner)
PEERS = ["eager", "inductor", "inductor-grouped", "braid-torch", "braid-api"]
MODULES = ["mlp", "gate_up"]
GROUPED_CONFIG = {  # the RFC's recipe for Inductor's CPP grouped-GEMM template
    "freezing": True,
    "max_autotune": True,
    "max_autotune_gemm_backends": "CPP,ATEN",
    "cpp.enable_grouped_gemm_template": True,
}
# The grouped template names the accumulator of GEMM i `local_acc_buf_<i>`
# (cpp_grouped_gemm_template.py, acc_buf_name_prefix); a plain CPP GEMM template has one
# accumulator only, so a second one in the output code is the template's fingerprint.
GROUPED_FINGERPRINT = "local_acc_buf_1"
TOLERANCE = dict(rtol=1e-3, atol=1e-3)


class GateUp(torch.nn.Module):
    def __init__(self, gate, up):
        super().__init__()
        self.gate, self.up = gate, up

    def forward(self, x):
        return torch.nn.functional.silu(self.gate(x)) * self.up(x)


class MLP(torch.nn.Module):
    def __init__(self, hidden, inner):
        super().__init__()
        self.gate = torch.nn.Linear(hidden, inner, bias=False)
        self.up = torch.nn.Linear(hidden, inner, bias=False)
        self.down = torch.nn.Linear(inner, hidden, bias=False)

    def forward(self, x):
        return self.down(torch.nn.functional.silu(self.gate(x)) * self.up(x))


def build_modules(hidden, inner):
    torch.manual_seed(0)
    mlp = MLP(hidden, inner).eval()
    return {"mlp": mlp, "gate_up": GateUp(mlp.gate, mlp.up).eval()}  # same weight storage


def ir_text(kind, hidden, inner):
    """The module as braid IR (what the bridge would hand braid.compile, written by hand)."""
    params = f"%x: f32[M, {hidden}], %wg: const f32[{inner}, {hidden}], " \
             f"%wu: const f32[{inner}, {hidden}]"
    body = "  %g = linear(%x, %wg)\n  %u = linear(%x, %wu)\n  %s = silu(%g)\n  %h = mul(%s, %u)\n"
    if kind == "gate_up":
        return f"graph @gate_up({params}) -> (f32[M, {inner}]) {{\n{body}  return %h\n}}\n"
    return (f"graph @mlp({params}, %wd: const f32[{hidden}, {inner}]) -> (f32[M, {hidden}]) "
            f"{{\n{body}  %d = linear(%h, %wd)\n  return %d\n}}\n")


def ir_constants(module, kind):
    consts = {"wg": module.gate.weight.detach(), "wu": module.up.weight.detach()}
    if kind == "mlp":
        consts["wd"] = module.down.weight.detach()
    return consts


def braid_summary(reports):
    """What the braid bridge did, from its explain() reports: regions, groups, fallbacks."""
    if reports is None:
        return "(no report: braid.torch._collectors missing)"
    regions = [r for g in reports for r in g.regions]
    notes = [f"{sum(r.compiled for r in regions)} region(s)",
             f"{sum(len(r.grouped) for r in regions)} group(s)"]
    notes += [f"backend error: {g.error}" for g in reports if g.error]
    notes += [f"FALLBACK x{n}: {why}" for r in regions for why, n in r.fallbacks.items()]
    notes += [f"NOT COMPILED: {r.error}" for r in regions if not r.compiled]
    left = sorted({n for g in reports for n in g.left_to_pytorch})
    if left:
        notes.append("left to PyTorch: " + ",".join(left))
    return "; ".join(notes)


def compile_peer(peer, module, kind, hidden, inner, x):
    """Builds `peer` for this point and makes its first call. Returns (callable, first output,
    compile ms, notes, cleanup)."""
    torch._dynamo.reset()  # every point starts from nothing: no graph, guard or region reused
    counters.clear()
    notes, cleanup = "", (lambda: None)
    start = time.perf_counter()
    if peer == "eager":
        fn = module
        y = fn(x)
    elif peer == "inductor":
        with fresh_cache():
            fn = torch.compile(module)  # default; static shapes, as dynamo was just reset
            y = fn(x)
    elif peer == "inductor-grouped":
        with fresh_cache(), inductor_config.patch(GROUPED_CONFIG), \
                fx_config.patch(backed_size_oblivious=True):
            fn = torch.compile(module, dynamic=True)
            y, code = run_and_get_code(fn, x)  # compiles; keeps the output code
        in_code = any(GROUPED_FINGERPRINT in c for c in code)
        renders = counters["inductor"]["cpp_grouped_gemm_template"]
        notes = f"grouped template: {'yes' if in_code else 'NO'} (code), {renders} render(s)"
    elif peer == "braid-torch":
        # The bridge's report hook (what braid.torch.explain uses) — to catch silent fallbacks.
        collectors = getattr(braid.torch, "_collectors", None)
        reports = [] if collectors is not None else None
        if reports is not None:
            collectors.append(reports)
        try:
            fn = torch.compile(module, backend="braid")
            y = fn(x)
        finally:
            if reports is not None:
                collectors.remove(reports)
        notes = lambda: braid_summary(reports)  # noqa: E731 — fallbacks counted while timing
    elif peer == "braid-api":
        graph = braid.compile(ir_text(kind, hidden, inner), ir_constants(module, kind),
                              threads=torch.get_num_threads())
        fn = lambda x: graph.run(x)[0]  # noqa: E731
        y = fn(x)
        groups = graph.graph_text().count("multi_output(")
        notes = (f"isa {graph.isa}, {groups} grouped output(s), "
                 f"braid compile {graph.compile_ms:.0f} ms")
        cleanup = graph.close  # frees the prepacked weights now, not at gc's leisure
    else:
        raise ValueError(f"unknown peer {peer}")
    compile_ms = (time.perf_counter() - start) * 1e3 if peer != "eager" else None
    return fn, y, compile_ms, notes, cleanup


def bench(fn, x, target_s):
    """Median per-call ms of N calls, N chosen so the timed loop lasts about target_s."""
    start, calls = time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - start < min(0.2, target_s / 2):  # warm-up + estimate
        fn(x)
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    reps = int(min(max(target_s / per_call, 5), 20000))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, reps


def paired_overhead(module, kind, hidden, inner, x, target_s, block=20):
    """braid-torch minus braid-api per call, both alive, timed in alternating blocks of `block`
    calls: the median of per-block median differences. Subtracting two medians measured
    seconds apart drifts by more than the overhead on a busy machine; alternating single calls
    instead makes each peer evict the other's weights (two prepacked copies of ~L3 size).
    braid-api is built first: compile_peer's dynamo reset would discard braid-torch's graph."""
    api = compile_peer("braid-api", module, kind, hidden, inner, x)
    bridge = compile_peer("braid-torch", module, kind, hidden, inner, x)

    def block_median(fn):
        times = []
        for _ in range(block):
            t0 = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    try:
        per_call_ms, _ = bench(bridge[0], x, min(0.1, target_s))  # warm both, size the loop
        bench(api[0], x, min(0.1, target_s))
        blocks = int(min(max(target_s / (2 * block * per_call_ms * 1e-3), 5), 2000))
        diffs = [block_median(bridge[0]) - block_median(api[0]) for _ in range(blocks)]
        return statistics.median(diffs) * 1e6
    finally:
        api[4]()
        torch._dynamo.reset()
        gc.collect()


def check(y, ref):
    try:
        torch.testing.assert_close(y, ref, **TOLERANCE)
        return "ok"
    except AssertionError:
        diff = (y.float() - ref.float()).abs().max().item() if y.shape == ref.shape else "shape"
        return f"MISMATCH (max abs diff {diff})"


def run_point(peer, module, kind, hidden, inner, x, ref, target_s):
    row = {"peer": peer}
    try:
        fn, y, compile_ms, notes, cleanup = compile_peer(peer, module, kind, hidden, inner, x)
        try:
            row["check"] = check(y, ref)
            row["ms"], row["reps"] = bench(fn, x, target_s)
            row["compile_ms"] = compile_ms
            row["notes"] = notes() if callable(notes) else notes
        finally:
            cleanup()
            del fn, y
    except Exception as e:  # noqa: BLE001 — one broken peer must not lose the other rows
        row.update(ms=None, reps=0, compile_ms=None, check="ERROR",
                   notes=f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}")
    torch._dynamo.reset()  # drop compiled code and frozen/prepacked weight copies
    gc.collect()
    return row


def warm_process(peers):
    """Pays one-time start-up costs (imports, C++ toolchain probing, braid's pool) on a tiny
    model, so compile times below are per-graph costs."""
    hidden, inner = 64, 128
    module = build_modules(hidden, inner)["gate_up"]
    x = torch.randn(4, hidden)
    ref = module(x)
    for peer in peers:
        if peer != "eager":
            run_point(peer, module, "gate_up", hidden, inner, x, ref, target_s=0.01)


def check_config_names():
    """The RFC's config names must exist in this torch, else patch() would fail or no-op."""
    known = inductor_config.get_config_copy()
    missing = [name for name in GROUPED_CONFIG if name not in known]
    if missing:
        raise SystemExit(f"torch {torch.__version__}: Inductor config lacks {missing}")


def fmt(value, spec):
    return "—" if value is None else format(value, spec)


def print_tables(rows, overheads, meta):
    print(f"# braid vs PyTorch peers — {meta['cpu']}, torch {meta['torch']}, "
          f"braid {meta['braid']}, fp32, no_grad\n")
    print("speedup columns: peer is N× faster (>1) than eager / than inductor-grouped; "
          "compile = first-call latency of a fresh compile, warm process\n")
    print("| shape | module | thr | M | peer | ms | × eager | × ind-grouped | compile ms | "
          "check | notes |")
    print("|---|---|---|---|---|---:|---:|---:|---:|---|---|")
    by_point = {}
    for r in rows:
        by_point.setdefault((r["shape"], r["module"], r["threads"], r["M"]), {})[r["peer"]] = r
    for (shape, kind, threads, m), peers in by_point.items():
        eager = (peers.get("eager") or {}).get("ms")
        grouped = (peers.get("inductor-grouped") or {}).get("ms")
        for peer, r in peers.items():
            ms = r["ms"]
            vs_eager = eager / ms if eager and ms else None
            vs_grouped = grouped / ms if grouped and ms else None
            print(f"| {shape} | {kind} | {threads} | {m} | {peer} | {fmt(ms, '.4f')} | "
                  f"{fmt(vs_eager, '.2f')} | {fmt(vs_grouped, '.2f')} | "
                  f"{fmt(r['compile_ms'], '.0f')} | {r['check']} | {r['notes']} |")
    if overheads:
        print("\nM=1 per-call overhead of the torch.compile bridge (Dynamo guards + FX "
              "module + region wrapper) = braid-torch − braid-api; `difference` subtracts the "
              "two medians above, `paired` times both alive, in alternating blocks of 20 "
              "calls (median of block-median differences: robust to machine load):\n")
        print("| shape | module | thr | braid-torch µs | braid-api µs | difference µs | "
              "paired µs |")
        print("|---|---|---|---:|---:|---:|---:|")
        for o in overheads:
            p = by_point[(o["shape"], o["module"], o["threads"], 1)]
            bt, ba = (p.get(peer, {}).get("ms") for peer in ("braid-torch", "braid-api"))
            diff = (bt - ba) * 1e3 if bt and ba else None
            print(f"| {o['shape']} | {o['module']} | {o['threads']} | "
                  f"{fmt(bt and bt * 1e3, '.1f')} | {fmt(ba and ba * 1e3, '.1f')} | "
                  f"{fmt(diff, '.1f')} | {fmt(o['paired_us'], '.1f')} |")


def measure_point(shape, kind, module, n_threads, m, peers, target_s):
    """All peers on one (shape, module, threads, M); plus the paired bridge overhead at M=1."""
    hidden, inner = SHAPES[shape]
    torch.manual_seed(1000 + m)
    x = torch.randn(m, hidden)
    ref = module(x)
    rows = []
    for peer in peers:
        row = run_point(peer, module, kind, hidden, inner, x, ref, target_s)
        row.update(shape=shape, module=kind, threads=n_threads, M=m)
        rows.append(row)
        print(f"[{shape} {kind} t={n_threads} M={m}] {peer}: {fmt(row['ms'], '.4f')} ms, "
              f"compile {fmt(row['compile_ms'], '.0f')} ms, {row['check']}",
              flush=True, file=sys.stderr)
    if m != 1 or not {"braid-torch", "braid-api"} <= set(peers):
        return rows, None
    try:
        us = paired_overhead(module, kind, hidden, inner, x, target_s)
    except Exception as e:  # noqa: BLE001
        us = None
        print(f"paired overhead failed: {e}", file=sys.stderr)
    return rows, dict(shape=shape, module=kind, threads=n_threads, paired_us=us)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def parse_list(text, allowed=None, convert=str):
    items = [convert(item.strip()) for item in text.split(",") if item.strip()]
    bad = [i for i in items if allowed is not None and i not in allowed]
    if bad:
        raise SystemExit(f"unknown {bad}; choose from {allowed}")
    return items


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="7b,1024")
    ap.add_argument("--m", default=None, help="rows of x (default 1,16,128,512; --quick: 1,16)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--modules", default=",".join(MODULES))
    ap.add_argument("--quick", action="store_true", help="small M set, ~0.2 s per point")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    shapes = parse_list(args.shapes, SHAPES)
    ms = parse_list(args.m or ("1,16" if args.quick else "1,16,128,512"), convert=int)
    threads = parse_list(args.threads, convert=int)
    peers = parse_list(args.peers, PEERS)
    kinds = parse_list(args.modules, MODULES)
    target_s = 0.2 if args.quick else 0.75
    check_config_names()
    inductor_config.fx_graph_cache = False  # fresh_cache() empties it anyway: skip the writes
    inductor_config.autotune_local_cache = False

    meta = {"cpu": cpu_name(), "torch": torch.__version__, "braid": braid.__version__}
    rows, overheads = [], []
    with torch.no_grad():
        warm_process(peers)
        for shape in shapes:
            modules = build_modules(*SHAPES[shape])  # one copy of the weights, all peers
            for kind, n_threads, m in itertools.product(kinds, threads, ms):
                torch.set_num_threads(n_threads)  # before compiling: kernels bake it in
                point_rows, overhead = measure_point(shape, kind, modules[kind], n_threads, m,
                                                     peers, target_s)
                rows += point_rows
                overheads += [overhead] if overhead else []
            del modules
            gc.collect()
    print_tables(rows, overheads, meta)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows, "bridge_overhead_m1": overheads}, f,
                      indent=1)


if __name__ == "__main__":
    main()
