// NumPy .npy reading and writing: the header parser and validator, the memory-mapped or
// converted NpyMatrix, and atomic file writes (temporary file, fsync, rename).
#include "zae/npy.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "file_descriptor.hpp"
#include "zae/error.hpp"
#include "zae/output_path.hpp"

namespace zae {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr char kFixHint[] = "re-save the array with numpy.save";

// A valid header (three keys, a dtype string and a shape of a few dozen dimensions) is a few
// hundred bytes, and numpy.lib.format rejects headers over 10000 bytes by default (its
// max_header_size, added in late 2022). The limit keeps a corrupt 4-byte length from making
// us read gigabytes into a string.
constexpr uint64_t kMaxHeaderSize = 65536;

std::string errno_text(int error) { return std::strerror(error); }


// Owns a read-only private mapping of a whole file.
class Mapping {
 public:
  Mapping(int fd, size_t size, const std::string& path) : size_(size) {
    void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
      fail(path, ": mmap of ", size, " bytes failed: ", errno_text(errno));
    }
    base_ = base;
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() {
    if (base_ != nullptr) ::munmap(base_, size_);
  }
  const unsigned char* bytes() const { return static_cast<const unsigned char*>(base_); }
  // Gives up ownership, so the caller must munmap() the mapping.
  void* release() {
    void* base = base_;
    base_ = nullptr;
    return base;
  }

 private:
  void* base_ = nullptr;
  size_t size_;
};

// Reads exactly `size` bytes at `offset`, or fails naming the file.
void read_exact(int fd, void* buffer, size_t size, uint64_t offset, const std::string& path) {
  auto* out = static_cast<unsigned char*>(buffer);
  size_t done = 0;
  while (done < size) {
    const ssize_t got = ::pread(fd, out + done, size - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(path, ": read failed: ", errno_text(errno));
    if (got == 0) {
      fail(path, ": file ended after ", offset + done,
           " bytes while reading the header: ", kFixHint);
    }
    done += static_cast<size_t>(got);
  }
}

size_t item_size(NpyType type) {
  switch (type) {
    case NpyType::Float32:
      return 4;
    case NpyType::Float64:
      return 8;
    case NpyType::UInt8:
      return 1;
  }
  return 0;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  if (shape.size() == 1) text += ",";
  return text + ")";
}

// Returns a * b, or false when the product does not fit in uint64_t.
bool multiply_checked(uint64_t a, uint64_t b, uint64_t& product) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  product = a * b;
  return true;
}

// Printable excerpt of header text for error messages.
std::string excerpt(const std::string& text, size_t position) {
  std::string out;
  for (size_t i = position; i < text.size() && out.size() < 24; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Strict parser for the header dictionary, a Python literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }. It accepts exactly the keys
// descr, fortran_order and shape, each once. Values are single- or double-quoted strings,
// True/False, and a tuple of non-negative decimal integers. Trailing commas are allowed, and
// only whitespace may follow the closing brace.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<int64_t>& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    skip_space();
    expect('{');
    skip_space();
    while (peek() != '}') {
      const size_t key_position = position_;
      const std::string key = parse_string();
      skip_space();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (have_descr) error_at(key_position, "duplicate key 'descr'");
        if (peek() != '\'' && peek() != '"') {
          fail(path_, ": unsupported dtype: descr is not a string (structured arrays are not ",
               "supported): convert to a plain float32 array (arr.astype(np.float32))");
        }
        descr = parse_string();
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) error_at(key_position, "duplicate key 'fortran_order'");
        fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) error_at(key_position, "duplicate key 'shape'");
        shape = parse_shape();
        have_shape = true;
      } else {
        error_at(key_position, "unexpected key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++position_;
        skip_space();
      } else if (peek() != '}') {
        error_at(position_, "expected ',' or '}'");
      }
    }
    ++position_;
    skip_space();
    if (position_ != text_.size()) error_at(position_, "unexpected text after '}'");
    if (!have_descr) error_at(0, "missing key 'descr'");
    if (!have_order) error_at(0, "missing key 'fortran_order'");
    if (!have_shape) error_at(0, "missing key 'shape'");
  }

 private:
  [[noreturn]] void error_at(size_t position, const std::string& what) const {
    fail(path_, ": invalid .npy header: ", what, " at byte ", position, " of the dictionary (\"",
         excerpt(text_, position), "\"): ", kFixHint);
  }

  int peek() const {
    return position_ < text_.size() ? static_cast<unsigned char>(text_[position_]) : -1;
  }

  void skip_space() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++position_;
  }

  void expect(char c) {
    if (peek() != c) error_at(position_, std::string("expected '") + c + "'");
    ++position_;
  }

  std::string parse_string() {
    const int quote = peek();
    if (quote != '\'' && quote != '"') error_at(position_, "expected a quoted string");
    const size_t start = ++position_;
    while (peek() != quote) {
      if (peek() == -1 || peek() == '\\' || peek() == '\n') {
        error_at(position_, "unterminated or escaped string");
      }
      ++position_;
    }
    const std::string value = text_.substr(start, position_ - start);
    ++position_;
    return value;
  }

  bool parse_bool() {
    if (text_.compare(position_, 4, "True") == 0) {
      position_ += 4;
      return true;
    }
    if (text_.compare(position_, 5, "False") == 0) {
      position_ += 5;
      return false;
    }
    error_at(position_, "fortran_order must be True or False");
  }

  int64_t parse_dimension() {
    const size_t start = position_;
    if (peek() == '-') error_at(start, "negative dimension in shape");
    while (peek() >= '0' && peek() <= '9') ++position_;
    const std::string digits = text_.substr(start, position_ - start);
    if (digits.empty()) error_at(start, "expected a dimension (a non-negative integer)");
    if (digits.size() > 1 && digits[0] == '0') error_at(start, "dimension with a leading zero");
    if (digits.size() > 18) error_at(start, "dimension " + digits + " is too large");
    return std::stoll(digits);
  }

  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    const size_t start = position_;
    expect('(');
    skip_space();
    bool trailing_comma = false;
    while (peek() != ')') {
      shape.push_back(parse_dimension());
      skip_space();
      trailing_comma = false;
      if (peek() == ',') {
        ++position_;
        trailing_comma = true;
        skip_space();
      } else if (peek() != ')') {
        error_at(position_, "expected ',' or ')' in shape");
      }
    }
    ++position_;
    // In Python (3) is the integer 3, not a tuple. A one-element tuple is written (3,).
    if (shape.size() == 1 && !trailing_comma) {
      error_at(start, "shape is not a tuple (a 1-D shape is written (n,))");
    }
    return shape;
  }

  const std::string& text_;
  const std::string& path_;
  size_t position_ = 0;
};

NpyType parse_dtype(const std::string& descr, const std::string& path) {
  if (descr == "<f4") return NpyType::Float32;
  if (descr == "<f8") return NpyType::Float64;
  if (descr == "|u1") return NpyType::UInt8;
  if (!descr.empty() && descr[0] == '>') {
    fail(path, ": big-endian dtype '", descr, "' is not supported: convert to little-endian ",
         "float32 (arr.astype('<f4'))");
  }
  fail(path, ": unsupported dtype '", descr, "' (expected '<f4', '<f8' or '|u1'): convert to ",
       "float32 (arr.astype(np.float32))");
}

// Reads and validates the header of an open file of `file_size` bytes.
NpyHeader read_header(int fd, uint64_t file_size, const std::string& path) {
  constexpr size_t kPrefixSize = kMagicSize + 2;
  if (file_size < kPrefixSize + 2) {
    fail(path, ": not an .npy file: only ", file_size, " bytes, too short for the header");
  }
  unsigned char prefix[kPrefixSize + 4] = {};
  const size_t prefix_read = file_size >= sizeof(prefix) ? sizeof(prefix) : kPrefixSize + 2;
  read_exact(fd, prefix, prefix_read, 0, path);
  if (std::memcmp(prefix, kMagic, kMagicSize) != 0) {
    fail(path, ": not an .npy file: the first bytes are not \\x93NUMPY (bad magic): ", kFixHint);
  }

  NpyHeader header;
  header.major_version = prefix[6];
  const int minor_version = prefix[7];
  if ((header.major_version < 1 || header.major_version > 3) || minor_version != 0) {
    fail(path, ": unsupported .npy format version ", header.major_version, ".", minor_version,
         " (expected 1.0, 2.0 or 3.0): ", kFixHint);
  }

  // Version 1.0 stores the header length in 2 little-endian bytes, 2.0 and 3.0 in 4.
  uint64_t header_size = 0;
  size_t length_bytes = 2;
  if (header.major_version == 1) {
    header_size = prefix[8] | (uint64_t(prefix[9]) << 8);
  } else {
    length_bytes = 4;
    if (prefix_read < kPrefixSize + 4) {
      fail(path, ": file ends inside the 4-byte header length: ", kFixHint);
    }
    header_size = prefix[8] | (uint64_t(prefix[9]) << 8) | (uint64_t(prefix[10]) << 16) |
                  (uint64_t(prefix[11]) << 24);
  }
  header.data_offset = kPrefixSize + length_bytes + header_size;
  if (header.data_offset > file_size) {
    fail(path, ": header length ", header_size, " does not fit in the file (", file_size,
         " bytes): the file is truncated or not an .npy file");
  }
  if (header_size > kMaxHeaderSize) {
    fail(path, ": header length ", header_size, " exceeds the limit of ", kMaxHeaderSize,
         " bytes: ", kFixHint);
  }

  // Version 3.0 allows UTF-8 in the header. Keys and values are checked byte for byte, and a
  // non-ASCII byte can only appear inside a string, where it makes an unsupported dtype or key.
  std::string text(header_size, '\0');
  read_exact(fd, text.data(), header_size, kPrefixSize + length_bytes, path);
  std::string descr;
  HeaderParser(text, path).parse(descr, header.fortran_order, header.shape);
  header.dtype = parse_dtype(descr, path);

  uint64_t count = 1;
  for (const int64_t dimension : header.shape) {
    if (!multiply_checked(count, static_cast<uint64_t>(dimension), count)) {
      fail(path, ": shape ", format_shape(header.shape), " has too many elements");
    }
  }
  uint64_t data_bytes = 0;
  if (!multiply_checked(count, item_size(header.dtype), data_bytes) ||
      count > uint64_t(std::numeric_limits<int64_t>::max())) {
    fail(path, ": shape ", format_shape(header.shape), " has too many elements");
  }
  const uint64_t actual = file_size - header.data_offset;
  if (actual < data_bytes) {
    fail(path, ": truncated: shape ", format_shape(header.shape), " of '", descr, "' needs ",
         data_bytes, " data bytes but the file holds ", actual,
         " after the header: re-create or re-download the file");
  }
  if (actual > data_bytes) {
    fail(path, ": ", actual - data_bytes, " unexpected bytes after the data: shape ",
         format_shape(header.shape), " of '", descr, "' needs ", data_bytes, " data bytes but ",
         actual, " follow the header: ", kFixHint);
  }
  return header;
}

// Opens `path` read-only, stores its size in `file_size` and returns the descriptor. Fails
// unless `path` is a regular file.
int open_regular_file(const std::string& path, uint64_t& file_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) fail(path, ": file not found: check the path");
    fail(path, ": cannot open: ", errno_text(error));
  }
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    fail(path, ": fstat failed: ", errno_text(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    fail(path, ": not a regular file: pass an .npy file");
  }
  file_size = static_cast<uint64_t>(info.st_size);
  return fd;
}

template <typename Source>
float load_element(const unsigned char* bytes, size_t index) {
  Source value;
  std::memcpy(&value, bytes + index * sizeof(Source), sizeof(Source));
  return static_cast<float>(value);
}

// Converts `count` elements of type Source to float32 in C order. A Fortran-order source is
// read sequentially (first index fastest) and scattered to its C-order position.
template <typename Source>
void convert(const unsigned char* bytes, const std::vector<int64_t>& shape, bool fortran_order,
             float* out, size_t count) {
  if (!fortran_order || shape.size() < 2) {
    for (size_t i = 0; i < count; ++i) out[i] = load_element<Source>(bytes, i);
    return;
  }

  // C strides in elements. Axis 0 is the inner loop, and an odometer steps through axes 1...
  const size_t rank = shape.size();
  std::vector<size_t> c_stride(rank, 1);
  for (size_t k = rank - 1; k > 0; --k) c_stride[k - 1] = c_stride[k] * size_t(shape[k]);
  std::vector<int64_t> index(rank, 0);
  const size_t first = size_t(shape[0]);
  size_t source = 0;
  size_t target = 0;  // C offset of (0, index[1], index[2], ...)
  while (source < count) {
    for (size_t i = 0; i < first; ++i) {
      out[target + i * c_stride[0]] = load_element<Source>(bytes, source + i);
    }
    source += first;
    for (size_t k = 1; k < rank; ++k) {
      ++index[k];
      target += c_stride[k];
      if (index[k] < shape[k]) break;
      target -= size_t(shape[k]) * c_stride[k];
      index[k] = 0;
    }
  }
}

}  // namespace

int64_t NpyHeader::element_count() const {
  int64_t count = 1;
  for (const int64_t dimension : shape) count *= dimension;
  return count;
}

NpyHeader read_npy_header(const std::string& path) {
  uint64_t file_size = 0;
  FileDescriptor fd(open_regular_file(path, file_size));
  return read_header(fd.get(), file_size, path);
}

NpyMatrix::NpyMatrix() = default;

NpyMatrix::NpyMatrix(NpyMatrix&& other) noexcept { *this = std::move(other); }

NpyMatrix& NpyMatrix::operator=(NpyMatrix&& other) noexcept {
  if (this == &other) return *this;
  if (map_ != nullptr) ::munmap(map_, map_size_);
  data_ = other.data_;
  rows_ = other.rows_;
  cols_ = other.cols_;
  shape_ = std::move(other.shape_);
  owned_ = std::move(other.owned_);
  map_ = other.map_;
  map_size_ = other.map_size_;
  other.data_ = nullptr;
  other.rows_ = 0;
  other.cols_ = 0;
  other.shape_.clear();
  other.owned_.clear();
  other.map_ = nullptr;
  other.map_size_ = 0;
  return *this;
}

NpyMatrix::~NpyMatrix() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

NpyMatrix NpyMatrix::from_vector(std::vector<float> data, int64_t rows, int64_t cols) {
  ZAE_REQUIRE(rows >= 0 && cols >= 0, "NpyMatrix::from_vector: invalid shape ", rows, " x ", cols,
              ": rows and cols must be non-negative");
  ZAE_REQUIRE(static_cast<uint64_t>(rows) * static_cast<uint64_t>(cols) == data.size(),
              "NpyMatrix::from_vector: ", data.size(), " values do not match the shape ", rows,
              " x ", cols);
  NpyMatrix matrix;
  matrix.owned_ = std::move(data);
  matrix.data_ = matrix.owned_.data();
  matrix.rows_ = rows;
  matrix.cols_ = cols;
  matrix.shape_ = {rows, cols};
  return matrix;
}

NpyMatrix NpyMatrix::load(const std::string& path) {
  uint64_t file_size = 0;
  FileDescriptor fd(open_regular_file(path, file_size));
  const NpyHeader header = read_header(fd.get(), file_size, path);
  if (header.shape.empty()) {
    fail(path, ": 0-d array (shape ()): at least 1 dimension is needed, e.g. save ",
         "arr.reshape(1, -1)");
  }

  NpyMatrix matrix;
  matrix.shape_ = header.shape;
  matrix.rows_ = header.shape[0];
  matrix.cols_ = 1;
  for (size_t k = 1; k < header.shape.size(); ++k) matrix.cols_ *= header.shape[k];
  const size_t count = static_cast<size_t>(header.element_count());
  if (count == 0) return matrix;

  Mapping mapping(fd.get(), static_cast<size_t>(file_size), path);
  const unsigned char* bytes = mapping.bytes() + header.data_offset;
  const bool aligned = header.data_offset % alignof(float) == 0;
  if (header.dtype == NpyType::Float32 && !header.fortran_order && aligned) {
    matrix.data_ = reinterpret_cast<const float*>(bytes);
    matrix.map_size_ = static_cast<size_t>(file_size);
    matrix.map_ = mapping.release();
    return matrix;
  }

  try {
    matrix.owned_.resize(count);
  } catch (const std::bad_alloc&) {
    fail(path, ": cannot allocate ", count * sizeof(float), " bytes to convert ",
         format_shape(header.shape), " to float32: save the array as C-order float32 so it ",
         "can be memory-mapped (np.ascontiguousarray(arr, dtype=np.float32))");
  }
  switch (header.dtype) {
    case NpyType::Float32:
      convert<float>(bytes, header.shape, header.fortran_order, matrix.owned_.data(), count);
      break;
    case NpyType::Float64:
      convert<double>(bytes, header.shape, header.fortran_order, matrix.owned_.data(), count);
      break;
    case NpyType::UInt8:
      convert<uint8_t>(bytes, header.shape, header.fortran_order, matrix.owned_.data(), count);
      break;
  }
  matrix.data_ = matrix.owned_.data();
  return matrix;
}

void write_file_atomic(const std::string& path, const std::vector<ByteSpan>& spans) {
  check_output_path(path);
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  // O_NOFOLLOW keeps a symbolic link left at the temporary name from redirecting the write.
  FileDescriptor fd(
      ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666));
  if (fd.get() < 0) {
    fail(path, ": cannot create the temporary file ", temp, ": ", errno_text(errno),
         ": check that the folder exists and is writable");
  }

  const auto fail_and_remove = [&](const char* call, int error) {
    if (fd.get() >= 0) fd.close_checked();
    ::unlink(temp.c_str());
    fail(path, ": ", call, " failed on the temporary file ", temp, ": ", errno_text(error),
         ". The temporary file was removed and any existing ", path, " is unchanged");
  };

  for (const ByteSpan& span : spans) {
    const auto* bytes = static_cast<const unsigned char*>(span.data);
    size_t done = 0;
    while (done < span.size) {
      const ssize_t wrote = ::write(fd.get(), bytes + done, span.size - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote < 0) fail_and_remove("write", errno);
      done += static_cast<size_t>(wrote);
    }
  }
  if (::fsync(fd.get()) != 0) fail_and_remove("fsync", errno);
  const int close_error = fd.close_checked();
  if (close_error != 0) fail_and_remove("close", close_error);
  if (::rename(temp.c_str(), path.c_str()) != 0) fail_and_remove("rename", errno);

  // Syncing the folder makes the rename itself durable. A failure here is ignored because the
  // file is complete under its final name either way.
  const size_t slash = path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
}

void write_npy(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  ZAE_REQUIRE(!shape.empty(), path, ": cannot write a 0-d array: pass at least 1 dimension");
  uint64_t count = 1;
  for (const int64_t dimension : shape) {
    ZAE_REQUIRE(dimension >= 0, path, ": cannot write shape ", format_shape(shape),
                ": dimensions must be non-negative");
    ZAE_REQUIRE(multiply_checked(count, uint64_t(dimension), count), path, ": cannot write shape ",
                format_shape(shape), ": too many elements");
  }
  ZAE_REQUIRE(count == 0 || data != nullptr, path, ": no data for shape ", format_shape(shape));

  // Version 1.0 header: magic, version, 2-byte length, then the dictionary padded with spaces
  // and ended by a newline so that the data starts at a multiple of 64 bytes.
  std::string dictionary =
      "{'descr': '<f4', 'fortran_order': False, 'shape': " + format_shape(shape) + ", }";
  const size_t prefix = kMagicSize + 2 + 2;
  const size_t unpadded = prefix + dictionary.size() + 1;
  const size_t total = (unpadded + 63) / 64 * 64;
  dictionary.append(total - unpadded, ' ');
  dictionary += '\n';
  ZAE_REQUIRE(dictionary.size() <= 65535, path, ": shape ", format_shape(shape),
              " makes a header too long for format version 1.0");

  std::string header(kMagic, kMagicSize);
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dictionary.size() & 0xff);
  header += static_cast<char>(dictionary.size() >> 8);
  header += dictionary;
  write_file_atomic(path, {{header.data(), header.size()}, {data, count * sizeof(float)}});
}

void NpyMatrix::release_rows(int64_t first, int64_t count) const {
  if (map_ == nullptr || count <= 0 || cols_ == 0) return;
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto* base = static_cast<const char*>(map_);
  const auto* begin = reinterpret_cast<const char*>(data_ + first * cols_);
  const auto* end = reinterpret_cast<const char*>(data_ + (first + count) * cols_);
  // Only whole pages inside the range are released, so neighbouring rows stay mapped.
  const size_t start = (static_cast<size_t>(begin - base) + page - 1) / page * page;
  const size_t stop = static_cast<size_t>(end - base) / page * page;
  if (stop > start) {
    ::madvise(const_cast<char*>(base) + start, stop - start, MADV_DONTNEED);
  }
}

}  // namespace zae
