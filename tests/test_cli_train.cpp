// `zae train`, `zae encode` and `zae info` through the real binary. Bad input gets a clear
// error and a non-zero exit without touching earlier outputs, and good input writes a run folder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "cli_runner.hpp"
#include "test_util.hpp"
#include "zae/checkpoint.hpp"
#include "zae/npy.hpp"

namespace zae {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class CliTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.path("data.npy");
    std::vector<float> x = test::random_normal(60 * 12, 3, 1.0f);
    write_npy(data_, x.data(), {60, 12});
  }

  // A small valid run; extra flags are appended (a later flag wins in CLI11).
  std::string base(const std::string& out) const {
    return "train --data " + data_ + " --hidden 8 --epochs 1 --batch 16 --device cpu --out " +
           dir_.path(out);
  }

  void expect_error(const std::string& args, const std::vector<std::string>& needles) {
    const test::CommandResult r = test::run_zae(args);
    EXPECT_NE(r.status, 0) << args << "\n" << r.output;
    for (const std::string& needle : needles) {
      EXPECT_NE(r.output.find(needle), std::string::npos)
          << "missing '" << needle << "' in:\n" << r.output;
    }
  }

  test::TempDir dir_{"cli-train"};
  std::string data_;
};

TEST_F(CliTrain, GoodRunWritesFolder) {
  const test::CommandResult r = test::run_zae(base("ok") + " --whiten zca --log-every 2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("device cpu"), std::string::npos) << r.output;
  for (const char* name : {"config.json", "metrics.jsonl", "final.safetensors", "filters.png"}) {
    EXPECT_TRUE(fs::exists(dir_.path(std::string("ok/") + name))) << name;
  }
}

TEST_F(CliTrain, NumbersParseStrictly) {
  expect_error(base("x") + " --lr 1e-3x", {"--lr", "1e-3x"});
  expect_error(base("x") + " --hidden 8.5", {"--hidden", "8.5"});
  expect_error(base("x") + " --epochs ''", {"--epochs"});
  const test::CommandResult ok = test::run_zae(base("sci") + " --lr 1e-3");
  EXPECT_EQ(ok.status, 0) << ok.output;
}

TEST_F(CliTrain, BooleansAcceptSixWords) {
  for (const char* word : {"true", "false", "1", "0", "yes", "no"}) {
    const test::CommandResult r =
        test::run_zae(base(std::string("bool-") + word) + " --shuffle " + word);
    EXPECT_EQ(r.status, 0) << word << "\n" << r.output;
  }
  expect_error(base("x") + " --shuffle on", {"--shuffle", "'on'"});
  expect_error(base("x") + " --visible-bias TRUE", {"--visible-bias"});
}

TEST_F(CliTrain, InvalidSettingsNameTheFlag) {
  expect_error(base("x") + " --hidden 0", {"--hidden", "0"});
  expect_error(base("x") + " --batch 0", {"--batch", "0"});
  expect_error(base("x") + " --lr -0.5", {"--lr", "-0.5"});
  expect_error(base("x") + " --momentum 1.5", {"--momentum"});
  expect_error(base("x") + " --activation tanh", {"activation", "tanh"});
  expect_error(base("x") + " --whiten pcaa", {"pcaa"});
  expect_error(base("x") + " --device tpu", {"--device", "tpu"});
  EXPECT_FALSE(fs::exists(dir_.path("x/final.safetensors")));
}

TEST_F(CliTrain, MissingDataFileNamed) {
  const std::string missing = dir_.path("nope.npy");
  expect_error("train --data " + missing + " --hidden 4 --device cpu --out " + dir_.path("m"),
               {missing});
  EXPECT_FALSE(fs::exists(dir_.path("m")));
}

TEST_F(CliTrain, NanInDataRejected) {
  std::vector<float> x = test::random_normal(20 * 4, 4, 1.0f);
  x[2 * 4 + 3] = std::numeric_limits<float>::quiet_NaN();
  const std::string path = dir_.path("nan.npy");
  write_npy(path, x.data(), {20, 4});
  expect_error("train --data " + path + " --hidden 4 --device cpu --out " + dir_.path("n"),
               {path, "row 2", "column 3"});
  EXPECT_FALSE(fs::exists(dir_.path("n")));
}

TEST_F(CliTrain, InitShapeMismatchRejected) {
  std::vector<float> w(8 * 5, 0.01f);
  const std::string path = dir_.path("w.npy");
  write_npy(path, w.data(), {8, 5});
  expect_error(base("i") + " --contrast-norm false --whiten none --init " + path,
               {"--init", path, "8 x 12"});
}

TEST_F(CliTrain, ResumeChecksDimensionsAndSettings) {
  ASSERT_EQ(test::run_zae(base("r")).status, 0);
  const std::string ck = dir_.path("r/checkpoint.safetensors");
  const std::string final_bytes = read_bytes(dir_.path("r/final.safetensors"));

  std::vector<float> other = test::random_normal(30 * 7, 5, 1.0f);
  const std::string other_path = dir_.path("other.npy");
  write_npy(other_path, other.data(), {30, 7});
  expect_error("train --resume " + ck + " --data " + other_path + " --epochs 2 --out " +
                   dir_.path("r"),
               {"--resume", "12", "7"});
  expect_error("train --resume " + ck + " --hidden 9 --epochs 2 --out " + dir_.path("r"),
               {"--hidden", "differs"});
  // The failed attempts leave the earlier final model untouched.
  EXPECT_EQ(read_bytes(dir_.path("r/final.safetensors")), final_bytes);

  const test::CommandResult more =
      test::run_zae("train --resume " + ck + " --epochs 3 --out " + dir_.path("r"));
  ASSERT_EQ(more.status, 0) << more.output;
  EXPECT_NE(more.output.find("resuming at 4"), std::string::npos) << more.output;
  EXPECT_EQ(load_checkpoint(dir_.path("r/final.safetensors")).step, 12);
}

TEST_F(CliTrain, DivergenceKeepsCheckpoint) {
  ASSERT_EQ(test::run_zae(base("d") + " --contrast-norm false --whiten none --init-scale 0.05")
                .status,
            0);
  const std::string before = read_bytes(dir_.path("d/checkpoint.safetensors"));
  expect_error(base("d") + " --contrast-norm false --whiten none --lr 1e6 --epochs 3 "
                           "--momentum 0 --checkpoint-every 100 --log-every 1 --overwrite",
               {"diverged", "--lr", "no checkpoint of this run"});
  EXPECT_EQ(read_bytes(dir_.path("d/checkpoint.safetensors")), before);
}

TEST_F(CliTrain, ExistingRunNeedsOverwrite) {
  ASSERT_EQ(test::run_zae(base("o")).status, 0);
  const std::string before = read_bytes(dir_.path("o/final.safetensors"));
  const std::string metrics = read_bytes(dir_.path("o/metrics.jsonl"));
  expect_error(base("o") + " --lr 0.5", {"already holds a run", "--overwrite", "--resume"});
  EXPECT_EQ(read_bytes(dir_.path("o/final.safetensors")), before);
  EXPECT_EQ(read_bytes(dir_.path("o/metrics.jsonl")), metrics);
  const test::CommandResult again = test::run_zae(base("o") + " --lr 0.5 --overwrite");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(read_bytes(dir_.path("o/final.safetensors")), before);
}

TEST_F(CliTrain, LinkedOutputRejectedBeforeTraining) {
  fs::create_directories(dir_.path("l"));
  const std::string target = dir_.path("elsewhere.safetensors");
  { std::ofstream(target) << "keep"; }
  fs::create_symlink(target, dir_.path("l/filters.png"));
  expect_error(base("l") + " --overwrite", {"filters.png", "symbolic link"});
  EXPECT_TRUE(fs::is_symlink(dir_.path("l/filters.png")));
  EXPECT_EQ(read_bytes(target), "keep");
  EXPECT_FALSE(fs::exists(dir_.path("l/final.safetensors")));
}

TEST_F(CliTrain, LargeIntegersDoNotWrap) {
  expect_error(base("w") + " --hidden 4294967297", {"--hidden", "4294967297"});
  expect_error(base("w") + " --batch 4294967396", {"--batch", "4294967396"});
  expect_error(base("w") + " --components 4294967298", {"--components"});
  expect_error(base("w") + " --epochs 1000000000000000000", {"--epochs"});
  expect_error(base("w") + " --threshold 1e39", {"--threshold", "1e39"});
  expect_error(base("w") + " --lr 0x10", {"--lr", "0x10"});
  expect_error(base("w") + " --lr nan", {"--lr", "nan"});
  EXPECT_FALSE(fs::exists(dir_.path("w")));
}

TEST_F(CliTrain, EpochCountsAreBounded) {
  expect_error(base("m") + " --schedule multistep --milestones 1e300", {"--milestones"});
  expect_error(base("m") + " --schedule multistep --milestones -1", {"--milestones"});
  expect_error(base("m") + " --schedule warmup --warmup-epochs 1e300", {"--warmup-epochs"});
  expect_error(base("m") + " --schedule cosine --lr 0.01 --min-lr 0.1", {"--min-lr"});
}

TEST_F(CliTrain, SingleColumnContrastNormRejected) {
  std::vector<float> x = test::random_normal(30, 6, 1.0f);
  const std::string path = dir_.path("one.npy");
  write_npy(path, x.data(), {30});
  expect_error("train --data " + path + " --hidden 2 --device cpu --out " + dir_.path("c"),
               {path, "--contrast-norm false"});
}

// SIGINT stops a run after the current step with a checkpoint; resuming it reproduces the
// uninterrupted run bit for bit.
TEST_F(CliTrain, InterruptWritesCheckpointAndResumes) {
  std::vector<float> x = test::random_normal(20000 * 64, 8, 1.0f);
  const std::string path = dir_.path("long.npy");
  write_npy(path, x.data(), {20000, 64});
  const std::string args = "train --data " + path + " --hidden 1024 --batch 10 --epochs 8 "
                           "--lr 1e-4 --device cpu --log-every 100 --threads 1 --out ";
  ASSERT_EQ(test::run_zae(args + dir_.path("full")).status, 0);

  const std::string command = std::string(ZAE_CLI_PATH) + " " + args + dir_.path("cut") +
                              " > " + dir_.path("cut.log") + " 2>&1 & pid=$!; "
                              "i=0; while [ ! -f " + dir_.path("cut/checkpoint.safetensors") +
                              " ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; "
                              "kill -INT $pid; wait $pid; echo $? > " +
                              dir_.path("status");
  ASSERT_EQ(std::system(command.c_str()), 0);
  const std::string status = read_bytes(dir_.path("status"));
  const std::string log = read_bytes(dir_.path("cut.log"));
  ASSERT_EQ(status, "130\n") << log;
  EXPECT_NE(log.find("interrupted at step"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(dir_.path("cut/final.safetensors")));
  const Checkpoint at_stop = load_checkpoint(dir_.path("cut/checkpoint.safetensors"));
  EXPECT_GT(at_stop.step, 0);
  EXPECT_LT(at_stop.step, 16000);
  EXPECT_NE(at_stop.step % 2000, 0) << "the stop should fall inside an epoch";

  const test::CommandResult resumed = test::run_zae(
      "train --resume " + dir_.path("cut/checkpoint.safetensors") + " --epochs 8 --out " +
      dir_.path("cut"));
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(load_checkpoint(dir_.path("cut/final.safetensors")).params.W,
            load_checkpoint(dir_.path("full/final.safetensors")).params.W);
}

TEST_F(CliTrain, EncodeWritesFeatures) {
  ASSERT_EQ(test::run_zae(base("e") + " --whiten pca --components 6").status, 0);
  const std::string model = dir_.path("e/final.safetensors");
  const std::string out = dir_.path("features.npy");
  const test::CommandResult r =
      test::run_zae("encode --model " + model + " --data " + data_ + " --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const NpyMatrix f = NpyMatrix::load(out);
  EXPECT_EQ(f.rows(), 60);
  EXPECT_EQ(f.cols(), 8);

  // Threshold 0 passes every positive pre-activation, so no fewer units are on.
  const std::string out0 = dir_.path("features0.npy");
  ASSERT_EQ(test::run_zae("encode --model " + model + " --data " + data_ + " --out " + out0 +
                          " --threshold 0")
                .status,
            0);
  const NpyMatrix f0 = NpyMatrix::load(out0);
  int on = 0, on0 = 0;
  for (int64_t i = 0; i < 60 * 8; ++i) {
    on += f.data()[i] != 0.0f;
    on0 += f0.data()[i] != 0.0f;
    if (f.data()[i] != 0.0f) {
      EXPECT_EQ(f.data()[i], f0.data()[i]) << i;
    }
  }
  EXPECT_GT(on0, on);

  std::vector<float> wrong(10 * 5, 0.0f);
  const std::string wrong_path = dir_.path("wrong.npy");
  write_npy(wrong_path, wrong.data(), {10, 5});
  expect_error("encode --model " + model + " --data " + wrong_path + " --out " +
                   dir_.path("bad.npy"),
               {wrong_path, "5", "12"});
  EXPECT_FALSE(fs::exists(dir_.path("bad.npy")));
}

TEST_F(CliTrain, InfoSummarisesCheckpoint) {
  ASSERT_EQ(test::run_zae(base("info") + " --activation tlin").status, 0);
  const test::CommandResult r = test::run_zae("info " + dir_.path("info/final.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("tlin"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("8 hidden"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step 4"), std::string::npos) << r.output;
  const test::CommandResult devices = test::run_zae("info --devices");
  EXPECT_EQ(devices.status, 0) << devices.output;
  EXPECT_NE(devices.output.find("CUDA"), std::string::npos) << devices.output;
}

// The peak host memory that a run reports, in MiB, parsed from its log.
double reported_peak_mib(const std::string& output) {
  const std::string key = "peak host memory: ";
  const auto at = output.find(key);
  return at == std::string::npos ? -1.0 : std::stod(output.substr(at + key.size()));
}

// Training keeps the data set once plus buffers of O(B (D + H) + H D): between a small and a
// large data set the reported peak grows by about the size of the larger of the input and the
// whitened copy, never by both.
TEST_F(CliTrain, PeakMemoryGrowsWithOneCopy) {
  const int64_t cols = 100;
  double peaks[2][2] = {};
  const int64_t sizes[2] = {20000, 170000};
  for (int s = 0; s < 2; ++s) {
    std::vector<float> x = test::random_normal(size_t(sizes[s]) * cols, 9, 1.0f);
    const std::string path = dir_.path("rows" + std::to_string(s) + ".npy");
    write_npy(path, x.data(), {sizes[s], cols});
    const char* modes[2] = {"none", "pca"};
    for (int w = 0; w < 2; ++w) {
      const test::CommandResult r = test::run_zae(
          "train --data " + path + " --hidden 64 --epochs 1 --batch 256 --contrast-norm false "
          "--init-scale 0.01 --device cpu --log-every 1000 --whiten " + modes[w] + " --out " +
          dir_.path(std::string("mem-") + modes[w] + std::to_string(s)));
      ASSERT_EQ(r.status, 0) << r.output;
      peaks[s][w] = reported_peak_mib(r.output);
      ASSERT_GT(peaks[s][w], 0.0) << r.output;
    }
  }
  const double grown_rows_mib = double(sizes[1] - sizes[0]) * cols * 4 / (1 << 20);  // 57 MiB
  for (int w = 0; w < 2; ++w) {
    const double growth = peaks[1][w] - peaks[0][w];
    EXPECT_GT(growth, 0.8 * grown_rows_mib) << "whiten " << w;
    EXPECT_LT(growth, 1.25 * grown_rows_mib) << "whiten " << w << ": peaks " << peaks[0][w]
                                             << " and " << peaks[1][w] << " MiB";
  }
}

TEST_F(CliTrain, VersionSaysWhetherCudaIsIn) {
  const test::CommandResult r = test::run_zae("--version");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("CUDA"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace zae
