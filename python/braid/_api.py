"""braid.compile and the CompiledGraph it returns: textual IR in, runs on caller memory out."""
import os
import sys

from braid import _braid
from braid._braid import Error
from braid._memory import NUMPY_NAMES, describe, is_torch_tensor, torch_dtypes


def _default_threads():
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else 0


def configure(threads=0, spin_us=0):
    """Gives graphs compiled from now on a new thread pool: `threads` threads (the calling one
    included; 0: one per hardware thread) whose idle threads poll for work `spin_us`
    microseconds before sleeping. The default spins not at all, so that braid's idle threads
    never take a core from PyTorch's kernels between braid calls; a program that calls braid
    back to back may trade that for a faster hand-off. Graphs compiled earlier keep their pool."""
    _braid.configure(threads=threads, spin_us=spin_us)


def compile(source, constants=None, *, optimize=True, isa="auto", threads=None, filename=None):
    """Compiles one graph of braid's textual IR (a str, or an os.PathLike to read).

    constants: {name: tensor} for every `const` parameter (torch tensors or NumPy arrays, CPU,
      contiguous, of the parameter's dtype and shape). They are read during this call only:
      GEMM weights are prepacked, other constants copied.
    optimize: run the default pass pipeline (`braid --O`: group sibling GEMMs, fold silu, dce).
    isa: "auto" (the host's best), "avx2", "avx512" or "avx512-bf16" (bf16 GEMMs on the
      AVX512-BF16 dot product); a path the host lacks is an error.
    threads: threads one run uses; default torch.get_num_threads() when torch is imported,
      else all of braid's pool.
    """
    if isinstance(source, os.PathLike):
        filename = filename or os.fspath(source)
        with open(source, encoding="utf-8") as f:
            source = f.read()
    if not isinstance(source, str):
        raise Error(f"source: expected IR text (str) or a path, got {type(source).__name__}")
    described = {}
    for name, tensor in (constants or {}).items():
        described[name] = describe(tensor, f"constant {name}")
    if threads is None:
        threads = _default_threads()
    compiled = _braid.compile(source, described, filename=filename or "<python>",
                              optimize=optimize, isa=isa, threads=threads)
    return CompiledGraph(compiled)


class CompiledGraph:
    """A compiled graph. `run`/`run_into` may be called from several threads at once; the GIL
    is released while braid runs. `close()` frees the code (a run in flight finishes first)."""

    def __init__(self, compiled):
        self._compiled = compiled

    @property
    def inputs(self):
        """[(name, dtype, shape)] of the runtime parameters; symbolic dims are str."""
        return self._compiled.inputs

    @property
    def outputs(self):
        """[(dtype, shape)] of the outputs."""
        return self._compiled.outputs

    def run_into(self, inputs, outputs, dims=None):
        """Reads `inputs` (one per runtime parameter) and writes `outputs` in place. Symbolic
        dims are bound from the inputs' shapes unless `dims` gives them."""
        described = [describe(t, f"input {i}") for i, t in enumerate(inputs)]
        written = [describe(t, f"output {i}", writable=True) for i, t in enumerate(outputs)]
        if dims is None:
            dims = self._compiled.bind_dims([d[2] for d in described])
        self._compiled.run_into(described, written, dims)

    def run(self, *inputs, dims=None):
        """Runs on `inputs` and returns newly allocated outputs: torch tensors if the inputs are
        torch tensors, else NumPy arrays."""
        described = [describe(t, f"input {i}") for i, t in enumerate(inputs)]
        if dims is None:
            dims = self._compiled.bind_dims([d[2] for d in described])
        shapes = self._compiled.output_shapes(dims)
        dtypes = [dtype for dtype, _ in self._compiled.outputs]
        use_torch = any(is_torch_tensor(t) for t in inputs) or (not inputs and "torch" in sys.modules)
        outputs = [_empty(shape, dtype, use_torch) for shape, dtype in zip(shapes, dtypes)]
        written = [describe(t, f"output {i}", writable=True) for i, t in enumerate(outputs)]
        self._compiled.run_into(described, written, dims)
        return outputs

    def graph_text(self):
        """The graph as compiled (after the pass pipeline), in braid's textual IR."""
        return self._compiled.graph_text()

    def schedule_text(self, dims=None):
        """The kernels: which GEMMs are grouped, which epilogues fused, what is materialised."""
        return self._compiled.schedule_text(dims or {})

    @property
    def isa(self):
        return self._compiled.isa

    @property
    def threads(self):
        return self._compiled.threads

    @property
    def compile_ms(self):
        return self._compiled.compile_ms

    @property
    def prepacked_bytes(self):
        return self._compiled.prepacked_bytes

    @property
    def closed(self):
        return self._compiled.closed

    def close(self):
        self._compiled.close()


def _empty(shape, dtype, use_torch):
    if use_torch or "torch" in sys.modules and dtype == "bf16":
        import torch
        return torch.empty(shape, dtype=torch_dtypes()[dtype])
    import numpy
    if dtype == "bf16":
        raise Error("a bf16 output needs torch (NumPy has no bfloat16)")
    return numpy.empty(shape, dtype=NUMPY_NAMES[dtype])


def interpret(source, *inputs, dims=None):
    """Runs the reference interpreter (what every op means) and returns NumPy arrays (bf16
    outputs as torch tensors). Constants are passed as inputs, in parameter order."""
    import numpy
    described = [describe(t, f"input {i}") for i, t in enumerate(inputs)]
    if dims is None:
        dims = {}
    results = []
    for data, dtype, shape in _braid.interpret(source, described, dims):
        if dtype == "bf16":
            import torch
            bits = numpy.frombuffer(data, dtype=numpy.int16).reshape(shape)
            results.append(torch.from_numpy(bits.copy()).view(torch.bfloat16))
            continue
        results.append(numpy.frombuffer(data, dtype=NUMPY_NAMES[dtype]).reshape(shape).copy())
    return results
