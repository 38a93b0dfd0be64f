// The `braid._braid` extension module: the embedding API (braid.h) for Python.
//
// It deals in plain descriptions of memory, not in any framework's tensor type: a tensor is a
// tuple (address, dtype name, shape). The pure-Python layer (python/braid/) makes them from
// torch tensors (or NumPy arrays) after checking device, layout and dtype, so this module stays
// independent of PyTorch's C++ ABI and reads and writes the caller's memory without copies.
//
//   g = _braid.compile(text, {"wg": (addr, "f32", (11008, 4096)), ...}, optimize=True)
//   g.run_into([(x_addr, "f32", (16, 4096))], [(y_addr, "f32", (16, 11008))], {"M": 16})
//
// Every failure is a `_braid.Error` with braid's message (file:line:col for IR errors). Runs
// release the GIL; `close()` frees the compiled code, and a run already in flight keeps it alive.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "braid.h"
#include "codegen/target.h"
#include "ir/printer.h"
#include "scheduler/schedule.h"

namespace py = pybind11;

namespace braid {
namespace {

// Raised as `braid.Error` in Python.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) throw Error(std::string(status.message()));
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> result) {
  ThrowIfError(result.status());
  return *std::move(result);
}

using TensorTuple = std::tuple<uintptr_t, std::string, std::vector<int64_t>>;

TensorView ToView(const TensorTuple& tuple, const std::string& what) {
  const auto& [address, dtype_name, shape] = tuple;
  std::optional<DType> dtype = ParseDType(dtype_name);
  if (!dtype) throw Error(what + ": unknown dtype '" + dtype_name + "'");
  for (int64_t d : shape) {
    if (d < 0) throw Error(what + ": negative dim in shape");
  }
  if (address == 0) throw Error(what + ": null data address");
  return TensorView{*dtype, shape, reinterpret_cast<void*>(address)};
}

std::vector<TensorView> ToViews(const std::vector<TensorTuple>& tuples, const std::string& what) {
  std::vector<TensorView> views;
  views.reserve(tuples.size());
  for (size_t i = 0; i < tuples.size(); ++i) {
    views.push_back(ToView(tuples[i], what + " " + std::to_string(i)));
  }
  return views;
}

// A dim as Python sees it: an int, or the symbol's name.
py::object DimObject(const Dim& dim) {
  if (dim.is_symbolic()) return py::str(dim.ToString());
  return py::int_(dim.value());
}

py::tuple TypeObject(const TensorType& type) {
  py::list shape;
  for (const Dim& d : type.shape) shape.append(DimObject(d));
  return py::make_tuple(std::string(DTypeName(type.dtype)), py::tuple(shape));
}

// How `run_tensors` reads and makes framework tensors without linking the framework: the
// dtype objects it accepts (by identity, e.g. torch.float32 for "f32") and a function
// empty(shape, dtype=...) that allocates an output. Set once by braid's Python layer.
struct TensorFactory {
  py::object empty;
  std::map<DType, py::object> dtypes;
};
TensorFactory& Factory() {
  static auto* factory = new TensorFactory();  // leaked: Python objects outlive no interpreter
  return *factory;
}

void SetTensorFactory(py::object empty, const std::map<std::string, py::object>& dtypes) {
  TensorFactory& factory = Factory();
  factory.empty = std::move(empty);
  factory.dtypes.clear();
  for (const auto& [name, object] : dtypes) {
    std::optional<DType> dtype = ParseDType(name);
    if (!dtype) throw Error("unknown dtype '" + name + "'");
    factory.dtypes[*dtype] = object;
  }
}

// A compiled graph that Python may close while another thread still runs it.
class PyCompiledGraph {
 public:
  explicit PyCompiledGraph(std::unique_ptr<CompiledGraph> compiled)
      : compiled_(std::move(compiled)) {}

  // The graph's runtime (non-const) parameters: (name, dtype, shape with symbols as str).
  py::list inputs() const {
    auto graph = Get();
    py::list result;
    for (const Value* param : graph->graph().params()) {
      if (param->is_const()) continue;
      py::tuple type = TypeObject(param->type().tensor());
      result.append(py::make_tuple(param->name(), type[0], type[1]));
    }
    return result;
  }

  py::list outputs() const {
    auto graph = Get();
    py::list result;
    for (const Value* out : graph->graph().outputs()) result.append(TypeObject(out->type().tensor()));
    return result;
  }

  // Binds the symbolic dims of the runtime parameters from `shapes` (one per input), checking
  // that static dims and repeated symbols agree.
  DimBindings BindDims(const std::vector<std::vector<int64_t>>& shapes) const {
    auto graph = Get();
    DimBindings dims = graph->constant_dims();  // e.g. N of a `const f32[N, K]`
    int index = 0;
    for (const Value* param : graph->graph().params()) {
      if (param->is_const()) continue;
      if (index >= static_cast<int>(shapes.size())) {
        throw Error("expected " + std::to_string(CountInputs(*graph)) + " inputs, got " +
                    std::to_string(shapes.size()));
      }
      const std::vector<int64_t>& shape = shapes[index++];
      const TensorType& type = param->type().tensor();
      std::string where = "input %" + param->name() + " (" + type.ToString() + ")";
      if (shape.size() != type.shape.size()) {
        throw Error(where + ": got a tensor of rank " + std::to_string(shape.size()));
      }
      for (size_t d = 0; d < shape.size(); ++d) {
        const Dim& dim = type.shape[d];
        if (!dim.is_symbolic()) {
          if (dim.value() != shape[d]) {
            throw Error(where + ": dim " + std::to_string(d) + " is " + std::to_string(shape[d]));
          }
          continue;
        }
        if (!dim.is_symbol()) continue;  // `B*T`: checked once every symbol is bound
        auto [it, inserted] = dims.emplace(dim.symbol(), shape[d]);
        if (!inserted && it->second != shape[d]) {
          throw Error(where + ": " + dim.symbol() + " is " + std::to_string(it->second) +
                      " (from the constants or an earlier input) but " + std::to_string(shape[d]) +
                      " here");
        }
      }
    }
    if (index != static_cast<int>(shapes.size())) {
      throw Error("expected " + std::to_string(index) + " inputs, got " +
                  std::to_string(shapes.size()));
    }
    return dims;
  }

  std::vector<std::vector<int64_t>> OutputShapes(const DimBindings& dims) const {
    auto graph = Get();
    std::vector<std::vector<int64_t>> shapes;
    for (const Value* out : graph->graph().outputs()) {
      shapes.push_back(ValueOrThrow(BindShape(out->type().tensor().shape, dims)));
    }
    return shapes;
  }

  void RunInto(const std::vector<TensorTuple>& inputs, const std::vector<TensorTuple>& outputs,
               const DimBindings& dims) const {
    std::shared_ptr<CompiledGraph> graph = Get();
    std::vector<TensorView> in = ToViews(inputs, "input");
    std::vector<TensorView> out = ToViews(outputs, "output");
    absl::Status status;
    {
      py::gil_scoped_release release;
      status = graph->RunInto(in, dims, out);
    }
    ThrowIfError(status);
  }

  // The fast path for torch tensors (braid.torch calls it once per region call): reads each
  // input's data_ptr(), shape and dtype, binds the dims, allocates the outputs with the
  // factory's empty(), runs without the GIL and returns the outputs. The inputs must be CPU
  // and contiguous (the caller checks); dtypes and shapes are checked here.
  py::list RunTensors(const py::list& inputs) const {
    std::shared_ptr<CompiledGraph> graph = Get();
    const TensorFactory& factory = Factory();
    if (!factory.empty) throw Error("run_tensors: no tensor factory set");
    std::vector<TensorView> in;
    std::vector<std::vector<int64_t>> shapes;
    in.reserve(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      py::handle tensor = inputs[i];
      py::object dtype_object = tensor.attr("dtype");
      DType dtype = DType::kF32;
      bool known = false;
      for (const auto& [d, object] : factory.dtypes) {
        if (object.ptr() == dtype_object.ptr()) dtype = d, known = true;
      }
      if (!known) throw Error("input " + std::to_string(i) + ": dtype " +
                              py::str(dtype_object).cast<std::string>() + " is not one braid knows");
      shapes.push_back(tensor.attr("shape").cast<std::vector<int64_t>>());
      uintptr_t address = tensor.attr("data_ptr")().cast<uintptr_t>();
      in.push_back(TensorView{dtype, shapes.back(), reinterpret_cast<void*>(address == 0 ? 1 : address)});
    }
    DimBindings dims = BindDims(shapes);
    py::list results;
    std::vector<TensorView> out;
    const std::vector<Value*>& graph_outputs = graph->graph().outputs();
    for (const Value* value : graph_outputs) {
      const TensorType& type = value->type().tensor();
      std::vector<int64_t> shape = ValueOrThrow(BindShape(type.shape, dims));
      auto it = factory.dtypes.find(type.dtype);
      if (it == factory.dtypes.end()) throw Error("no framework dtype for an output");
      py::object tensor = factory.empty(py::tuple(py::cast(shape)), py::arg("dtype") = it->second);
      uintptr_t address = tensor.attr("data_ptr")().cast<uintptr_t>();
      out.push_back(TensorView{type.dtype, shape, reinterpret_cast<void*>(address == 0 ? 1 : address)});
      results.append(std::move(tensor));
    }
    absl::Status status;
    {
      py::gil_scoped_release release;
      status = graph->RunInto(in, dims, out);
    }
    ThrowIfError(status);
    return results;
  }

  std::string GraphText() const { return PrintGraph(Get()->graph()); }
  std::string ScheduleText(const DimBindings& dims) const {
    return PrintSchedule(Get()->schedule(), dims);
  }
  std::vector<std::string> TileChoices() const { return Get()->tile_choices(); }
  std::string Isa() const { return Get()->target().IsaName(); }
  int Threads() const { return Get()->threads(); }
  double CompileMs() const { return Get()->compile_ms(); }
  double PrepackMs() const { return Get()->prepack_ms(); }
  int64_t PrepackedBytes() const { return Get()->prepacked_bytes(); }

  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    compiled_.reset();
  }
  bool closed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return compiled_ == nullptr;
  }

 private:
  static int CountInputs(const CompiledGraph& graph) {
    int n = 0;
    for (const Value* param : graph.graph().params()) n += param->is_const() ? 0 : 1;
    return n;
  }

  std::shared_ptr<CompiledGraph> Get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!compiled_) throw Error("this compiled graph was closed");
    return compiled_;
  }

  mutable std::mutex mutex_;
  std::shared_ptr<CompiledGraph> compiled_;
};

// The runtime (pool + JIT) that graphs compiled from Python use. Python's default spins not at
// all: between braid calls PyTorch runs its own kernels, and a pool thread polling for work
// would take a core from them. `configure` replaces it for graphs compiled afterwards.
std::mutex runtime_mutex;
std::shared_ptr<Runtime> python_runtime;
Runtime::Options python_runtime_options = [] {
  Runtime::Options options;
  options.spin_us = 0;
  return options;
}();

std::shared_ptr<Runtime> PythonRuntime() {
  std::lock_guard<std::mutex> lock(runtime_mutex);
  if (!python_runtime) python_runtime = ValueOrThrow(Runtime::Create(python_runtime_options));
  return python_runtime;
}

void Configure(int threads, int spin_us) {
  if (threads < 0 || threads > 1024) throw Error("threads must be in 0..1024 (0: the hardware's)");
  if (spin_us < 0 || spin_us > 1000000) throw Error("spin_us must be in 0..1000000");
  Runtime::Options options;
  options.threads = threads;
  options.spin_us = spin_us;
  std::shared_ptr<Runtime> runtime = ValueOrThrow(Runtime::Create(options));
  std::lock_guard<std::mutex> lock(runtime_mutex);
  python_runtime_options = options;
  python_runtime = std::move(runtime);
}

std::unique_ptr<PyCompiledGraph> CompileText(const std::string& text,
                                             const std::map<std::string, TensorTuple>& constants,
                                             const std::string& filename, bool optimize,
                                             const std::string& isa, int threads) {
  std::map<std::string, TensorView> views;
  for (const auto& [name, tuple] : constants) views[name] = ToView(tuple, "constant " + name);
  CompileOptions options;
  options.isa = ValueOrThrow(ParseIsa(isa));
  if (threads < 0) throw Error("threads must be >= 0 (0: the runtime's pool)");
  options.threads = threads;
  options.runtime = PythonRuntime();

  std::unique_ptr<CompiledGraph> compiled;
  absl::Status status;
  {
    py::gil_scoped_release release;  // parsing, passes, LLVM and prepacking take a while
    absl::StatusOr<Module> module = ParseAndVerify(filename, text);
    if (!module.ok()) {
      status = module.status();
    } else if (module->graphs.size() != 1) {
      status = absl::InvalidArgumentError(filename + ": expected one graph, found " +
                                          std::to_string(module->graphs.size()));
    } else {
      Graph& graph = *module->graphs.front();
      if (optimize) status = Optimize(graph).status();
      if (status.ok()) {
        absl::StatusOr<std::unique_ptr<CompiledGraph>> result =
            CompiledGraph::Compile(graph, options, views);
        if (result.ok()) {
          compiled = *std::move(result);
        } else {
          status = result.status();
        }
      }
    }
  }
  ThrowIfError(status);
  return std::make_unique<PyCompiledGraph>(std::move(compiled));
}

// The interpreter, for tests and for users who want the reference meaning of a graph:
// returns one (bytes, dtype, shape) per output.
std::vector<std::tuple<py::bytes, std::string, std::vector<int64_t>>> InterpretText(
    const std::string& text, const std::vector<TensorTuple>& inputs, const DimBindings& dims,
    const std::string& filename) {
  Module module = ValueOrThrow(ParseAndVerify(filename, text));
  if (module.graphs.size() != 1) throw Error(filename + ": expected one graph");
  std::vector<TensorView> views = ToViews(inputs, "input");
  std::vector<Tensor> owned;
  for (const TensorView& view : views) owned.push_back(Tensor::CopyOf(view));
  std::vector<Tensor> results = ValueOrThrow(Interpret(*module.graphs.front(), owned, dims));
  std::vector<std::tuple<py::bytes, std::string, std::vector<int64_t>>> out;
  for (const Tensor& t : results) {
    out.emplace_back(py::bytes(static_cast<const char*>(t.view().data), t.num_bytes()),
                     std::string(DTypeName(t.dtype())), t.shape());
  }
  return out;
}

}  // namespace
}  // namespace braid

PYBIND11_MODULE(_braid, m) {
  using braid::PyCompiledGraph;
  m.doc() = "braid's C++ core: compile textual IR and run it on caller-owned memory";
  py::register_exception<braid::Error>(m, "Error", PyExc_ValueError);

  py::class_<PyCompiledGraph>(m, "CompiledGraph")
      .def_property_readonly("inputs", &PyCompiledGraph::inputs)
      .def_property_readonly("outputs", &PyCompiledGraph::outputs)
      .def("bind_dims", &PyCompiledGraph::BindDims, py::arg("shapes"))
      .def("output_shapes", &PyCompiledGraph::OutputShapes, py::arg("dims"))
      .def("run_into", &PyCompiledGraph::RunInto, py::arg("inputs"), py::arg("outputs"),
           py::arg("dims"))
      .def("run_tensors", &PyCompiledGraph::RunTensors, py::arg("inputs"))
      .def("graph_text", &PyCompiledGraph::GraphText)
      .def("schedule_text", &PyCompiledGraph::ScheduleText, py::arg("dims"))
      .def_property_readonly("tile_choices", &PyCompiledGraph::TileChoices)
      .def_property_readonly("isa", &PyCompiledGraph::Isa)
      .def_property_readonly("threads", &PyCompiledGraph::Threads)
      .def_property_readonly("compile_ms", &PyCompiledGraph::CompileMs)
      .def_property_readonly("prepack_ms", &PyCompiledGraph::PrepackMs)
      .def_property_readonly("prepacked_bytes", &PyCompiledGraph::PrepackedBytes)
      .def_property_readonly("closed", &PyCompiledGraph::closed)
      .def("close", &PyCompiledGraph::Close);

  m.def("set_tensor_factory", &braid::SetTensorFactory, py::arg("empty"), py::arg("dtypes"));
  m.def("configure", &braid::Configure, py::arg("threads") = 0, py::arg("spin_us") = 0);
  m.def("compile", &braid::CompileText, py::arg("text"), py::arg("constants"),
        py::arg("filename") = "<python>", py::arg("optimize") = true, py::arg("isa") = "auto",
        py::arg("threads") = 0);
  m.def("interpret", &braid::InterpretText, py::arg("text"), py::arg("inputs"), py::arg("dims"),
        py::arg("filename") = "<python>");
}
