// The `zae patches` subcommand, run as the real binary: a successful run writes the same
// patches as cut_patches, and bad numbers or images fail with a message and no output file.
#include <gtest/gtest.h>
#include <stb/stb_image_write.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "zae/image.hpp"
#include "zae/npy.hpp"

namespace zae {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs the zae binary with `arguments`, capturing stdout and stderr through files in `dir`.
RunResult run_cli(const TempDir& dir, const std::string& arguments) {
  const std::string out_path = dir.file("stdout.txt");
  const std::string err_path = dir.file("stderr.txt");
  const std::string command = std::string("'") + ZAE_CLI_PATH + "' " + arguments + " >'" +
                              out_path + "' 2>'" + err_path + "'";
  const int status = std::system(command.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = read_text(out_path);
  result.err = read_text(err_path);
  fs::remove(out_path);
  fs::remove(err_path);
  return result;
}

// Two colour images in dir/images.
std::string write_images(const TempDir& dir) {
  const std::string folder = dir.file("images");
  fs::create_directory(folder);
  for (int k = 0; k < 2; ++k) {
    const int width = 12 + k, height = 10;
    std::vector<uint8_t> bytes(width * height * 3);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 31 * k);
    const std::string path = folder + "/img" + std::to_string(k) + ".png";
    EXPECT_NE(stbi_write_png(path.c_str(), width, height, 3, bytes.data(), width * 3), 0);
  }
  return folder;
}

// The names of the files directly in `folder`, other than the image folder.
std::vector<std::string> outputs_in(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().filename() != "images") names.push_back(entry.path().filename().string());
  }
  return names;
}

TEST(CliPatches, WritesSamePatchesAsLibrary) {
  TempDir dir;
  const std::string images = write_images(dir);
  const std::string out = dir.file("patches.npy");
  const RunResult run = run_cli(
      dir, "patches --images '" + images + "' --size 4 --count 25 --seed 3 --out '" + out + "'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("25 patches"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("25x4x4x3"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("2 of 2 images"), std::string::npos) << run.out;

  const NpyMatrix matrix = NpyMatrix::load(out);
  EXPECT_EQ(matrix.shape(), (std::vector<int64_t>{25, 4, 4, 3}));
  PatchOptions options;
  options.images = images;
  options.size = 4;
  options.count = 25;
  options.seed = 3;
  std::vector<int64_t> shape;
  const std::vector<float> expected = cut_patches(options, shape);
  ASSERT_EQ(expected.size(), static_cast<size_t>(matrix.rows() * matrix.cols()));
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(matrix.data()[i], expected[i]) << i;
    ASSERT_GE(expected[i], 0.0f);
    ASSERT_LE(expected[i], 1.0f);
  }
  EXPECT_EQ(outputs_in(dir.path()), std::vector<std::string>{"patches.npy"});
}

TEST(CliPatches, GreyChannelsDropLastAxis) {
  TempDir dir;
  const std::string images = write_images(dir);
  const std::string out = dir.file("grey.npy");
  const RunResult run = run_cli(
      dir, "patches --images '" + images + "' --size 5 --count 7 --channels 1 --out '" + out + "'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(NpyMatrix::load(out).shape(), (std::vector<int64_t>{7, 5, 5}));
}

TEST(CliPatches, BadNumbersNameTheFlag) {
  TempDir dir;
  const std::string images = write_images(dir);
  const std::string out = dir.file("never.npy");
  struct Case {
    std::string arguments;
    std::string flag;
  };
  const Case cases[] = {
      {"--size 4 --count 12x", "--count"},
      {"--size 4 --count 0", "--count"},
      {"--size 4 --count 0x10", "--count"},
      {"--size 4 --count ' 5'", "--count"},
      {"--size 0 --count 5", "--size"},
      {"--size -3 --count 5", "--size"},
      {"--size 4.5 --count 5", "--size"},
      {"--size 4 --count 5 --seed -1", "--seed"},
      {"--size 4 --count 5 --seed 1e3", "--seed"},
      {"--size 4 --count 5 --channels 2", "--channels"},
      {"--size 4 --count 5 --channels 4", "--channels"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.arguments);
    const RunResult run =
        run_cli(dir, "patches --images '" + images + "' " + c.arguments + " --out '" + out + "'");
    EXPECT_NE(run.exit_code, 0);
    EXPECT_NE(run.err.find(c.flag), std::string::npos) << run.err;
    EXPECT_TRUE(outputs_in(dir.path()).empty());
  }
}

TEST(CliPatches, TooSmallImageLeavesExistingOutput) {
  TempDir dir;
  const std::string images = write_images(dir);
  const std::string out = dir.file("kept.npy");
  std::ofstream(out) << "previous contents";
  const RunResult run =
      run_cli(dir, "patches --images '" + images + "' --size 11 --count 5 --out '" + out + "'");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("img0.png (12x10)"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("--size 10"), std::string::npos) << run.err;
  EXPECT_EQ(read_text(out), "previous contents");
  EXPECT_EQ(outputs_in(dir.path()), std::vector<std::string>{"kept.npy"});
}

TEST(CliPatches, MissingFolderAndFlags) {
  TempDir dir;
  const std::string out = dir.file("never.npy");
  RunResult run =
      run_cli(dir, "patches --images '" + dir.file("absent") + "' --count 5 --out '" + out + "'");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find(dir.file("absent")), std::string::npos) << run.err;

  run = run_cli(dir, "patches --images '" + dir.path() + "' --count 5");
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.err.find("--out"), std::string::npos) << run.err;
  EXPECT_TRUE(outputs_in(dir.path()).empty());
}

}  // namespace
}  // namespace zae
