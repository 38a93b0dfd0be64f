// The perf map (codegen/perf_map.h): with BRAID_PERF_MAP set, every function the JIT links,
// local ones included, appears in /tmp/perf-<pid>.map at the address it runs from; without it,
// nothing is written.
#include "codegen/perf_map.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "codegen/jit.h"
#include "codegen/target.h"
#include "gtest/gtest.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

namespace braid {
namespace {

std::string MapPath() { return "/tmp/perf-" + std::to_string(getpid()) + ".map"; }

// `i64 <name>(i64 x)` returning x + 1 through an internal helper `<name>_helper`.
std::unique_ptr<llvm::Module> AddOneModule(llvm::LLVMContext& context, const std::string& name) {
  auto module = std::make_unique<llvm::Module>(name, context);
  llvm::IRBuilder<> b(context);
  auto* type = llvm::FunctionType::get(b.getInt64Ty(), {b.getInt64Ty()}, false);
  auto* helper = llvm::Function::Create(type, llvm::Function::InternalLinkage, name + "_helper", *module);
  helper->addFnAttr(llvm::Attribute::NoInline);
  b.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", helper));
  b.CreateRet(b.CreateAdd(helper->getArg(0), b.getInt64(1)));
  auto* entry = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, *module);
  b.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", entry));
  b.CreateRet(b.CreateCall(helper, {entry->getArg(0)}));
  return module;
}

// The map's line for `name`, or "" if there is none.
std::string MapLine(const std::string& name) {
  std::ifstream map(MapPath());
  std::string line;
  while (std::getline(map, line)) {
    std::istringstream fields(line);
    std::string start, size, symbol;
    if (fields >> start >> size >> symbol && symbol == name) return line;
  }
  return "";
}

// Compiles AddOneModule(name) with a fresh JIT and checks the function computes x + 1.
void CompileAndRun(const std::string& name, uint64_t* address) {
  auto target = SelectTarget(Isa::kAuto);
  ASSERT_TRUE(target.ok()) << target.status();
  auto lljit = CreateSharedLljit();  // the perf map writer is attached when the LLJIT is made
  ASSERT_TRUE(lljit.ok()) << lljit.status();
  auto jit = Jit::Create(**lljit, *target);
  ASSERT_TRUE(jit.ok()) << jit.status();
  llvm::LLVMContext context;
  auto module = AddOneModule(context, name);
  (*jit)->PrepareModule(*module);
  ASSERT_TRUE((*jit)->CompileAndAdd(*module, 1, /*optimize=*/false).ok());
  auto fn = (*jit)->Lookup(name);
  ASSERT_TRUE(fn.ok()) << fn.status();
  EXPECT_EQ(reinterpret_cast<int64_t (*)(int64_t)>(*fn)(41), 42);
  *address = reinterpret_cast<uint64_t>(*fn);
}

TEST(PerfMapTest, ListsLinkedFunctionsAtTheirAddresses) {
  std::remove(MapPath().c_str());
  setenv("BRAID_PERF_MAP", "1", 1);
  ASSERT_TRUE(PerfMapRequested());
  uint64_t address = 0;
  CompileAndRun("perf_map_entry", &address);
  unsetenv("BRAID_PERF_MAP");
  const std::string line = MapLine("perf_map_entry");
  ASSERT_FALSE(line.empty()) << "no line for perf_map_entry in " << MapPath();
  unsigned long long start = 0, size = 0;
  ASSERT_EQ(std::sscanf(line.c_str(), "%llx %llx", &start, &size), 2) << line;
  EXPECT_EQ(start, address);
  EXPECT_GT(size, 0u);
  // The internal helper has no name a lookup could find, but perf still learns where it is.
  EXPECT_FALSE(MapLine("perf_map_entry_helper").empty());
  std::remove(MapPath().c_str());
}

TEST(PerfMapTest, WritesNothingUnlessAsked) {
  std::remove(MapPath().c_str());
  for (const char* off : {static_cast<const char*>(nullptr), "", "0"}) {
    if (off == nullptr) {
      unsetenv("BRAID_PERF_MAP");
    } else {
      setenv("BRAID_PERF_MAP", off, 1);
    }
    EXPECT_FALSE(PerfMapRequested());
    uint64_t address = 0;
    CompileAndRun("not_in_the_map", &address);
    EXPECT_EQ(MapLine("not_in_the_map"), "");
  }
  unsetenv("BRAID_PERF_MAP");
  std::remove(MapPath().c_str());
}

}  // namespace
}  // namespace braid
