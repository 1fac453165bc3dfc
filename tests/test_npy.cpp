// .npy reading and writing: files built byte by byte for every dtype, order and format version,
// every rejected input with a message that names the file, and atomic write round trips.
// Writes to a link, pipe, directory or device must fail and leave it as it was.
// Payloads are written in host byte order, so these tests assume a little-endian host such as
// x86-64, matching the '<' byte order the files declare.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "zae/error.hpp"
#include "zae/npy.hpp"

namespace zae {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

template <typename T>
std::string to_bytes(std::initializer_list<T> values) {
  std::string bytes;
  for (const T value : values) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    bytes.append(raw, sizeof(T));
  }
  return bytes;
}

template <typename T>
std::string to_bytes(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// The bytes of an .npy file: magic, version, header length (2 bytes for version 1, 4 for 2
// and 3), the dictionary padded with spaces and a newline to a multiple of 64, the payload.
std::string npy_file(int major_version, const std::string& dictionary, const std::string& payload,
                     bool pad = true) {
  const size_t length_bytes = major_version == 1 ? 2 : 4;
  std::string header = dictionary;
  if (pad) {
    const size_t unpadded = 8 + length_bytes + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header += '\n';
  }
  std::string bytes("\x93NUMPY", 6);
  bytes += static_cast<char>(major_version);
  bytes += '\0';
  for (size_t i = 0; i < length_bytes; ++i) {
    bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  return bytes + header + payload;
}

std::string dictionary(const std::string& descr, bool fortran, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
         ", 'shape': " + shape + ", }";
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Runs `load` and returns the zae::Error message, or fails the test when nothing is thrown.
template <typename Function>
std::string error_message(Function load) {
  try {
    load();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected zae::Error";
  return "";
}

TEST(NpyRead, Float32COrderVersion1IsMapped) {
  TempDir dir;
  const std::string path = dir.file("f32.npy");
  write_bytes(path, npy_file(1, dictionary("<f4", false, "(2, 3)"),
                             to_bytes<float>({1.5f, -2, 3, 4, 5, 6.25f})));

  const NpyMatrix matrix = NpyMatrix::load(path);
  EXPECT_TRUE(matrix.mapped());
  EXPECT_EQ(matrix.rows(), 2);
  EXPECT_EQ(matrix.cols(), 3);
  EXPECT_EQ(matrix.shape(), (std::vector<int64_t>{2, 3}));
  const std::vector<float> expected = {1.5f, -2, 3, 4, 5, 6.25f};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(matrix.data()[i], expected[i]) << i;
}

TEST(NpyRead, Float64FortranVersion2IsConverted) {
  TempDir dir;
  const std::string path = dir.file("f64.npy");
  // C-order value (i, j) = 10 i + j. Fortran order stores column by column.
  write_bytes(path, npy_file(2, dictionary("<f8", true, "(2, 3)"),
                             to_bytes<double>({0, 10, 1, 11, 2, 12})));

  const NpyMatrix matrix = NpyMatrix::load(path);
  EXPECT_FALSE(matrix.mapped());
  ASSERT_EQ(matrix.rows(), 2);
  ASSERT_EQ(matrix.cols(), 3);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) EXPECT_EQ(matrix.data()[i * 3 + j], 10.0f * i + j) << i << j;
  }
}

TEST(NpyRead, UInt8Version3KeepsValues) {
  TempDir dir;
  const std::string path = dir.file("u8.npy");
  write_bytes(path,
              npy_file(3, dictionary("|u1", false, "(4,)"), std::string("\x00\x01\x80\xff", 4)));

  const NpyMatrix matrix = NpyMatrix::load(path);
  EXPECT_FALSE(matrix.mapped());
  EXPECT_EQ(matrix.rows(), 4);
  EXPECT_EQ(matrix.cols(), 1);
  EXPECT_EQ(matrix.data()[0], 0.0f);
  EXPECT_EQ(matrix.data()[1], 1.0f);
  EXPECT_EQ(matrix.data()[2], 128.0f);
  EXPECT_EQ(matrix.data()[3], 255.0f);
}

TEST(NpyRead, FortranOrderThreeDimensions) {
  // Every dtype and version, with a 2 x 3 x 4 array whose value (i, j, k) is 100 i + 10 j + k.
  const std::vector<int64_t> shape = {2, 3, 4};
  std::vector<double> fortran;
  for (int k = 0; k < 4; ++k) {
    for (int j = 0; j < 3; ++j) {
      for (int i = 0; i < 2; ++i) fortran.push_back(100 * i + 10 * j + k);
    }
  }
  std::vector<float> fortran_f32(fortran.begin(), fortran.end());
  std::vector<uint8_t> fortran_u8(fortran.begin(), fortran.end());

  TempDir dir;
  struct Case {
    const char* descr;
    std::string payload;
  };
  const Case cases[] = {
      {"<f4", to_bytes(fortran_f32)}, {"<f8", to_bytes(fortran)}, {"|u1", to_bytes(fortran_u8)}};
  for (const Case& c : cases) {
    for (int version = 1; version <= 3; ++version) {
      SCOPED_TRACE(std::string(c.descr) + " version " + std::to_string(version));
      const std::string path = dir.file("f" + std::to_string(version) + ".npy");
      write_bytes(path, npy_file(version, dictionary(c.descr, true, "(2, 3, 4)"), c.payload));

      const NpyMatrix matrix = NpyMatrix::load(path);
      EXPECT_FALSE(matrix.mapped());
      EXPECT_EQ(matrix.shape(), shape);
      ASSERT_EQ(matrix.rows(), 2);
      ASSERT_EQ(matrix.cols(), 12);
      for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 3; ++j) {
          for (int k = 0; k < 4; ++k) {
            EXPECT_EQ(matrix.data()[(i * 3 + j) * 4 + k], 100.0f * i + 10 * j + k);
          }
        }
      }
    }
  }
}

TEST(NpyRead, COrderEveryDtypeAndVersion) {
  TempDir dir;
  const std::vector<double> values = {0, 1, 2, 3, 4, 5, 6, 7};
  const std::string payloads[] = {to_bytes(std::vector<float>(values.begin(), values.end())),
                                  to_bytes(values),
                                  to_bytes(std::vector<uint8_t>(values.begin(), values.end()))};
  const char* descrs[] = {"<f4", "<f8", "|u1"};
  for (int d = 0; d < 3; ++d) {
    for (int version = 1; version <= 3; ++version) {
      SCOPED_TRACE(std::string(descrs[d]) + " version " + std::to_string(version));
      const std::string path = dir.file("c.npy");
      write_bytes(path, npy_file(version, dictionary(descrs[d], false, "(2, 2, 2)"), payloads[d]));

      const NpyHeader header = read_npy_header(path);
      EXPECT_EQ(header.major_version, version);
      EXPECT_EQ(header.element_count(), 8);
      EXPECT_EQ(header.data_offset % 64, 0u);

      const NpyMatrix matrix = NpyMatrix::load(path);
      EXPECT_EQ(matrix.mapped(), d == 0);
      ASSERT_EQ(matrix.rows(), 2);
      ASSERT_EQ(matrix.cols(), 4);
      for (int i = 0; i < 8; ++i) EXPECT_EQ(matrix.data()[i], static_cast<float>(i));
    }
  }
}

TEST(NpyRead, HeaderSpellingVariants) {
  TempDir dir;
  const std::string payload = to_bytes<float>({1, 2, 3, 4, 5, 6});
  const std::string variants[] = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
      "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}",
      "{'shape': (2,3,), 'fortran_order': False, 'descr': '<f4'}",
      "  {  'descr' : '<f4' ,\n 'fortran_order':False,'shape':( 2 , 3 ) , }  \n",
  };
  for (const std::string& variant : variants) {
    SCOPED_TRACE(variant);
    const std::string path = dir.file("variant.npy");
    write_bytes(path, npy_file(1, variant, payload));
    const NpyMatrix matrix = NpyMatrix::load(path);
    EXPECT_EQ(matrix.shape(), (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(matrix.data()[5], 6.0f);
  }
}

TEST(NpyRead, UnpaddedHeaderIsCopied) {
  // A header that leaves the data at an odd offset cannot be mapped as floats.
  TempDir dir;
  const std::string path = dir.file("odd.npy");
  // 10 prefix bytes + 57 dictionary bytes + " \n" puts the data at offset 69.
  write_bytes(path, npy_file(1, dictionary("<f4", false, "(2,)") + " \n", to_bytes<float>({7, 8}),
                             /*pad=*/false));
  const NpyHeader header = read_npy_header(path);
  ASSERT_NE(header.data_offset % 4, 0u);

  const NpyMatrix matrix = NpyMatrix::load(path);
  EXPECT_FALSE(matrix.mapped());
  EXPECT_EQ(matrix.data()[0], 7.0f);
  EXPECT_EQ(matrix.data()[1], 8.0f);
}

TEST(NpyRead, ZeroRowsLoadEmpty) {
  TempDir dir;
  const std::string path = dir.file("empty.npy");
  write_bytes(path, npy_file(1, dictionary("<f4", false, "(0, 5)"), ""));
  const NpyMatrix matrix = NpyMatrix::load(path);
  EXPECT_EQ(matrix.rows(), 0);
  EXPECT_EQ(matrix.cols(), 5);
  EXPECT_FALSE(matrix.mapped());
}

TEST(NpyRead, MoveTransfersMapping) {
  TempDir dir;
  const std::string path = dir.file("move.npy");
  write_bytes(path, npy_file(1, dictionary("<f4", false, "(3,)"), to_bytes<float>({1, 2, 3})));

  NpyMatrix first = NpyMatrix::load(path);
  ASSERT_TRUE(first.mapped());
  NpyMatrix second(std::move(first));
  EXPECT_TRUE(second.mapped());
  EXPECT_EQ(second.data()[2], 3.0f);
  EXPECT_FALSE(first.mapped());  // NOLINT(bugprone-use-after-move): moved-from state is defined
  EXPECT_EQ(first.data(), nullptr);

  NpyMatrix third = NpyMatrix::from_vector({4, 5}, 1, 2);
  third = std::move(second);
  EXPECT_TRUE(third.mapped());
  EXPECT_EQ(third.rows(), 3);
  EXPECT_EQ(third.data()[0], 1.0f);
}

TEST(NpyRead, FromVectorOwnsData) {
  const NpyMatrix matrix = NpyMatrix::from_vector({1, 2, 3, 4, 5, 6}, 3, 2);
  EXPECT_FALSE(matrix.mapped());
  EXPECT_EQ(matrix.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(matrix.data()[5], 6.0f);
  EXPECT_THROW(NpyMatrix::from_vector({1, 2, 3}, 2, 2), Error);
}

struct BadFile {
  const char* name;
  std::string bytes;
  std::vector<std::string> message_parts;  // each must appear in the error message
};

TEST(NpyErrors, MessagesNameFileAndValue) {
  const std::string six_floats = to_bytes<float>({1, 2, 3, 4, 5, 6});
  const std::string good_dict = dictionary("<f4", false, "(2, 3)");
  std::string bad_magic = npy_file(1, good_dict, six_floats);
  bad_magic[1] = 'X';
  std::string long_header = npy_file(1, good_dict, "");
  long_header[8] = '\xff';
  long_header[9] = '\x7f';
  const std::vector<BadFile> cases = {
      {"truncated.npy",
       npy_file(1, good_dict, six_floats.substr(0, 20)),
       {"truncated", "24", "20"}},
      {"extra.npy", npy_file(1, good_dict, six_floats + "xyzw"), {"4 unexpected bytes"}},
      {"magic.npy", bad_magic, {"bad magic"}},
      {"short.npy", std::string("\x93NUM", 4), {"too short"}},
      {"version.npy",
       [&] {
         std::string bytes = npy_file(1, good_dict, six_floats);
         bytes[6] = 4;
         return bytes;
       }(),
       {"version 4.0"}},
      {"length.npy", long_header, {"header length 32767", "does not fit"}},
      {"bigendian.npy",
       npy_file(1, dictionary(">f4", false, "(2, 3)"), six_floats),
       {"big-endian", "'>f4'", "astype"}},
      {"int64.npy",
       npy_file(1, dictionary("<i8", false, "(2, 3)"), six_floats),
       {"unsupported dtype '<i8'", "astype(np.float32)"}},
      {"u1-little.npy", npy_file(1, dictionary("<u1", false, "(24,)"), six_floats), {"'<u1'"}},
      {"structured.npy",
       npy_file(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }",
                six_floats),
       {"structured"}},
      {"missing-key.npy",
       npy_file(1, "{'descr': '<f4', 'shape': (2, 3), }", six_floats),
       {"missing key 'fortran_order'"}},
      {"extra-key.npy",
       npy_file(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", six_floats),
       {"unexpected key 'x'"}},
      {"duplicate.npy",
       npy_file(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}",
                six_floats),
       {"duplicate key 'descr'"}},
      {"not-tuple.npy", npy_file(1, dictionary("<f4", false, "(6)"), six_floats), {"not a tuple"}},
      {"negative.npy",
       npy_file(1, dictionary("<f4", false, "(-6,)"), six_floats),
       {"negative dimension"}},
      {"bool.npy",
       npy_file(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", six_floats),
       {"True or False"}},
      {"trailing.npy", npy_file(1, good_dict + " junk", six_floats), {"after '}'"}},
      {"no-brace.npy", npy_file(1, "'descr': '<f4'", six_floats), {"expected '{'"}},
      {"zero-d.npy",
       npy_file(1, dictionary("<f4", false, "()"), to_bytes<float>({1})),
       {"0-d array"}},
  };

  TempDir dir;
  for (const BadFile& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = dir.file(c.name);
    write_bytes(path, c.bytes);
    const std::string message = error_message([&] { NpyMatrix::load(path); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    for (const std::string& part : c.message_parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' in: " << message;
    }
  }
}

TEST(NpyErrors, MissingFileNamed) {
  TempDir dir;
  const std::string path = dir.file("absent.npy");
  const std::string load_message = error_message([&] { NpyMatrix::load(path); });
  EXPECT_NE(load_message.find(path), std::string::npos) << load_message;
  EXPECT_NE(load_message.find("not found"), std::string::npos) << load_message;
  const std::string header_message = error_message([&] { read_npy_header(path); });
  EXPECT_NE(header_message.find(path), std::string::npos) << header_message;
}

TEST(NpyErrors, FolderIsNotAFile) {
  TempDir dir;
  const std::string message = error_message([&] { NpyMatrix::load(dir.path()); });
  EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
}

TEST(NpyWrite, RoundTripIsMappedAndAligned) {
  TempDir dir;
  const std::string path = dir.file("out.npy");
  std::vector<float> values(3 * 2 * 5);
  for (size_t i = 0; i < values.size(); ++i) values[i] = 0.5f * static_cast<float>(i) - 3.0f;
  write_npy(path, values.data(), {3, 2, 5});

  const NpyHeader header = read_npy_header(path);
  EXPECT_EQ(header.major_version, 1);
  EXPECT_EQ(header.dtype, NpyType::Float32);
  EXPECT_FALSE(header.fortran_order);
  EXPECT_EQ(header.data_offset % 64, 0u);
  EXPECT_EQ(fs::file_size(path), header.data_offset + values.size() * sizeof(float));

  const NpyMatrix matrix = NpyMatrix::load(path);
  EXPECT_TRUE(matrix.mapped());
  EXPECT_EQ(matrix.shape(), (std::vector<int64_t>{3, 2, 5}));
  EXPECT_EQ(matrix.rows(), 3);
  EXPECT_EQ(matrix.cols(), 10);
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(matrix.data()[i], values[i]) << i;
}

TEST(NpyWrite, HeaderTextMatchesNumpy) {
  TempDir dir;
  const std::string path = dir.file("one.npy");
  const float value = 2.0f;
  write_npy(path, &value, {1});
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // 10 prefix bytes + 57 dictionary bytes + newline pad to 128, then one float.
  ASSERT_EQ(bytes.size(), 132u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8),
            118);
  EXPECT_EQ(bytes.substr(10, 57), "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }");
  EXPECT_EQ(bytes.substr(67, 60), std::string(60, ' '));
  EXPECT_EQ(bytes[127], '\n');
}

TEST(NpyWrite, OverwritesExistingFile) {
  TempDir dir;
  const std::string path = dir.file("replace.npy");
  const std::vector<float> first = {1, 2, 3, 4};
  const std::vector<float> second = {9, 8};
  write_npy(path, first.data(), {2, 2});
  write_npy(path, second.data(), {2});
  const NpyMatrix matrix = NpyMatrix::load(path);
  EXPECT_EQ(matrix.shape(), (std::vector<int64_t>{2}));
  EXPECT_EQ(matrix.data()[0], 9.0f);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The names in `folder`, sorted.
std::vector<std::string> folder_names(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Runs write_npy on `path`, which exists and is not a regular file, and checks that it throws
// an Error that names the path and `kind`, and that `folder` lists the same names afterwards.
void expect_target_rejected(const std::string& folder, const std::string& path,
                            const std::string& kind) {
  const std::vector<std::string> before = folder_names(folder);
  const float value = 1.0f;
  const std::string message = error_message([&] { write_npy(path, &value, {1}); });
  EXPECT_NE(message.find(path + " is " + kind), std::string::npos) << message;
  EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
  EXPECT_EQ(folder_names(folder), before);
}

TEST(NpyWrite, SymlinkToFileRejected) {
  TempDir dir;
  const std::string target = dir.file("real.npy");
  const std::vector<float> old_values = {1, 2};
  write_npy(target, old_values.data(), {2});
  const std::string old_bytes = read_file(target);
  const std::string link = dir.file("link.npy");
  fs::create_symlink(target, link);

  expect_target_rejected(dir.path(), link, "a symbolic link to " + target);
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link).string(), target);
  EXPECT_EQ(read_file(target), old_bytes);
}

TEST(NpyWrite, DanglingSymlinkRejected) {
  TempDir dir;
  const std::string target = dir.file("absent.npy");
  const std::string link = dir.file("link.npy");
  fs::create_symlink(target, link);

  expect_target_rejected(dir.path(), link, "a symbolic link");
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_FALSE(fs::exists(target));
}

TEST(NpyWrite, FifoRejected) {
  TempDir dir;
  const std::string path = dir.file("pipe.npy");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << std::strerror(errno);

  expect_target_rejected(dir.path(), path, "a named pipe");
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(path)));
}

TEST(NpyWrite, DirectoryRejected) {
  TempDir dir;
  const std::string path = dir.file("taken.npy");
  fs::create_directory(path);
  std::ofstream(path + "/keep") << "kept";

  expect_target_rejected(dir.path(), path, "a directory");
  EXPECT_TRUE(fs::is_directory(fs::symlink_status(path)));
  EXPECT_EQ(read_file(path + "/keep"), "kept");
}

TEST(NpyWrite, DeviceNodeRejected) {
  // A character device with the numbers of /dev/null (1, 3), made in the temporary folder.
  TempDir dir;
  const std::string path = dir.file("null");
  const dev_t device = ::makedev(1, 3);
  if (::mknod(path.c_str(), S_IFCHR | 0666, device) != 0) {
    const int error = errno;
    if (error == EPERM) GTEST_SKIP() << "mknod needs CAP_MKNOD: " << std::strerror(error);
    FAIL() << "mknod " << path << ": " << std::strerror(error);
  }

  expect_target_rejected(dir.path(), path, "a character device");
  struct stat info {};
  ASSERT_EQ(::lstat(path.c_str(), &info), 0) << std::strerror(errno);
  EXPECT_TRUE(S_ISCHR(info.st_mode));
  EXPECT_EQ(info.st_rdev, device);
}

TEST(NpyWrite, FailedWriteKeepsOldFile) {
  TempDir dir;
  const std::string path = dir.file("model.npy");
  const std::vector<float> small = {1, 2, 3};
  write_npy(path, small.data(), {3});
  const std::string old_bytes = read_file(path);

  // A file size limit makes write() fail part way (EFBIG once SIGXFSZ is ignored).
  const std::vector<float> large(1 << 16, 0.5f);
  struct rlimit saved {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 4096;
  void (*previous)(int) = ::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string message;
  try {
    write_npy(path, large.data(), {256, 256});
  } catch (const Error& error) {
    message = error.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &saved);
  ::signal(SIGXFSZ, previous);

  EXPECT_NE(message.find("write failed"), std::string::npos) << message;
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_EQ(read_file(path), old_bytes);
  EXPECT_EQ(folder_names(dir.path()), std::vector<std::string>{"model.npy"});
}

TEST(NpyWrite, MissingFolderIsError) {
  TempDir dir;
  const std::string path = dir.file("no-such-folder/out.npy");
  const float value = 1.0f;
  const std::string message = error_message([&] { write_npy(path, &value, {1}); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(NpyWrite, RejectsInvalidShapes) {
  TempDir dir;
  const std::string path = dir.file("bad.npy");
  const float value = 1.0f;
  EXPECT_THROW(write_npy(path, &value, {}), Error);
  EXPECT_THROW(write_npy(path, &value, {-1, 2}), Error);
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace zae
