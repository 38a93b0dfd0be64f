// The IR lexer.
#include "ir/lexer.h"

#include <cctype>
#include <charconv>
#include <system_error>

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
    case TokenKind::kFloat: return "float";
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
    case TokenKind::kStar: return "'*'";
    case TokenKind::kPlus: return "'+'";
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
    case '*': return single(TokenKind::kStar);
    case '+': return single(TokenKind::kPlus);
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
    auto digit_at = [&](size_t i) {
      return i < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i]));
    };
    int64_t value = 0;
    bool too_large = false;
    while (digit_at(pos_)) {
      int digit = text_[pos_] - '0';
      too_large |= __builtin_mul_overflow(value, 10, &value) || __builtin_add_overflow(value, digit, &value);
      ++pos_;
    }
    // A float: digits, then a fraction ('.' and digits) and/or an exponent ('e', an optional
    // sign, digits).
    bool is_float = false;
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digit_at(pos_)) return ErrorHere("expected a digit after '.' in a number");
      while (digit_at(pos_)) ++pos_;
      is_float = true;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      size_t exponent = pos_ + 1;
      if (exponent < text_.size() && (text_[exponent] == '+' || text_[exponent] == '-')) ++exponent;
      if (digit_at(exponent)) {
        pos_ = exponent;
        while (digit_at(pos_)) ++pos_;
        is_float = true;
      }
    }
    if (pos_ < text_.size() && (IsIdentStart(text_[pos_]) || text_[pos_] == '.')) {
      return ErrorHere(absl::StrCat("unexpected ", DescribeChar(text_[pos_]), " in a number"));
    }
    tok.text = text_.substr(begin, pos_ - begin);
    if (is_float) {
      // from_chars reads exactly this text (the scan above is a subset of its syntax), rounds
      // correctly and ignores the locale, so the printer's shortest form reads back the same.
      tok.kind = TokenKind::kFloat;
      const char* first = text_.data() + begin;
      const char* last = text_.data() + pos_;
      auto [end, error] = std::from_chars(first, last, tok.float_value);
      if (error == std::errc::result_out_of_range) {
        return LocatedError(file_, tok.loc, "float literal is out of range");
      }
      if (error != std::errc() || end != last) {
        return LocatedError(file_, tok.loc, "malformed float literal");
      }
      return tok;
    }
    if (too_large) return LocatedError(file_, tok.loc, "integer literal is too large");
    tok.kind = TokenKind::kInt;
    tok.int_value = negative ? -value : value;
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
