// Source files and located error rendering.
#include "ir/source.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace braid {

SourceFile::SourceFile(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i) {
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  }
}

absl::string_view SourceFile::Line(int line) const {
  if (line < 1 || static_cast<size_t>(line) > line_starts_.size()) return {};
  size_t begin = line_starts_[line - 1];
  size_t end = text_.find('\n', begin);
  if (end == std::string::npos) end = text_.size();
  return absl::string_view(text_).substr(begin, end - begin);
}

namespace {

// Quotes a source line safely: binary bytes become '?', tabs stay (so the caret lines up),
// and very long lines are cut to a window around the column.
std::string QuoteLine(absl::string_view line, int col, int* caret_col) {
  constexpr int kWindow = 160;
  int begin = 0;
  if (static_cast<int>(line.size()) > kWindow && col > kWindow / 2) begin = col - kWindow / 2;
  int end = std::min<int>(line.size(), begin + kWindow);
  std::string out;
  if (begin > 0) out += "...";
  *caret_col = col - begin + (begin > 0 ? 3 : 0);
  for (int i = begin; i < end; ++i) {
    unsigned char c = line[i];
    out += (c == '\t' || (c >= 0x20 && c < 0x7f)) ? static_cast<char>(c) : '?';
  }
  if (end < static_cast<int>(line.size())) out += "...";
  return out;
}

}  // namespace

absl::Status LocatedError(const SourceFile* file, SourceLoc loc, absl::string_view message,
                          absl::string_view fallback_name) {
  if (file == nullptr || !loc.known()) {
    absl::string_view where = file != nullptr ? absl::string_view(file->name()) : fallback_name;
    return absl::InvalidArgumentError(absl::StrCat(where, ": error: ", message));
  }
  std::string text = absl::StrCat(file->name(), ":", loc.line, ":", loc.col, ": error: ", message);
  absl::string_view line = file->Line(loc.line);
  int caret_col = 0;
  std::string quoted = QuoteLine(line, loc.col, &caret_col);
  absl::StrAppend(&text, "\n", quoted, "\n");
  for (int i = 1; i < caret_col; ++i) {
    // Keep tabs so the caret sits under the right character.
    text += (i - 1 < static_cast<int>(quoted.size()) && quoted[i - 1] == '\t') ? '\t' : ' ';
  }
  text += '^';
  return absl::InvalidArgumentError(text);
}

}  // namespace braid
