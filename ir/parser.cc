// The textual IR parser.
#include "ir/parser.h"

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ir/lexer.h"
#include "ir/status_macros.h"
#include "ir/type_inference.h"

namespace braid {
namespace {

class Parser {
 public:
  explicit Parser(std::shared_ptr<const SourceFile> file)
      : file_(std::move(file)), lexer_(file_.get()) {}

  absl::StatusOr<Module> ParseModule();
  absl::StatusOr<Attributes> ParseAttributeDict();

 private:
  absl::Status Advance() {
    BRAID_ASSIGN_OR_RETURN(tok_, lexer_.Next());
    return absl::OkStatus();
  }
  absl::Status Error(SourceLoc loc, absl::string_view message) const {
    return LocatedError(file_.get(), loc, message);
  }
  std::string Found() const {
    if (tok_.kind == TokenKind::kEof) return "end of file";
    if (tok_.kind == TokenKind::kValueName) return absl::StrCat("'%", tok_.text, "'");
    if (tok_.kind == TokenKind::kGraphName) return absl::StrCat("'@", tok_.text, "'");
    return absl::StrCat("'", tok_.text, "'");
  }
  absl::Status Unexpected(absl::string_view expected) const {
    return Error(tok_.loc, absl::StrCat("expected ", expected, ", found ", Found()));
  }
  // Consumes a token of `kind` or fails with "expected <what>".
  absl::Status Expect(TokenKind kind, absl::string_view what = "") {
    if (tok_.kind != kind) return Unexpected(what.empty() ? TokenKindName(kind) : what);
    return Advance();
  }
  absl::Status ExpectKeyword(absl::string_view word) {
    if (tok_.kind != TokenKind::kIdent || tok_.text != word) {
      return Unexpected(absl::StrCat("'", word, "'"));
    }
    return Advance();
  }
  bool At(TokenKind kind) const { return tok_.kind == kind; }

  absl::Status ParseGraph(Module& module);
  absl::StatusOr<TensorType> ParseTensorType();
  absl::StatusOr<Type> ParseType();
  absl::StatusOr<Dim> ParseDim();
  absl::StatusOr<Dim> ParseDimProduct();
  absl::StatusOr<Dim> ParseDimFactor();
  absl::Status ParseStatement(Graph& graph);
  absl::StatusOr<Attributes> ParseAttributes();
  absl::StatusOr<Value*> ParseUse();

  std::shared_ptr<const SourceFile> file_;
  Lexer lexer_;
  Token tok_;
  // Names visible in the graph being parsed.
  absl::flat_hash_map<std::string, Value*> scope_;
};

absl::StatusOr<Attributes> Parser::ParseAttributeDict() {
  BRAID_RETURN_IF_ERROR(Advance());
  if (!At(TokenKind::kLBrace)) return Unexpected("'{'");
  BRAID_ASSIGN_OR_RETURN(Attributes attrs, ParseAttributes());
  if (!At(TokenKind::kEof)) return Unexpected("end of input after '}'");
  return attrs;
}

absl::StatusOr<Module> Parser::ParseModule() {
  Module module;
  module.source = file_;
  BRAID_RETURN_IF_ERROR(Advance());
  if (At(TokenKind::kEof)) {
    return Error(tok_.loc, "the input is empty: expected at least one 'graph'");
  }
  absl::flat_hash_set<std::string> graph_names;
  while (!At(TokenKind::kEof)) {
    SourceLoc loc = tok_.loc;
    BRAID_RETURN_IF_ERROR(ParseGraph(module));
    const std::string& name = module.graphs.back()->name();
    if (!graph_names.insert(name).second) {
      return Error(loc, absl::StrCat("graph @", name, " is defined twice"));
    }
  }
  return module;
}

absl::Status Parser::ParseGraph(Module& module) {
  SourceLoc graph_loc = tok_.loc;
  BRAID_RETURN_IF_ERROR(ExpectKeyword("graph"));
  if (!At(TokenKind::kGraphName)) return Unexpected("a graph name such as @main");
  auto graph = std::make_unique<Graph>(tok_.text, file_);
  graph->set_loc(graph_loc);
  BRAID_RETURN_IF_ERROR(Advance());
  scope_.clear();

  BRAID_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
  while (!At(TokenKind::kRParen)) {
    if (!graph->params().empty()) BRAID_RETURN_IF_ERROR(Expect(TokenKind::kComma, "',' or ')'"));
    if (!At(TokenKind::kValueName)) return Unexpected("a parameter name such as %x");
    Token name = tok_;
    BRAID_RETURN_IF_ERROR(Advance());
    BRAID_RETURN_IF_ERROR(Expect(TokenKind::kColon, "':' and a type"));
    bool is_const = false;
    if (At(TokenKind::kIdent) && tok_.text == "const") {
      is_const = true;
      BRAID_RETURN_IF_ERROR(Advance());
    }
    BRAID_ASSIGN_OR_RETURN(TensorType type, ParseTensorType());
    if (scope_.count(name.text)) {
      return Error(name.loc, absl::StrCat("parameter %", name.text, " is declared twice"));
    }
    scope_[name.text] = graph->AddParam(name.text, std::move(type), is_const, name.loc);
  }
  BRAID_RETURN_IF_ERROR(Advance());

  if (At(TokenKind::kArrow)) {
    BRAID_RETURN_IF_ERROR(Advance());
    BRAID_RETURN_IF_ERROR(Expect(TokenKind::kLParen, "'(' before the result types"));
    std::vector<Type> results;
    while (!At(TokenKind::kRParen)) {
      if (!results.empty()) BRAID_RETURN_IF_ERROR(Expect(TokenKind::kComma, "',' or ')'"));
      BRAID_ASSIGN_OR_RETURN(Type type, ParseType());
      results.push_back(std::move(type));
    }
    BRAID_RETURN_IF_ERROR(Advance());
    graph->set_declared_output_types(std::move(results));
  }

  BRAID_RETURN_IF_ERROR(Expect(TokenKind::kLBrace, "'{' to open the graph body"));
  while (!(At(TokenKind::kIdent) && tok_.text == "return")) {
    if (!At(TokenKind::kValueName)) {
      return Unexpected("a statement ('%name = op(...)') or 'return'");
    }
    BRAID_RETURN_IF_ERROR(ParseStatement(*graph));
  }
  BRAID_RETURN_IF_ERROR(Advance());
  std::vector<Value*> outputs;
  do {
    if (!outputs.empty()) BRAID_RETURN_IF_ERROR(Advance());  // the ','
    BRAID_ASSIGN_OR_RETURN(Value * v, ParseUse());
    outputs.push_back(v);
  } while (At(TokenKind::kComma));
  graph->set_outputs(std::move(outputs));
  BRAID_RETURN_IF_ERROR(Expect(TokenKind::kRBrace, "'}' to close the graph after 'return'"));
  module.graphs.push_back(std::move(graph));
  return absl::OkStatus();
}

// dim := product ('+' product)*;  product := factor ('*' factor)*;  factor := INT | NAME
absl::StatusOr<Dim> Parser::ParseDim() {
  SourceLoc loc = tok_.loc;
  BRAID_ASSIGN_OR_RETURN(Dim sum, ParseDimProduct());
  while (At(TokenKind::kPlus)) {
    BRAID_RETURN_IF_ERROR(Advance());
    BRAID_ASSIGN_OR_RETURN(Dim term, ParseDimProduct());
    auto added = Dim::Add(sum, term);
    if (!added.ok()) return Error(loc, added.status().message());
    sum = *std::move(added);
  }
  return sum;
}

absl::StatusOr<Dim> Parser::ParseDimProduct() {
  SourceLoc loc = tok_.loc;
  BRAID_ASSIGN_OR_RETURN(Dim product, ParseDimFactor());
  while (At(TokenKind::kStar)) {
    BRAID_RETURN_IF_ERROR(Advance());
    BRAID_ASSIGN_OR_RETURN(Dim factor, ParseDimFactor());
    auto multiplied = Dim::Multiply(product, factor);
    if (!multiplied.ok()) return Error(loc, multiplied.status().message());
    product = *std::move(multiplied);
  }
  return product;
}

absl::StatusOr<Dim> Parser::ParseDimFactor() {
  if (At(TokenKind::kIdent)) {
    Dim d = Dim::Symbol(tok_.text);
    BRAID_RETURN_IF_ERROR(Advance());
    return d;
  }
  if (!At(TokenKind::kInt)) return Unexpected("a dimension (an integer or a name such as M)");
  if (tok_.int_value < 0) {
    return Error(tok_.loc, absl::StrCat("dimension ", tok_.int_value, " is negative"));
  }
  if (tok_.int_value > kMaxDimValue) {
    return Error(tok_.loc, absl::StrCat("dimension ", tok_.int_value, " is too large (limit ",
                                        kMaxDimValue, ")"));
  }
  Dim d = Dim::Const(tok_.int_value);
  BRAID_RETURN_IF_ERROR(Advance());
  return d;
}

absl::StatusOr<TensorType> Parser::ParseTensorType() {
  SourceLoc loc = tok_.loc;
  if (!At(TokenKind::kIdent)) return Unexpected("a tensor type such as f32[M, 64]");
  std::optional<DType> dtype = ParseDType(tok_.text);
  if (!dtype) return Error(loc, absl::StrCat("unknown dtype '", tok_.text, "' (expected f32, bf16, f16, i8 or i32)"));
  BRAID_RETURN_IF_ERROR(Advance());
  BRAID_RETURN_IF_ERROR(Expect(TokenKind::kLBracket, "'[' and the shape"));
  TensorType type{*dtype, {}};
  int64_t static_elements = 1;
  while (!At(TokenKind::kRBracket)) {
    if (!type.shape.empty()) BRAID_RETURN_IF_ERROR(Expect(TokenKind::kComma, "',' or ']'"));
    SourceLoc dim_loc = tok_.loc;
    BRAID_ASSIGN_OR_RETURN(Dim d, ParseDim());
    if (type.rank() == kMaxRank) {
      return Error(dim_loc, absl::StrCat("rank above the limit of ", kMaxRank));
    }
    if (!d.is_symbolic() && (__builtin_mul_overflow(static_elements, d.value(), &static_elements) ||
                             static_elements > kMaxElementCount)) {
      return Error(loc, absl::StrCat("tensor type has more than ", kMaxElementCount, " elements"));
    }
    type.shape.push_back(std::move(d));
  }
  BRAID_RETURN_IF_ERROR(Advance());
  return type;
}

absl::StatusOr<Type> Parser::ParseType() {
  if (!(At(TokenKind::kIdent) && tok_.text == "multi_output_layout")) {
    BRAID_ASSIGN_OR_RETURN(TensorType t, ParseTensorType());
    return Type::Tensor(std::move(t));
  }
  BRAID_RETURN_IF_ERROR(Advance());
  BRAID_RETURN_IF_ERROR(Expect(TokenKind::kLParen));
  std::vector<TensorType> parts;
  do {
    if (!parts.empty()) BRAID_RETURN_IF_ERROR(Advance());  // the ','
    BRAID_ASSIGN_OR_RETURN(TensorType t, ParseTensorType());
    parts.push_back(std::move(t));
  } while (At(TokenKind::kComma));
  BRAID_RETURN_IF_ERROR(Expect(TokenKind::kRParen, "',' or ')'"));
  return Type::Layout(std::move(parts));
}

absl::StatusOr<Value*> Parser::ParseUse() {
  if (!At(TokenKind::kValueName)) return Unexpected("a value name such as %x");
  auto it = scope_.find(tok_.text);
  if (it == scope_.end()) {
    return Error(tok_.loc, absl::StrCat("use of undefined value %", tok_.text));
  }
  BRAID_RETURN_IF_ERROR(Advance());
  return it->second;
}

absl::StatusOr<Attributes> Parser::ParseAttributes() {
  Attributes attrs;
  BRAID_RETURN_IF_ERROR(Advance());  // '{'
  while (!At(TokenKind::kRBrace)) {
    if (!attrs.empty()) BRAID_RETURN_IF_ERROR(Expect(TokenKind::kComma, "',' or '}'"));
    if (!At(TokenKind::kIdent)) return Unexpected("an attribute name");
    Token name = tok_;
    BRAID_RETURN_IF_ERROR(Advance());
    BRAID_RETURN_IF_ERROR(Expect(TokenKind::kEqual, "'=' after the attribute name"));
    AttrValue value;
    if (At(TokenKind::kInt)) {
      value = tok_.int_value;
      BRAID_RETURN_IF_ERROR(Advance());
    } else if (At(TokenKind::kFloat)) {
      value = tok_.float_value;
      BRAID_RETURN_IF_ERROR(Advance());
    } else if (At(TokenKind::kIdent)) {
      value = tok_.text;
      BRAID_RETURN_IF_ERROR(Advance());
    } else if (At(TokenKind::kLBracket)) {
      BRAID_RETURN_IF_ERROR(Advance());
      std::vector<int64_t> ints;
      std::vector<double> floats;
      std::vector<std::string> idents;
      bool first = true;
      while (!At(TokenKind::kRBracket)) {
        if (!first) BRAID_RETURN_IF_ERROR(Expect(TokenKind::kComma, "',' or ']'"));
        const bool others = !first;
        if (At(TokenKind::kInt) && (first || !ints.empty())) {
          ints.push_back(tok_.int_value);
        } else if (At(TokenKind::kFloat) && (first || !floats.empty())) {
          floats.push_back(tok_.float_value);
        } else if (At(TokenKind::kIdent) && (first || !idents.empty())) {
          idents.push_back(tok_.text);
        } else {
          return Unexpected(others ? "a list element of the same kind as the first"
                                   : "an integer, a float or an identifier");
        }
        first = false;
        BRAID_RETURN_IF_ERROR(Advance());
      }
      BRAID_RETURN_IF_ERROR(Advance());
      if (!idents.empty()) {
        value = std::move(idents);
      } else if (!floats.empty()) {
        value = std::move(floats);
      } else {
        value = std::move(ints);
      }
    } else {
      return Unexpected("an attribute value (integer, float, identifier or list)");
    }
    if (!attrs.emplace(name.text, std::move(value)).second) {
      return Error(name.loc, absl::StrCat("attribute '", name.text, "' is given twice"));
    }
  }
  BRAID_RETURN_IF_ERROR(Advance());
  return attrs;
}

absl::Status Parser::ParseStatement(Graph& graph) {
  Token result = tok_;
  BRAID_RETURN_IF_ERROR(Advance());
  BRAID_RETURN_IF_ERROR(Expect(TokenKind::kEqual, "'=' after the result name"));
  if (!At(TokenKind::kIdent)) return Unexpected("an op name");
  Token op_tok = tok_;
  const OpInfo* info = LookupOp(op_tok.text);
  if (info == nullptr) return Error(op_tok.loc, absl::StrCat("unknown op '", op_tok.text, "'"));
  BRAID_RETURN_IF_ERROR(Advance());
  BRAID_RETURN_IF_ERROR(Expect(TokenKind::kLParen, "'(' and the operands"));
  std::vector<Value*> operands;
  while (!At(TokenKind::kRParen)) {
    if (!operands.empty()) BRAID_RETURN_IF_ERROR(Expect(TokenKind::kComma, "',' or ')'"));
    BRAID_ASSIGN_OR_RETURN(Value * v, ParseUse());
    operands.push_back(v);
  }
  BRAID_RETURN_IF_ERROR(Advance());
  Attributes attrs;
  if (At(TokenKind::kLBrace)) {
    BRAID_ASSIGN_OR_RETURN(attrs, ParseAttributes());
  }
  Type type;
  if (At(TokenKind::kColon)) {
    BRAID_RETURN_IF_ERROR(Advance());
    BRAID_ASSIGN_OR_RETURN(type, ParseType());
    // `convert(%x) : bf16[...]` may leave its target to the written type.
    if (info->kind == OpKind::kConvert && !attrs.count("to") && !type.is_layout()) {
      attrs["to"] = std::string(DTypeName(type.tensor().dtype));
    }
  } else {
    std::vector<const Type*> operand_types;
    for (Value* v : operands) operand_types.push_back(&v->type());
    auto inferred = InferResultType(info->kind, operand_types, attrs);
    if (!inferred.ok()) return Error(op_tok.loc, inferred.status().message());
    type = *std::move(inferred);
  }
  if (scope_.count(result.text)) {
    return Error(result.loc, absl::StrCat("redefinition of %", result.text));
  }
  Node* node = graph.AddNode(info->kind, std::move(operands), std::move(attrs), result.text,
                             std::move(type), op_tok.loc);
  scope_[result.text] = node->result();
  return absl::OkStatus();
}

}  // namespace

// Chunks of `text` separated by '// -----' lines. Each chunk keeps the whole file's line
// numbers: the lines of the other chunks are blanked, not removed.
std::vector<std::string> SplitInputFile(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  std::vector<std::string> chunks;
  size_t begin = 0;
  for (size_t i = 0; i <= lines.size(); ++i) {
    if (i < lines.size() && absl::StripAsciiWhitespace(lines[i]) != "// -----") continue;
    std::string chunk;
    for (size_t j = 0; j < lines.size(); ++j) {
      if (j >= begin && j < i) chunk += lines[j];
      if (j + 1 < lines.size()) chunk += '\n';
    }
    chunks.push_back(std::move(chunk));
    begin = i + 1;
  }
  return chunks;
}

absl::StatusOr<Module> ParseModule(absl::string_view filename, std::string text) {
  Parser parser(std::make_shared<const SourceFile>(std::string(filename), std::move(text)));
  return parser.ParseModule();
}

absl::StatusOr<Attributes> ParseAttributeDict(absl::string_view filename, std::string text) {
  Parser parser(std::make_shared<const SourceFile>(std::string(filename), std::move(text)));
  return parser.ParseAttributeDict();
}

}  // namespace braid
