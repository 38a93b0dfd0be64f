// The perf map writer: an ObjectLinkingLayer plugin whose post-fixup pass lists the graph's
// defined callable symbols at their final addresses (local ones included, which a lookup by
// name could not find).
#include "codegen/perf_map.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h"

namespace braid {
namespace {

class PerfMapPlugin : public llvm::orc::ObjectLinkingLayer::Plugin {
 public:
  void modifyPassConfig(llvm::orc::MaterializationResponsibility&, llvm::jitlink::LinkGraph&,
                        llvm::jitlink::PassConfiguration& config) override {
    config.PostFixupPasses.push_back([](llvm::jitlink::LinkGraph& graph) {
      Append(graph);
      return llvm::Error::success();
    });
  }
  llvm::Error notifyFailed(llvm::orc::MaterializationResponsibility&) override { return llvm::Error::success(); }
  llvm::Error notifyRemovingResources(llvm::orc::JITDylib&, llvm::orc::ResourceKey) override {
    return llvm::Error::success();
  }
  void notifyTransferringResources(llvm::orc::JITDylib&, llvm::orc::ResourceKey, llvm::orc::ResourceKey) override {}

 private:
  // Several JITs (and the compile threads' link steps) may append at once.
  static void Append(llvm::jitlink::LinkGraph& graph) {
    static std::mutex mutex;
    std::lock_guard<std::mutex> lock(mutex);
    const std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
    std::FILE* file = std::fopen(path.c_str(), "a");
    if (file == nullptr) return;  // profiling aid only: no map, no error
    for (llvm::jitlink::Symbol* symbol : graph.defined_symbols()) {
      if (!symbol->isCallable() || !symbol->hasName() || symbol->getSize() == 0) continue;
      std::fprintf(file, "%llx %llx %s\n", static_cast<unsigned long long>(symbol->getAddress().getValue()),
                   static_cast<unsigned long long>(symbol->getSize()), symbol->getName().str().c_str());
    }
    std::fclose(file);
  }
};

}  // namespace

bool PerfMapRequested() {
  const char* value = std::getenv("BRAID_PERF_MAP");
  return value != nullptr && *value != '\0' && std::strcmp(value, "0") != 0;
}

void AddPerfMapWriter(llvm::orc::LLJIT& jit) {
  auto* layer = llvm::dyn_cast<llvm::orc::ObjectLinkingLayer>(&jit.getObjLinkingLayer());
  if (layer != nullptr) layer->addPlugin(std::make_unique<PerfMapPlugin>());
}

}  // namespace braid
