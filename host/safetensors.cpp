// safetensors files: the Tensor byte conversions, an atomic writer that stores a CRC-32 of the
// data section and the header in the metadata, and a reader that validates the whole layout
// before trusting it.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON (padded with spaces to a
// multiple of 8), then the data section. Each tensor entry has dtype, shape and data_offsets
// relative to the data section; the tensors must cover it without gaps or overlaps.
//
// The checksum (metadata entry zae.crc32, 8 lowercase hex digits) is the zlib CRC-32 of the
// data section followed by checksummed_header(): the parsed header content without the checksum
// entry. JSON spelling and padding are not covered, but every value that the reader uses is.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "zae/checkpoint.hpp"
#include "file_descriptor.hpp"
#include "zae/error.hpp"
#include "zae/output_path.hpp"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian, and this file copies tensor bytes as they lie in memory"
#endif

namespace zae {
namespace {

// The metadata key of the checksum, a CRC-32 of the data section and the header.
constexpr const char* kCrcKey = "zae.crc32";
// Header lengths above this are rejected before any allocation, as a sign of a file of another
// type (the Python safetensors package uses the same 100 MB limit).
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

size_t item_size(TensorType dtype) { return dtype == TensorType::F32 ? 4 : 8; }

const char* dtype_name(TensorType dtype) { return dtype == TensorType::F32 ? "F32" : "F64"; }

// Stores the product of the dimensions in `count`. Returns false for a negative dimension or a
// count past 2^62.
bool element_count(const std::vector<int64_t>& shape, uint64_t* count) {
  uint64_t product = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return false;
    if (dim != 0 && product > (uint64_t{1} << 62) / static_cast<uint64_t>(dim)) return false;
    product *= static_cast<uint64_t>(dim);
  }
  *count = product;
  return true;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

uint32_t update_crc(uint32_t crc, const uint8_t* data, size_t size) {
  // zlib's crc32 takes a 32-bit length, so large buffers go in 1 GiB pieces.
  while (size > 0) {
    const size_t piece = std::min<size_t>(size, size_t{1} << 30);
    crc = static_cast<uint32_t>(crc32(crc, data, static_cast<uInt>(piece)));
    data += piece;
    size -= piece;
  }
  return crc;
}

std::string crc_text(uint32_t crc) {
  char text[9];
  std::snprintf(text, sizeof(text), "%08x", crc);
  return text;
}

// True when `text` is the 8 hex digits of `crc`, in either case.
bool same_crc(const std::string& text, uint32_t crc) {
  const std::string expected = crc_text(crc);
  if (text.size() != expected.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != expected[i]) return false;
  }
  return true;
}

std::string error_text(int code) { return std::strerror(code); }


// The temporary file of one write, removed on scope exit unless it was renamed into place.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (created_ && !renamed_) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  void mark_created() { created_ = true; }
  void mark_renamed() { renamed_ = true; }

 private:
  std::string path_;
  bool created_ = false;
  bool renamed_ = false;
};

void write_all(int fd, const uint8_t* data, size_t size, const std::string& target,
               const std::string& temp) {
  while (size > 0) {
    const ssize_t written = ::write(fd, data, std::min<size_t>(size, size_t{1} << 30));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const int code = written < 0 ? errno : ENOSPC;
      fail("cannot write '", target, "': writing the temporary file '", temp,
           "' failed: ", error_text(code));
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
}

void read_all(int fd, uint8_t* data, size_t size, uint64_t offset, const std::string& path) {
  while (size > 0) {
    const ssize_t got =
        ::pread(fd, data, std::min<size_t>(size, size_t{1} << 30), static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail("cannot read checkpoint '", path, "': ", error_text(errno));
    if (got == 0) fail("checkpoint '", path, "' is corrupt: it ends early at byte ", offset);
    data += got;
    size -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

void sync_folder(const std::string& path) {
  std::string folder = std::filesystem::path(path).parent_path().string();
  if (folder.empty()) folder = ".";
  FileDescriptor dir(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) {
    fail("wrote '", path, "' but cannot open its folder to sync it: ", error_text(errno));
  }
  // Some file systems do not support fsync on a folder and return EINVAL. The rename has still
  // happened there, so that case is accepted.
  if (::fsync(dir.get()) != 0 && errno != EINVAL) {
    fail("wrote '", path, "' but syncing its folder failed: ", error_text(errno));
  }
}

struct Span {
  uint64_t begin = 0;
  uint64_t end = 0;
  std::string name;
};

void append_number(std::string* out, uint64_t value) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

void append_text(std::string* out, const std::string& text) {
  append_number(out, text.size());
  out->append(text);
}

// Serialises the header content that the checksum covers. It writes the tensor count and, per
// tensor in name order, its name, dtype, rank, dimensions and data offsets. Then it writes the
// count of metadata entries other than zae.crc32 and each key and value in key order. Every
// number is 8 little-endian bytes and every string has such a length prefix, so two headers
// that differ in any tensor, offset or metadata entry serialise differently.
std::string checksummed_header(const std::map<std::string, Tensor>& tensors,
                               const std::vector<Span>& spans,
                               const std::map<std::string, std::string>& metadata) {
  std::map<std::string, const Span*> span_of;
  for (const Span& span : spans) span_of[span.name] = &span;
  ZAE_REQUIRE(span_of.size() == tensors.size(), "checksummed_header: ", span_of.size(),
              " data offsets for ", tensors.size(), " tensors");

  std::string out;
  append_number(&out, tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const auto found = span_of.find(name);
    ZAE_REQUIRE(found != span_of.end(), "checksummed_header: no data offsets for '", name, "'");
    append_text(&out, name);
    append_text(&out, dtype_name(tensor.dtype));
    append_number(&out, tensor.shape.size());
    for (const int64_t dim : tensor.shape) append_number(&out, static_cast<uint64_t>(dim));
    append_number(&out, found->second->begin);
    append_number(&out, found->second->end);
  }
  append_number(&out, metadata.size() - metadata.count(kCrcKey));
  for (const auto& [key, value] : metadata) {
    if (key == kCrcKey) continue;
    append_text(&out, key);
    append_text(&out, value);
  }
  return out;
}

uint32_t update_crc(uint32_t crc, const std::string& text) {
  return update_crc(crc, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// True unless `text` has a character other than JSON whitespace before its first '{'. The
// safetensors format requires a header to start with '{', and Python's safetensors 0.8.0 also
// accepts leading whitespace.
bool starts_like_header(const std::string& text) {
  for (const char c : text) {
    if (c == '{') return true;
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

}  // namespace

Tensor Tensor::from_floats(const std::vector<float>& values, std::vector<int64_t> shape) {
  uint64_t count = 0;
  ZAE_REQUIRE(element_count(shape, &count) && count == values.size(), "tensor shape ",
              shape_text(shape), " does not match its ", values.size(), " float values");
  Tensor tensor;
  tensor.dtype = TensorType::F32;
  tensor.shape = std::move(shape);
  tensor.bytes.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(tensor.bytes.data(), values.data(), tensor.bytes.size());
  return tensor;
}

Tensor Tensor::from_doubles(const std::vector<double>& values, std::vector<int64_t> shape) {
  uint64_t count = 0;
  ZAE_REQUIRE(element_count(shape, &count) && count == values.size(), "tensor shape ",
              shape_text(shape), " does not match its ", values.size(), " double values");
  Tensor tensor;
  tensor.dtype = TensorType::F64;
  tensor.shape = std::move(shape);
  tensor.bytes.resize(values.size() * sizeof(double));
  if (!values.empty()) std::memcpy(tensor.bytes.data(), values.data(), tensor.bytes.size());
  return tensor;
}

std::vector<float> Tensor::to_floats() const {
  ZAE_REQUIRE(dtype == TensorType::F32, "expected an F32 tensor, found ", dtype_name(dtype));
  ZAE_REQUIRE(bytes.size() % sizeof(float) == 0, "F32 tensor has ", bytes.size(),
              " bytes, not a multiple of 4");
  std::vector<float> values(bytes.size() / sizeof(float));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

std::vector<double> Tensor::to_doubles() const {
  ZAE_REQUIRE(dtype == TensorType::F64, "expected an F64 tensor, found ", dtype_name(dtype));
  ZAE_REQUIRE(bytes.size() % sizeof(double) == 0, "F64 tensor has ", bytes.size(),
              " bytes, not a multiple of 8");
  std::vector<double> values(bytes.size() / sizeof(double));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

void write_safetensors(const std::string& path, const SafeTensors& file) {
  check_output_path(path);
  // Data order: F64 tensors first, then F32, each by name, so that every tensor starts at a
  // multiple of its item size within the 8-aligned data section.
  std::vector<std::pair<std::string, const Tensor*>> order;
  for (const auto& [name, tensor] : file.tensors) {
    ZAE_REQUIRE(!name.empty() && name != "__metadata__", "cannot write '", path,
                "': invalid tensor name '", name, "'");
    uint64_t count = 0;
    ZAE_REQUIRE(element_count(tensor.shape, &count) &&
                    count * item_size(tensor.dtype) == tensor.bytes.size(),
                "cannot write '", path, "': tensor '", name, "' has ", tensor.bytes.size(),
                " bytes, which does not match ", dtype_name(tensor.dtype), " shape ",
                shape_text(tensor.shape));
    order.emplace_back(name, &tensor);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return item_size(a.second->dtype) > item_size(b.second->dtype);
  });

  nlohmann::json header = nlohmann::json::object();
  std::vector<Span> spans;
  uint64_t offset = 0;
  uint32_t crc = static_cast<uint32_t>(crc32(0L, Z_NULL, 0));
  for (const auto& [name, tensor] : order) {
    const uint64_t end = offset + tensor->bytes.size();
    header[name] = {{"dtype", dtype_name(tensor->dtype)},
                    {"shape", tensor->shape},
                    {"data_offsets", {offset, end}}};
    spans.push_back({offset, end, name});
    crc = update_crc(crc, tensor->bytes.data(), tensor->bytes.size());
    offset = end;
  }
  crc = update_crc(crc, checksummed_header(file.tensors, spans, file.metadata));
  nlohmann::json metadata = nlohmann::json::object();
  for (const auto& [key, value] : file.metadata) metadata[key] = value;
  metadata[kCrcKey] = crc_text(crc);
  header["__metadata__"] = metadata;

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail("cannot write '", path, "': a tensor name or metadata value is not valid UTF-8 (",
         e.what(), ")");
  }
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  uint8_t length_bytes[8];
  const uint64_t header_length = header_text.size();
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<uint8_t>(header_length >> (8 * i));

  TempFile temp(path + ".tmp-" + std::to_string(::getpid()));
  FileDescriptor fd(
      ::open(temp.path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (fd.get() < 0) {
    fail("cannot write '", path, "': creating the temporary file '", temp.path(),
         "' failed: ", error_text(errno));
  }
  temp.mark_created();

  write_all(fd.get(), length_bytes, sizeof(length_bytes), path, temp.path());
  write_all(fd.get(), reinterpret_cast<const uint8_t*>(header_text.data()), header_text.size(),
            path, temp.path());
  for (const auto& [name, tensor] : order) {
    write_all(fd.get(), tensor->bytes.data(), tensor->bytes.size(), path, temp.path());
  }
  if (::fsync(fd.get()) != 0) {
    fail("cannot write '", path, "': fsync of '", temp.path(), "' failed: ", error_text(errno));
  }
  if (const int close_error = fd.close_checked(); close_error != 0) {
    fail("cannot write '", path, "': closing '", temp.path(), "' failed: ",
         error_text(close_error));
  }
  if (::rename(temp.path().c_str(), path.c_str()) != 0) {
    fail("cannot write '", path, "': renaming '", temp.path(),
         "' over it failed: ", error_text(errno));
  }
  temp.mark_renamed();
  sync_folder(path);
}

SafeTensors read_safetensors(const std::string& path, Checksum checksum) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) fail("cannot open checkpoint '", path, "': ", error_text(errno));
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    fail("cannot read checkpoint '", path, "': ", error_text(errno));
  }
  ZAE_REQUIRE(S_ISREG(info.st_mode), "cannot read checkpoint '", path, "': not a regular file");

  const auto corrupt = [&path](const auto&... parts) {
    fail("checkpoint '", path, "' is corrupt: ", parts...);
  };
  const auto not_safetensors = [&path](const auto&... parts) {
    fail("'", path, "' is not a safetensors checkpoint: ", parts...,
         " (the file is of another type, or its start is damaged): pass a .safetensors ",
         "checkpoint");
  };
  const uint64_t file_size = static_cast<uint64_t>(info.st_size);
  if (file_size < 8) corrupt("it has ", file_size, " bytes, fewer than the 8-byte header length");

  // A file of another type (.npy, PNG, text) fails one of the next two checks, because its
  // first 8 bytes read as a length far beyond the limit or its header does not start with '{'.
  uint8_t length_bytes[8];
  read_all(fd.get(), length_bytes, sizeof(length_bytes), 0, path);
  uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= static_cast<uint64_t>(length_bytes[i]) << (8 * i);
  if (header_length > kMaxHeaderBytes) {
    not_safetensors("its first 8 bytes give a header length of ", header_length,
                    " bytes, over the limit of ", kMaxHeaderBytes);
  }
  const uint64_t after_length = file_size - 8;
  std::string header_start(std::min<uint64_t>({header_length, after_length, 64}), '\0');
  read_all(fd.get(), reinterpret_cast<uint8_t*>(header_start.data()), header_start.size(), 8, path);
  if (!starts_like_header(header_start)) {
    not_safetensors("its JSON header does not start with '{'");
  }
  if (header_length > after_length) {
    corrupt("the header length ", header_length, " exceeds the ", after_length,
            " bytes that follow it");
  }

  std::string header_text(header_length, '\0');
  read_all(fd.get(), reinterpret_cast<uint8_t*>(header_text.data()), header_length, 8, path);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& e) {
    corrupt("the header is not valid JSON (", e.what(), ")");
  }
  if (!header.is_object()) corrupt("the header is not a JSON object");

  const uint64_t data_start = 8 + header_length;
  const uint64_t data_size = file_size - data_start;
  SafeTensors result;
  std::vector<Span> spans;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) corrupt("__metadata__ is not a JSON object");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) corrupt("metadata entry '", key, "' is not a string");
        result.metadata[key] = value.get<std::string>();
      }
      continue;
    }

    if (!entry.is_object()) corrupt("the entry of tensor '", name, "' is not a JSON object");
    const auto dtype = entry.find("dtype");
    const auto shape = entry.find("shape");
    const auto offsets = entry.find("data_offsets");
    if (dtype == entry.end() || !dtype->is_string()) {
      corrupt("tensor '", name, "' has no dtype string");
    }
    if (shape == entry.end() || !shape->is_array()) corrupt("tensor '", name, "' has no shape");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
      corrupt("tensor '", name, "' has no data_offsets pair of non-negative integers");
    }

    Tensor tensor;
    const std::string dtype_text = dtype->get<std::string>();
    if (dtype_text == "F32") {
      tensor.dtype = TensorType::F32;
    } else if (dtype_text == "F64") {
      tensor.dtype = TensorType::F64;
    } else {
      fail("checkpoint '", path, "' has tensor '", name, "' of unsupported dtype '", dtype_text,
           "': zae reads F32 and F64 only");
    }
    for (const auto& dim : *shape) {
      if (!dim.is_number_unsigned() ||
          dim.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        corrupt("tensor '", name, "' has an invalid shape ", shape->dump());
      }
      tensor.shape.push_back(static_cast<int64_t>(dim.get<uint64_t>()));
    }

    const uint64_t begin = (*offsets)[0].get<uint64_t>();
    const uint64_t end = (*offsets)[1].get<uint64_t>();
    if (begin > end || end > data_size) {
      corrupt("tensor '", name, "' has data_offsets [", begin, ", ", end,
              "] outside the data section of ", data_size, " bytes");
    }
    uint64_t count = 0;
    if (!element_count(tensor.shape, &count) || count * item_size(tensor.dtype) != end - begin) {
      corrupt("tensor '", name, "' spans ", end - begin, " bytes, but ", dtype_text, " shape ",
              shape->dump(), " needs ", count * item_size(tensor.dtype));
    }
    spans.push_back({begin, end, name});
    result.tensors.emplace(name, std::move(tensor));
  }

  // The tensors must tile the data section exactly: no gaps, no overlaps, nothing after it.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (const Span& span : spans) {
    if (span.begin < covered) {
      corrupt("tensor '", span.name, "' overlaps the tensor before it at byte ", span.begin);
    }
    if (span.begin > covered) {
      corrupt("the data section has a gap of ", span.begin - covered, " bytes before tensor '",
              span.name, "'");
    }
    covered = span.end;
  }
  if (covered != data_size) {
    corrupt("the tensors cover ", covered, " bytes of the ", data_size,
            "-byte data section, expected all of it");
  }

  uint32_t data_crc = static_cast<uint32_t>(crc32(0L, Z_NULL, 0));
  for (const Span& span : spans) {
    Tensor& tensor = result.tensors.at(span.name);
    tensor.bytes.resize(span.end - span.begin);
    read_all(fd.get(), tensor.bytes.data(), tensor.bytes.size(), data_start + span.begin, path);
    data_crc = update_crc(data_crc, tensor.bytes.data(), tensor.bytes.size());
  }

  const auto stored = result.metadata.find(kCrcKey);
  if (stored == result.metadata.end()) {
    if (checksum == Checksum::Required) {
      fail("checkpoint '", path, "' is missing its checksum: the metadata has no ", kCrcKey,
           " entry, so the file was not written by zae or its header was edited: use a ",
           "checkpoint that zae wrote");
    }
    return result;
  }
  const uint32_t crc =
      update_crc(data_crc, checksummed_header(result.tensors, spans, result.metadata));
  if (!same_crc(stored->second, crc)) {
    // Older zae versions stored the CRC-32 of the data section alone.
    if (same_crc(stored->second, data_crc)) {
      fail("checkpoint '", path, "' has a ", kCrcKey, " checksum of its tensor data only, as ",
           "older zae versions wrote it, so its header cannot be verified: train again to ",
           "write a checkpoint with the current checksum");
    }
    corrupt("the CRC-32 of the header and tensor data is ", crc_text(crc), " but the file records ",
            stored->second, " (the file was changed or damaged after writing)");
  }
  return result;
}

}  // namespace zae
