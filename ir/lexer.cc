// The IR lexer.
#include "ir/lexer.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace braid {
namespace {

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
}

std::string DescribeChar(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return absl::StrCat("'", std::string(1, c), "'");
  return absl::StrFormat("byte 0x%02x", u);
}

}  // namespace

const char* TokenKindName(TokenKind kind) {
  switch (kind) {
    case TokenKind::kEof: return "end of file";
    case TokenKind::kIdent: return "identifier";
    case TokenKind::kValueName: return "value name (%name)";
    case TokenKind::kGraphName: return "graph name (@name)";
    case TokenKind::kInt: return "integer";
    case TokenKind::kLParen: return "'('";
    case TokenKind::kRParen: return "')'";
    case TokenKind::kLBracket: return "'['";
    case TokenKind::kRBracket: return "']'";
    case TokenKind::kLBrace: return "'{'";
    case TokenKind::kRBrace: return "'}'";
    case TokenKind::kComma: return "','";
    case TokenKind::kColon: return "':'";
    case TokenKind::kEqual: return "'='";
    case TokenKind::kArrow: return "'->'";
  }
  return "?";
}

absl::Status Lexer::ErrorHere(absl::string_view message) const {
  return LocatedError(file_, Here(), message);
}

void Lexer::SkipSpaceAndComments() {
  while (pos_ < text_.size()) {
    char c = text_[pos_];
    if (c == '\n') {
      ++pos_;
      ++line_;
      line_start_ = pos_;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      ++pos_;
    } else if (c == '/' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '/') {
      while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
    } else {
      return;
    }
  }
}

absl::StatusOr<Token> Lexer::Next() {
  SkipSpaceAndComments();
  Token tok;
  tok.loc = Here();
  if (pos_ >= text_.size()) return tok;  // kEof
  const char c = text_[pos_];
  auto single = [&](TokenKind kind) {
    tok.kind = kind;
    tok.text = std::string(1, c);
    ++pos_;
    return tok;
  };
  switch (c) {
    case '(': return single(TokenKind::kLParen);
    case ')': return single(TokenKind::kRParen);
    case '[': return single(TokenKind::kLBracket);
    case ']': return single(TokenKind::kRBracket);
    case '{': return single(TokenKind::kLBrace);
    case '}': return single(TokenKind::kRBrace);
    case ',': return single(TokenKind::kComma);
    case ':': return single(TokenKind::kColon);
    case '=': return single(TokenKind::kEqual);
    default: break;
  }
  if (c == '-' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '>') {
    pos_ += 2;
    tok.kind = TokenKind::kArrow;
    tok.text = "->";
    return tok;
  }
  if (c == '%' || c == '@') {
    size_t begin = ++pos_;
    while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
    if (pos_ == begin) {
      return LocatedError(file_, tok.loc, absl::StrCat("expected a name after '", std::string(1, c), "'"));
    }
    tok.kind = c == '%' ? TokenKind::kValueName : TokenKind::kGraphName;
    tok.text = text_.substr(begin, pos_ - begin);
    return tok;
  }
  if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
    const bool negative = c == '-';
    size_t begin = pos_;
    if (negative) ++pos_;
    if (pos_ >= text_.size() || !std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      return LocatedError(file_, tok.loc, "expected a digit after '-'");
    }
    int64_t value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      int digit = text_[pos_] - '0';
      if (__builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, digit, &value)) {
        return LocatedError(file_, tok.loc, "integer literal is too large");
      }
      ++pos_;
    }
    if (pos_ < text_.size() && IsIdentStart(text_[pos_])) {
      return ErrorHere(absl::StrCat("unexpected ", DescribeChar(text_[pos_]), " in a number"));
    }
    tok.kind = TokenKind::kInt;
    tok.int_value = negative ? -value : value;
    tok.text = text_.substr(begin, pos_ - begin);
    return tok;
  }
  if (IsIdentStart(c)) {
    size_t begin = pos_;
    while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
    tok.kind = TokenKind::kIdent;
    tok.text = text_.substr(begin, pos_ - begin);
    return tok;
  }
  return ErrorHere(absl::StrCat("unexpected ", DescribeChar(c)));
}

}  // namespace braid
