// Multi-step training on the CUDA backend against the CPU backend: ten steps with a partial
// final batch, checkpoints that move a run between the devices, the streaming data path
// against the resident one, the two weight-gradient methods, and TF32.
//
// After a few steps a unit near the threshold may switch on in one path and off in the other,
// which moves its weights by up to a learning-rate-sized amount. The comparisons below are
// therefore on the relative Frobenius error of W (limit 1e-3) and per-step losses (relative
// 1e-4), not per element.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gpu_test_util.hpp"
#include "test_util.hpp"
#include "zae/backend.hpp"
#include "zae/checkpoint.hpp"
#include "zae/preprocess.hpp"
#include "zae/trainer.hpp"

namespace zae {
namespace {

using test::GpuSettings;

constexpr double kWeightTolerance = 1e-3;
constexpr double kLossTolerance = 1e-4;

// 300 random rows of 48 values; TRec with theta = 0.5 and Gaussian weights of std 1/sqrt(D),
// so that roughly a third of the units are active.
struct TrainingRun {
  ModelConfig model;
  std::vector<float> data;
  int64_t rows = 300;
  int batch = 32;
  uint64_t seed = 11;
  Params initial;

  TrainingRun() {
    model.visible = 48;
    model.hidden = 80;
    model.activation = Activation::TRec;
    model.threshold = 0.5f;
    model.visible_bias = true;
    data = test::random_normal(size_t(rows) * model.visible, 77, 1.0f);
    InitConfig init;
    init.kind = InitKind::Gaussian;
    init.std = 1.0 / std::sqrt(double(model.visible));
    initial = initial_params(model, init, data.data(), rows, seed);
  }

  StepOptions options() const {
    StepOptions o;
    o.learning_rate = 0.01f;
    o.momentum = 0.9f;
    o.weight_decay = 1e-4f;
    o.nominal_batch = batch;
    return o;
  }

  // Runs global steps [from, to) of the epoch loop on `backend`, setting each epoch's order
  // when a step starts one. 300 rows in batches of 32 make 9 full steps and one of 12 rows.
  void train(Backend& backend, int from, int to) const {
    const int64_t per_epoch = steps_per_epoch(rows, batch);
    backend.set_data(data.data(), rows);
    int64_t epoch = -1;
    for (int s = from; s < to; ++s) {
      if (s / per_epoch != epoch) {
        epoch = s / per_epoch;
        backend.set_order(epoch_order(seed, epoch, rows, true));
      }
      const int64_t first = (s % per_epoch) * batch;
      const int step_rows = static_cast<int>(std::min<int64_t>(batch, rows - first));
      backend.step(first, step_rows, options());
    }
  }
};

std::vector<double> losses_of(Backend& backend) {
  std::vector<double> losses;
  for (const StepRecord& r : backend.take_records()) losses.push_back(r.loss);
  return losses;
}

void expect_losses_close(const std::vector<double>& expected, const std::vector<double>& actual) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], kLossTolerance * expected[i]) << "step " << i;
  }
}

Params weights_of(Backend& backend) {
  Params p, v;
  backend.get_state(p, v);
  return p;
}

TEST(CudaTraining, TenStepsMatchCpu) {
  ZAE_SKIP_WITHOUT_GPU();
  const TrainingRun run;
  auto cpu = make_cpu_backend(run.model);
  auto gpu = test::make_gpu(run.model);
  for (Backend* b : {cpu.get(), gpu.get()}) {
    b->set_state(run.initial, Params::zeros(run.model));
    run.train(*b, 0, 10);
  }
  const std::vector<double> cpu_losses = losses_of(*cpu);
  const std::vector<double> gpu_losses = losses_of(*gpu);
  expect_losses_close(cpu_losses, gpu_losses);
  const Params p_cpu = weights_of(*cpu);
  const Params p_gpu = weights_of(*gpu);
  EXPECT_GT(test::relative_error(p_cpu.W, run.initial.W), 1e-3) << "the weights did not move";
  EXPECT_LT(test::relative_error(p_gpu.W, p_cpu.W), kWeightTolerance);
  EXPECT_LT(test::relative_error(p_gpu.c, p_cpu.c), kWeightTolerance);
}

// Trains `first` for 5 steps, moves the state through a checkpoint file into `second`, trains
// 5 more steps there, and returns the final weights.
Params resume_across(const TrainingRun& run, Backend& first, Backend& second, const std::string& path) {
  first.set_state(run.initial, Params::zeros(run.model));
  run.train(first, 0, 5);
  Checkpoint out;
  out.model = run.model;
  out.preprocess = Preprocessor::identity(run.model.visible);
  out.step = 5;
  out.seed = run.seed;
  first.get_state(out.params, out.velocity);
  save_checkpoint(path, out);

  const Checkpoint in = load_checkpoint(path);
  second.set_state(in.params, in.velocity);
  run.train(second, 5, 10);
  return weights_of(second);
}

TEST(CudaTraining, CheckpointResumesAcrossDevices) {
  ZAE_SKIP_WITHOUT_GPU();
  const TrainingRun run;
  test::TempDir dir("cuda-resume");
  auto cpu_only = make_cpu_backend(run.model);
  cpu_only->set_state(run.initial, Params::zeros(run.model));
  run.train(*cpu_only, 0, 10);
  const Params expected = weights_of(*cpu_only);

  {
    SCOPED_TRACE("gpu then cpu");
    auto gpu = test::make_gpu(run.model);
    auto cpu = make_cpu_backend(run.model);
    const Params p = resume_across(run, *gpu, *cpu, dir.path("gpu.safetensors"));
    EXPECT_LT(test::relative_error(p.W, expected.W), kWeightTolerance);
  }
  {
    SCOPED_TRACE("cpu then gpu");
    auto cpu = make_cpu_backend(run.model);
    auto gpu = test::make_gpu(run.model);
    const Params p = resume_across(run, *cpu, *gpu, dir.path("cpu.safetensors"));
    EXPECT_LT(test::relative_error(p.W, expected.W), kWeightTolerance);
  }
}

// Streaming runs the same kernels on the same rows, only copied in from the host, so the
// result is bit-identical to the resident path. Two epochs exercise both staging slots and a
// second order.
TEST(CudaTraining, StreamingMatchesResident) {
  ZAE_SKIP_WITHOUT_GPU();
  const TrainingRun run;
  std::vector<Params> weights;
  std::vector<std::vector<double>> losses;
  for (bool stream : {false, true}) {
    GpuSettings settings;
    if (stream) settings.max_resident_bytes = 0;
    auto gpu = test::make_gpu(run.model, settings);
    gpu->set_state(run.initial, Params::zeros(run.model));
    run.train(*gpu, 0, 25);
    weights.push_back(weights_of(*gpu));
    losses.push_back(losses_of(*gpu));
  }
  EXPECT_EQ(weights[0].W, weights[1].W);
  EXPECT_EQ(weights[0].c, weights[1].c);
  EXPECT_EQ(losses[0], losses[1]);
}

TEST(CudaTraining, StackedMatchesSplit) {
  ZAE_SKIP_WITHOUT_GPU();
  const TrainingRun run;
  std::vector<Params> weights;
  for (const char* mode : {"stacked", "split"}) {
    GpuSettings settings;
    settings.dw_gemm = mode;
    auto gpu = test::make_gpu(run.model, settings);
    gpu->set_state(run.initial, Params::zeros(run.model));
    run.train(*gpu, 0, 10);
    weights.push_back(weights_of(*gpu));
  }
  EXPECT_LT(test::relative_error(weights[1].W, weights[0].W), kWeightTolerance);
}

// TF32 rounds GEMM inputs to 10 mantissa bits (relative error about 5e-4 per product), so
// the run is only checked to train and to stay within 2% of FP32.
TEST(CudaTraining, Tf32Trains) {
  ZAE_SKIP_WITHOUT_GPU();
  const TrainingRun run;
  auto fp32 = test::make_gpu(run.model);
  GpuSettings settings;
  settings.tf32 = true;
  auto tf32 = test::make_gpu(run.model, settings);
  for (Backend* b : {fp32.get(), tf32.get()}) {
    b->set_state(run.initial, Params::zeros(run.model));
    run.train(*b, 0, 10);
  }
  const std::vector<double> expected = losses_of(*fp32);
  const std::vector<double> actual = losses_of(*tf32);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_TRUE(std::isfinite(actual[i])) << "step " << i;
    EXPECT_NEAR(actual[i], expected[i], 2e-2 * expected[i]) << "step " << i;
  }
  EXPECT_LT(actual.back(), actual.front());
  EXPECT_LT(test::relative_error(weights_of(*tf32).W, weights_of(*fp32).W), 2e-2);
}

}  // namespace
}  // namespace zae
