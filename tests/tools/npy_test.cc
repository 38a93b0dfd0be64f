// .npy reading/writing and the driver's --dims / --inputs handling.
#include "tools/npy.h"

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ir/parser.h"
#include "tests/status_matchers.h"
#include "tools/run_inputs.h"

namespace braid {
namespace {

using ::braid::testing::IsOk;
using ::braid::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/" + name;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(NpyTest, WriteThenReadRoundTrips) {
  Tensor t = Tensor::F32({2, 3}, {1, 2, 3, 4, 5, 6.5f});
  const std::string path = TempPath("t.npy");
  ASSERT_THAT(WriteNpy(path, t), IsOk());
  const std::string bytes = ReadBytes(path);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ((bytes.size() - 24) % 64, 0u);  // data 64-byte aligned
  EXPECT_THAT(bytes, HasSubstr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
  ASSERT_OK_AND_ASSIGN(Tensor back, ReadNpy(path));
  EXPECT_EQ(back.shape(), t.shape());
  EXPECT_EQ(back.f32_values(), t.f32_values());
}

TEST(NpyTest, OneDimAndScalarShapes) {
  for (const Tensor& t : {Tensor::F32({3}, {1, 2, 3}), Tensor::F32({}, {42})}) {
    const std::string path = TempPath("s.npy");
    ASSERT_THAT(WriteNpy(path, t), IsOk());
    ASSERT_OK_AND_ASSIGN(Tensor back, ReadNpy(path));
    EXPECT_EQ(back.shape(), t.shape());
    EXPECT_EQ(back.f32_values(), t.f32_values());
  }
}

std::string Header(const std::string& dict) {
  std::string h = dict;
  h += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(h.size() & 0xff);
  out += static_cast<char>(h.size() >> 8);
  return out + h;
}

// Every dtype round-trips bit for bit, with NumPy's descr for it (bf16 as uint16 bits).
TEST(NpyTest, EveryDtypeRoundTrips) {
  const std::pair<DType, std::string> cases[] = {{DType::kF32, "'<f4'"}, {DType::kBF16, "'<u2'"},
                                                 {DType::kF16, "'<f2'"}, {DType::kI8, "'|i1'"},
                                                 {DType::kI32, "'<i4'"}};
  for (const auto& [dtype, descr] : cases) {
    Tensor t(dtype, {2, 3});
    auto* bytes = static_cast<unsigned char*>(t.raw_data());
    for (int64_t i = 0; i < t.num_bytes(); ++i) bytes[i] = static_cast<unsigned char>(i * 37 + 11);
    const std::string path = TempPath(absl::StrCat("dtype_", DTypeName(dtype), ".npy"));
    ASSERT_THAT(WriteNpy(path, t), IsOk());
    std::ifstream in(path, std::ios::binary);
    std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(file.find(absl::StrCat("'descr': ", descr)), std::string::npos) << DTypeName(dtype);
    ASSERT_OK_AND_ASSIGN(Tensor back, ReadNpy(path));
    EXPECT_EQ(back.dtype(), dtype);
    EXPECT_EQ(back.shape(), t.shape());
    EXPECT_EQ(std::memcmp(back.raw_data(), t.raw_data(), t.num_bytes()), 0) << DTypeName(dtype);
  }
  // int16 files (torch's `t.view(torch.int16)`) are bf16 bits too.
  ASSERT_OK_AND_ASSIGN(Tensor bf16, ParseNpy("a.npy", Header("{'descr': '<i2', 'fortran_order': False, 'shape': (1,), }") +
                                                       std::string("\x80\x3f", 2)));
  EXPECT_EQ(bf16.dtype(), DType::kBF16);
  EXPECT_EQ(static_cast<const uint16_t*>(bf16.raw_data())[0], 0x3f80);  // 1.0
}

TEST(NpyTest, RejectsWhatItCannotRead) {
  auto invalid = [](const char* text) { return StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(text)); };
  EXPECT_THAT(ParseNpy("a.npy", "hello"), invalid("missing the \\x93NUMPY magic"));
  EXPECT_THAT(ParseNpy("a.npy", Header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }") + std::string(8, 0)),
              invalid("dtype '<f8' is not one braid reads"));
  EXPECT_THAT(ParseNpy("a.npy", Header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }") + std::string(4, 0)),
              invalid("Fortran-order"));
  EXPECT_THAT(ParseNpy("a.npy", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") + std::string(4, 0)),
              invalid("the header says 3 f32 values (12 bytes) but the file holds 4 bytes"));
  EXPECT_THAT(ParseNpy("a.npy", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999), }")),
              invalid("more than"));
  EXPECT_THAT(ParseNpy("a.npy", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")),
              invalid("malformed shape"));
  EXPECT_THAT(ParseNpy("a.npy", Header("{'descr': '<f4', 'fortran_order': False}")), invalid("no 'shape'"));
  std::string truncated = Header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }");
  EXPECT_THAT(ParseNpy("a.npy", truncated.substr(0, 20)), invalid("truncated header"));
  EXPECT_THAT(ReadNpy(TempPath("does-not-exist.npy")), StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot open")));
}

TEST(RunInputsTest, ParsesDims) {
  ASSERT_OK_AND_ASSIGN(DimBindings dims, ParseDimsFlag("M=128, T=7"));
  EXPECT_EQ(dims.at("M"), 128);
  EXPECT_EQ(dims.at("T"), 7);
  EXPECT_THAT(ParseDimsFlag("M"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is not NAME=INTEGER")));
  EXPECT_THAT(ParseDimsFlag("M=-1"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  EXPECT_THAT(ParseDimsFlag("M=1,M=2"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bound twice")));
}

TEST(RunInputsTest, FilesBindDimsAndRandomIsSeeded) {
  ASSERT_OK_AND_ASSIGN(Module m, ParseModule("t.ir", "graph @g(%x: f32[M, 2], %w: f32[3, 2]) { %y = linear(%x, %w) return %y }"));
  const Graph& g = *m.graphs[0];
  std::map<std::string, Tensor> files = {{"x", Tensor::F32({4, 2}, std::vector<float>(8, 1))}};
  DimBindings dims;
  ASSERT_OK_AND_ASSIGN(auto inputs, MakeInputs(g, files, 1, dims));
  EXPECT_EQ(dims.at("M"), 4);
  EXPECT_THAT(inputs[1].shape(), ElementsAre(3, 2));
  for (float v : inputs[1].f32_values()) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LT(v, 1.0f);
  }
  DimBindings again;
  ASSERT_OK_AND_ASSIGN(auto same, MakeInputs(g, files, 1, again));
  EXPECT_EQ(same[1].f32_values(), inputs[1].f32_values());
  ASSERT_OK_AND_ASSIGN(auto other, MakeInputs(g, files, 2, again));
  EXPECT_NE(other[1].f32_values(), inputs[1].f32_values());
  DimBindings conflicting = {{"M", 5}};
  EXPECT_THAT(MakeInputs(g, files, 1, conflicting),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has shape [4, 2] but %x is f32[M, 2] with M = 5")));
  std::map<std::string, Tensor> wrong = {{"w", Tensor(DType::kF32, {2, 3})}};
  DimBindings m4 = {{"M", 4}};
  EXPECT_THAT(MakeInputs(g, wrong, 1, m4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.ir:1:25: error: --inputs: the file for %w has shape [2, 3]")));
}

}  // namespace
}  // namespace braid
