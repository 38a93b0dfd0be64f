// .npy reading/writing and the driver's --dims / --inputs handling.
#include "tools/npy.h"

#include <cstdlib>
#include <fstream>

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
  HostTensor t{{2, 3}, {1, 2, 3, 4, 5, 6.5f}};
  const std::string path = TempPath("t.npy");
  ASSERT_THAT(WriteNpy(path, t), IsOk());
  const std::string bytes = ReadBytes(path);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ((bytes.size() - 24) % 64, 0u);  // data 64-byte aligned
  EXPECT_THAT(bytes, HasSubstr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
  ASSERT_OK_AND_ASSIGN(HostTensor back, ReadNpy(path));
  EXPECT_EQ(back.shape, t.shape);
  EXPECT_EQ(back.data, t.data);
}

TEST(NpyTest, OneDimAndScalarShapes) {
  for (HostTensor t : {HostTensor{{3}, {1, 2, 3}}, HostTensor{{}, {42}}}) {
    const std::string path = TempPath("s.npy");
    ASSERT_THAT(WriteNpy(path, t), IsOk());
    ASSERT_OK_AND_ASSIGN(HostTensor back, ReadNpy(path));
    EXPECT_EQ(back.shape, t.shape);
    EXPECT_EQ(back.data, t.data);
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

TEST(NpyTest, RejectsWhatItCannotRead) {
  auto invalid = [](const char* text) { return StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(text)); };
  EXPECT_THAT(ParseNpy("a.npy", "hello"), invalid("missing the \\x93NUMPY magic"));
  EXPECT_THAT(ParseNpy("a.npy", Header("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }") + std::string(8, 0)),
              invalid("dtype '<f8' is not little-endian float32"));
  EXPECT_THAT(ParseNpy("a.npy", Header("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }") + std::string(4, 0)),
              invalid("Fortran-order"));
  EXPECT_THAT(ParseNpy("a.npy", Header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }") + std::string(4, 0)),
              invalid("the header says 3 float32 values (12 bytes) but the file holds 4 bytes"));
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
  std::map<std::string, HostTensor> files = {{"x", HostTensor{{4, 2}, std::vector<float>(8, 1)}}};
  DimBindings dims;
  ASSERT_OK_AND_ASSIGN(auto inputs, MakeInputs(g, files, 1, dims));
  EXPECT_EQ(dims.at("M"), 4);
  EXPECT_THAT(inputs[1].shape, ElementsAre(3, 2));
  for (float v : inputs[1].data) {
    EXPECT_GE(v, -1.0f);
    EXPECT_LT(v, 1.0f);
  }
  DimBindings again;
  ASSERT_OK_AND_ASSIGN(auto same, MakeInputs(g, files, 1, again));
  EXPECT_EQ(same[1].data, inputs[1].data);
  ASSERT_OK_AND_ASSIGN(auto other, MakeInputs(g, files, 2, again));
  EXPECT_NE(other[1].data, inputs[1].data);
  DimBindings conflicting = {{"M", 5}};
  EXPECT_THAT(MakeInputs(g, files, 1, conflicting),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has shape [4, 2] but %x is f32[M, 2] with M = 5")));
  std::map<std::string, HostTensor> wrong = {{"w", HostTensor{{2, 3}, std::vector<float>(6)}}};
  DimBindings m4 = {{"M", 4}};
  EXPECT_THAT(MakeInputs(g, wrong, 1, m4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("t.ir:1:25: error: --inputs: the file for %w has shape [2, 3]")));
}

}  // namespace
}  // namespace braid
