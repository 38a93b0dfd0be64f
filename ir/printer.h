// The canonical printer. Its output is deterministic and parses back to an identical print:
// parameters on the signature line, one node per line with attributes sorted by name and the
// result type always written, graphs separated by a blank line.
#ifndef BRAID_IR_PRINTER_H_
#define BRAID_IR_PRINTER_H_

#include <string>

#include "ir/graph.h"

namespace braid {

std::string PrintGraph(const Graph& graph);
std::string PrintModule(const Module& module);
// One node as it appears in a graph body, without indentation or newline.
std::string PrintNode(const Node& node);
// `{name = value, ...}`, sorted by name; floats in their shortest exact form.
std::string PrintAttributes(const Attributes& attrs);

}  // namespace braid

#endif  // BRAID_IR_PRINTER_H_
