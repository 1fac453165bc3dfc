// Image I/O and patch cutting: PNG and JPEG files written with stb_image_write, decoded back,
// listed, cut into patches (checked against the source pixels), and tiled filter pictures.
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "zae/error.hpp"
#include "zae/image.hpp"

namespace zae {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

std::vector<uint8_t> random_bytes(size_t count, uint32_t seed) {
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> bytes(count);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(byte(engine));
  return bytes;
}

void write_test_png(const std::string& path, int width, int height, int channels,
                    const std::vector<uint8_t>& bytes) {
  ASSERT_EQ(bytes.size(), static_cast<size_t>(width) * height * channels);
  ASSERT_NE(stbi_write_png(path.c_str(), width, height, channels, bytes.data(), width * channels),
            0)
      << path;
}

template <typename Function>
std::string error_message(Function call) {
  try {
    call();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected zae::Error";
  return "";
}

// True when `patch` (size x size x channels) equals the image's pixels at some position, with
// each value within `tolerance`. With `grey` set, it compares against the luminance instead.
bool patch_in_image(const Image& image, const float* patch, int size, int channels, bool grey,
                    float tolerance) {
  for (int top = 0; top + size <= image.height; ++top) {
    for (int left = 0; left + size <= image.width; ++left) {
      bool match = true;
      for (int y = 0; y < size && match; ++y) {
        for (int x = 0; x < size && match; ++x) {
          const float* pixel = &image.pixels[((top + y) * image.width + left + x) * image.channels];
          for (int c = 0; c < channels && match; ++c) {
            float expected = pixel[image.channels == 1 ? 0 : c];
            if (grey) expected = 0.299f * pixel[0] + 0.587f * pixel[1] + 0.114f * pixel[2];
            const float actual = patch[(y * size + x) * channels + c];
            match = std::fabs(actual - expected) <= tolerance;
          }
        }
      }
      if (match) return true;
    }
  }
  return false;
}

TEST(ImageLoad, PngColourIsExact) {
  TempDir dir;
  const std::string path = dir.file("colour.png");
  const std::vector<uint8_t> bytes = random_bytes(5 * 3 * 3, 1);
  write_test_png(path, 5, 3, 3, bytes);

  const Image image = load_image(path);
  EXPECT_EQ(image.width, 5);
  EXPECT_EQ(image.height, 3);
  EXPECT_EQ(image.channels, 3);
  ASSERT_EQ(image.pixels.size(), bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) EXPECT_EQ(image.pixels[i], bytes[i] / 255.0f) << i;
}

TEST(ImageLoad, AlphaIsDropped) {
  TempDir dir;
  const std::vector<uint8_t> grey_alpha = {0, 10, 255, 20, 128, 30, 7, 40};
  write_test_png(dir.file("ga.png"), 2, 2, 2, grey_alpha);
  const Image grey = load_image(dir.file("ga.png"));
  EXPECT_EQ(grey.channels, 1);
  ASSERT_EQ(grey.pixels.size(), 4u);
  EXPECT_EQ(grey.pixels[0], 0.0f);
  EXPECT_EQ(grey.pixels[1], 1.0f);
  EXPECT_EQ(grey.pixels[2], 128 / 255.0f);
  EXPECT_EQ(grey.pixels[3], 7 / 255.0f);

  const std::vector<uint8_t> rgba = {1, 2, 3, 200, 4, 5, 6, 100};
  write_test_png(dir.file("rgba.png"), 2, 1, 4, rgba);
  const Image colour = load_image(dir.file("rgba.png"));
  EXPECT_EQ(colour.channels, 3);
  ASSERT_EQ(colour.pixels.size(), 6u);
  EXPECT_EQ(colour.pixels[2], 3 / 255.0f);
  EXPECT_EQ(colour.pixels[3], 4 / 255.0f);
}

TEST(ImageLoad, JpegIsClose) {
  TempDir dir;
  const std::string path = dir.file("flat.jpg");
  std::vector<uint8_t> bytes;
  for (int i = 0; i < 16 * 16; ++i) bytes.insert(bytes.end(), {200, 100, 50});
  ASSERT_NE(stbi_write_jpg(path.c_str(), 16, 16, 3, bytes.data(), 100), 0);

  const Image image = load_image(path);
  EXPECT_EQ(image.width, 16);
  EXPECT_EQ(image.height, 16);
  EXPECT_EQ(image.channels, 3);
  // A flat colour survives JPEG at quality 100 within a few levels of chroma rounding.
  for (size_t i = 0; i < image.pixels.size(); i += 3) {
    EXPECT_NEAR(image.pixels[i], 200 / 255.0f, 4 / 255.0f);
    EXPECT_NEAR(image.pixels[i + 1], 100 / 255.0f, 4 / 255.0f);
    EXPECT_NEAR(image.pixels[i + 2], 50 / 255.0f, 4 / 255.0f);
  }
}

uint32_t crc32(const std::string& bytes) {
  uint32_t crc = 0xffffffffu;
  for (const char byte : bytes) {
    crc ^= static_cast<uint8_t>(byte);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

std::string big_endian32(uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
          static_cast<char>(value >> 8), static_cast<char>(value)};
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return big_endian32(static_cast<uint32_t>(data.size())) + type + data +
         big_endian32(crc32(type + data));
}

// A 16-bit grey PNG of one row, built by hand because stb_image_write only writes 8 bits. The
// zlib stream contains one stored (uncompressed) deflate block.
std::string grey16_png(const std::vector<uint16_t>& row) {
  std::string scanline(1, '\0');  // filter type 0
  for (const uint16_t value : row) {
    scanline += static_cast<char>(value >> 8);
    scanline += static_cast<char>(value & 0xff);
  }
  uint32_t a = 1, b = 0;
  for (const char byte : scanline) {
    a = (a + static_cast<uint8_t>(byte)) % 65521;
    b = (b + a) % 65521;
  }
  const uint16_t length = static_cast<uint16_t>(scanline.size());
  std::string zlib = "\x78\x01\x01";
  zlib += static_cast<char>(length & 0xff);
  zlib += static_cast<char>(length >> 8);
  zlib += static_cast<char>(~length & 0xff);
  zlib += static_cast<char>((~length >> 8) & 0xff);
  zlib += scanline + big_endian32((b << 16) | a);

  const std::string header = big_endian32(static_cast<uint32_t>(row.size())) + big_endian32(1) +
                             std::string("\x10\x00\x00\x00\x00", 5);  // 16-bit grey
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", header) + png_chunk("IDAT", zlib) +
         png_chunk("IEND", "");
}

TEST(ImageLoad, Png16BitKeepsPrecision) {
  TempDir dir;
  const std::string path = dir.file("deep.png");
  std::ofstream(path, std::ios::binary) << grey16_png({0, 258, 40000, 65535});

  const Image image = load_image(path);
  EXPECT_EQ(image.width, 4);
  EXPECT_EQ(image.height, 1);
  EXPECT_EQ(image.channels, 1);
  ASSERT_EQ(image.pixels.size(), 4u);
  EXPECT_EQ(image.pixels[0], 0.0f);
  EXPECT_EQ(image.pixels[1], 258 / 65535.0f);
  EXPECT_EQ(image.pixels[2], 40000 / 65535.0f);
  EXPECT_EQ(image.pixels[3], 1.0f);
}

TEST(ImageLoad, UndecodableFileNamed) {
  TempDir dir;
  const std::string path = dir.file("broken.png");
  std::ofstream(path) << "this is not a PNG file";
  const std::string message = error_message([&] { load_image(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("cannot decode"), std::string::npos) << message;
}

TEST(ImageLoad, MissingFileNamed) {
  TempDir dir;
  const std::string path = dir.file("absent.png");
  const std::string message = error_message([&] { load_image(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("not found"), std::string::npos) << message;
}

TEST(ImageList, SortedCaseInsensitive) {
  TempDir dir;
  const std::vector<uint8_t> pixel = {9};
  for (const char* name : {"b.PNG", "a.jpg", "c.JPEG", "d.Jpg"}) {
    write_test_png(dir.file(name), 1, 1, 1, pixel);
  }
  std::ofstream(dir.file("notes.txt")) << "not an image";
  fs::create_directory(dir.file("folder.png"));

  const std::vector<std::string> files = list_images(dir.path());
  const std::vector<std::string> expected = {dir.file("a.jpg"), dir.file("b.PNG"),
                                             dir.file("c.JPEG"), dir.file("d.Jpg")};
  EXPECT_EQ(files, expected);
}

TEST(ImageList, MissingOrEmptyFolderNamed) {
  TempDir dir;
  const std::string missing = dir.file("nowhere");
  std::string message = error_message([&] { list_images(missing); });
  EXPECT_NE(message.find(missing), std::string::npos) << message;
  EXPECT_NE(message.find("not found"), std::string::npos) << message;

  std::ofstream(dir.file("readme.txt")) << "no images here";
  message = error_message([&] { list_images(dir.path()); });
  EXPECT_NE(message.find(dir.path()), std::string::npos) << message;
  EXPECT_NE(message.find("no images"), std::string::npos) << message;
}

TEST(ImageWrite, PngRoundTripLeavesNoTemporary) {
  TempDir dir;
  const std::string path = dir.file("out.png");
  const std::vector<uint8_t> bytes = random_bytes(7 * 4 * 3, 2);
  write_png(path, 7, 4, 3, bytes);

  const Image image = load_image(path);
  EXPECT_EQ(image.width, 7);
  EXPECT_EQ(image.height, 4);
  EXPECT_EQ(image.channels, 3);
  for (size_t i = 0; i < bytes.size(); ++i) EXPECT_EQ(image.pixels[i], bytes[i] / 255.0f) << i;
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(entry.path().string(), path);
  }
  EXPECT_EQ(entries, 1u);
}

TEST(ImageWrite, PngRejectsBadArguments) {
  TempDir dir;
  const std::string path = dir.file("bad.png");
  EXPECT_THROW(write_png(path, 2, 2, 3, std::vector<uint8_t>(11)), Error);
  EXPECT_THROW(write_png(path, 2, 2, 2, std::vector<uint8_t>(8)), Error);
  EXPECT_THROW(write_png(path, 0, 2, 1, {}), Error);
  EXPECT_FALSE(fs::exists(path));
}

TEST(ImageWrite, PngKeepsSymlinkAndFifo) {
  TempDir dir;
  const std::vector<uint8_t> bytes = random_bytes(2 * 2, 3);
  const std::string target = dir.file("real.png");
  write_png(target, 2, 2, 1, bytes);
  const std::string link = dir.file("link.png");
  fs::create_symlink(target, link);
  const std::string pipe = dir.file("pipe.png");
  ASSERT_EQ(::mkfifo(pipe.c_str(), 0600), 0) << std::strerror(errno);
  const auto before = fs::last_write_time(target);

  const std::vector<uint8_t> other = random_bytes(2 * 2, 4);
  const std::string link_message = error_message([&] { write_png(link, 2, 2, 1, other); });
  EXPECT_NE(link_message.find(link + " is a symbolic link"), std::string::npos) << link_message;
  const std::string pipe_message = error_message([&] { write_png(pipe, 2, 2, 1, other); });
  EXPECT_NE(pipe_message.find(pipe + " is a named pipe"), std::string::npos) << pipe_message;

  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(pipe)));
  EXPECT_EQ(fs::last_write_time(target), before);
  const Image image = load_image(target);
  for (size_t i = 0; i < bytes.size(); ++i) EXPECT_EQ(image.pixels[i], bytes[i] / 255.0f) << i;
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    ++entries;
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "real.png" || name == "link.png" || name == "pipe.png") << name;
  }
  EXPECT_EQ(entries, 3u);
}

// Decodes a PNG to its 8-bit values with stb directly.
std::vector<uint8_t> read_png_bytes(const std::string& path, int& width, int& height,
                                    int& channels) {
  uint8_t* decoded = stbi_load(path.c_str(), &width, &height, &channels, 0);
  EXPECT_NE(decoded, nullptr) << path;
  if (decoded == nullptr) return {};
  std::vector<uint8_t> bytes(decoded, decoded + width * height * channels);
  stbi_image_free(decoded);
  return bytes;
}

TEST(ImageWrite, FilterGridScalesEachFilter) {
  TempDir dir;
  const std::string path = dir.file("filters.png");
  // Five 2x3 grey filters: a ramp, an all-zero filter, and three scaled copies of the ramp.
  const std::vector<float> ramp = {-2, -1, 0, 1, 2, 0};
  std::vector<float> filters = ramp;
  filters.insert(filters.end(), 6, 0.0f);
  for (const float scale : {0.001f, 10.0f, 3.0f}) {
    for (const float value : ramp) filters.push_back(value * scale);
  }
  write_filter_png(path, filters.data(), 5, 2, 3, 1);

  int width = 0, height = 0, channels = 0;
  const std::vector<uint8_t> pixels = read_png_bytes(path, width, height, channels);
  // ceil(sqrt(5)) = 3 columns and 2 rows of 2x3 tiles with one-pixel borders.
  ASSERT_EQ(width, 3 * 4 + 1);
  ASSERT_EQ(height, 2 * 3 + 1);
  ASSERT_EQ(channels, 1);
  const auto at = [&](int y, int x) { return static_cast<int>(pixels[y * width + x]); };

  // -2 -> 1, -1 -> 64.5 rounds to 65, 0 -> 128, 1 -> 191.5 rounds to 192, 2 -> 255.
  const int expected_ramp[] = {1, 65, 128, 192, 255, 128};
  const int tile_tops[] = {1, 1, 1, 4, 4};
  const int tile_lefts[] = {1, 5, 9, 1, 5};
  for (int f = 0; f < 5; ++f) {
    SCOPED_TRACE("filter " + std::to_string(f));
    for (int i = 0; i < 6; ++i) {
      const int expected = f == 1 ? 128 : expected_ramp[i];
      EXPECT_EQ(at(tile_tops[f] + i / 3, tile_lefts[f] + i % 3), expected) << i;
    }
  }
  for (int x = 0; x < width; ++x) {
    EXPECT_EQ(at(0, x), 0);
    EXPECT_EQ(at(3, x), 0);
    EXPECT_EQ(at(6, x), 0);
  }
  for (int y = 0; y < height; ++y) EXPECT_EQ(at(y, 0), 0);
  // The sixth grid slot is empty and stays border-dark.
  EXPECT_EQ(at(4, 9), 0);
  EXPECT_EQ(at(5, 11), 0);
}

TEST(ImageWrite, FilterColourAndNonFinite) {
  TempDir dir;
  const std::string path = dir.file("colour.png");
  const std::vector<float> filter = {0.5f, -0.5f, 0.0f, std::nanf(""), 0.25f, -0.25f};
  write_filter_png(path, filter.data(), 1, 1, 2, 3);

  int width = 0, height = 0, channels = 0;
  const std::vector<uint8_t> pixels = read_png_bytes(path, width, height, channels);
  ASSERT_EQ(width, 4);
  ASSERT_EQ(height, 3);
  ASSERT_EQ(channels, 3);
  const size_t first = (1 * width + 1) * 3;
  EXPECT_EQ(pixels[first + 0], 255);
  EXPECT_EQ(pixels[first + 1], 1);
  EXPECT_EQ(pixels[first + 2], 128);
  EXPECT_EQ(pixels[first + 3], 0);  // NaN is drawn black
  EXPECT_EQ(pixels[first + 4], 192);
  EXPECT_EQ(pixels[first + 5], 65);
}

// A folder with grey images whose pixel values identify their position: value = (y * w + x)
// for the first image, shifted by 100 for the second, so each patch's corner names its origin.
void write_position_images(const TempDir& dir) {
  for (int k = 0; k < 2; ++k) {
    const int width = 10 + k, height = 9;
    std::vector<uint8_t> bytes(width * height);
    for (int i = 0; i < width * height; ++i) bytes[i] = static_cast<uint8_t>(i + 100 * k);
    write_test_png(dir.file("img" + std::to_string(k) + ".png"), width, height, 1, bytes);
  }
}

TEST(PatchCut, SameSeedSamePatches) {
  TempDir dir;
  write_test_png(dir.file("a.png"), 20, 15, 3, random_bytes(20 * 15 * 3, 3));
  write_test_png(dir.file("b.png"), 12, 18, 3, random_bytes(12 * 18 * 3, 4));
  PatchOptions options;
  options.images = dir.path();
  options.size = 6;
  options.count = 50;
  options.seed = 42;

  std::vector<int64_t> shape1, shape2, shape3;
  const std::vector<float> first = cut_patches(options, shape1);
  const std::vector<float> second = cut_patches(options, shape2);
  options.seed = 43;
  const std::vector<float> other = cut_patches(options, shape3);

  EXPECT_EQ(shape1, (std::vector<int64_t>{50, 6, 6, 3}));
  EXPECT_EQ(shape1, shape2);
  EXPECT_EQ(first, second);
  EXPECT_EQ(shape3, shape1);
  EXPECT_NE(first, other);
}

TEST(PatchCut, SameContentsOtherFolderSamePatches) {
  TempDir dir;
  write_test_png(dir.file("a.png"), 20, 15, 3, random_bytes(20 * 15 * 3, 3));
  write_test_png(dir.file("b.png"), 12, 18, 3, random_bytes(12 * 18 * 3, 4));
  PatchOptions options;
  options.images = dir.path();
  options.size = 5;
  options.count = 40;
  options.seed = 7;
  std::vector<int64_t> shape;
  const std::vector<float> original = cut_patches(options, shape);

  const std::string copy = dir.file("copy");
  fs::create_directory(copy);
  fs::copy_file(dir.file("b.png"), copy + "/b.png");
  fs::copy_file(dir.file("a.png"), copy + "/a.png");
  options.images = copy;
  EXPECT_EQ(cut_patches(options, shape), original);
}

TEST(PatchCut, PatchesMatchImagePixels) {
  TempDir dir;
  write_test_png(dir.file("a.png"), 17, 13, 3, random_bytes(17 * 13 * 3, 5));
  write_test_png(dir.file("b.png"), 11, 19, 3, random_bytes(11 * 19 * 3, 6));
  const Image images[] = {load_image(dir.file("a.png")), load_image(dir.file("b.png"))};
  PatchOptions options;
  options.images = dir.path();
  options.size = 4;
  options.count = 30;
  options.seed = 9;
  std::vector<int64_t> shape;
  const std::vector<float> patches = cut_patches(options, shape);
  ASSERT_EQ(patches.size(), 30u * 4 * 4 * 3);

  for (int i = 0; i < 30; ++i) {
    const float* patch = &patches[i * 48];
    EXPECT_TRUE(patch_in_image(images[0], patch, 4, 3, false, 0.0f) ||
                patch_in_image(images[1], patch, 4, 3, false, 0.0f))
        << "patch " << i;
  }
}

TEST(PatchCut, EveryPositionAndImageDrawn) {
  TempDir dir;
  write_position_images(dir);
  PatchOptions options;
  options.images = dir.path();
  options.size = 8;
  options.count = 2000;
  options.seed = 1;
  std::vector<int64_t> shape;
  PatchReport report;
  const std::vector<float> patches = cut_patches(options, shape, report);
  ASSERT_EQ(shape, (std::vector<int64_t>{2000, 8, 8}));
  EXPECT_EQ(report.images_found, 2);
  EXPECT_EQ(report.images_used, 2);
  EXPECT_EQ(report.channels, 1);

  // Image 0 (10 x 9) has 3 x 2 positions and image 1 (11 x 9) has 4 x 2. The corner value names
  // the image and position, and the rest of the patch must follow from it.
  std::set<int> corners;
  for (int i = 0; i < 2000; ++i) {
    const float* patch = &patches[i * 64];
    const int corner = static_cast<int>(std::lround(patch[0] * 255));
    const int image = corner >= 100 ? 1 : 0;
    const int width = 10 + image;
    const int offset = corner - 100 * image;
    ASSERT_LE(offset % width, width - 8) << "patch " << i;
    ASSERT_LE(offset / width, 1) << "patch " << i;
    for (int y = 0; y < 8; ++y) {
      for (int x = 0; x < 8; ++x) {
        ASSERT_EQ(patch[y * 8 + x], (corner + y * width + x) / 255.0f) << "patch " << i;
      }
    }
    corners.insert(corner);
  }
  EXPECT_EQ(corners.size(), 6u + 8u);
}

TEST(PatchCut, GreyFromColourIsLuminance) {
  TempDir dir;
  write_test_png(dir.file("colour.png"), 9, 9, 3, random_bytes(9 * 9 * 3, 8));
  const Image image = load_image(dir.file("colour.png"));
  PatchOptions options;
  options.images = dir.path();
  options.size = 3;
  options.count = 20;
  options.channels = 1;
  std::vector<int64_t> shape;
  const std::vector<float> patches = cut_patches(options, shape);
  ASSERT_EQ(shape, (std::vector<int64_t>{20, 3, 3}));
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(patch_in_image(image, &patches[i * 9], 3, 1, true, 1e-6f)) << "patch " << i;
  }
}

TEST(PatchCut, GreyReplicatedWhenFolderMixed) {
  TempDir dir;
  write_test_png(dir.file("a-grey.png"), 8, 8, 1, random_bytes(64, 10));
  write_test_png(dir.file("b-colour.png"), 8, 8, 3, random_bytes(64 * 3, 11));
  PatchOptions options;
  options.images = dir.path();
  options.size = 8;
  options.count = 40;
  std::vector<int64_t> shape;
  const std::vector<float> patches = cut_patches(options, shape);
  ASSERT_EQ(shape, (std::vector<int64_t>{40, 8, 8, 3}));

  const Image grey = load_image(dir.file("a-grey.png"));
  int grey_patches = 0;
  for (int i = 0; i < 40; ++i) {
    const float* patch = &patches[i * 192];
    if (!patch_in_image(grey, patch, 8, 3, false, 0.0f)) continue;
    ++grey_patches;
    for (int p = 0; p < 64; ++p) {
      EXPECT_EQ(patch[p * 3], patch[p * 3 + 1]);
      EXPECT_EQ(patch[p * 3], patch[p * 3 + 2]);
    }
  }
  EXPECT_GT(grey_patches, 0);
  EXPECT_LT(grey_patches, 40);
}

TEST(PatchCut, TooSmallImageNamed) {
  TempDir dir;
  write_test_png(dir.file("big.png"), 20, 20, 1, random_bytes(400, 12));
  write_test_png(dir.file("tiny.png"), 5, 4, 1, random_bytes(20, 13));
  PatchOptions options;
  options.images = dir.path();
  options.size = 8;
  options.count = 10;
  std::vector<int64_t> shape;
  const std::string message = error_message([&] { cut_patches(options, shape); });
  EXPECT_NE(message.find(dir.file("tiny.png")), std::string::npos) << message;
  EXPECT_NE(message.find("5x4"), std::string::npos) << message;
  EXPECT_NE(message.find("8x8"), std::string::npos) << message;
  EXPECT_NE(message.find("--size 4"), std::string::npos) << message;
  EXPECT_EQ(message.find("big.png"), std::string::npos) << message;
}

TEST(PatchCut, SeveralTooSmallImagesListed) {
  TempDir dir;
  write_test_png(dir.file("one.png"), 5, 6, 1, random_bytes(30, 14));
  write_test_png(dir.file("two.png"), 7, 3, 1, random_bytes(21, 15));
  PatchOptions options;
  options.images = dir.path();
  options.size = 6;
  options.count = 1;
  std::vector<int64_t> shape;
  const std::string message = error_message([&] { cut_patches(options, shape); });
  EXPECT_NE(message.find("2 images"), std::string::npos) << message;
  EXPECT_NE(message.find("one.png (5x6)"), std::string::npos) << message;
  EXPECT_NE(message.find("two.png (7x3)"), std::string::npos) << message;
  EXPECT_NE(message.find("--size 3"), std::string::npos) << message;
}

TEST(PatchCut, UndecodableImageNamed) {
  TempDir dir;
  write_test_png(dir.file("good.png"), 8, 8, 1, random_bytes(64, 16));
  std::ofstream(dir.file("bad.jpg")) << "not a JPEG";
  PatchOptions options;
  options.images = dir.path();
  options.size = 4;
  options.count = 5;
  std::vector<int64_t> shape;
  const std::string message = error_message([&] { cut_patches(options, shape); });
  EXPECT_NE(message.find(dir.file("bad.jpg")), std::string::npos) << message;
}

TEST(PatchCut, RejectsInvalidOptions) {
  TempDir dir;
  write_test_png(dir.file("a.png"), 8, 8, 1, random_bytes(64, 17));
  PatchOptions options;
  options.images = dir.path();
  options.size = 4;
  options.count = 5;
  std::vector<int64_t> shape;
  options.channels = 2;
  EXPECT_THROW(cut_patches(options, shape), Error);
  options.channels = 0;
  options.count = 0;
  EXPECT_THROW(cut_patches(options, shape), Error);
  options.count = 5;
  options.size = 0;
  EXPECT_THROW(cut_patches(options, shape), Error);
}

TEST(PatchCut, RealPhotos) {
  const std::string folder = std::string(ZAE_SOURCE_DIR) + "/data/photos";
  if (!fs::is_directory(folder)) {
    GTEST_SKIP() << folder << " is absent, so there are no real photos to cut";
  }
  PatchOptions options;
  options.images = folder;
  options.size = 16;
  options.count = 500;
  options.seed = 3;
  std::vector<int64_t> shape;
  PatchReport report;
  const std::vector<float> patches = cut_patches(options, shape, report);
  ASSERT_EQ(shape[0], 500);
  EXPECT_GT(report.images_used, 0);
  double sum = 0.0;
  for (const float value : patches) {
    ASSERT_GE(value, 0.0f);
    ASSERT_LE(value, 1.0f);
    sum += value;
  }
  // Photos are neither black nor white on average.
  const double mean = sum / static_cast<double>(patches.size());
  EXPECT_GT(mean, 0.05);
  EXPECT_LT(mean, 0.95);
}

}  // namespace
}  // namespace zae
