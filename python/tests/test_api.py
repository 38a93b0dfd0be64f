"""braid.compile / CompiledGraph on torch tensors and NumPy arrays: results against the
reference interpreter, zero-copy run_into, and a clear braid.Error for every bad input."""
import pathlib
import threading

import numpy as np
import pytest
import torch

import braid

MLP_TEXT = """
graph @mlp(%x: f32[M, 32], %wg: const f32[48, 32], %wu: const f32[48, 32],
           %wd: const f32[32, 48]) -> (f32[M, 32]) {
  %g = linear(%x, %wg)
  %u = linear(%x, %wu)
  %s = silu(%g)
  %h = mul(%s, %u)
  %d = linear(%h, %wd)
  %y = add(%d, %x)
  return %y
}
"""


def _weights(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {name: torch.randn(shape, generator=g) * 0.2
            for name, shape in [("wg", (48, 32)), ("wu", (48, 32)), ("wd", (32, 48))]}


def _eager(x, w):
    return torch.nn.functional.linear(
        torch.nn.functional.silu(x @ w["wg"].T) * (x @ w["wu"].T), w["wd"]) + x


def test_run_matches_interpreter_and_eager():
    w = _weights()
    graph = braid.compile(MLP_TEXT, w)
    assert graph.inputs == [("x", "f32", ("M", 32))]
    assert graph.outputs == [("f32", ("M", 32))]
    assert "grouped_gemm" in graph.graph_text()
    for m in (1, 5, 33):
        x = torch.randn(m, 32)
        (y,) = graph.run(x)
        assert isinstance(y, torch.Tensor) and y.shape == (m, 32)
        (ref,) = braid.interpret(MLP_TEXT, x, w["wg"], w["wu"], w["wd"], dims={"M": m})
        torch.testing.assert_close(y, torch.from_numpy(ref), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(y, _eager(x, w), rtol=1e-4, atol=1e-5)


def test_numpy_in_numpy_out():
    w = {k: v.numpy() for k, v in _weights(1).items()}
    graph = braid.compile(MLP_TEXT, w)
    x = np.random.default_rng(0).standard_normal((3, 32)).astype(np.float32)
    (y,) = graph.run(x)
    assert isinstance(y, np.ndarray)
    (ref,) = braid.interpret(MLP_TEXT, x, w["wg"], w["wu"], w["wd"], dims={"M": 3})
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


def test_run_into_writes_the_callers_memory():
    graph = braid.compile(MLP_TEXT, _weights())
    x = torch.randn(4, 32)
    y = torch.full((4, 32), float("nan"))
    address = y.data_ptr()
    graph.run_into([x], [y])
    assert y.data_ptr() == address
    torch.testing.assert_close(y, graph.run(x)[0])


def test_constants_are_read_only_during_compile():
    w = _weights()
    graph = braid.compile(MLP_TEXT, w)
    x = torch.randn(2, 32)
    expected = graph.run(x)[0]
    for t in w.values():
        t.fill_(float("nan"))  # the prepacked copy is braid's own
    del w
    torch.testing.assert_close(graph.run(x)[0], expected)


def test_compile_from_a_path(tmp_path):
    path = tmp_path / "mlp.ir"
    path.write_text(MLP_TEXT)
    graph = braid.compile(pathlib.Path(path), _weights())
    assert graph.run(torch.randn(2, 32))[0].shape == (2, 32)


def test_ir_errors_are_located():
    with pytest.raises(braid.Error, match=r"model\.ir:2:\d+"):
        braid.compile("graph @g(%x: f32[4]) -> (f32[4]) {\n  %y = frobnicate(%x)\n  return %y\n}",
                      {}, filename="model.ir")


@pytest.mark.parametrize("bad, message", [
    (lambda: torch.randn(2, 32, dtype=torch.float64), "dtype torch.float64"),
    (lambda: torch.randn(32, 2).T, "not contiguous"),
    (lambda: torch.empty(2, 32, device="meta"), "a meta tensor"),
    (lambda: torch.randn(2, 31), "dim 1 is 31"),
    (lambda: torch.randn(2, 3, 32), "rank 3"),
    (lambda: [1.0, 2.0], "expected a torch.Tensor or numpy.ndarray"),
])
def test_bad_inputs_raise(bad, message):
    graph = braid.compile(MLP_TEXT, _weights())
    with pytest.raises(braid.Error, match=message):
        graph.run(bad())


def test_bad_constants_and_outputs_raise():
    w = _weights()
    with pytest.raises(braid.Error, match="wd"):
        braid.compile(MLP_TEXT, {k: v for k, v in w.items() if k != "wd"})
    with pytest.raises(braid.Error):
        braid.compile(MLP_TEXT, dict(w, wd=torch.randn(48, 32)))
    graph = braid.compile(MLP_TEXT, w)
    with pytest.raises(braid.Error):
        graph.run_into([torch.randn(4, 32)], [torch.empty(5, 32)])
    with pytest.raises(braid.Error, match="expected 1 inputs"):
        graph.run(torch.randn(4, 32), torch.randn(4, 32))
    with pytest.raises(braid.Error, match="unknown ISA"):
        braid.compile(MLP_TEXT, w, isa="sse2")


def test_closed_graph_raises():
    graph = braid.compile(MLP_TEXT, _weights())
    graph.close()
    assert graph.closed
    with pytest.raises(braid.Error, match="closed"):
        graph.run(torch.randn(1, 32))


def test_concurrent_runs_are_correct():
    w = _weights()
    graph = braid.compile(MLP_TEXT, w)
    xs = [torch.randn(7 + i, 32) for i in range(4)]
    expected = [graph.run(x)[0] for x in xs]
    errors = []

    def work(i):
        try:
            for _ in range(20):
                torch.testing.assert_close(graph.run(xs[i])[0], expected[i])
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_gil_is_released_while_running():
    # One run of ~0.1 s (4 GFLOP on one thread) in a worker; the main thread counts how often
    # its Python loop turns between the worker entering braid and leaving it. Were the GIL held
    # for the run, the loop could not turn at all in that window.
    k = n = 1024
    text = f"""graph @big(%x: f32[M, {k}], %w: const f32[{n}, {k}]) -> (f32[M, {n}]) {{
      %y = linear(%x, %w)
      return %y
    }}"""
    graph = braid.compile(text, {"w": torch.randn(n, k)}, threads=1)
    x = torch.randn(2048, k)
    entering, done = threading.Event(), threading.Event()

    def work():
        entering.set()
        graph.run(x)
        done.set()

    worker = threading.Thread(target=work)
    worker.start()
    entering.wait()
    ticks = 0
    while not done.is_set():
        ticks += 1
    worker.join()
    assert ticks > 1000


def test_dims_bound_by_constants_need_no_runtime_input():
    # N appears only in the constant's shape; run() still knows the output is [M, N].
    text = """graph @g(%x: f32[M, 8], %w: const f32[N, 8]) -> (f32[M, N]) {
      %y = linear(%x, %w)
      return %y
    }"""
    w = torch.randn(5, 8)
    graph = braid.compile(text, {"w": w})
    x = torch.randn(3, 8)
    (y,) = graph.run(x)
    torch.testing.assert_close(y, x @ w.T, rtol=1e-4, atol=1e-5)
