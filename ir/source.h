// Source text and locations: every node remembers where it came from, and every user-facing
// error is rendered as `FILE:LINE:COL: error: message`, the source line, and a caret.
#ifndef BRAID_IR_SOURCE_H_
#define BRAID_IR_SOURCE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace braid {

// 1-based line and column (in bytes). Line 0 means "no location" (e.g. built by the API).
struct SourceLoc {
  int line = 0;
  int col = 0;
  bool known() const { return line > 0; }
};

// One input file, kept alive by every graph parsed from it so errors can quote it.
class SourceFile {
 public:
  SourceFile(std::string name, std::string text);

  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }
  // The text of `line` (1-based) without its newline; empty if out of range.
  absl::string_view Line(int line) const;

 private:
  std::string name_;
  std::string text_;
  std::vector<size_t> line_starts_;
};

// Renders a located user error. `file` may be null (graph built through the API); then
// `fallback_name` (for example "@llama_mlp") stands in for the file position.
absl::Status LocatedError(const SourceFile* file, SourceLoc loc, absl::string_view message,
                          absl::string_view fallback_name = "<input>");

}  // namespace braid

#endif  // BRAID_IR_SOURCE_H_
