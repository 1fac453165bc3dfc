// Image files: decoding PNG and JPEG, cutting patches, and writing PNG pictures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zae {

// Pixels in [0, 1], interleaved height x width x channels (1 grey, 3 colour).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<float> pixels;
};

// Decodes a PNG or JPEG file. Alpha is dropped and grey+alpha becomes grey. Throws zae::Error
// naming the file when it is missing or cannot be decoded.
Image load_image(const std::string& path);

// The image files (.png, .jpg, .jpeg, any case) directly inside `folder`, sorted by name.
// Throws zae::Error when the folder is missing or contains none.
std::vector<std::string> list_images(const std::string& folder);

struct PatchOptions {
  std::string images;   // folder of PNG/JPEG files
  int size = 8;         // patch side in pixels
  int64_t count = 0;    // number of patches
  uint64_t seed = 0;
  // 1 converts every image to grey; 3 replicates grey images into three channels; 0 picks 3
  // when any image is colour and 1 otherwise.
  int channels = 0;
};

// Patches cut at random positions: images are chosen uniformly, then a position uniformly
// within the image, both from Philox draws keyed by the seed, so the result depends on the
// seed and the folder's contents only. Returns count x size x size x channels values with
// shape {count, size, size, channels} (or {count, size, size} for grey) in `shape`. Throws
// zae::Error naming the image when a patch is larger than an image (such images are listed).
std::vector<float> cut_patches(const PatchOptions& options, std::vector<int64_t>& shape);

// Image and channel counts from cut_patches, for the caller's summary.
struct PatchReport {
  int64_t images_found = 0;  // image files in the folder
  int64_t images_used = 0;   // images that at least one patch was cut from
  int channels = 0;          // channels per output pixel: 1 or 3
};

// Same as above, and fills `report`.
std::vector<float> cut_patches(const PatchOptions& options, std::vector<int64_t>& shape,
                               PatchReport& report);

// Writes an 8-bit PNG (1 or 3 channels) through a temporary file and rename.
void write_png(const std::string& path, int width, int height, int channels,
               const std::vector<uint8_t>& pixels);

// Tiles n filters, each given as patch_height x patch_width x channels values in input space,
// into one PNG: each filter scaled to [0, 255] around its own maximum absolute value (so 0
// maps to mid-grey), laid out in a near-square grid with a one-pixel dark border. Each filter
// pixel is drawn as a zoom x zoom block.
void write_filter_png(const std::string& path, const float* filters, int n, int patch_height,
                      int patch_width, int channels, int zoom = 1);

}  // namespace zae
