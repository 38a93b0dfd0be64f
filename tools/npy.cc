// .npy reading and writing.
#include "tools/npy.h"

#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ir/status_macros.h"
#include "ir/types.h"

namespace braid {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;
constexpr size_t kMaxHeaderLen = 1 << 16;

static_assert(sizeof(float) == 4, "float32 expected");

bool HostIsLittleEndian() {
  const uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// The text after `'key':` in the header dict, up to the next ',' at depth 0 or '}'.
absl::StatusOr<std::string> HeaderField(const std::string& name, absl::string_view header,
                                        absl::string_view key) {
  size_t pos = header.find(absl::StrCat("'", key, "'"));
  if (pos == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": the .npy header has no '", key, "'"));
  }
  pos = header.find(':', pos);
  if (pos == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": malformed .npy header"));
  }
  size_t end = pos + 1;
  int depth = 0;
  while (end < header.size()) {
    char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if ((c == ',' && depth == 0) || c == '}') break;
    ++end;
  }
  return std::string(absl::StripAsciiWhitespace(header.substr(pos + 1, end - pos - 1)));
}

// The dtype of an .npy `descr` (quotes included, as in the header), or null if braid has none.
std::optional<DType> DTypeOfDescr(absl::string_view descr) {
  if (descr == "'<f4'") return DType::kF32;
  if (descr == "'<f2'") return DType::kF16;
  if (descr == "'|i1'" || descr == "'<i1'") return DType::kI8;
  if (descr == "'<i4'") return DType::kI32;
  if (descr == "'<u2'" || descr == "'<i2'") return DType::kBF16;  // bf16 bits (NumPy has no bf16)
  return std::nullopt;
}

absl::string_view DescrOf(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "<f4";
    case DType::kF16:
      return "<f2";
    case DType::kI8:
      return "|i1";
    case DType::kI32:
      return "<i4";
    case DType::kBF16:
      return "<u2";
  }
  return "<f4";
}

}  // namespace

absl::StatusOr<Tensor> ParseNpy(const std::string& name, const std::string& bytes) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": not a valid .npy file: ", why));
  };
  if (bytes.size() < kMagicLen + 4 || bytes.compare(0, kMagicLen, kMagic, kMagicLen) != 0) {
    return bad("missing the \\x93NUMPY magic");
  }
  const unsigned char major = bytes[kMagicLen];
  size_t header_len = 0, offset = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return bad("truncated header");
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    offset = 12;
  } else {
    return bad(absl::StrCat("unsupported format version ", static_cast<int>(major)));
  }
  if (header_len > kMaxHeaderLen || offset + header_len > bytes.size()) return bad("truncated header");
  absl::string_view header(bytes.data() + offset, header_len);
  BRAID_ASSIGN_OR_RETURN(std::string descr, HeaderField(name, header, "descr"));
  BRAID_ASSIGN_OR_RETURN(std::string fortran, HeaderField(name, header, "fortran_order"));
  BRAID_ASSIGN_OR_RETURN(std::string shape_text, HeaderField(name, header, "shape"));
  const std::optional<DType> dtype = DTypeOfDescr(descr);
  if (!dtype.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": dtype ", descr, " is not one braid reads: little-endian float32 ('<f4'), "
        "float16 ('<f2'), int8 ('|i1'), int32 ('<i4'), or bf16 bits as uint16/int16 ('<u2', "
        "'<i2'); convert it with array.astype(numpy.float32) or tensor.float()"));
  }
  if (fortran != "False") {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": Fortran-order arrays are not supported; save a C-contiguous array"));
  }
  if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')') {
    return bad(absl::StrCat("malformed shape ", shape_text));
  }
  std::vector<int64_t> shape;
  for (absl::string_view part :
       absl::StrSplit(shape_text.substr(1, shape_text.size() - 2), ',', absl::SkipWhitespace())) {
    int64_t d;
    if (!absl::SimpleAtoi(part, &d) || d < 0) return bad(absl::StrCat("malformed shape ", shape_text));
    shape.push_back(d);
  }
  auto count = CheckedElementCount(shape);
  if (!count.ok()) return bad(count.status().message());
  const size_t data_offset = offset + header_len;
  const size_t data_bytes = bytes.size() - data_offset;
  const uint64_t want_bytes = static_cast<uint64_t>(*count) * DTypeBytes(*dtype);
  if (want_bytes != data_bytes) {
    return bad(absl::StrCat("the header says ", *count, " ", DTypeName(*dtype), " values (",
                            want_bytes, " bytes) but the file holds ", data_bytes,
                            " bytes of data"));
  }
  if (!HostIsLittleEndian()) return absl::UnimplementedError("big-endian hosts are not supported");
  Tensor tensor(*dtype, std::move(shape));
  if (data_bytes > 0) std::memcpy(tensor.raw_data(), bytes.data() + data_offset, data_bytes);
  return tensor;
}

absl::StatusOr<Tensor> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the file"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return ParseNpy(path, buffer.str());
}

absl::Status WriteNpy(const std::string& path, const Tensor& tensor) {
  std::string shape = absl::StrJoin(tensor.shape(), ", ");
  if (tensor.shape().size() == 1) shape += ",";
  std::string header = absl::StrCat("{'descr': '", DescrOf(tensor.dtype()),
                                    "', 'fortran_order': False, 'shape': (", shape, "), }");
  // Pad with spaces so the data starts on a 64-byte boundary; the header ends with '\n'.
  const size_t unpadded = kMagicLen + 4 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  if (header.size() > 0xffff) return absl::InvalidArgumentError("shape too long for .npy v1");
  std::ofstream out(path, std::ios::binary);
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write the file"));
  out.write(kMagic, kMagicLen);
  const char version[2] = {1, 0};
  out.write(version, 2);
  const char len[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
  out.write(len, 2);
  out << header;
  out.write(static_cast<const char*>(tensor.raw_data()),
            static_cast<std::streamsize>(tensor.num_bytes()));
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

}  // namespace braid
