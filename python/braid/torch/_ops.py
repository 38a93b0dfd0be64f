"""The op table: what each FX node braid takes is in braid's IR.

One rule per PyTorch op, registered for its spellings in Dynamo's torch-level graphs (functions
and Tensor methods) and in aten graphs. A rule emits the node's braid ops through a builder `b`
(see `_lower.py`) and returns the braid value standing for the node, or raises Unsupported with
the reason. The same rules answer "can braid take it" (a checking builder records the ops and
emits nothing) and "what is it" (a region's builder writes the IR), so the two cannot disagree.

    x.view(B, T, 4, 16)                 -> reshape(%x) : f32[s0, s1, 4, 16]
    x.transpose(1, 2)                   -> transpose(%x) {perm = [0, 2, 1, 3]}
    x[..., :8]                          -> slice(%x) {axis = 3, start = 0, end = 8}
    F.softmax(s, dim=-1, dtype=f32)     -> softmax(%s) {axis = -1}   (a convert first if s is bf16)
    x.to(torch.float32), x.contiguous() -> nothing: the node stands for %x (or for convert(%x))
"""
import operator

import torch
import torch.nn.functional as F
from torch.fx.experimental.symbolic_shapes import guarding_hint_or_throw, has_guarding_hint

from braid.torch._types import (Unsupported, dim_expr, dtype_of, fake_value, is_tensor, number_of,
                                shape_of)

aten = torch.ops.aten

FUNCTIONS = {}  # call_function target -> rule
METHODS = {}    # call_method name (a Tensor method) -> rule
# The ops that make a region worth compiling: braid runs them far faster than a lone loop.
COMPUTE_OPS = {"linear", "matmul", "batch_matmul", "attention"}


def _rule(*targets, methods=()):
    def register(fn):
        FUNCTIONS.update(dict.fromkeys(targets, fn))
        METHODS.update(dict.fromkeys(methods, fn))
        return fn
    return register


def target_name(node):
    target = node.target
    return getattr(target, "__name__", None) or str(target)


def lower_node(node, b):
    """Emits `node`'s braid ops through `b`; returns the braid value standing for it (None for
    a transposed weight folded into the GEMMs that read it)."""
    if node.op == "call_method":
        rule = METHODS.get(node.target)
        if rule is None:
            raise Unsupported(f"{node.name}: method .{node.target}() is not an op braid has")
    elif node.op == "call_function":
        rule = FUNCTIONS.get(node.target)
        if rule is None:
            raise Unsupported(f"{node.name}: {target_name(node)} is not an op braid has")
    else:
        raise Unsupported(f"{node.name}: {node.op} nodes run in PyTorch")
    if is_tensor(node) and fake_value(node).dtype == torch.int8:
        raise Unsupported(f"{node.name}: an int8 result (braid reads int8 tensors only as weights "
                          f"converted to a float dtype)")
    return rule(b, node)


def _bind(node, *required, **optional):
    """The node's arguments bound by name like a Python call to `f(*required, **optional)`."""
    names = list(required) + list(optional)
    if len(node.args) > len(names):
        raise Unsupported(f"{node.name}: {target_name(node)} with {len(node.args)} arguments")
    bound = dict(zip(names, node.args))
    for key, value in node.kwargs.items():
        if key not in names or key in bound:
            raise Unsupported(f"{node.name}: {target_name(node)} with {key}=")
        bound[key] = value
    missing = [name for name in required if name not in bound]
    if missing:
        raise Unsupported(f"{node.name}: {target_name(node)} without {missing[0]}")
    return [bound.get(name, optional.get(name)) for name in names]


def _tensor(node, arg, what="operand"):
    if not (isinstance(arg, torch.fx.Node) and is_tensor(arg)):
        raise Unsupported(f"{node.name}: {what} {arg!r} is not a tensor")
    return arg


def _axis(node, dim, rank):
    if isinstance(dim, (list, tuple)) and len(dim) == 1:
        dim = dim[0]
    if not isinstance(dim, int) or not -rank <= dim < rank:
        raise Unsupported(f"{node.name}: dim {dim!r} (braid takes one axis)")
    return dim % rank


def _number(node, value, what):
    number = number_of(value)
    if number is None:
        raise Unsupported(f"{node.name}: {what} {value!r} is not a number known when compiling")
    return number


def _guard_equal(a, b):
    """Whether dims a and b are equal. Two symbolic sizes equal when traced that Dynamo did not
    relate (sdpa's key and value lengths, s87 + 1 and s94 + 1; a mask sliced to the key length)
    become one by guarding on their equality, as Inductor does: braid sees one symbol, and a
    call where they differ recompiles."""
    if dim_expr(a) == dim_expr(b):
        return True
    if not (isinstance(a, torch.SymInt) and isinstance(b, torch.SymInt) and
            has_guarding_hint(a) and has_guarding_hint(b) and
            guarding_hint_or_throw(a) == guarding_hint_or_throw(b)):
        return False  # never an int: guarding a dynamic size on a number would specialise it
    return bool(a == b)


def _same_shape(a, b):
    return len(a) == len(b) and all(dim_expr(x) == dim_expr(y) for x, y in zip(a, b))


# Pointwise ops. Operands of another dtype are converted to the result's first, as torch's type
# promotion does (f32 * bf16 computes in f32); numbers become one-element constants.

def _unary(op):
    def rule(b, node):
        x, inplace = _bind(node, "input", inplace=False)
        if inplace:
            raise Unsupported(f"{node.name}: in-place {target_name(node)}")
        return b.emit(op, [b.value(x)])
    return rule


def _binary(op):
    def rule(b, node):
        kwargs = dict(node.kwargs)
        if kwargs.pop("alpha", 1) != 1 or kwargs.pop("rounding_mode", None) is not None or \
                kwargs or len(node.args) != 2:
            raise Unsupported(f"{node.name}: {target_name(node)} with alpha, rounding or out")
        return b.emit(op, [b.value(arg, b.dtype()) for arg in node.args])
    return rule


for _op, _targets, _methods in [
        ("silu", [F.silu, aten.silu.default], ["silu"]),
        ("relu", [F.relu, torch.relu, aten.relu.default], ["relu"]),
        ("sigmoid", [torch.sigmoid, F.sigmoid, aten.sigmoid.default], ["sigmoid"]),
        ("tanh", [torch.tanh, F.tanh, aten.tanh.default], ["tanh"]),
        ("exp", [torch.exp, aten.exp.default], ["exp"]),
        ("neg", [torch.neg, operator.neg, aten.neg.default], ["neg"]),
        ("rsqrt", [torch.rsqrt, aten.rsqrt.default], ["rsqrt"])]:
    _rule(*_targets, methods=_methods)(_unary(_op))
for _op, _targets, _methods in [
        ("add", [operator.add, torch.add, aten.add.Tensor], ["add"]),
        ("sub", [operator.sub, torch.sub, aten.sub.Tensor], ["sub"]),
        ("mul", [operator.mul, torch.mul, aten.mul.Tensor], ["mul"]),
        ("div", [operator.truediv, torch.div, aten.div.Tensor], ["div"]),
        ("maximum", [torch.maximum, aten.maximum.default], ["maximum"]),
        ("pow", [operator.pow, torch.pow, aten.pow.Tensor_Scalar, aten.pow.Tensor_Tensor,
                 aten.pow.Scalar], ["pow"])]:
    _rule(*_targets, methods=_methods)(_binary(_op))


_ADDS = {operator.add, torch.add, aten.add.Tensor}
_MEANS = {torch.mean, aten.mean.dim}
_POWS = {operator.pow, torch.pow, aten.pow.Tensor_Scalar}


def _calls(node, functions, method):
    return isinstance(node, torch.fx.Node) and (
        (node.op == "call_function" and node.target in functions) or
        (node.op == "call_method" and node.target == method))


def _rms_statistics(node):
    """(x, eps) if `node` is rsqrt(mean(x ** 2, dim=-1, keepdim=True) + eps) on an fp32 x (an
    RMSNorm's row factor as transformers writes it, its statistics in fp32), else None."""
    add = node.args[0] if len(node.args) == 1 and not node.kwargs else None
    if not _calls(add, _ADDS, "add") or len(add.args) != 2 or add.kwargs:
        return None
    mean, eps = add.args if isinstance(add.args[0], torch.fx.Node) else add.args[::-1]
    eps = number_of(eps)
    if eps is None or not _calls(mean, _MEANS, "mean") or len(mean.args) < 2:
        return None
    keepdim = mean.kwargs.get("keepdim", mean.args[2] if len(mean.args) > 2 else False)
    dim = mean.args[1]
    dim = dim[0] if isinstance(dim, (list, tuple)) and len(dim) == 1 else dim
    square = mean.args[0]
    if keepdim is not True or set(mean.kwargs) - {"keepdim"} or not _calls(square, _POWS, "pow") or \
            square.kwargs or len(square.args) != 2 or number_of(square.args[1]) != 2:
        return None
    x = square.args[0]
    if not (isinstance(x, torch.fx.Node) and is_tensor(x)) or \
            getattr(fake_value(x), "dtype", None) != torch.float32 or dim not in (-1, len(shape_of(x)) - 1):
        return None
    # A bf16 model's x.to(float32): rms_scale reads the bf16 x itself (widening is exact).
    if _calls(x, {aten._to_copy.default}, "to") or _calls(x, set(), "float"):
        source = x.args[0]
        if isinstance(source, torch.fx.Node) and is_tensor(source) and \
                getattr(fake_value(source), "dtype", None) == torch.bfloat16:
            x = source
    return x, float(eps)


@_rule(torch.rsqrt, aten.rsqrt.default, methods=("rsqrt",))
def _rsqrt(b, node):
    """An RMSNorm's rsqrt(mean(x²) + eps) becomes one rms_scale(x) — one row kernel instead of x²
    written by a pointwise kernel, its mean and rsqrt — that --O's fold-rms-norm moves into the
    GEMM epilogues; x² and the mean then have no reader and are dropped. Numerics: the same f32
    arithmetic up to the order of the sum."""
    stats = _rms_statistics(node)
    if stats is None:
        return _unary("rsqrt")(b, node)
    x, eps = stats
    return b.emit("rms_scale", [b.value(x)], {"eps": eps})


@_rule(F.gelu, aten.gelu.default)
def _gelu(b, node):
    x, approximate = _bind(node, "input", approximate="none")
    if approximate not in ("none", "tanh"):
        raise Unsupported(f"{node.name}: gelu with approximate={approximate!r}")
    return b.emit("gelu" if approximate == "none" else "gelu_tanh", [b.value(x)])


# GEMMs.

LINEAR = {torch._C._nn.linear, F.linear, aten.linear.default}
_TRANSPOSE_2D = {aten.t.default, torch.t}
MM = {aten.mm.default}
ADDMM = {aten.addmm.default}


@_rule(*LINEAR)
def _linear(b, node):
    x, w, bias = _bind(node, "input", "weight", bias=None)
    operands = [_tensor(node, x), _tensor(node, w)] + ([bias] if bias is not None else [])
    return b.emit("linear", [b.value(arg) for arg in operands])


def is_transpose_2d(node):
    if node.op != "call_function":
        return False
    return node.target in _TRANSPOSE_2D or (node.target is aten.permute.default and
                                            list(node.args[1]) in ([1, 0], [-1, -2]))


def _folds_into_gemms(node):
    """aten graphs spell x·wᵀ as mm(x, t(w)): braid's linear(x, w) reads w untransposed, so a
    transpose whose every reader is such a GEMM weight emits nothing."""
    return is_transpose_2d(node) and bool(node.users) and all(
        user.op == "call_function" and user.target in MM | ADDMM and user.args[-1] is node and
        node not in user.args[:-1] for user in node.users)


@_rule(*MM)
def _mm(b, node):
    x, wt = _bind(node, "input", "mat2")
    if isinstance(wt, torch.fx.Node) and is_transpose_2d(wt):
        return b.emit("linear", [b.value(x), b.value(wt.args[0])])
    return _matmul(b, node)


@_rule(*ADDMM)
def _addmm(b, node):
    bias, x, wt, beta, alpha = _bind(node, "input", "mat1", "mat2", beta=1, alpha=1)
    if beta != 1 or alpha != 1:
        raise Unsupported(f"{node.name}: addmm with beta or alpha")
    if not (isinstance(wt, torch.fx.Node) and is_transpose_2d(wt)):
        raise Unsupported(f"{node.name}: addmm whose weight is not a transposed weight")
    if len(shape_of(_tensor(node, bias, "bias"))) != 1:
        raise Unsupported(f"{node.name}: addmm with a bias that is not a row")
    return b.emit("linear", [b.value(x), b.value(wt.args[0]), b.value(bias)])


@_rule(torch.matmul, operator.matmul, torch.bmm, aten.bmm.default, aten.matmul.default,
       methods=("matmul", "bmm"))
def _matmul(b, node):
    if len(node.args) != 2 or node.kwargs:
        raise Unsupported(f"{node.name}: {target_name(node)} with out= or extra arguments")
    x, w = (_tensor(node, arg) for arg in node.args)
    if len(shape_of(x)) < 2 or len(shape_of(w)) < 2:
        raise Unsupported(f"{node.name}: {target_name(node)} of a vector (braid multiplies "
                          f"matrices)")
    # A 2-D weight bound at compile time is a GEMM braid prepacks; two activations (attention
    # scores, probabilities times values) are a batch_matmul.
    op = "matmul" if len(shape_of(w)) == 2 and b.is_constant(w) else "batch_matmul"
    return b.emit(op, [b.value(x), b.value(w)])


@_rule(F.scaled_dot_product_attention, aten.scaled_dot_product_attention.default)
def _attention(b, node):
    q, k, v, mask, dropout_p, is_causal, scale, enable_gqa = _bind(
        node, "query", "key", "value", attn_mask=None, dropout_p=0.0, is_causal=False,
        scale=None, enable_gqa=False)
    if not isinstance(enable_gqa, bool):
        raise Unsupported(f"{node.name}: attention whose enable_gqa is known only at run time")
    return _attention_of(b, node, q, k, v, mask, dropout_p, is_causal, scale)


_FLASH_CPU = aten._scaled_dot_product_flash_attention_for_cpu.default


@_rule(_FLASH_CPU)
def _flash_cpu(b, node):
    """aten graphs (make_fx) spell sdpa on the CPU as this op, returning (output, logsumexp):
    `getitem(op, 0)` lowers to attention (in _getitem), the op itself to nothing."""
    if not all(user.op == "call_function" and user.target is operator.getitem and
               (user.args[1] == 0 or not user.users) for user in node.users):
        raise Unsupported(f"{node.name}: attention whose logsumexp is read")
    return None


def _attention_of(b, node, q, k, v, mask, dropout_p, is_causal, scale):
    if dropout_p != 0:
        raise Unsupported(f"{node.name}: attention with dropout_p={dropout_p} (braid is "
                          f"inference-only)")
    if not isinstance(is_causal, bool):
        raise Unsupported(f"{node.name}: attention whose is_causal is known only at run time")
    operands = [_tensor(node, t) for t in (q, k, v)]
    if any(len(shape_of(t)) != 4 for t in operands):
        raise Unsupported(f"{node.name}: attention of tensors that are not [B, H, T, D]")
    (bq, _, _, dq), (bk, hk, sk, dk), (bv, hv, sv, dv) = (shape_of(t) for t in operands)
    if not all(_guard_equal(x, y) for x, y in [(bq, bk), (dq, dk), (bk, bv), (hk, hv), (sk, sv),
                                               (dk, dv)]):
        raise Unsupported(f"{node.name}: attention of q, k, v with other B, H, S or D than braid's "
                          f"[B, Hq, T, D], [B, Hkv, S, D], [B, Hkv, S, D]")
    t, s = shape_of(q)[2], shape_of(k)[2]
    if is_causal and dim_expr(t) != dim_expr(s):
        # torch's is_causal aligns the mask top-left, braid's bottom-right (decode against a
        # cache): they agree only when queries and keys are equally many.
        raise Unsupported(f"{node.name}: is_causal with {t} queries and {s} keys")
    values = [b.value(t) for t in operands]
    if mask is not None:
        if getattr(fake_value(_tensor(node, mask, "attn_mask")), "dtype", None) == torch.bool:
            # True takes part: braid's additive mask is 0 there and -inf elsewhere, made from the
            # boolean one at each call (it comes from PyTorch: no braid op makes a boolean).
            values.append(b.additive_mask(mask, dtype_of(q)))
        else:
            values.append(b.value(mask))
    # A query row every key of which is masked: torch's sdpa gives 0 (braid's default is the
    # decomposition's NaN, which would spread to every row through the padded positions' K/V).
    attrs = {"causal": is_causal, "masked_rows": "zero"}
    if scale is not None:
        attrs["scale"] = _number(node, scale, "scale")
    return b.emit("attention", values, attrs)


# Shape ops: the result's shape is the node's recorded one, so view(B, T, -1, 16), unsqueeze(1)
# and flatten are all `reshape`, whatever their arguments; a reshape to the same shape is x.

@_rule(torch.reshape, torch.flatten, torch.unsqueeze, torch.squeeze, torch.unflatten,
       aten.view.default, aten._unsafe_view.default, aten.reshape.default,
       aten.unsqueeze.default, aten.squeeze.dim, aten.squeeze.dims, aten.squeeze.default,
       aten.flatten.using_ints,
       methods=("view", "reshape", "flatten", "unsqueeze", "squeeze", "unflatten", "view_as",
                "reshape_as"))
def _reshape(b, node):
    x = _tensor(node, node.args[0] if node.args else node.kwargs.get("input"))
    if dtype_of(node) != dtype_of(x):
        raise Unsupported(f"{node.name}: a view as another dtype")
    if _same_shape(shape_of(x), shape_of(node)):
        return b.value(x)
    return b.emit("reshape", [b.value(x)])


def _permuted(b, node, x, dims):
    rank = len(shape_of(x))
    perm = [_axis(node, d, rank) for d in dims]
    if sorted(perm) != list(range(rank)):
        raise Unsupported(f"{node.name}: {dims} is not a permutation")
    if perm == sorted(perm):
        return b.value(x)
    return b.emit("transpose", [b.value(x)], {"perm": perm})


@_rule(torch.transpose, torch.swapaxes, aten.transpose.int, methods=("transpose", "swapaxes"))
def _transpose(b, node):
    x, d0, d1 = _bind(node, "input", "dim0", "dim1")
    rank = len(shape_of(_tensor(node, x)))
    perm = list(range(rank))
    d0, d1 = _axis(node, d0, rank), _axis(node, d1, rank)
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return _permuted(b, node, x, perm)


@_rule(torch.permute, aten.permute.default, methods=("permute",))
def _permute(b, node):
    if _folds_into_gemms(node):
        return None
    if not node.args:
        raise Unsupported(f"{node.name}: permute without its operand")
    x, *dims = node.args
    dims = node.kwargs.get("dims", dims)
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = dims[0]
    return _permuted(b, node, _tensor(node, x), list(dims))


@_rule(*_TRANSPOSE_2D, methods=("t",))
def _t(b, node):
    if _folds_into_gemms(node):
        return None
    (x,) = _bind(node, "input")
    rank = len(shape_of(_tensor(node, x)))
    return _permuted(b, node, x, [1, 0] if rank == 2 else list(range(rank)))


@_rule(torch.broadcast_to, aten.expand.default, methods=("expand", "expand_as", "broadcast_to"))
def _expand(b, node):
    x = _tensor(node, node.args[0])
    if _same_shape(shape_of(x), shape_of(node)):
        return b.value(x)
    return b.emit("expand", [b.value(x)])


def _bound(value):
    """A slice bound as an int where it is one (a SymInt FX node of a known value included)."""
    if isinstance(value, torch.fx.Node):
        value = fake_value(value)
    if isinstance(value, torch.SymInt) and value.node.expr.is_Integer:
        return int(value.node.expr)
    return value


def _slice(b, node, x_text, shape, axis, start, stop, step, final):
    """x[..., start:stop:step, ...] along `axis` of `shape`: nothing when it spans the dim (even
    a symbolic one, e.g. mask[:, :, :, :key_len] with key_len the mask's own size), else a
    `slice` of a static dim. Returns the value and its shape."""
    start, stop, step = _bound(start), _bound(stop), _bound(step)
    size = shape[axis]
    if not all(v is None or isinstance(v, (int, torch.SymInt)) for v in (start, stop, step)):
        raise Unsupported(f"{node.name}: a slice [{start}:{stop}:{step}]")
    if step is not None and not (isinstance(step, int) and step == 1):
        raise Unsupported(f"{node.name}: a slice with step {step}")
    if (start is None or dim_expr(start) == 0) and (
            stop is None or _guard_equal(stop, size) or
            (isinstance(stop, int) and isinstance(size, int) and stop >= size)):
        return x_text, shape
    if not (isinstance(size, int) and all(v is None or isinstance(v, int) for v in (start, stop))):
        raise Unsupported(f"{node.name}: a slice [{start}:{stop}] of dim {axis} (size {size}) "
                          f"that braid cannot size statically")
    start, stop, _ = slice(start, stop).indices(size)
    if stop <= start:
        raise Unsupported(f"{node.name}: an empty slice")
    shape = shape[:axis] + (stop - start,) + shape[axis + 1:]
    return b.emit("slice", [x_text], {"axis": axis, "start": start, "end": stop}, shape=shape,
                  final=final), shape


@_rule(operator.getitem)
def _getitem(b, node):
    x, index = node.args
    if isinstance(x, torch.fx.Node) and x.target is _FLASH_CPU:
        if index == 0:
            q, k, v, dropout_p, is_causal, mask, scale = _bind(
                x, "query", "key", "value", dropout_p=0.0, is_causal=False, attn_mask=None,
                scale=None)
            return _attention_of(b, node, q, k, v, mask, dropout_p, is_causal, scale)
        if not node.users:
            return None  # the logsumexp, unread
    if not (isinstance(x, torch.fx.Node) and is_tensor(x)):
        raise Unsupported(f"{node.name}: indexes a {type(fake_value(x)).__name__}, not a tensor")
    items = list(index) if isinstance(index, tuple) else [index]
    if not all(item is None or item is Ellipsis or isinstance(item, slice) for item in items) \
            or items.count(Ellipsis) > 1:
        raise Unsupported(f"{node.name}: indexing with {index!r} (braid takes slices, None and "
                          f"one ...)")
    shape = shape_of(x)
    sliced = sum(isinstance(item, slice) for item in items)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (len(shape) - sliced)
    slices = [item for item in items if isinstance(item, slice)]
    slices += [slice(None)] * (len(shape) - len(slices))
    # Slice dim by dim; then, if None added dims, reshape to the indexed shape.
    value, inserts = b.value(x), None in items
    last = max([axis for axis, s in enumerate(slices)
                if any(v is not None for v in (s.start, s.stop, s.step))], default=-1)
    for axis, s in enumerate(slices):
        final = axis == last and not inserts
        value, shape = _slice(b, node, value, shape, axis, s.start, s.stop, s.step, final)
    return b.emit("reshape", [value]) if inserts else value


@_rule(aten.slice.Tensor)
def _aten_slice(b, node):
    x, dim, start, end, step = _bind(node, "input", dim=0, start=None, end=None, step=1)
    shape = shape_of(_tensor(node, x))
    return _slice(b, node, b.value(x), shape, _axis(node, dim, len(shape)), start, end, step,
                  True)[0]


def _legacy_empty(arg):
    # torch.cat skips 1-D empty tensors (DynamicCache starts each layer from torch.tensor([])).
    return isinstance(arg, torch.fx.Node) and is_tensor(arg) and tuple(shape_of(arg)) == (0,)


@_rule(torch.cat, torch.concat, aten.cat.default)
def _cat(b, node):
    tensors, dim = _bind(node, "tensors", dim=0)
    parts = [_tensor(node, t) for t in tensors if not _legacy_empty(t)]
    if not parts:
        raise Unsupported(f"{node.name}: cat of empty tensors")
    values = [b.value(t, b.dtype()) for t in parts]
    if len(values) == 1:
        return values[0]
    return b.emit("concat", values, {"axis": _axis(node, dim, len(shape_of(node)))})


# Reductions (braid computes them in f32; a dtype= argument converts the input first, as torch).

def _reduction(op):
    def rule(b, node):
        x, dim, keepdim, _ = _bind(node, "input", dim=None, keepdim=False, dtype=None)
        if dim is None or dim == [] or dim == ():
            raise Unsupported(f"{node.name}: {target_name(node)} over every dim (a 0-d result)")
        axis = _axis(node, dim, len(shape_of(_tensor(node, x))))
        return b.emit(op, [b.value(x, b.dtype())], {"axis": axis, "keepdim": bool(keepdim)})
    return rule


for _op, _targets, _methods in [
        ("reduce_sum", [torch.sum, aten.sum.dim_IntList], ["sum"]),
        ("reduce_mean", [torch.mean, aten.mean.dim], ["mean"]),
        ("reduce_max", [torch.amax, aten.amax.default], ["amax"])]:
    _rule(*_targets, methods=_methods)(_reduction(_op))


@_rule(F.softmax, torch.softmax, aten._softmax.default, methods=("softmax",))
def _softmax(b, node):
    if node.target is F.softmax:
        x, dim, _, _ = _bind(node, "input", dim=None, _stacklevel=3, dtype=None)
    elif node.target is aten._softmax.default:
        x, dim, _ = _bind(node, "input", "dim", "half_to_float")
    else:
        x, dim, _ = _bind(node, "input", "dim", dtype=None)
    if dim is None:
        raise Unsupported(f"{node.name}: softmax without dim")
    axis = _axis(node, dim, len(shape_of(_tensor(node, x))))
    # softmax(x, dtype=torch.float32) converts x first: the node's dtype is the one to compute in.
    return b.emit("softmax", [b.value(x, b.dtype())], {"axis": axis})


# Conversions and no-ops: the node stands for its operand (converted if its dtype changes).

@_rule(aten._to_copy.default, methods=("to", "float", "bfloat16", "type_as", "type"))
def _to(b, node):
    x = _tensor(node, node.args[0])
    if not is_tensor(node) or fake_value(node).device != fake_value(x).device:
        raise Unsupported(f"{node.name}: .{target_name(node)}() to another device or a non-tensor")
    return b.value(x, dtype_of(node))


@_rule(torch.clone, aten.clone.default, methods=("contiguous", "clone"))
def _contiguous(b, node):
    return b.value(_tensor(node, node.args[0]))  # braid's values are fresh and contiguous


@_rule(F.dropout, torch.dropout, aten.dropout.default)
def _dropout(b, node):
    if node.target is F.dropout:
        x, p, training, _ = _bind(node, "input", p=0.5, training=True, inplace=False)
    else:
        x, p, training = _bind(node, "input", "p", "train")
    if training and p != 0:
        raise Unsupported(f"{node.name}: dropout while training (braid is inference-only)")
    return b.value(_tensor(node, x))
