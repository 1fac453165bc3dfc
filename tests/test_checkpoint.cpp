// safetensors files and zae checkpoints: bit-exact round trips, the on-disk layout, atomic
// writes that keep the old file on failure, and errors that name the file for corrupt input.
// Writes must leave links and special files alone, and the checksum must cover the header.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "zae/checkpoint.hpp"
#include "zae/error.hpp"
#include "zae/image.hpp"
#include "zae/npy.hpp"

namespace zae {
namespace {

namespace fs = std::filesystem;

// A fresh folder under /tmp, removed with its contents at the end of the test.
class TempFolder {
 public:
  TempFolder() {
    char pattern[] = "/tmp/zae-checkpoint-test-XXXXXX";
    const char* created = ::mkdtemp(pattern);
    if (created == nullptr) throw std::runtime_error("mkdtemp failed for /tmp");
    path_ = created;
  }
  ~TempFolder() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }
  // Names in the folder other than `keep`.
  std::vector<std::string> others(const std::vector<std::string>& keep) const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(path_)) {
      const std::string name = entry.path().filename().string();
      if (std::find(keep.begin(), keep.end(), name) == keep.end()) names.push_back(name);
    }
    return names;
  }

 private:
  std::string path_;
};

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// A safetensors file with the given header text (padded to a multiple of 8) and data bytes.
void write_raw(const std::string& path, std::string header, size_t data_size) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<uint8_t> bytes(8 + header.size() + data_size, 0);
  const uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(length >> (8 * i));
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  write_bytes(path, bytes);
}

// Expects read_safetensors(path) to throw an Error that names the file and contains `part`.
void expect_read_error(const std::string& path, const std::string& part) {
  try {
    read_safetensors(path);
    ADD_FAILURE() << "expected an error reading " << path;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

// The offset and length of the JSON header in the bytes of a safetensors file.
std::pair<size_t, size_t> header_range(const std::vector<uint8_t>& bytes) {
  uint64_t length = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(bytes.size()); ++i) {
    length |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  }
  return {8, static_cast<size_t>(length)};
}

// Replaces the first `from` in the header of the safetensors file at `path` with `to`, which has
// the same length, so that the data section stays in place.
void replace_in_header(const std::string& path, const std::string& from, const std::string& to) {
  ASSERT_EQ(from.size(), to.size());
  std::vector<uint8_t> bytes = read_bytes(path);
  const auto [start, length] = header_range(bytes);
  ASSERT_LE(start + length, bytes.size());
  const auto header_begin = bytes.begin() + static_cast<std::ptrdiff_t>(start);
  const auto header_end = header_begin + static_cast<std::ptrdiff_t>(length);
  const auto found = std::search(header_begin, header_end, from.begin(), from.end());
  ASSERT_NE(found, header_end) << from << " is not in the header of " << path;
  std::copy(to.begin(), to.end(), found);
  write_bytes(path, bytes);
}

// Rewrites the JSON header of the safetensors file at `path` after `edit` changes it, padded
// with spaces to its old length so that the data section stays in place.
template <typename Edit>
void edit_header(const std::string& path, Edit edit) {
  std::vector<uint8_t> bytes = read_bytes(path);
  const auto [start, length] = header_range(bytes);
  ASSERT_LE(start + length, bytes.size());
  nlohmann::json header =
      nlohmann::json::parse(bytes.begin() + static_cast<std::ptrdiff_t>(start),
                            bytes.begin() + static_cast<std::ptrdiff_t>(start + length));
  edit(&header);
  std::string text = header.dump();
  ASSERT_LE(text.size(), length) << "the edited header no longer fits";
  text.append(length - text.size(), ' ');
  std::copy(text.begin(), text.end(), bytes.begin() + static_cast<std::ptrdiff_t>(start));
  write_bytes(path, bytes);
}

// The CRC-32 (the polynomial of zlib and PNG) of the data section of a safetensors file, as 8
// lowercase hex digits: the checksum that older zae versions stored.
std::string data_section_crc(const std::vector<uint8_t>& bytes) {
  const auto [start, length] = header_range(bytes);
  uint32_t crc = 0xffffffffu;
  for (size_t i = start + length; i < bytes.size(); ++i) {
    crc ^= bytes[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  char text[9];
  std::snprintf(text, sizeof(text), "%08x", ~crc);
  return text;
}

SafeTensors sample_file() {
  SafeTensors file;
  file.metadata["note"] = "a \"quoted\" value with unicode \xc3\xa9";
  file.tensors["a"] = Tensor::from_floats({1.0f, -2.5f, 3.25f, 1e-30f, 7.0f, 8.0f}, {2, 3});
  file.tensors["b.d"] = Tensor::from_doubles({0.1, 1.0 / 3.0, -1e300}, {3});
  file.tensors["empty"] = Tensor::from_floats({}, {0, 4});
  file.tensors["scalar"] = Tensor::from_doubles({42.0}, {});
  return file;
}

TEST(SafeTensors, RoundTripsTensorsAndMetadata) {
  TempFolder folder;
  const std::string path = folder.file("sample.safetensors");
  const SafeTensors written = sample_file();
  write_safetensors(path, written);
  const SafeTensors read = read_safetensors(path);

  ASSERT_EQ(read.tensors.size(), written.tensors.size());
  for (const auto& [name, tensor] : written.tensors) {
    ASSERT_EQ(read.tensors.count(name), 1u) << name;
    const Tensor& got = read.tensors.at(name);
    EXPECT_EQ(got.dtype, tensor.dtype) << name;
    EXPECT_EQ(got.shape, tensor.shape) << name;
    EXPECT_EQ(got.bytes, tensor.bytes) << name;
  }
  EXPECT_EQ(read.metadata.at("note"), written.metadata.at("note"));
  EXPECT_EQ(read.metadata.at("zae.crc32").size(), 8u);
  EXPECT_EQ(read.tensors.at("b.d").to_doubles()[1], 1.0 / 3.0);
  EXPECT_THROW(read.tensors.at("b.d").to_floats(), Error);
  EXPECT_THROW(read.tensors.at("a").to_doubles(), Error);
  EXPECT_EQ(folder.others({"sample.safetensors"}), std::vector<std::string>{});
}

TEST(SafeTensors, InvalidUtf8MetadataRejected) {
  TempFolder folder;
  const std::string path = folder.file("utf8.safetensors");
  SafeTensors file = sample_file();
  file.metadata["train_config"] = "caf\xe9";  // Latin-1, not UTF-8
  try {
    write_safetensors(path, file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos) << e.what();
  }
  EXPECT_EQ(folder.others({}), std::vector<std::string>{});
}

TEST(SafeTensors, LayoutFollowsFormat) {
  TempFolder folder;
  const std::string path = folder.file("layout.safetensors");
  write_safetensors(path, sample_file());
  const std::vector<uint8_t> bytes = read_bytes(path);
  ASSERT_GE(bytes.size(), 8u);

  uint64_t header_length = 0;
  for (int i = 0; i < 8; ++i) header_length |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  EXPECT_EQ(header_length % 8, 0u);
  ASSERT_LE(8 + header_length, bytes.size());
  const std::string header_text(bytes.begin() + 8, bytes.begin() + 8 + header_length);
  const nlohmann::json header = nlohmann::json::parse(header_text);
  const size_t data_start = 8 + header_length;

  const nlohmann::json& a = header.at("a");
  EXPECT_EQ(a.at("dtype"), "F32");
  EXPECT_EQ(a.at("shape"), nlohmann::json({2, 3}));
  const uint64_t begin = a.at("data_offsets")[0];
  const uint64_t end = a.at("data_offsets")[1];
  ASSERT_EQ(end - begin, 24u);
  float first = 0.0f;
  std::memcpy(&first, bytes.data() + data_start + begin, sizeof(float));
  EXPECT_EQ(first, 1.0f);

  // F64 tensors come first, so each starts at a multiple of 8 in the data section.
  EXPECT_EQ(header.at("b.d").at("data_offsets")[0].get<uint64_t>() % 8, 0u);
  EXPECT_EQ(header.at("scalar").at("shape"), nlohmann::json::array());
  EXPECT_TRUE(header.at("__metadata__").at("zae.crc32").is_string());
}

TEST(SafeTensors, TruncatedFileIsCorrupt) {
  TempFolder folder;
  const std::string path = folder.file("cut.safetensors");
  write_safetensors(path, sample_file());
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes.pop_back();
  write_bytes(path, bytes);
  expect_read_error(path, "is corrupt");

  write_bytes(path, {1, 2, 3, 4});
  expect_read_error(path, "fewer than the 8-byte header length");
}

TEST(SafeTensors, FlippedDataByteFailsCrc) {
  TempFolder folder;
  const std::string path = folder.file("flipped.safetensors");
  write_safetensors(path, sample_file());
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes[bytes.size() - 3] ^= 0x10;
  write_bytes(path, bytes);
  expect_read_error(path, "CRC-32");
}

TEST(SafeTensors, EditedHeaderFailsCrc) {
  TempFolder folder;
  const std::string path = folder.file("header.safetensors");

  // The shape [2, 3] becomes [3, 2], which has the same byte count.
  write_safetensors(path, sample_file());
  replace_in_header(path, "\"shape\":[2,3]", "\"shape\":[3,2]");
  expect_read_error(path, "CRC-32");

  write_safetensors(path, sample_file());
  replace_in_header(path, "quoted", "quotes");
  expect_read_error(path, "CRC-32");

  // The tensor a (6 x F32) and b.d (3 x F64) both span 24 bytes, so swapped offsets still
  // cover the data section.
  write_safetensors(path, sample_file());
  edit_header(path, [](nlohmann::json* header) {
    std::swap((*header)["a"]["data_offsets"], (*header)["b.d"]["data_offsets"]);
  });
  expect_read_error(path, "CRC-32");
}

TEST(SafeTensors, ForeignFileWithoutChecksumReads) {
  TempFolder folder;
  const std::string path = folder.file("foreign.safetensors");
  // Python's safetensors accepts whitespace before the '{', so zae does too.
  write_raw(path, R"( {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 4);
  const SafeTensors file = read_safetensors(path);
  EXPECT_EQ(file.tensors.at("a").shape, std::vector<int64_t>{1});
  EXPECT_EQ(file.metadata.count("zae.crc32"), 0u);
  try {
    read_safetensors(path, Checksum::Required);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("checkpoint '" + path + "' is missing its checksum"), std::string::npos)
        << message;
  }
}

TEST(SafeTensors, HeaderLengthTooLarge) {
  TempFolder folder;
  const std::string path = folder.file("long.safetensors");
  write_safetensors(path, sample_file());
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes[5] = 0x01;  // header length grows by 2^40
  write_bytes(path, bytes);
  expect_read_error(path, "header length");
}

TEST(SafeTensors, BadJsonHeader) {
  TempFolder folder;
  const std::string path = folder.file("json.safetensors");
  write_raw(path, R"({"a": {"dtype": "F32", "shape": [1], )", 4);
  expect_read_error(path, "not valid JSON");
  write_raw(path, R"([1, 2])", 0);
  expect_read_error(path, "' is not a safetensors checkpoint: its JSON header does not start");
  write_raw(path, std::string(64, ' ') + "[1, 2]", 0);
  expect_read_error(path, "not a JSON object");
}

TEST(SafeTensors, OffsetsOutOfBounds) {
  TempFolder folder;
  const std::string path = folder.file("offsets.safetensors");
  write_raw(path, R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}})", 8);
  expect_read_error(path, "outside the data section");
}

TEST(SafeTensors, OffsetsMismatchShape) {
  TempFolder folder;
  const std::string path = folder.file("shape.safetensors");
  write_raw(path, R"({"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 8]}})", 8);
  expect_read_error(path, "needs 16");
}

TEST(SafeTensors, OverlappingTensors) {
  TempFolder folder;
  const std::string path = folder.file("overlap.safetensors");
  write_raw(path,
            R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
            R"( "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
            12);
  expect_read_error(path, "overlaps");
}

TEST(SafeTensors, GapInDataSection) {
  TempFolder folder;
  const std::string path = folder.file("gap.safetensors");
  write_raw(path, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", 8);
  expect_read_error(path, "gap");
  write_raw(path, R"({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})", 8);
  expect_read_error(path, "cover 4 bytes");
}

TEST(SafeTensors, UnsupportedDtype) {
  TempFolder folder;
  const std::string path = folder.file("bf16.safetensors");
  write_raw(path, R"({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}})", 4);
  expect_read_error(path, "unsupported dtype 'BF16'");
}

TEST(SafeTensors, MissingFileNamed) {
  TempFolder folder;
  expect_read_error(folder.file("absent.safetensors"), "cannot open");
}

TEST(SafeTensors, FailedCreateKeepsOldFile) {
  TempFolder folder;
  const std::string path = folder.file("model.safetensors");
  write_safetensors(path, sample_file());
  const std::vector<uint8_t> before = read_bytes(path);

  // A folder where the temporary file should go makes creating it fail, even for root.
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  fs::create_directory(temp);
  SafeTensors other;
  other.tensors["x"] = Tensor::from_floats({1.0f}, {1});
  EXPECT_THROW(write_safetensors(path, other), Error);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(fs::is_directory(temp));
  fs::remove(temp);
  EXPECT_EQ(folder.others({"model.safetensors"}), std::vector<std::string>{});
}

TEST(SafeTensors, MissingFolderFails) {
  TempFolder folder;
  const std::string path = folder.file("no/such/folder/model.safetensors");
  try {
    write_safetensors(path, sample_file());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_EQ(folder.others({}), std::vector<std::string>{});
}

// Runs write_safetensors on `path`, which exists and is not a regular file, and checks that it
// throws an Error that names the path and `kind`, and that `folder` holds only `names`
// afterwards.
void expect_target_rejected(const TempFolder& folder, const std::string& path,
                            const std::string& kind, const std::vector<std::string>& names) {
  try {
    write_safetensors(path, sample_file());
    ADD_FAILURE() << "expected an error writing " << path;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path + " is " + kind), std::string::npos) << message;
    EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
  }
  EXPECT_EQ(folder.others(names), std::vector<std::string>{});
}

TEST(SafeTensors, SymlinkToFileRejected) {
  TempFolder folder;
  const std::string target = folder.file("real.safetensors");
  write_safetensors(target, sample_file());
  const std::vector<uint8_t> before = read_bytes(target);
  const std::string link = folder.file("link.safetensors");
  fs::create_symlink(target, link);

  expect_target_rejected(folder, link, "a symbolic link to " + target,
                         {"real.safetensors", "link.safetensors"});
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link).string(), target);
  EXPECT_EQ(read_bytes(target), before);
}

TEST(SafeTensors, DanglingSymlinkRejected) {
  TempFolder folder;
  const std::string target = folder.file("absent.safetensors");
  const std::string link = folder.file("link.safetensors");
  fs::create_symlink(target, link);

  expect_target_rejected(folder, link, "a symbolic link", {"link.safetensors"});
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_FALSE(fs::exists(target));
}

TEST(SafeTensors, FifoRejected) {
  TempFolder folder;
  const std::string path = folder.file("pipe.safetensors");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);

  expect_target_rejected(folder, path, "a named pipe", {"pipe.safetensors"});
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(path)));
}

TEST(SafeTensors, DirectoryRejected) {
  TempFolder folder;
  const std::string path = folder.file("target");
  fs::create_directory(path);
  write_bytes(path + "/keep", {1, 2, 3});

  expect_target_rejected(folder, path, "a directory", {"target"});
  EXPECT_EQ(read_bytes(path + "/keep"), (std::vector<uint8_t>{1, 2, 3}));
}

TEST(SafeTensors, DeviceNodeRejected) {
  // A character device with the numbers of /dev/null (1, 3), made in the temporary folder.
  TempFolder folder;
  const std::string path = folder.file("null");
  const dev_t device = ::makedev(1, 3);
  if (::mknod(path.c_str(), S_IFCHR | 0666, device) != 0) {
    const int error = errno;
    if (error == EPERM) GTEST_SKIP() << "mknod needs CAP_MKNOD: " << std::strerror(error);
    FAIL() << "mknod " << path << ": " << std::strerror(error);
  }

  expect_target_rejected(folder, path, "a character device", {"null"});
  struct stat info {};
  ASSERT_EQ(::lstat(path.c_str(), &info), 0) << std::strerror(errno);
  EXPECT_TRUE(S_ISCHR(info.st_mode));
  EXPECT_EQ(info.st_rdev, device);
}

TEST(SafeTensors, ShortWriteRemovesTempKeepsOld) {
  TempFolder folder;
  const std::string path = folder.file("model.safetensors");
  write_safetensors(path, sample_file());
  const std::vector<uint8_t> before = read_bytes(path);

  SafeTensors large;
  large.tensors["W"] = Tensor::from_floats(std::vector<float>(1 << 16, 0.5f), {256, 256});

  // A file size limit makes write() fail part way (EFBIG once SIGXFSZ is ignored).
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 4096;
  void (*previous)(int) = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  bool threw = false;
  try {
    write_safetensors(path, large);
  } catch (const Error&) {
    threw = true;
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, previous);

  EXPECT_TRUE(threw);
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_EQ(folder.others({"model.safetensors"}), std::vector<std::string>{});
}

// A checkpoint with random weights and preprocessing fitted on random rows.
Checkpoint sample_checkpoint(Activation activation, bool visible_bias, Whiten whiten,
                             bool with_velocity) {
  const int64_t n = 400;
  const int d = 12;
  std::mt19937 rng(17);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> rows(static_cast<size_t>(n) * d);
  for (int64_t r = 0; r < n; ++r) {
    for (int j = 0; j < d; ++j) rows[r * d + j] = normal(rng) * (1.0f + 0.3f * j);
  }

  Checkpoint checkpoint;
  PreprocessConfig config;
  config.whiten = whiten;
  config.retain = 0.95;
  config.contrast_scale = 0.123456789012345678;  // needs all 17 digits to round-trip
  config.eigen_floor = 1.0 / 3000.0;
  checkpoint.preprocess = Preprocessor::fit(config, rows.data(), n, d);
  checkpoint.preprocess.contrast_reference = 0.12345678901234567;

  ModelConfig& model = checkpoint.model;
  model.visible = checkpoint.preprocess.output_dim();
  model.hidden = 7;
  model.activation = activation;
  model.threshold = 0.7f;
  model.visible_bias = visible_bias;
  checkpoint.params = Params::zeros(model);
  for (float& w : checkpoint.params.W) w = normal(rng);
  for (float& b : checkpoint.params.b) b = normal(rng);
  for (float& c : checkpoint.params.c) c = normal(rng);
  if (with_velocity) {
    checkpoint.velocity = Params::zeros(model);
    for (float& w : checkpoint.velocity.W) w = 1e-3f * normal(rng);
    for (float& b : checkpoint.velocity.b) b = 1e-3f * normal(rng);
    for (float& c : checkpoint.velocity.c) c = 1e-3f * normal(rng);
  }
  checkpoint.train_config_json = R"({"lr": 0.01, "batch": 100, "note": "é"})";
  checkpoint.step = 123456789012;
  checkpoint.epoch = 42;
  checkpoint.seed = 18446744073709551557ull;  // near 2^64, beyond int64
  return checkpoint;
}

void expect_same_params(const Params& a, const Params& b, const char* label) {
  EXPECT_EQ(a.W, b.W) << label;
  EXPECT_EQ(a.b, b.b) << label;
  EXPECT_EQ(a.c, b.c) << label;
}

void expect_same_checkpoint(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(a.model.visible, b.model.visible);
  EXPECT_EQ(a.model.hidden, b.model.hidden);
  EXPECT_EQ(a.model.activation, b.model.activation);
  EXPECT_EQ(a.model.threshold, b.model.threshold);
  EXPECT_EQ(a.model.visible_bias, b.model.visible_bias);
  expect_same_params(a.params, b.params, "params");
  expect_same_params(a.velocity, b.velocity, "velocity");

  const Preprocessor& p = a.preprocess;
  const Preprocessor& q = b.preprocess;
  EXPECT_EQ(p.config().contrast_norm, q.config().contrast_norm);
  EXPECT_EQ(p.config().contrast_scale, q.config().contrast_scale);
  EXPECT_EQ(p.config().whiten, q.config().whiten);
  EXPECT_EQ(p.config().retain, q.config().retain);
  EXPECT_EQ(p.config().components, q.config().components);
  EXPECT_EQ(p.config().eigen_floor, q.config().eigen_floor);
  EXPECT_EQ(p.input_dim(), q.input_dim());
  EXPECT_EQ(p.output_dim(), q.output_dim());
  EXPECT_EQ(p.contrast_reference, q.contrast_reference);
  EXPECT_EQ(p.mean, q.mean);
  EXPECT_EQ(p.forward, q.forward);
  EXPECT_EQ(p.backward, q.backward);
  EXPECT_EQ(p.eigenvalues, q.eigenvalues);

  EXPECT_EQ(a.train_config_json, b.train_config_json);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.seed, b.seed);
}

TEST(Checkpoint, RoundTripTRecPcaBitExact) {
  TempFolder folder;
  const std::string path = folder.file("trec.safetensors");
  const Checkpoint saved = sample_checkpoint(Activation::TRec, true, Whiten::Pca, true);
  ASSERT_LT(saved.model.visible, 12) << "PCA should drop some of the 12 dimensions";
  save_checkpoint(path, saved);
  const Checkpoint loaded = load_checkpoint(path);
  expect_same_checkpoint(saved, loaded);
  EXPECT_TRUE(loaded.params.b.empty());
  EXPECT_EQ(loaded.model.threshold, 0.7f);
}

TEST(Checkpoint, RoundTripReluWithoutVisibleBias) {
  TempFolder folder;
  const std::string path = folder.file("relu.safetensors");
  const Checkpoint saved = sample_checkpoint(Activation::ReLU, false, Whiten::None, true);
  save_checkpoint(path, saved);
  const Checkpoint loaded = load_checkpoint(path);
  expect_same_checkpoint(saved, loaded);
  EXPECT_EQ(loaded.params.b.size(), 7u);
  EXPECT_TRUE(loaded.params.c.empty());
  const SafeTensors file = read_safetensors(path);
  EXPECT_EQ(file.tensors.count("pre.forward"), 0u);
  EXPECT_EQ(file.tensors.count("c"), 0u);
}

TEST(Checkpoint, RoundTripZcaWithoutVelocity) {
  TempFolder folder;
  const std::string path = folder.file("zca.safetensors");
  const Checkpoint saved = sample_checkpoint(Activation::TLin, true, Whiten::Zca, false);
  save_checkpoint(path, saved);
  const Checkpoint loaded = load_checkpoint(path);
  expect_same_checkpoint(saved, loaded);
  EXPECT_TRUE(loaded.velocity.W.empty());
}

TEST(Checkpoint, RoundTripIdentityPreprocess) {
  TempFolder folder;
  const std::string path = folder.file("identity.safetensors");
  Checkpoint saved;
  saved.model.visible = 5;
  saved.model.hidden = 3;
  saved.model.activation = Activation::Sigmoid;
  saved.model.threshold = 1.0f / 3.0f;
  saved.preprocess = Preprocessor::identity(5);
  saved.params = Params::zeros(saved.model);
  saved.params.W[4] = -0.0f;
  saved.params.W[5] = 1e-42f;  // subnormal
  save_checkpoint(path, saved);
  const Checkpoint loaded = load_checkpoint(path);
  expect_same_checkpoint(saved, loaded);
  EXPECT_TRUE(loaded.preprocess.is_identity());
  EXPECT_TRUE(std::signbit(loaded.params.W[4]));
}

TEST(Checkpoint, LoadedPreprocessAppliesIdentically) {
  TempFolder folder;
  const std::string path = folder.file("apply.safetensors");
  const Checkpoint saved = sample_checkpoint(Activation::TRec, true, Whiten::Pca, true);
  save_checkpoint(path, saved);
  const Checkpoint loaded = load_checkpoint(path);

  std::vector<float> rows(10 * 12);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = std::sin(0.37f * i) * (1.0f + i % 5);
  const int k = saved.preprocess.output_dim();
  std::vector<float> a(10 * static_cast<size_t>(k));
  std::vector<float> b(a.size());
  saved.preprocess.apply(rows.data(), 10, a.data());
  loaded.preprocess.apply(rows.data(), 10, b.data());
  EXPECT_EQ(a, b);
}

TEST(Checkpoint, MetadataStatesFormatAndLayout) {
  TempFolder folder;
  const std::string path = folder.file("meta.safetensors");
  save_checkpoint(path, sample_checkpoint(Activation::TRec, true, Whiten::Pca, true));
  const SafeTensors file = read_safetensors(path);
  EXPECT_EQ(file.metadata.at("format"), "zae-checkpoint-1");
  EXPECT_NE(file.metadata.at("weight_layout").find("row j is the filter of hidden unit j"),
            std::string::npos);
  EXPECT_EQ(file.metadata.at("model.activation"), "trec");
  EXPECT_EQ(file.metadata.at("seed"), "18446744073709551557");
  EXPECT_EQ(file.metadata.at("step"), "123456789012");
  EXPECT_EQ(file.tensors.at("W").dtype, TensorType::F32);
  EXPECT_EQ(file.tensors.at("pre.forward").dtype, TensorType::F64);
  EXPECT_EQ(file.tensors.at("W").shape, (std::vector<int64_t>{7, file.tensors.at("c").shape[0]}));
}

TEST(Checkpoint, SaveRejectsWrongWeightCount) {
  TempFolder folder;
  const std::string path = folder.file("bad.safetensors");
  Checkpoint checkpoint = sample_checkpoint(Activation::TRec, true, Whiten::Pca, true);
  checkpoint.params.W.pop_back();
  try {
    save_checkpoint(path, checkpoint);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("W has"), std::string::npos) << message;
  }
  EXPECT_FALSE(fs::exists(path));

  checkpoint = sample_checkpoint(Activation::TRec, true, Whiten::Pca, true);
  checkpoint.model.visible += 1;
  checkpoint.params = Params::zeros(checkpoint.model);
  checkpoint.velocity = {};
  EXPECT_THROW(save_checkpoint(path, checkpoint), Error);
}

// Rewrites the checkpoint at `path` after `edit` changes its tensors or metadata.
template <typename Edit>
void edit_checkpoint(const std::string& path, Edit edit) {
  SafeTensors file = read_safetensors(path);
  edit(&file);
  write_safetensors(path, file);
}

void expect_load_error(const std::string& path, const std::string& part) {
  try {
    load_checkpoint(path);
    ADD_FAILURE() << "expected an error loading " << path;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

TEST(Checkpoint, LoadRejectsInconsistentFiles) {
  TempFolder folder;
  const std::string path = folder.file("edited.safetensors");
  const Checkpoint good = sample_checkpoint(Activation::TRec, true, Whiten::Pca, true);

  save_checkpoint(path, good);
  edit_checkpoint(path, [&](SafeTensors* file) {
    file->tensors["W"].shape = {good.model.visible, good.model.hidden};  // transposed
  });
  expect_load_error(path, "the tensor 'W' has shape");

  save_checkpoint(path, good);
  edit_checkpoint(path, [](SafeTensors* file) { file->metadata["model.visible"] = "3"; });
  expect_load_error(path, "'W' has shape");

  save_checkpoint(path, good);
  edit_checkpoint(path, [](SafeTensors* file) { file->metadata["format"] = "zae-checkpoint-0"; });
  expect_load_error(path, "format");

  save_checkpoint(path, good);
  edit_checkpoint(path, [](SafeTensors* file) { file->metadata.erase("seed"); });
  expect_load_error(path, "'seed' is missing");

  save_checkpoint(path, good);
  edit_checkpoint(path, [](SafeTensors* file) { file->metadata["model.threshold"] = "0.7x"; });
  expect_load_error(path, "not a valid number");

  save_checkpoint(path, good);
  edit_checkpoint(path, [](SafeTensors* file) {
    file->tensors["b"] = Tensor::from_floats(std::vector<float>(7, 0.0f), {7});
  });
  expect_load_error(path, "has no hidden bias");

  save_checkpoint(path, good);
  edit_checkpoint(path, [](SafeTensors* file) { file->tensors.erase("pre.eigenvalues"); });
  expect_load_error(path, "'pre.eigenvalues' is missing");

  save_checkpoint(path, good);
  edit_checkpoint(
      path, [](SafeTensors* file) { file->tensors["extra"] = Tensor::from_floats({1.0f}, {1}); });
  expect_load_error(path, "'extra'");
}

TEST(Checkpoint, CorruptFileNamesPath) {
  TempFolder folder;
  const std::string path = folder.file("corrupt.safetensors");
  save_checkpoint(path, sample_checkpoint(Activation::TRec, true, Whiten::Pca, true));
  std::vector<uint8_t> bytes = read_bytes(path);
  bytes[bytes.size() / 2 + 100] ^= 0x01;
  write_bytes(path, bytes);
  try {
    load_checkpoint(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("checkpoint '" + path + "' is corrupt"), std::string::npos) << message;
  }
}

// The text "key":"value" of a metadata entry in the compact JSON header.
std::string entry_text(const std::string& key, const std::string& value) {
  return "\"" + key + "\":\"" + value + "\"";
}

TEST(Checkpoint, EditedMetadataValueRejected) {
  TempFolder folder;
  const std::string path = folder.file("value.safetensors");
  const Checkpoint good = sample_checkpoint(Activation::TRec, true, Whiten::Pca, true);
  // Each edit changes the first digit and leaves a valid number, which loads without the
  // checksum.
  for (const std::string key : {"step", "epoch", "model.threshold", "preprocess.contrast_scale"}) {
    save_checkpoint(path, good);
    const std::string value = read_safetensors(path).metadata.at(key);
    std::string edited = value;
    edited[0] = edited[0] == '9' ? '8' : static_cast<char>(edited[0] + 1);
    replace_in_header(path, entry_text(key, value), entry_text(key, edited));
    SCOPED_TRACE(key + ": " + value + " -> " + edited);
    expect_load_error(path, "CRC-32");
  }
}

TEST(Checkpoint, EditedTensorEntryRejected) {
  TempFolder folder;
  const std::string path = folder.file("tensor.safetensors");
  const Checkpoint good = sample_checkpoint(Activation::TRec, true, Whiten::Pca, true);

  // c and v.c have the same dtype and shape, so swapped offsets pass every layout check.
  save_checkpoint(path, good);
  edit_header(path, [](nlohmann::json* header) {
    std::swap((*header)["c"]["data_offsets"], (*header)["v.c"]["data_offsets"]);
  });
  expect_load_error(path, "CRC-32");

  // The header lists W (7 x visible) first. A changed dimension fails the layout check.
  save_checkpoint(path, good);
  replace_in_header(path, "\"shape\":[7,", "\"shape\":[8,");
  expect_load_error(path, "tensor 'W' spans");
}

TEST(Checkpoint, RenamedChecksumKeyRejected) {
  TempFolder folder;
  const std::string path = folder.file("renamed.safetensors");
  save_checkpoint(path, sample_checkpoint(Activation::TRec, true, Whiten::Pca, true));
  replace_in_header(path, "\"zae.crc32\"", "\"zae.crc33\"");
  expect_load_error(path, "' is missing its checksum");
  // A safetensors file without the entry is still readable as a foreign file.
  EXPECT_EQ(read_safetensors(path).metadata.count("zae.crc33"), 1u);
}

TEST(Checkpoint, RemovedChecksumRejected) {
  TempFolder folder;
  const std::string path = folder.file("removed.safetensors");
  save_checkpoint(path, sample_checkpoint(Activation::TRec, true, Whiten::Pca, true));
  edit_header(path, [](nlohmann::json* header) { (*header)["__metadata__"].erase("zae.crc32"); });
  expect_load_error(path, "' is missing its checksum");
}

TEST(Checkpoint, DataOnlyChecksumRejected) {
  TempFolder folder;
  const std::string path = folder.file("older.safetensors");
  save_checkpoint(path, sample_checkpoint(Activation::TRec, true, Whiten::Pca, true));
  const std::string crc = data_section_crc(read_bytes(path));
  edit_header(path, [&](nlohmann::json* header) { (*header)["__metadata__"]["zae.crc32"] = crc; });
  expect_load_error(path, "checksum of its tensor data only");
}

TEST(Checkpoint, OtherFileTypeNotSafetensors) {
  TempFolder folder;
  const std::string npy = folder.file("patches.npy");
  const std::vector<float> values = {1.0f, 2.0f, 3.0f, 4.0f};
  write_npy(npy, values.data(), {2, 2});
  const std::string png = folder.file("filters.png");
  write_png(png, 2, 2, 1, {0, 64, 128, 255});
  const std::string text = folder.file("metrics.csv");
  std::ofstream(text) << "step,loss\n1,0.25\n";
  const std::string array = folder.file("array.safetensors");
  write_raw(array, "[1, 2]", 0);

  for (const std::string& path : {npy, png, text, array}) {
    SCOPED_TRACE(path);
    expect_load_error(path, "'" + path + "' is not a safetensors checkpoint");
  }
}

TEST(Checkpoint, ReadableFromPython) {
  const std::string python = ZAE_SOURCE_DIR "/.venv/bin/python";
  if (!fs::exists(python)) GTEST_SKIP() << python << " not found (the setup script creates it)";
  const std::string probe = python + " -c 'import numpy, safetensors.numpy' >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) {
    GTEST_SKIP() << python << " cannot import numpy and safetensors";
  }

  TempFolder folder;
  const std::string path = folder.file("python.safetensors");
  const Checkpoint checkpoint = sample_checkpoint(Activation::TRec, true, Whiten::Pca, true);
  save_checkpoint(path, checkpoint);
  const int row = 5;
  const int column = 2;
  char value[32];
  std::snprintf(value, sizeof(value), "%.9g",
                checkpoint.params.W[static_cast<size_t>(row) * checkpoint.model.visible + column]);
  const std::string command = python + " " ZAE_SOURCE_DIR "/tests/python/check_safetensors.py " +
                              path + " " + std::to_string(checkpoint.model.hidden) + " " +
                              std::to_string(checkpoint.model.visible) + " " + std::to_string(row) +
                              " " + std::to_string(column) + " " + value;
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace zae
