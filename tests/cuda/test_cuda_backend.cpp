// The CUDA backend against the reference backend on odd shapes: gradients and whole steps
// within the per-element tolerance kGpuTolerance, active masks exactly, work buffers poisoned
// with NaN before every pass, both weight-gradient methods, records, encoding and argument
// checks. Every test that needs a device skips when none is present.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "../../cuda/backend_options.hpp"
#include "gpu_test_util.hpp"
#include "test_util.hpp"
#include "zae/backend.hpp"
#include "zae/error.hpp"

namespace zae {
namespace {

using test::Case;
using test::GpuSettings;
using test::Shape;

const char* const kWeightGradientModes[] = {"stacked", "split"};

std::vector<int64_t> reversed_order(int n) {
  std::vector<int64_t> order(n);
  for (int i = 0; i < n; ++i) order[i] = n - 1 - i;
  return order;
}

using Param = std::tuple<Shape, Activation>;

class CudaVsReference : public ::testing::TestWithParam<Param> {};

TEST_P(CudaVsReference, GradientsMatch) {
  ZAE_SKIP_WITHOUT_GPU();
  const auto [shape, act] = GetParam();
  const Case c = test::make_case(shape, act, true, 500 + shape.D + shape.H);
  auto ref = make_reference_backend(c.model);
  ref->set_state(c.params, Params::zeros(c.model));
  const Gradients expected = ref->compute_gradients(c.X.data(), c.B);
  ASSERT_GT(test::max_abs(expected.grad.W), 0.0);

  for (const char* mode : kWeightGradientModes) {
    SCOPED_TRACE(mode);
    GpuSettings settings;
    settings.dw_gemm = mode;
    auto gpu = test::make_gpu(c.model, settings);
    gpu->set_state(c.params, Params::zeros(c.model));
    const Gradients g = gpu->compute_gradients(c.X.data(), c.B);
    EXPECT_EQ(g.active, expected.active);
    EXPECT_NEAR(g.loss, expected.loss, 1e-5 * (1 + expected.loss));
    test::expect_gradients_close(expected, g.grad, g.hidden, test::kGpuTolerance);
  }
}

TEST_P(CudaVsReference, StepsMatch) {
  ZAE_SKIP_WITHOUT_GPU();
  const auto [shape, act] = GetParam();
  const Case c = test::make_case(shape, act, true, 600 + shape.D + shape.H);
  const std::vector<int64_t> order = reversed_order(c.B);
  // nominal_batch above B, as for a final partial batch.
  const StepOptions o{0.01f, 0.9f, 0.001f, c.B + 1};

  auto ref = make_reference_backend(c.model);
  ref->set_state(c.params, Params::zeros(c.model));
  ref->set_data(c.X.data(), c.B);
  ref->set_order(order);
  for (int s = 0; s < 2; ++s) ref->step(0, c.B, o);
  Params p_ref, v_ref;
  ref->get_state(p_ref, v_ref);
  const std::vector<StepRecord> expected = ref->take_records();

  for (const char* mode : kWeightGradientModes) {
    SCOPED_TRACE(mode);
    GpuSettings settings;
    settings.dw_gemm = mode;
    auto gpu = test::make_gpu(c.model, settings);
    gpu->set_state(c.params, Params::zeros(c.model));
    gpu->set_data(c.X.data(), c.B);
    gpu->set_order(order);
    for (int s = 0; s < 2; ++s) gpu->step(0, c.B, o);
    Params p, v;
    gpu->get_state(p, v);
    test::expect_state_close(p_ref, v_ref, p, v, test::kGpuTolerance);

    const std::vector<StepRecord> records = gpu->take_records();
    ASSERT_EQ(records.size(), expected.size());
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_NEAR(records[i].loss, expected[i].loss, 1e-5 * (1 + expected[i].loss)) << i;
      EXPECT_DOUBLE_EQ(records[i].active_fraction, expected[i].active_fraction) << i;
      EXPECT_EQ(records[i].rows, expected[i].rows) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    OddShapes, CudaVsReference,
    ::testing::Combine(::testing::Values(Shape{1, 1, 1}, Shape{31, 33, 127}, Shape{33, 127, 1},
                                         Shape{127, 33, 31}, Shape{513, 31, 33},
                                         Shape{31, 513, 33}, Shape{33, 31, 513},
                                         Shape{513, 127, 33}),
                       ::testing::Values(Activation::TRec, Activation::TLin, Activation::ReLU,
                                         Activation::Sigmoid, Activation::Linear)),
    [](const auto& param_info) {
      return test::case_name(std::get<0>(param_info.param), std::get<1>(param_info.param));
    });

TEST(CudaBackend, GradientsWithoutVisibleBias) {
  ZAE_SKIP_WITHOUT_GPU();
  const Case c = test::make_case({33, 31, 127}, Activation::TRec, false, 17);
  auto ref = make_reference_backend(c.model);
  auto gpu = test::make_gpu(c.model);
  ref->set_state(c.params, Params::zeros(c.model));
  gpu->set_state(c.params, Params::zeros(c.model));
  const Gradients expected = ref->compute_gradients(c.X.data(), c.B);
  const Gradients g = gpu->compute_gradients(c.X.data(), c.B);
  EXPECT_TRUE(g.grad.c.empty());
  EXPECT_TRUE(g.grad.b.empty());
  EXPECT_EQ(g.active, expected.active);
  test::expect_gradients_close(expected, g.grad, g.hidden, test::kGpuTolerance);
}

// Poisoning fills the work buffers with NaN before each pass. Identical bits with and without
// it show that no pass reads a value it did not write first.
TEST(CudaBackend, PoisonChangesNoBits) {
  ZAE_SKIP_WITHOUT_GPU();
  const Case c = test::make_case({127, 65, 33}, Activation::ReLU, true, 23);
  std::vector<Gradients> results;
  for (bool poison : {false, true}) {
    GpuSettings settings;
    settings.poison = poison;
    auto gpu = test::make_gpu(c.model, settings);
    gpu->set_state(c.params, Params::zeros(c.model));
    results.push_back(gpu->compute_gradients(c.X.data(), c.B));
  }
  EXPECT_EQ(results[0].grad.W, results[1].grad.W);
  EXPECT_EQ(results[0].grad.b, results[1].grad.b);
  EXPECT_EQ(results[0].grad.c, results[1].grad.c);
  EXPECT_EQ(results[0].hidden, results[1].hidden);
  EXPECT_EQ(results[0].loss, results[1].loss);
}

TEST(CudaBackend, RepeatsBitIdentically) {
  ZAE_SKIP_WITHOUT_GPU();
  const Case c = test::make_case({127, 65, 40}, Activation::TRec, true, 7);
  std::vector<float> first_weights;
  std::vector<double> first_losses;
  for (int run = 0; run < 2; ++run) {
    auto gpu = test::make_gpu(c.model);
    gpu->set_state(c.params, Params::zeros(c.model));
    gpu->set_data(c.X.data(), c.B);
    gpu->set_order(reversed_order(c.B));
    const StepOptions o{0.05f, 0.9f, 0.0f, 16};
    for (int s = 0; s < 5; ++s) gpu->step((s * 16) % 32, 16, o);
    Params p, v;
    gpu->get_state(p, v);
    std::vector<double> losses;
    for (const StepRecord& r : gpu->take_records()) losses.push_back(r.loss);
    if (run == 0) {
      first_weights = p.W;
      first_losses = losses;
    } else {
      EXPECT_EQ(p.W, first_weights);
      EXPECT_EQ(losses, first_losses);
    }
  }
}

// More steps than the device record array has slots, so take_records must merge the records
// flushed on the way with the pending ones, in order.
TEST(CudaBackend, RecordsSurviveManySteps) {
  ZAE_SKIP_WITHOUT_GPU();
  const Case c = test::make_case({3, 2, 4}, Activation::Linear, true, 29);
  auto ref = make_reference_backend(c.model);
  auto gpu = test::make_gpu(c.model);
  for (Backend* b : {ref.get(), gpu.get()}) {
    b->set_state(c.params, Params::zeros(c.model));
    b->set_data(c.X.data(), c.B);
    b->set_order(reversed_order(c.B));
  }
  const StepOptions o{0.001f, 0.5f, 0.0f, 4};
  const int steps = 4100;
  for (int s = 0; s < steps; ++s) {
    const int rows = 1 + s % 4;
    ref->step(0, rows, o);
    gpu->step(0, rows, o);
  }
  const std::vector<StepRecord> expected = ref->take_records();
  const std::vector<StepRecord> records = gpu->take_records();
  ASSERT_EQ(records.size(), size_t(steps));
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].rows, expected[i].rows) << i;
    ASSERT_NEAR(records[i].loss, expected[i].loss, 1e-4 * (1 + expected[i].loss)) << i;
  }
  EXPECT_TRUE(gpu->take_records().empty());
}

// 5000 rows are more than one encode chunk of 4096.
TEST(CudaBackend, EncodeMatchesReference) {
  ZAE_SKIP_WITHOUT_GPU();
  const Case c = test::make_case({31, 33, 5000}, Activation::ReLU, true, 5);
  auto ref = make_reference_backend(c.model);
  auto gpu = test::make_gpu(c.model);
  ref->set_state(c.params, Params::zeros(c.model));
  gpu->set_state(c.params, Params::zeros(c.model));
  std::vector<float> expected(size_t(c.B) * c.model.hidden);
  std::vector<float> actual(expected.size(), -1.0f);
  ref->encode(c.X.data(), c.B, expected.data());
  gpu->encode(c.X.data(), c.B, actual.data());
  EXPECT_GT(test::max_abs(expected), 0.0);
  EXPECT_TRUE(test::tensors_close(expected, actual, test::kGpuTolerance, "encode"));
}

TEST(CudaBackend, StateRoundTrips) {
  ZAE_SKIP_WITHOUT_GPU();
  const Case c = test::make_case({9, 7, 3}, Activation::Sigmoid, true, 31);
  auto gpu = test::make_gpu(c.model);
  Params velocity = Params::zeros(c.model);
  velocity.W = test::random_normal(velocity.W.size(), 3, 0.1f);
  velocity.b = test::random_normal(velocity.b.size(), 4, 0.1f);
  velocity.c = test::random_normal(velocity.c.size(), 5, 0.1f);
  gpu->set_state(c.params, velocity);
  Params p, v;
  gpu->get_state(p, v);
  EXPECT_EQ(p.W, c.params.W);
  EXPECT_EQ(p.b, c.params.b);
  EXPECT_EQ(p.c, c.params.c);
  EXPECT_EQ(v.W, velocity.W);
  EXPECT_EQ(v.b, velocity.b);
  EXPECT_EQ(v.c, velocity.c);
}

TEST(CudaBackend, NameAndPeakMemory) {
  ZAE_SKIP_WITHOUT_GPU();
  ModelConfig m;
  m.visible = 64;
  m.hidden = 32;
  auto gpu = test::make_gpu(m);
  EXPECT_EQ(gpu->name().rfind("cuda:0 (", 0), 0u) << gpu->name();
  // Parameters, velocities and gradients of W alone.
  EXPECT_GE(gpu->peak_device_memory(), 3u * 64 * 32 * sizeof(float));
}

// Device memory is the resident data set plus O(B (D + H) + H D): parameters, velocities and
// gradients, the step's work buffers, the row order, and fixed-size reduction and record
// arrays (under 1 MiB). A second copy of the data or of a work buffer would break the bound.
TEST(CudaBackend, PeakMemoryIsDataPlusBuffers) {
  ZAE_SKIP_WITHOUT_GPU();
  ModelConfig m;
  m.visible = 300;
  m.hidden = 200;
  m.activation = Activation::TRec;
  m.visible_bias = true;
  const int64_t n = 100000;
  const int B = 64;
  std::vector<float> data = test::random_normal(size_t(n) * m.visible, 41, 1.0f);
  auto gpu = test::make_gpu(m);
  gpu->set_state(Params::zeros(m), Params::zeros(m));
  gpu->set_data(data.data(), n);
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  gpu->set_order(order);
  for (int s = 0; s < 3; ++s) gpu->step(int64_t(s) * B, B, StepOptions{0.01f, 0.9f, 0.0f, B});
  gpu->take_records();

  const size_t D = m.visible, H = m.hidden;
  const size_t data_bytes = size_t(n) * D * sizeof(float) + size_t(n) * sizeof(int64_t);
  const size_t model_bytes = 3 * (H * D + D) * sizeof(float);
  const size_t batch_bytes = size_t(B) * (3 * H + 2 * D + 1) * sizeof(float) + size_t(B) * H;
  const size_t fixed_bytes = size_t(1) << 20;
  const size_t peak = gpu->peak_device_memory();
  EXPECT_GE(peak, data_bytes + model_bytes);
  EXPECT_LE(peak, data_bytes + model_bytes + batch_bytes + fixed_bytes)
      << "peak " << peak << " bytes";
}

TEST(CudaBackend, RejectsBadArguments) {
  ZAE_SKIP_WITHOUT_GPU();
  const Case c = test::make_case({5, 4, 6}, Activation::TRec, true, 37);
  auto gpu = test::make_gpu(c.model);
  const StepOptions o{0.01f, 0.0f, 0.0f, 2};
  EXPECT_THROW(gpu->step(0, 2, o), Error);
  Params wrong = Params::zeros(c.model);
  wrong.W.pop_back();
  EXPECT_THROW(gpu->set_state(wrong, Params::zeros(c.model)), Error);
  gpu->set_data(c.X.data(), c.B);
  EXPECT_THROW(gpu->set_order({0, 6}), Error);
  EXPECT_THROW(gpu->set_order({-1}), Error);
  gpu->set_order({0, 1, 2});
  EXPECT_THROW(gpu->step(2, 2, o), Error);
  EXPECT_THROW(gpu->step(0, 0, o), Error);
  EXPECT_THROW(gpu->compute_gradients(c.X.data(), 0), Error);
  EXPECT_NO_THROW(gpu->step(1, 2, o));
  EXPECT_THROW(make_cuda_backend(c.model, cuda_device_count(), false), Error);
}

TEST(CudaBackend, NoDeviceGivesClearError) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  ModelConfig m;
  m.visible = 4;
  m.hidden = 3;
  try {
    make_cuda_backend(m, 0, false);
    FAIL() << "make_cuda_backend succeeded without a device";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no CUDA device found"), std::string::npos) << e.what();
  }
}

TEST(CudaBackendOptions, ParsesEnvironment) {
  {
    test::ScopedEnv dw("ZAE_CUDA_DW_GEMM", "split");
    test::ScopedEnv poison("ZAE_CUDA_POISON", "1");
    test::ScopedEnv resident("ZAE_CUDA_MAX_RESIDENT_BYTES", "12345");
    const cuda::CudaBackendOptions o = cuda::CudaBackendOptions::from_environment();
    EXPECT_EQ(o.weight_gradient, cuda::WeightGradientMode::Split);
    EXPECT_TRUE(o.poison);
    EXPECT_EQ(o.max_resident_bytes, 12345u);
  }
  {
    test::ScopedEnv dw("ZAE_CUDA_DW_GEMM", "");
    test::ScopedEnv poison("ZAE_CUDA_POISON", "");
    test::ScopedEnv resident("ZAE_CUDA_MAX_RESIDENT_BYTES", "");
    const cuda::CudaBackendOptions o = cuda::CudaBackendOptions::from_environment();
    EXPECT_EQ(o.weight_gradient, cuda::WeightGradientMode::Stacked);
    EXPECT_FALSE(o.poison);
    EXPECT_EQ(o.max_resident_bytes, SIZE_MAX);
  }
}

TEST(CudaBackendOptions, RejectsInvalidValues) {
  {
    test::ScopedEnv dw("ZAE_CUDA_DW_GEMM", "fused");
    EXPECT_THROW(cuda::CudaBackendOptions::from_environment(), Error);
  }
  {
    test::ScopedEnv poison("ZAE_CUDA_POISON", "yes");
    EXPECT_THROW(cuda::CudaBackendOptions::from_environment(), Error);
  }
  for (const char* bad : {"-1", "12k", "x", "99999999999999999999999"}) {
    test::ScopedEnv resident("ZAE_CUDA_MAX_RESIDENT_BYTES", bad);
    EXPECT_THROW(cuda::CudaBackendOptions::from_environment(), Error) << bad;
  }
}

}  // namespace
}  // namespace zae
