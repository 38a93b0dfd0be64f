// Hyphenated flag spelling and --help for the braid tools.
#include "tools/cli.h"

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace braid {
namespace {

std::string Hyphenate(absl::string_view name) { return absl::StrReplaceAll(name, {{"_", "-"}}); }

// Word-wraps `text` at `width` columns with `indent` spaces.
void PrintWrapped(const std::string& text, int indent, int width) {
  int col = indent;
  std::cout << std::string(indent, ' ');
  for (absl::string_view word : absl::StrSplit(text, ' ', absl::SkipEmpty())) {
    if (col > indent && col + 1 + static_cast<int>(word.size()) > width) {
      std::cout << "\n" << std::string(indent, ' ');
      col = indent;
    } else if (col > indent) {
      std::cout << ' ';
      ++col;
    }
    std::cout << word;
    col += word.size();
  }
  std::cout << "\n";
}

void PrintHelp(absl::string_view usage) {
  std::cout << usage << "\n\nflags:\n";
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    // Only the flags braid defines, not Abseil's own (--flagfile, --fromenv, ...).
    if (absl::StrContains(flag->Filename(), "tools/")) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](auto* a, auto* b) { return a->Name() < b->Name(); });
  for (const absl::CommandLineFlag* flag : flags) {
    std::string head = "  --" + Hyphenate(flag->Name());
    const std::string def = flag->DefaultValue();
    if (!def.empty() && def != "false") head += " (default: " + def + ")";
    std::cout << head << "\n";
    PrintWrapped(flag->Help(), 6, 92);
  }
}

}  // namespace

std::vector<std::string> ParseCommandLine(int argc, char** argv, absl::string_view usage) {
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& arg = args[i];
    if (arg == "--") break;
    if (arg == "--help" || arg == "-h" || arg == "-help") {
      PrintHelp(usage);
      std::exit(0);
    }
    if (arg.size() > 2 && arg[0] == '-') {
      size_t start = arg.find_first_not_of('-');
      size_t end = std::min(arg.find('='), arg.size());
      std::replace(arg.begin() + start, arg.begin() + end, '-', '_');
    }
  }
  std::vector<char*> raw;
  for (std::string& a : args) raw.push_back(a.data());
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(raw.size()), raw.data());
  return std::vector<std::string>(rest.begin(), rest.end());
}

}  // namespace braid
