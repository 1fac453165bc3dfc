// The driver: epoch orders, initialisation, and exact resume from checkpoints.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "test_util.hpp"
#include "zae/checkpoint.hpp"
#include "zae/error.hpp"
#include "zae/npy.hpp"
#include "zae/trainer.hpp"

namespace zae {
namespace {

TEST(Trainer, StepsPerEpochCountsPartialBatch) {
  EXPECT_EQ(steps_per_epoch(10, 3), 4);
  EXPECT_EQ(steps_per_epoch(9, 3), 3);
  EXPECT_EQ(steps_per_epoch(1, 100), 1);
}

TEST(Trainer, EpochOrderIsSeededPermutation) {
  const auto a = epoch_order(7, 0, 1000, true);
  const auto b = epoch_order(7, 0, 1000, true);
  const auto next_epoch = epoch_order(7, 1, 1000, true);
  const auto other_seed = epoch_order(8, 0, 1000, true);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, next_epoch);
  EXPECT_NE(a, other_seed);
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  int fixed = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed += a[i] == i;
  EXPECT_LT(fixed, 20);  // a shuffle leaves about one element in place
  const auto plain = epoch_order(7, 3, 5, false);
  EXPECT_EQ(plain, (std::vector<int64_t>{0, 1, 2, 3, 4}));
}

TEST(Trainer, InitFromPatchesUsesScaledRows) {
  ModelConfig m;
  m.visible = 4;
  m.hidden = 6;
  std::vector<float> rows(10 * 4);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = float(i + 1);
  InitConfig init;
  init.kind = InitKind::Patches;
  init.scale = 0.5;
  const Params p = initial_params(m, init, rows.data(), 10, 3);
  std::set<int> chosen;
  for (int j = 0; j < 6; ++j) {
    const float first = p.W[size_t(j) * 4];
    const int row = static_cast<int>(first / 0.5f - 1) / 4;
    ASSERT_GE(row, 0);
    ASSERT_LT(row, 10);
    for (int k = 0; k < 4; ++k) EXPECT_FLOAT_EQ(p.W[size_t(j) * 4 + k], 0.5f * rows[row * 4 + k]);
    chosen.insert(row);
  }
  EXPECT_GT(chosen.size(), 1u);
  EXPECT_EQ(p.W, initial_params(m, init, rows.data(), 10, 3).W);
  EXPECT_NE(p.W, initial_params(m, init, rows.data(), 10, 4).W);
}

TEST(Trainer, InitGaussianHasRequestedStd) {
  ModelConfig m;
  m.visible = 100;
  m.hidden = 200;
  InitConfig init;
  init.kind = InitKind::Gaussian;
  init.std = 0.05;
  const Params p = initial_params(m, init, nullptr, 0, 1);
  double sum = 0.0, sq = 0.0;
  for (float w : p.W) {
    sum += w;
    sq += double(w) * w;
  }
  const double mean = sum / p.W.size();
  const double std = std::sqrt(sq / p.W.size() - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(std, 0.05, 0.002);
}

TEST(Trainer, InitFileShapeMismatchNamesFile) {
  test::TempDir dir("init");
  const std::string path = dir.path("w.npy");
  std::vector<float> w(3 * 5, 0.1f);
  write_npy(path, w.data(), {3, 5});
  ModelConfig m;
  m.visible = 4;
  m.hidden = 3;
  InitConfig init;
  init.kind = InitKind::File;
  init.file = path;
  try {
    initial_params(m, init, nullptr, 0, 1);
    FAIL() << "expected a shape error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("3 x 4"), std::string::npos) << e.what();
  }
}

// Patches with some structure: a few smooth random directions plus noise.
std::vector<float> structured_data(int n, int d, uint64_t seed) {
  const std::vector<float> basis = test::random_normal(size_t(4) * d, seed, 1.0f);
  const std::vector<float> coeff = test::random_normal(size_t(n) * 4, seed + 1, 1.0f);
  const std::vector<float> noise = test::random_normal(size_t(n) * d, seed + 2, 0.1f);
  std::vector<float> x(size_t(n) * d);
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < d; ++k) {
      float v = noise[size_t(i) * d + k];
      for (int c = 0; c < 4; ++c) v += coeff[size_t(i) * 4 + c] * basis[size_t(c) * d + k];
      x[size_t(i) * d + k] = v;
    }
  }
  return x;
}

std::vector<std::string> metric_losses(const std::string& folder) {
  std::ifstream in(folder + "/metrics.jsonl");
  std::vector<std::string> losses;
  std::string line;
  int64_t expected_step = 1;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j.at("step").get<int64_t>(), expected_step) << line;
    ++expected_step;
    // The text of the loss as written, so the comparison is bit-exact.
    const auto at = line.find("\"loss\": ");
    losses.push_back(line.substr(at, line.find(',', at) - at));
  }
  return losses;
}

class TrainerResume : public ::testing::Test {
 protected:
  void SetUp() override {
    data_path_ = dir_.path("data.npy");
    const std::vector<float> x = structured_data(50, 16, 42);
    write_npy(data_path_, x.data(), {50, 16});
  }

  TrainConfig config(const std::string& out, int64_t epochs) const {
    TrainConfig c;
    c.data = data_path_;
    c.model.hidden = 12;
    c.model.activation = Activation::TRec;
    c.model.threshold = 0.5f;
    c.preprocess.contrast_norm = true;
    c.preprocess.whiten = Whiten::Pca;
    c.preprocess.retain = 0.99;
    c.batch = 8;  // 50 rows: 7 steps per epoch, the last with 2 rows
    c.epochs = epochs;
    c.lr = 0.01;
    c.schedule = ScheduleKind::Cosine;
    c.warmup_epochs = 1;
    c.warmup_lr = 1e-3;
    c.momentum = 0.9;
    c.weight_decay = 1e-4;
    c.seed = 5;
    // Four whitened dimensions: 0.5 x a patch gives its own unit a pre-activation near 2.
    c.init.scale = 0.5;
    c.device = "cpu";
    c.log_every = 1;
    c.out = dir_.path(out);
    return c;
  }

  test::TempDir dir_{"resume"};
  std::string data_path_;
};

// The cosine curve depends on the total epoch count, so the split run uses a step schedule,
// whose rate at each step does not depend on where the run ends.
TEST_F(TrainerResume, SplitRunMatchesStraightRunBitForBit) {
  TrainConfig straight_config = config("straight", 4);
  straight_config.schedule = ScheduleKind::Step;
  straight_config.step_epochs = 1.5;
  straight_config.gamma = 0.5;
  train(straight_config);

  TrainConfig first = straight_config;
  first.out = dir_.path("split");
  first.epochs = 2;
  train(first);
  TrainConfig second = first;
  second.epochs = 4;
  second.resume = dir_.path("split/checkpoint.safetensors");
  const Checkpoint mid = load_checkpoint(second.resume);
  EXPECT_EQ(mid.step, 14);
  EXPECT_EQ(mid.epoch, 2);
  train(second);

  const auto straight = metric_losses(dir_.path("straight"));
  const auto split = metric_losses(dir_.path("split"));
  ASSERT_EQ(straight.size(), 28u);
  EXPECT_EQ(split, straight);

  const Checkpoint a = load_checkpoint(dir_.path("straight/final.safetensors"));
  const Checkpoint b = load_checkpoint(dir_.path("split/final.safetensors"));
  EXPECT_EQ(a.step, 28);
  EXPECT_EQ(a.params.W, b.params.W);
  EXPECT_EQ(a.params.c, b.params.c);
  EXPECT_EQ(a.velocity.W, b.velocity.W);
  EXPECT_NE(a.params.W, mid.params.W);  // the second half did train
}

TEST_F(TrainerResume, MidEpochCheckpointResumesExactly) {
  train(config("straight", 3));
  TrainConfig periodic = config("periodic", 3);
  periodic.checkpoint_every = 9;  // last periodic checkpoint at step 18, mid-epoch (18 % 7 = 4)
  train(periodic);
  TrainConfig resumed = config("periodic", 3);
  resumed.resume = dir_.path("periodic/checkpoint.safetensors");
  EXPECT_EQ(load_checkpoint(resumed.resume).step, 18);
  train(resumed);

  EXPECT_EQ(metric_losses(dir_.path("periodic")), metric_losses(dir_.path("straight")));
  const Checkpoint a = load_checkpoint(dir_.path("straight/final.safetensors"));
  const Checkpoint b = load_checkpoint(dir_.path("periodic/final.safetensors"));
  EXPECT_EQ(a.params.W, b.params.W);
}

TEST_F(TrainerResume, RunFolderHasOutputs) {
  const double loss = train(config("outputs", 2));
  EXPECT_TRUE(std::isfinite(loss));
  for (const char* name : {"config.json", "metrics.jsonl", "checkpoint.safetensors",
                           "final.safetensors", "filters.png"}) {
    EXPECT_TRUE(std::filesystem::exists(dir_.path(std::string("outputs/") + name))) << name;
  }
  std::ifstream in(dir_.path("outputs/config.json"));
  const auto json = nlohmann::json::parse(in);
  EXPECT_EQ(json.at("hidden").get<int>(), 12);
  EXPECT_EQ(json.at("activation").get<std::string>(), "trec");
  const TrainConfig back = TrainConfig::from_json(json);
  EXPECT_EQ(back.to_json(), json);
}

TEST_F(TrainerResume, LossFallsOnStructuredData) {
  TrainConfig c = config("falls", 8);
  c.schedule = ScheduleKind::Constant;
  c.log_every = 7;
  train(c);
  std::ifstream in(dir_.path("falls/metrics.jsonl"));
  std::string line;
  std::vector<double> losses;
  double active = 0.0;
  while (std::getline(in, line)) {
    const auto json = nlohmann::json::parse(line);
    losses.push_back(json.at("loss"));
    active = std::max(active, json.at("active_fraction").get<double>());
  }
  ASSERT_EQ(losses.size(), 8u);
  EXPECT_GT(active, 0.05);
  EXPECT_LT(losses.back(), 0.8 * losses.front());
}

TEST_F(TrainerResume, IdentityPreprocessingTrainsOnRawData) {
  TrainConfig c = config("raw", 1);
  c.preprocess.contrast_norm = false;
  c.preprocess.whiten = Whiten::None;
  c.init.scale = 0.02;  // raw rows have squared norms near 64
  train(c);
  const Checkpoint ck = load_checkpoint(dir_.path("raw/final.safetensors"));
  EXPECT_TRUE(ck.preprocess.is_identity());
  EXPECT_EQ(ck.model.visible, 16);
}

}  // namespace
}  // namespace zae
