// Random graph generation.
#include "tests/fuzz/random_graph.h"

#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace braid::testing {
namespace {

struct Tensor {
  std::string name;
  std::vector<std::string> dims;  // leading dims (symbolic or constant), then the last
  int64_t cols;                   // the last dim
  bool bounded;                   // |values| small enough for exp
  std::string Type(const std::string& dtype) const {
    std::vector<std::string> all = dims;
    all.push_back(absl::StrCat(cols));
    return absl::StrCat(dtype, "[", absl::StrJoin(all, ", "), "]");
  }
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  std::string Run() {
    dtype_ = Chance(0.25) ? "bf16" : "f32";
    const bool three_d = Chance(0.25);
    std::vector<std::string> lead = three_d ? std::vector<std::string>{"B", "T"} : std::vector<std::string>{"M"};
    const int64_t k0 = Pick({1, 3, 8, 16, 17, 33, 64, 100, 300});
    pool_.push_back(Param("x", lead, k0, false));
    const int steps = 2 + Int(0, 8);
    for (int i = 0; i < steps; ++i) {
      const int what = Int(0, 16);
      if (what < 4) {
        GemmGroup();
      } else if (what < 6) {
        Unary();
      } else if (what < 9) {
        Binary();
      } else if (what < 11) {
        Reduction();
      } else if (what < 14) {
        ShapeOp();
      } else if (what < 15) {
        Attention();
      } else {
        HeadsView();
      }
    }
    // Outputs: the newest value, plus a random few (escaping intermediates).
    std::vector<std::string> outputs = {"%" + pool_.back().name};
    for (size_t i = 1; i + 1 < pool_.size(); ++i) {
      if (Chance(0.2)) outputs.push_back("%" + pool_[i].name);
    }
    std::string text = absl::StrCat("graph @random(", absl::StrJoin(params_, ", "), ") {\n");
    for (const std::string& line : body_) absl::StrAppend(&text, "  ", line, "\n");
    absl::StrAppend(&text, "  return ", absl::StrJoin(outputs, ", "), "\n}\n");
    return text;
  }

 private:
  int Int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  int64_t Pick(std::initializer_list<int64_t> values) {
    return *(values.begin() + Int(0, static_cast<int>(values.size()) - 1));
  }
  std::string Fresh(const char* base) { return absl::StrCat(base, counter_++); }

  Tensor Param(const std::string& name, std::vector<std::string> lead, int64_t cols, bool is_const) {
    Tensor t{name, std::move(lead), cols, true};
    params_.push_back(absl::StrCat("%", name, ": ", is_const ? "const " : "", t.Type(dtype_)));
    return t;
  }
  std::string Weight(const std::vector<int64_t>& shape, bool is_const) {
    std::string name = Fresh("w");
    std::vector<std::string> lead;
    for (size_t i = 0; i + 1 < shape.size(); ++i) lead.push_back(absl::StrCat(shape[i]));
    Param(name, lead, shape.back(), is_const);
    return name;
  }
  // An i8 [rows, cols] constant and its f32 scale ([rows, 1] for a linear's w[N, K], [1, cols]
  // for a matmul's b[K, N]), and the dequantised f32 weight's name.
  std::string Int8Weight(int64_t rows, int64_t cols, bool linear) {
    const std::string q = Fresh("q"), scale = Fresh("s"), c = Fresh("dq"), w = Fresh("w");
    params_.push_back(absl::StrCat("%", q, ": const i8[", rows, ", ", cols, "]"));
    params_.push_back(absl::StrCat("%", scale, ": const ", dtype_, "[", linear ? rows : 1, ", ", linear ? 1 : cols, "]"));
    body_.push_back(absl::StrCat("%", c, " = convert(%", q, ") : ", dtype_, "[", rows, ", ", cols, "]"));
    body_.push_back(absl::StrCat("%", w, " = mul(%", c, ", %", scale, ")"));
    return w;
  }
  const Tensor& Any() { return pool_[Int(0, static_cast<int>(pool_.size()) - 1)]; }
  void Emit(const std::string& name, const std::string& rhs, const Tensor& like, int64_t cols, bool bounded) {
    body_.push_back(absl::StrCat("%", name, " = ", rhs));
    pool_.push_back(Tensor{name, like.dims, cols, bounded});
  }

  // Siblings: 1..4 GEMMs reading one activation, unequal widths, mixed bias and kinds.
  void GemmGroup() {
    const Tensor act = Any();
    const int count = Int(1, 4);
    for (int i = 0; i < count; ++i) {
      const int64_t n = Pick({1, 5, 8, 13, 16, 24, 40, 64, 70});
      const bool is_const = Chance(0.8);
      const std::string name = Fresh("g");
      // One constant weight in four is int8 with a scale per output channel (in the graph's
      // dtype, f32 or bf16), dequantised as weight-only quantisation writes it (--O folds it
      // into the GEMM).
      const bool int8 = is_const && Chance(0.25);
      if (Chance(0.7)) {
        const std::string w = int8 ? Int8Weight(n, act.cols, true) : Weight({n, act.cols}, is_const);
        std::string rhs = absl::StrCat("linear(%", act.name, ", %", w);
        if (Chance(0.4)) absl::StrAppend(&rhs, ", %", Weight({n}, true));
        Emit(name, rhs + ")", act, n, false);
      } else {
        const std::string w = int8 ? Int8Weight(act.cols, n, false) : Weight({act.cols, n}, is_const);
        Emit(name, absl::StrCat("matmul(%", act.name, ", %", w, ")"), act, n, false);
      }
    }
  }

  void Unary() {
    const Tensor& a = Any();
    static const char* kBounded[] = {"sigmoid", "tanh"};
    static const char* kAny[] = {"relu", "silu", "gelu", "gelu_tanh", "neg"};
    std::string op;
    bool bounded = false;
    if (a.bounded && Chance(0.3)) {
      op = "exp";
      bounded = false;
    } else if (Chance(0.4)) {
      op = kBounded[Int(0, 1)];
      bounded = true;
    } else {
      op = kAny[Int(0, 4)];
      bounded = a.bounded && op != "gelu" && op != "gelu_tanh" && op != "silu";
    }
    const Tensor copy = a;
    Emit(Fresh("p"), absl::StrCat(op, "(%", copy.name, ")"), copy, copy.cols, bounded);
  }

  // A binary op with a same-shaped partner (cross-output, residual) or a broadcast operand.
  void Binary() {
    const Tensor a = Any();
    static const char* kOps[] = {"add", "sub", "mul", "maximum", "div"};
    std::string op = kOps[Int(0, 4)];
    std::vector<const Tensor*> partners;
    for (const Tensor& t : pool_) {
      if (t.dims == a.dims && t.cols == a.cols && t.name != a.name) partners.push_back(&t);
    }
    std::string other;
    if (!partners.empty() && Chance(0.6) && op != "div") {
      other = partners[Int(0, static_cast<int>(partners.size()) - 1)]->name;
    } else {
      // Broadcast operands: a bias row, a scalar, or a column.
      const int kind = Int(0, 2);
      other = Fresh("c");
      if (kind == 0) {
        Param(other, {}, a.cols, Chance(0.5));
      } else if (kind == 1) {
        params_.push_back(absl::StrCat("%", other, ": ", dtype_, "[]"));
      } else {
        Param(other, a.dims, 1, false);
      }
    }
    const bool swap = op != "div" && Chance(0.3);
    Emit(Fresh("b"), absl::StrCat(op, "(%", swap ? other : a.name, ", %", swap ? a.name : other, ")"), a,
         a.cols, false);
  }

  // Over the last dim: reduce_* (keepdim, so binary ops broadcast it back), softmax, rms_norm,
  // rms_scale (keepdim).
  void Reduction() {
    const Tensor a = Any();
    const int kind = Int(0, 5);
    if (kind < 3) {
      static const char* kOps[] = {"reduce_sum", "reduce_mean", "reduce_max"};
      Emit(Fresh("r"), absl::StrCat(kOps[kind], "(%", a.name, ") {axis = -1, keepdim = true}"), a, 1,
           a.bounded && kind > 0);
    } else if (kind == 3) {
      Emit(Fresh("sm"), absl::StrCat("softmax(%", a.name, ") {axis = ", a.dims.size(), "}"), a, a.cols, true);
    } else if (kind == 4) {
      const std::string w = Weight({a.cols}, Chance(0.5));
      Emit(Fresh("n"), absl::StrCat("rms_norm(%", a.name, ", %", w, ") {eps = 1e-05}"), a, a.cols, false);
    } else {
      // rms_scale is f32 whatever x is: a bf16 graph converts it back.
      const std::string scale = Fresh("rs"), rhs = absl::StrCat("rms_scale(%", a.name, ") {eps = 1e-05}");
      if (dtype_ == "f32") {
        Emit(scale, rhs, a, 1, false);
      } else {
        body_.push_back(absl::StrCat("%", scale, " = ", rhs));
        Emit(Fresh("rc"), absl::StrCat("convert(%", scale, ") {to = ", dtype_, "}"), a, 1, false);
      }
    }
  }

  // Shape ops along the last dims: slice, concat with a same-shaped partner or itself, a reshape
  // splitting the last dim in two (and its transpose), a size-1 last dim expanded.
  void ShapeOp() {
    const Tensor a = Any();
    const int kind = Int(0, 3);
    if (kind == 0 && a.cols > 1) {
      const int64_t start = Int(0, static_cast<int>(a.cols) - 1);
      const int64_t end = Int(static_cast<int>(start) + 1, static_cast<int>(a.cols));
      Emit(Fresh("sl"), absl::StrCat("slice(%", a.name, ") {axis = -1, end = ", end, ", start = ", start, "}"), a,
           end - start, a.bounded);
    } else if (kind == 1) {
      const Tensor* other = &a;
      for (const Tensor& t : pool_) {
        if (t.dims == a.dims && t.name != a.name && Chance(0.5)) other = &t;
      }
      const Tensor b = *other;
      Emit(Fresh("cat"), absl::StrCat("concat(%", a.name, ", %", b.name, ") {axis = ", a.dims.size(), "}"), a,
           a.cols + b.cols, a.bounded && b.bounded);
    } else if (kind == 2 && a.cols % 2 == 0 && a.cols > 2) {
      // [..., c] -> [..., c/2, 2] -> transpose -> [..., 2, c/2] -> back to [..., c]
      std::vector<std::string> split = a.dims, swapped = a.dims;
      split.push_back(absl::StrCat(a.cols / 2));
      swapped.push_back("2");
      const Tensor s{Fresh("rs"), split, 2, a.bounded};
      body_.push_back(absl::StrCat("%", s.name, " = reshape(%", a.name, ") : ", s.Type(dtype_)));
      const size_t rank = a.dims.size() + 2;
      std::vector<int64_t> perm;
      for (size_t i = 0; i + 2 < rank; ++i) perm.push_back(static_cast<int64_t>(i));
      perm.push_back(static_cast<int64_t>(rank - 1));
      perm.push_back(static_cast<int64_t>(rank - 2));
      const Tensor t{Fresh("tr"), swapped, a.cols / 2, a.bounded};
      body_.push_back(absl::StrCat("%", t.name, " = transpose(%", s.name, ") {perm = [", absl::StrJoin(perm, ", "), "]}"));
      const std::string back = Fresh("rb");
      body_.push_back(absl::StrCat("%", back, " = reshape(%", t.name, ") : ", a.Type(dtype_)));
      pool_.push_back(Tensor{back, a.dims, a.cols, a.bounded});
    } else if (a.cols == 1) {
      const int64_t n = Pick({2, 5, 16});
      Tensor wide{Fresh("ex"), a.dims, n, a.bounded};
      body_.push_back(absl::StrCat("%", wide.name, " = expand(%", a.name, ") : ", wide.Type(dtype_)));
      pool_.push_back(wide);
    } else {
      Unary();
    }
  }

  // attention over values viewed as [B or 1, heads, rows, cols]: the rows are the positions
  // (T = S), the cols the head dim (so both the vector path — multiples of 8 or 16 — and the
  // scalar one); self-attention of one value, or two query heads (it and a same-shaped partner)
  // on one KV head; causal or not, an additive [rows, rows] mask or none, either masked_rows,
  // sometimes a scale; one head's output viewed back to the value's shape.
  void Attention() {
    const Tensor a = Any();
    std::vector<std::string> four = a.dims.size() == 2 ? std::vector<std::string>{a.dims[0], "1", a.dims[1]}
                                                        : std::vector<std::string>{"1", "1", a.dims[0]};
    const std::string rows = four.back();
    four.push_back(absl::StrCat(a.cols));
    auto as_heads = [&](const Tensor& t) {
      const std::string name = Fresh("h");
      body_.push_back(absl::StrCat("%", name, " = reshape(%", t.name, ") : ", dtype_, "[", absl::StrJoin(four, ", "), "]"));
      return name;
    };
    const std::string kv = as_heads(a);
    std::string q = kv;
    bool two_heads = false;
    for (const Tensor& t : pool_) {
      if (t.dims == a.dims && t.cols == a.cols && t.name != a.name && Chance(0.5)) {
        q = Fresh("qh");
        body_.push_back(absl::StrCat("%", q, " = concat(%", as_heads(t), ", %", kv, ") {axis = 1}"));
        two_heads = true;
        break;
      }
    }
    std::string operands = absl::StrCat("%", q, ", %", kv, ", %", kv);
    if (Chance(0.4)) {
      const std::string mask = Fresh("mask");
      params_.push_back(absl::StrCat("%", mask, ": ", dtype_, "[", rows, ", ", rows, "]"));
      absl::StrAppend(&operands, ", %", mask);
    }
    std::vector<std::string> attrs;
    if (Chance(0.5)) attrs.push_back("causal = true");
    if (Chance(0.3)) attrs.push_back("masked_rows = zero");
    if (Chance(0.3)) attrs.push_back("scale = 0.25");
    const std::string out = Fresh("at");
    body_.push_back(absl::StrCat("%", out, " = attention(", operands, ")",
                                 attrs.empty() ? "" : absl::StrCat(" {", absl::StrJoin(attrs, ", "), "}")));
    std::string head = out;
    if (two_heads) {
      head = Fresh("hd");
      const int which = Int(0, 1);
      body_.push_back(absl::StrCat("%", head, " = slice(%", out, ") {axis = 1, end = ", which + 1, ", start = ", which, "}"));
    }
    const std::string back = Fresh("ab");
    body_.push_back(absl::StrCat("%", back, " = reshape(%", head, ") : ", a.Type(dtype_)));
    pool_.push_back(Tensor{back, a.dims, a.cols, a.bounded});
  }

  // A value (a GEMM result when there is one) viewed as heads as a PyTorch model writes it:
  // reshape [..., c] -> [..., H, D], transpose the positions and the heads, then sometimes the
  // rotary embedding x·cos + rotate_half(x)·sin (cos and sin [B or 1, 1, T, D], or [D]) or a
  // pointwise op; transposed and reshaped back to [..., c] for the ops after it. --O folds the
  // views into the GEMM's epilogue (scheduler/head_view.h) when they read its tile.
  void HeadsView() {
    std::vector<const Tensor*> candidates;
    for (const Tensor& t : pool_) {
      if (t.cols >= 2 && t.cols % 2 == 0) candidates.push_back(&t);
    }
    if (candidates.empty()) return Unary();
    const Tensor* pick = candidates[Int(0, static_cast<int>(candidates.size()) - 1)];
    for (const Tensor* t : candidates) {
      if (t->name[0] == 'g' && Chance(0.5)) pick = t;
    }
    const Tensor a = *pick;
    std::vector<int64_t> widths;
    for (int64_t d = 2; d <= a.cols; d += 2) {
      if (a.cols % d == 0) widths.push_back(d);
    }
    const int64_t d = widths[Int(0, static_cast<int>(widths.size()) - 1)], h = a.cols / d;
    const size_t lead = a.dims.size();
    std::vector<std::string> split = a.dims, heads;
    split.push_back(absl::StrCat(h));
    for (size_t i = 0; i + 1 < lead; ++i) heads.push_back(a.dims[i]);
    heads.push_back(absl::StrCat(h));
    heads.push_back(a.dims.back());
    std::vector<int64_t> perm;
    for (size_t i = 0; i + 1 < lead; ++i) perm.push_back(static_cast<int64_t>(i));
    perm.push_back(static_cast<int64_t>(lead));
    perm.push_back(static_cast<int64_t>(lead - 1));
    perm.push_back(static_cast<int64_t>(lead + 1));
    const std::string perm_text = absl::StrCat("{perm = [", absl::StrJoin(perm, ", "), "]}");
    const Tensor s{Fresh("sp"), split, d, a.bounded};
    body_.push_back(absl::StrCat("%", s.name, " = reshape(%", a.name, ") : ", s.Type(dtype_)));
    Tensor x{Fresh("hv"), heads, d, a.bounded};
    body_.push_back(absl::StrCat("%", x.name, " = transpose(%", s.name, ") ", perm_text));
    const int kind = Int(0, 2);
    if (kind == 0) {
      // cos/sin: [.., 1, T, D] as models pass them, or a [D] row.
      std::vector<std::string> table = heads;
      table[lead - 1] = "1";
      const bool row = Chance(0.3);
      const std::string cos = Fresh("cos"), sin = Fresh("sin");
      for (const std::string& name : {cos, sin}) {
        if (row) {
          Param(name, {}, d, false);
        } else {
          Param(name, table, d, false);
        }
      }
      const std::string rot = Fresh("rot"), xc = Fresh("xc"), xs = Fresh("xs"), r = Fresh("rope");
      body_.push_back(absl::StrCat("%", rot, " = rotate_half(%", x.name, ")"));
      body_.push_back(absl::StrCat("%", xc, " = mul(%", x.name, ", %", cos, ")"));
      body_.push_back(absl::StrCat("%", xs, " = mul(%", rot, ", %", sin, ")"));
      body_.push_back(absl::StrCat("%", r, " = add(%", xc, ", %", xs, ")"));
      x = Tensor{r, heads, d, false};
    } else if (kind == 1) {
      const std::string p = Fresh("hp");
      body_.push_back(absl::StrCat("%", p, " = ", Chance(0.5) ? "silu" : "neg", "(%", x.name, ")"));
      x = Tensor{p, heads, d, false};
    }
    const Tensor back{Fresh("hb"), split, d, x.bounded};
    body_.push_back(absl::StrCat("%", back.name, " = transpose(%", x.name, ") ", perm_text));
    const std::string merged = Fresh("hm");
    body_.push_back(absl::StrCat("%", merged, " = reshape(%", back.name, ") : ", a.Type(dtype_)));
    pool_.push_back(Tensor{merged, a.dims, a.cols, x.bounded});
  }

  std::mt19937_64 rng_;
  std::string dtype_ = "f32";  // of every value of the graph: f32, or (one graph in four) bf16
  int counter_ = 0;
  std::vector<std::string> params_;
  std::vector<std::string> body_;
  std::vector<Tensor> pool_;
};

}  // namespace

std::string RandomGraphText(uint64_t seed) { return Generator(seed).Run(); }

}  // namespace braid::testing
