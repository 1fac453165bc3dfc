// Image files through stb_image and stb_image_write: decoding PNG and JPEG into [0, 1] floats,
// listing an image folder, cutting random patches with Philox draws, and writing PNG pictures.
#include "zae/image.hpp"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>

#include "zae/error.hpp"
#include "zae/npy.hpp"
#include "zae/philox.hpp"

namespace zae {
namespace {

namespace fs = std::filesystem;

struct StbFree {
  void operator()(void* pixels) const { stbi_image_free(pixels); }
};

// An image as stb_image decodes it: 8 or 16 bits per value, 1 to 4 interleaved channels with
// alpha last. Patches are cut from this buffer, which for 8-bit images is a quarter of the
// size of a float copy.
class DecodedImage {
 public:
  explicit DecodedImage(const std::string& path) {
    std::error_code error;
    if (!fs::exists(path, error)) fail(path, ": image file not found: check the path");
    if (!fs::is_regular_file(path, error)) fail(path, ": not a regular file: pass an image file");

    // 16-bit PNGs keep their precision through stbi_load_16. Other images decode to 8 bits.
    sixteen_bit_ = stbi_is_16_bit(path.c_str()) != 0;
    if (sixteen_bit_) {
      values_.reset(stbi_load_16(path.c_str(), &width_, &height_, &stored_channels_, 0));
    } else {
      values_.reset(stbi_load(path.c_str(), &width_, &height_, &stored_channels_, 0));
    }
    if (!values_) {
      fail(path, ": cannot decode image: ", stbi_failure_reason(),
           ": remove the file or convert it to PNG or JPEG");
    }
  }

  int width() const { return width_; }
  int height() const { return height_; }
  // Colour channels without alpha: 1 or 3.
  int channels() const { return stored_channels_ >= 3 ? 3 : 1; }

  // Channel `c` (below channels()) of the pixel at (y, x), in [0, 1]. It divides rather than
  // multiplying by a reciprocal, so that a byte b becomes exactly b / 255.0f.
  float value(int y, int x, int c) const {
    const size_t index =
        (static_cast<size_t>(y) * width_ + x) * static_cast<size_t>(stored_channels_) + c;
    if (sixteen_bit_) return static_cast<const uint16_t*>(values_.get())[index] / 65535.0f;
    return static_cast<const uint8_t*>(values_.get())[index] / 255.0f;
  }

 private:
  std::unique_ptr<void, StbFree> values_;
  bool sixteen_bit_ = false;
  int width_ = 0;
  int height_ = 0;
  int stored_channels_ = 0;
};

std::string lower_case(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Uniform integer in [0, range) from one 32-bit word by multiply-shift. Each value's
// probability is off by less than 1 / 2^32, which is negligible for image counts and positions.
uint32_t uniform_below(uint32_t word, uint32_t range) {
  return static_cast<uint32_t>((static_cast<uint64_t>(word) * range) >> 32);
}

// The Philox block of patch `index`: word 0 picks the image, words 1 and 2 the row and column.
Philox4 patch_draw(uint64_t seed, int64_t index) {
  const uint64_t counter = static_cast<uint64_t>(index);
  return philox4x32(static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                    static_cast<uint32_t>(RandomStream::Patches), 0, seed_low(seed),
                    seed_high(seed));
}

struct ImageInfo {
  int width = 0;
  int height = 0;
  int channels = 0;  // as stored in the file, 1 to 4 including alpha
};

ImageInfo probe_image(const std::string& path) {
  ImageInfo info;
  if (!stbi_info(path.c_str(), &info.width, &info.height, &info.channels)) {
    fail(path, ": cannot decode image: ", stbi_failure_reason(),
         ": remove the file or convert it to PNG or JPEG");
  }
  return info;
}

// Fails naming every image smaller than the patch, with the largest patch side they all allow.
void check_image_sizes(const std::vector<std::string>& files, const std::vector<ImageInfo>& infos,
                       int size) {
  std::vector<size_t> small;
  int largest_fit = std::numeric_limits<int>::max();
  for (size_t k = 0; k < files.size(); ++k) {
    if (infos[k].width < size || infos[k].height < size) {
      small.push_back(k);
      largest_fit = std::min({largest_fit, infos[k].width, infos[k].height});
    }
  }
  if (small.empty()) return;

  const std::string patch = std::to_string(size) + "x" + std::to_string(size);
  if (small.size() == 1) {
    const ImageInfo& info = infos[small[0]];
    fail(files[small[0]], " is ", info.width, "x", info.height, " pixels, smaller than the ", patch,
         " patch: use --size ", largest_fit, " or less, or remove the image");
  }
  constexpr size_t kListed = 10;
  std::string list;
  for (size_t i = 0; i < small.size() && i < kListed; ++i) {
    const ImageInfo& info = infos[small[i]];
    if (i > 0) list += ", ";
    list += files[small[i]] + " (" + std::to_string(info.width) + "x" +
            std::to_string(info.height) + ")";
  }
  if (small.size() > kListed) list += " and " + std::to_string(small.size() - kListed) + " more";
  fail(small.size(), " images are smaller than the ", patch, " patch: ", list, ": use --size ",
       largest_fit, " or less, or remove them");
}

// Copies the size x size patch at (top, left) of `image` into `out`, converting channels:
// colour to grey by luminance 0.299 R + 0.587 G + 0.114 B, grey to colour by replication.
void copy_patch(const DecodedImage& image, int top, int left, int size, int channels, float* out) {
  const int image_channels = image.channels();
  for (int y = top; y < top + size; ++y) {
    for (int x = left; x < left + size; ++x) {
      if (channels == image_channels) {
        for (int c = 0; c < channels; ++c) *out++ = image.value(y, x, c);
      } else if (channels == 1) {
        const double grey = 0.299 * image.value(y, x, 0) + 0.587 * image.value(y, x, 1) +
                            0.114 * image.value(y, x, 2);
        *out++ = static_cast<float>(std::min(grey, 1.0));
      } else {
        const float grey = image.value(y, x, 0);
        for (int c = 0; c < channels; ++c) *out++ = grey;
      }
    }
  }
}

// Appends stb_image_write's output to a byte vector.
void append_bytes(void* context, void* data, int size) {
  auto* bytes = static_cast<std::vector<uint8_t>*>(context);
  const auto* begin = static_cast<const uint8_t*>(data);
  bytes->insert(bytes->end(), begin, begin + size);
}

}  // namespace

Image load_image(const std::string& path) {
  const DecodedImage decoded(path);
  Image image;
  image.width = decoded.width();
  image.height = decoded.height();
  image.channels = decoded.channels();
  image.pixels.reserve(static_cast<size_t>(image.width) * image.height * image.channels);
  for (int y = 0; y < image.height; ++y) {
    for (int x = 0; x < image.width; ++x) {
      for (int c = 0; c < image.channels; ++c) image.pixels.push_back(decoded.value(y, x, c));
    }
  }
  return image;
}

std::vector<std::string> list_images(const std::string& folder) {
  std::error_code error;
  const fs::file_status status = fs::status(folder, error);
  if (error && error != std::errc::no_such_file_or_directory) {
    fail(folder, ": cannot access the image folder: ", error.message());
  }
  if (!fs::exists(status)) fail(folder, ": image folder not found: check the path");
  if (!fs::is_directory(status)) fail(folder, ": not a folder: pass a folder of PNG/JPEG files");

  std::vector<std::string> files;
  fs::directory_iterator entry(folder, error);
  if (error) fail(folder, ": cannot list the folder: ", error.message());
  for (; entry != fs::directory_iterator(); entry.increment(error)) {
    if (error) fail(folder, ": cannot list the folder: ", error.message());
    const std::string extension = lower_case(entry->path().extension().string());
    if (extension != ".png" && extension != ".jpg" && extension != ".jpeg") continue;
    std::error_code type_error;
    if (!entry->is_regular_file(type_error)) continue;
    files.push_back(entry->path().string());
  }
  if (error) fail(folder, ": cannot list the folder: ", error.message());
  if (files.empty()) {
    fail(folder, ": no images found (expected .png, .jpg or .jpeg files directly inside)");
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<float> cut_patches(const PatchOptions& options, std::vector<int64_t>& shape) {
  PatchReport report;
  return cut_patches(options, shape, report);
}

std::vector<float> cut_patches(const PatchOptions& options, std::vector<int64_t>& shape,
                               PatchReport& report) {
  ZAE_REQUIRE(options.size > 0, "patch size ", options.size, " is invalid: use 1 or more");
  ZAE_REQUIRE(options.count > 0, "patch count ", options.count, " is invalid: use 1 or more");
  ZAE_REQUIRE(options.channels == 0 || options.channels == 1 || options.channels == 3, "channels ",
              options.channels, " is invalid: use 0 (automatic), 1 or 3");

  const std::vector<std::string> files = list_images(options.images);
  ZAE_REQUIRE(files.size() <= std::numeric_limits<uint32_t>::max(), options.images,
              ": too many images (", files.size(), ")");
  std::vector<ImageInfo> infos;
  infos.reserve(files.size());
  bool any_colour = false;
  for (const std::string& file : files) {
    infos.push_back(probe_image(file));
    any_colour = any_colour || infos.back().channels >= 3;
  }
  check_image_sizes(files, infos, options.size);
  const int channels = options.channels != 0 ? options.channels : (any_colour ? 3 : 1);

  const size_t patch_values = static_cast<size_t>(options.size) * options.size * channels;
  const uint64_t count = static_cast<uint64_t>(options.count);
  if (count > std::numeric_limits<size_t>::max() / sizeof(float) / patch_values) {
    fail("patch count ", options.count, " of ", patch_values, " values each is too large");
  }
  std::vector<float> patches;
  std::vector<uint32_t> image_of;
  std::vector<int64_t> order;
  try {
    patches.resize(count * patch_values);
    image_of.resize(count);
    order.resize(count);
  } catch (const std::exception&) {  // std::bad_alloc, or std::length_error past max_size()
    fail("cannot allocate ", count * patch_values * sizeof(float), " bytes for ", count,
         " patches: lower the patch count");
  }

  // Draw every patch's image first, then bucket the patches by image (a counting sort), so
  // that each image is decoded once and only one decoded image is held at a time.
  const uint32_t image_count = static_cast<uint32_t>(files.size());
  std::vector<int64_t> start(image_count + 1, 0);
  for (int64_t i = 0; i < options.count; ++i) {
    image_of[i] = uniform_below(patch_draw(options.seed, i).v[0], image_count);
    ++start[image_of[i] + 1];
  }
  for (uint32_t k = 0; k < image_count; ++k) start[k + 1] += start[k];
  std::vector<int64_t> next(start.begin(), start.end() - 1);
  for (int64_t i = 0; i < options.count; ++i) order[next[image_of[i]]++] = i;
  image_of = {};

  report.images_found = static_cast<int64_t>(files.size());
  report.images_used = 0;
  report.channels = channels;
  for (uint32_t k = 0; k < image_count; ++k) {
    if (start[k] == start[k + 1]) continue;
    const DecodedImage image(files[k]);
    if (image.width() != infos[k].width || image.height() != infos[k].height) {
      fail(files[k], ": image changed while patches were cut (", infos[k].width, "x",
           infos[k].height, " became ", image.width(), "x", image.height(), "): run again");
    }
    ++report.images_used;
    const uint32_t rows = static_cast<uint32_t>(image.height() - options.size + 1);
    const uint32_t cols = static_cast<uint32_t>(image.width() - options.size + 1);
    for (int64_t j = start[k]; j < start[k + 1]; ++j) {
      const int64_t i = order[j];
      const Philox4 draw = patch_draw(options.seed, i);
      const int top = static_cast<int>(uniform_below(draw.v[1], rows));
      const int left = static_cast<int>(uniform_below(draw.v[2], cols));
      copy_patch(image, top, left, options.size, channels,
                 patches.data() + static_cast<size_t>(i) * patch_values);
    }
  }

  shape = {options.count, options.size, options.size};
  if (channels == 3) shape.push_back(3);
  return patches;
}

void write_png(const std::string& path, int width, int height, int channels,
               const std::vector<uint8_t>& pixels) {
  ZAE_REQUIRE(width > 0 && height > 0, path, ": invalid PNG size ", width, "x", height);
  ZAE_REQUIRE(channels == 1 || channels == 3, path, ": invalid PNG channel count ", channels,
              ": use 1 (grey) or 3 (colour)");
  // stb_image_write sizes its filter buffer as (width * channels + 1) * height in an int.
  ZAE_REQUIRE((int64_t(width) * channels + 1) * height <= std::numeric_limits<int>::max(), path,
              ": a ", width, "x", height, " PNG is too large for stb_image_write");
  ZAE_REQUIRE(pixels.size() == static_cast<size_t>(width) * height * channels, path, ": ",
              pixels.size(), " pixel bytes do not match ", width, "x", height, "x", channels);

  std::vector<uint8_t> encoded;
  if (!stbi_write_png_to_func(append_bytes, &encoded, width, height, channels, pixels.data(),
                              width * channels)) {
    fail(path, ": PNG encoding of a ", width, "x", height, " image failed");
  }
  write_file_atomic(path, {{encoded.data(), encoded.size()}});
}

void write_filter_png(const std::string& path, const float* filters, int n, int patch_height,
                      int patch_width, int channels, int zoom) {
  ZAE_REQUIRE(n > 0 && filters != nullptr, path, ": no filters to draw");
  ZAE_REQUIRE(patch_height > 0 && patch_width > 0, path, ": invalid filter size ", patch_height,
              "x", patch_width);
  ZAE_REQUIRE(channels == 1 || channels == 3, path, ": invalid filter channel count ", channels,
              ": use 1 (grey) or 3 (colour)");
  ZAE_REQUIRE(zoom >= 1 && zoom <= 64, path, ": invalid zoom ", zoom, ": use 1 to 64");
  const int tile_height = patch_height * zoom;
  const int tile_width = patch_width * zoom;

  // Near-square grid: ceil(sqrt(n)) columns, one-pixel border (value 0) around every tile.
  int grid_cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  while (static_cast<int64_t>(grid_cols) * grid_cols < n) ++grid_cols;
  const int grid_rows = (n + grid_cols - 1) / grid_cols;
  const int64_t width64 = int64_t(grid_cols) * (tile_width + 1) + 1;
  const int64_t height64 = int64_t(grid_rows) * (tile_height + 1) + 1;
  // stb_image_write sizes its filter buffer as (width * channels + 1) * height in an int.
  ZAE_REQUIRE((width64 * channels + 1) * height64 <= std::numeric_limits<int>::max(), path,
              ": a grid of ", n, " filters of ", patch_height, "x", patch_width,
              " is too large for one PNG (", width64, "x", height64, " pixels)");
  const int width = static_cast<int>(width64);
  const int height = static_cast<int>(height64);
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * channels, 0);

  const size_t filter_values = static_cast<size_t>(patch_height) * patch_width * channels;
  for (int f = 0; f < n; ++f) {
    const float* filter = filters + static_cast<size_t>(f) * filter_values;
    float max_abs = 0.0f;
    for (size_t v = 0; v < filter_values; ++v) {
      if (std::isfinite(filter[v])) max_abs = std::max(max_abs, std::fabs(filter[v]));
    }
    // 0 maps to 128 and +-max_abs to 255 and 1. An all-zero filter stays uniform grey, and
    // non-finite values (a diverged run) are drawn black so that they stand out.
    const float scale = max_abs > 0.0f ? 127.0f / max_abs : 0.0f;
    const int top = (f / grid_cols) * (tile_height + 1) + 1;
    const int left = (f % grid_cols) * (tile_width + 1) + 1;
    // Each filter pixel becomes a zoom x zoom block of the tile.
    for (int y = 0; y < tile_height; ++y) {
      for (int x = 0; x < tile_width; ++x) {
        const size_t source = static_cast<size_t>(y / zoom) * patch_width + x / zoom;
        for (int c = 0; c < channels; ++c) {
          const float value = filter[source * channels + c];
          long level = 0;
          if (std::isfinite(value)) level = std::lround(128.0f + value * scale);
          pixels[(static_cast<size_t>(top + y) * width + left + x) * channels + c] =
              static_cast<uint8_t>(std::clamp(level, 0L, 255L));
        }
      }
    }
  }
  write_png(path, width, height, channels, pixels);
}

}  // namespace zae
