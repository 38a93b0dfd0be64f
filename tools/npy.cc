// .npy reading and writing.
#include "tools/npy.h"

#include <cstring>
#include <fstream>
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

}  // namespace

absl::StatusOr<HostTensor> ParseNpy(const std::string& name, const std::string& bytes) {
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
  if (descr != "'<f4'") {
    return absl::InvalidArgumentError(absl::StrCat(
        name, ": dtype ", descr, " is not little-endian float32 ('<f4'); convert it with "
        "array.astype(numpy.float32) or tensor.float()"));
  }
  if (fortran != "False") {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": Fortran-order arrays are not supported; save a C-contiguous array"));
  }
  if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')') {
    return bad(absl::StrCat("malformed shape ", shape_text));
  }
  HostTensor tensor;
  for (absl::string_view part :
       absl::StrSplit(shape_text.substr(1, shape_text.size() - 2), ',', absl::SkipWhitespace())) {
    int64_t d;
    if (!absl::SimpleAtoi(part, &d) || d < 0) return bad(absl::StrCat("malformed shape ", shape_text));
    tensor.shape.push_back(d);
  }
  auto count = CheckedElementCount(tensor.shape);
  if (!count.ok()) return bad(count.status().message());
  const size_t data_offset = offset + header_len;
  const size_t data_bytes = bytes.size() - data_offset;
  if (static_cast<uint64_t>(*count) * 4 != data_bytes) {
    return bad(absl::StrCat("the header says ", *count, " float32 values (",
                            static_cast<uint64_t>(*count) * 4, " bytes) but the file holds ",
                            data_bytes, " bytes of data"));
  }
  tensor.data.resize(*count);
  std::memcpy(tensor.data.data(), bytes.data() + data_offset, data_bytes);
  if (!HostIsLittleEndian()) return absl::UnimplementedError("big-endian hosts are not supported");
  return tensor;
}

absl::StatusOr<HostTensor> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the file"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return ParseNpy(path, buffer.str());
}

absl::Status WriteNpy(const std::string& path, const HostTensor& tensor) {
  std::string shape = absl::StrJoin(tensor.shape, ", ");
  if (tensor.shape.size() == 1) shape += ",";
  std::string header =
      absl::StrCat("{'descr': '<f4', 'fortran_order': False, 'shape': (", shape, "), }");
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
  out.write(reinterpret_cast<const char*>(tensor.data.data()),
            static_cast<std::streamsize>(tensor.data.size() * sizeof(float)));
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

}  // namespace braid
