// The patches subcommand: cuts random square patches from a folder of PNG/JPEG images and
// writes them as a float32 .npy in [0, 1].
#include <cstdint>
#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "cli_parse.hpp"
#include "commands.hpp"
#include "zae/error.hpp"
#include "zae/image.hpp"
#include "zae/npy.hpp"

namespace zae::cli {
namespace {

// Options as typed. Numbers are parsed by cli_parse.hpp rather than CLI11 2.1.2, whose
// conversion reads "010" as octal and "0x10" as hex and wraps "-1" for unsigned values.
struct PatchesArguments {
  std::string images;
  std::string size = "8";
  std::string count;
  std::string seed = "0";
  std::string out;
  std::string channels = "0";
};

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string text;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += "x";
    text += std::to_string(shape[i]);
  }
  return text;
}

void run_patches(const PatchesArguments& arguments) {
  PatchOptions options;
  options.images = arguments.images;
  const int64_t size = parse_int("--size", arguments.size);
  ZAE_REQUIRE(size >= 1 && size <= std::numeric_limits<int>::max(), "invalid value ", size,
              " for --size: expected a patch side of at least 1 pixel");
  options.size = static_cast<int>(size);
  options.count = parse_int("--count", arguments.count);
  ZAE_REQUIRE(options.count >= 1, "invalid value ", options.count,
              " for --count: expected at least 1 patch");
  options.seed = parse_uint("--seed", arguments.seed);
  const int64_t channels = parse_int("--channels", arguments.channels);
  ZAE_REQUIRE(channels == 0 || channels == 1 || channels == 3, "invalid value ", channels,
              " for --channels: expected 0 (colour when any image is colour), 1 (grey) or 3 ",
              "(colour)");
  options.channels = static_cast<int>(channels);

  std::vector<int64_t> shape;
  PatchReport report;
  const std::vector<float> patches = cut_patches(options, shape, report);
  write_npy(arguments.out, patches.data(), shape);
  std::printf(
      "zae patches: wrote %lld patches, shape %s float32 in [0, 1], from %lld of %lld "
      "images, to %s\n",
      static_cast<long long>(options.count), format_shape(shape).c_str(),
      static_cast<long long>(report.images_used), static_cast<long long>(report.images_found),
      arguments.out.c_str());
}

}  // namespace

void register_patches(CLI::App& app) {
  auto arguments = std::make_shared<PatchesArguments>();
  CLI::App* command = app.add_subcommand(
      "patches", "Cut random square patches from a folder of PNG/JPEG images into a .npy file");
  command->add_option("--images", arguments->images, "Folder of .png/.jpg/.jpeg images")
      ->required()
      ->type_name("DIR");
  command->add_option("--size", arguments->size, "Patch side in pixels")
      ->capture_default_str()
      ->type_name("INT");
  command->add_option("--count", arguments->count, "Number of patches to cut")
      ->required()
      ->type_name("INT");
  command->add_option("--seed", arguments->seed, "Random seed for image and position draws")
      ->capture_default_str()
      ->type_name("INT");
  command
      ->add_option("--out", arguments->out,
                   "Output .npy: float32 in [0, 1], shape (count, size, size[, 3])")
      ->required()
      ->type_name("FILE");
  command
      ->add_option("--channels", arguments->channels,
                   "1 grey, 3 colour, 0 colour when any image is colour")
      ->capture_default_str()
      ->type_name("0|1|3");
  command->callback([arguments] { run_patches(*arguments); });
}

}  // namespace zae::cli
