// The textual IR parser (hand-written recursive descent over a flat token stream; nothing
// recurses per node, so graph length never grows the stack). Grammar:
//
//   module    := graph+
//   graph     := 'graph' @name '(' [param (',' param)*] ')' ['->' '(' [type (',' type)*] ')']
//                '{' stmt* 'return' %v (',' %v)* '}'
//   param     := %name ':' ['const'] tensor
//   stmt      := %name '=' op '(' [%v (',' %v)*] ')' ['{' [attr (',' attr)*] '}'] [':' type]
//   attr      := ident '=' (int | float | ident | '[' [elements of one kind, ','-separated] ']')
//   float     := ['-'] digits ('.' digits [exponent] | exponent)   exponent := ('e'|'E') ['+'|'-'] digits
//   type      := tensor | 'multi_output_layout' '(' tensor (',' tensor)* ')'
//   tensor    := dtype '[' [dim (',' dim)*] ']'       dim := int | ident
//
// The parser resolves names (use before definition and redefinition are errors) and infers
// result types written without one; everything else is the verifier's job.
#ifndef BRAID_IR_PARSER_H_
#define BRAID_IR_PARSER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ir/graph.h"

namespace braid {

// Parses `text`; `filename` names it in error messages.
absl::StatusOr<Module> ParseModule(absl::string_view filename, std::string text);

// An attribute dictionary alone, `{eps = 1e-05, index = 0}` (the syntax a node's attributes
// use), for tests and tools: no op table checks.
absl::StatusOr<Attributes> ParseAttributeDict(absl::string_view filename, std::string text);

// `--split-input-file`: the chunks of `text` between lines that read `// -----`. Each chunk
// keeps the whole file's line numbers (the other chunks' lines are blank), so errors point
// into the original file.
std::vector<std::string> SplitInputFile(const std::string& text);

}  // namespace braid

#endif  // BRAID_IR_PARSER_H_
