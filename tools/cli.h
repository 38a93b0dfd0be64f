// Command-line conventions of the braid tools on top of Abseil flags: flags are spelled with
// hyphens as in LLVM tools (`--output-dir`, `--print-after-all`) although Abseil names them
// with underscores, and `--help` lists the tool's own flags and exits 0.
#ifndef BRAID_TOOLS_CLI_H_
#define BRAID_TOOLS_CLI_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace braid {

// Parses the command line (Abseil flags, hyphens accepted); prints help and exits 0 for
// `--help`/`-h`. Returns the positional arguments, argv[0] first.
std::vector<std::string> ParseCommandLine(int argc, char** argv, absl::string_view usage);

}  // namespace braid

#endif  // BRAID_TOOLS_CLI_H_
