// Tokens of the textual IR. The lexer is a single forward scan (linear time on any input) and
// reports bad bytes, bad numbers and stray characters as located errors.
#ifndef BRAID_IR_LEXER_H_
#define BRAID_IR_LEXER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "ir/source.h"

namespace braid {

enum class TokenKind {
  kEof,
  kIdent,       // graph, f32, linear, M
  kValueName,   // %x   (text holds "x")
  kGraphName,   // @mlp (text holds "mlp")
  kInt,         // 42, -1
  kFloat,       // 1.5, -0.5, 1e-5, 2.0 (a '.' or an exponent makes a number a float)
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kLBrace,
  kRBrace,
  kComma,
  kColon,
  kEqual,
  kArrow,  // ->
  kStar,   // * (in dims: B*T)
  kPlus,   // + (in dims: P + T)
};

// How a token kind is described in "expected ..." messages.
const char* TokenKindName(TokenKind kind);

struct Token {
  TokenKind kind = TokenKind::kEof;
  std::string text;
  int64_t int_value = 0;
  double float_value = 0;
  SourceLoc loc;
};

class Lexer {
 public:
  explicit Lexer(const SourceFile* file) : file_(file), text_(file->text()) {}
  // The next token, or a located error for input that is not a token.
  absl::StatusOr<Token> Next();

 private:
  SourceLoc Here() const { return {line_, static_cast<int>(pos_ - line_start_) + 1}; }
  void SkipSpaceAndComments();
  absl::Status ErrorHere(absl::string_view message) const;

  const SourceFile* file_;
  const std::string& text_;
  size_t pos_ = 0;
  size_t line_start_ = 0;
  int line_ = 1;
};

}  // namespace braid

#endif  // BRAID_IR_LEXER_H_
