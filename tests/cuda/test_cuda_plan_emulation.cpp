// The CUDA step's plan run on the CPU: the GEMM descriptions of cuda/step_plan.hpp executed by
// a naive column-major GEMM, and the element functions of cuda/step_math.hpp executed by plain
// loops, compared with the reference backend. This checks operand order, transposes, leading
// dimensions, stack offsets, scaling and index arithmetic of the device path on any machine.
// The kernels' loops and reductions themselves need a GPU (test_cuda_backend.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "../../cuda/backend_options.hpp"
#include "../../cuda/step_math.hpp"
#include "../../cuda/step_plan.hpp"
#include "gpu_test_util.hpp"
#include "test_util.hpp"
#include "zae/backend.hpp"

namespace zae {
namespace {

using cuda::GemmCall;
using cuda::GemvCall;
using cuda::StepShape;
using cuda::StepWorkspace;
using cuda::Transpose;
using cuda::WeightGradientMode;

constexpr float kPoison = std::numeric_limits<float>::quiet_NaN();

// Buffers that the emulated step may touch. Each GEMM and GEMV operand is checked against
// them, because cuBLAS would read or write out of bounds where the plan got an extent wrong.
class Extents {
 public:
  void add(const void* begin, size_t bytes) { ranges_.push_back({begin, bytes}); }

  // Fails the test unless elements [0, count) of `p` lie inside one registered buffer.
  void check(const float* p, int64_t count, const char* what) const {
    const auto* first = reinterpret_cast<const char*>(p);
    for (const Range& r : ranges_) {
      const auto* begin = static_cast<const char*>(r.begin);
      if (first >= begin && first < begin + r.bytes) {
        EXPECT_LE(first + count * sizeof(float), begin + r.bytes)
            << what << " reads or writes past the end of its buffer";
        return;
      }
    }
    ADD_FAILURE() << what << " points outside every buffer";
  }

 private:
  struct Range {
    const void* begin;
    size_t bytes;
  };
  std::vector<Range> ranges_;
};

// Runs run_gradient_pass with loops in double, the way cuBLAS and the kernels would.
class HostExecutor {
 public:
  explicit HostExecutor(const Extents& extents) : extents_(extents) {}

  void gemm(const GemmCall& c) {
    const bool ta = c.trans_a == Transpose::Yes;
    const bool tb = c.trans_b == Transpose::Yes;
    // cuBLAS rejects a leading dimension below the stored row count.
    EXPECT_GE(c.lda, ta ? c.k : c.m);
    EXPECT_GE(c.ldb, tb ? c.n : c.k);
    EXPECT_GE(c.ldc, c.m);
    const int64_t a_cols = ta ? c.m : c.k;
    const int64_t b_cols = tb ? c.k : c.n;
    extents_.check(c.a, (a_cols - 1) * c.lda + (ta ? c.k : c.m), "GEMM operand A");
    extents_.check(c.b, (b_cols - 1) * c.ldb + (tb ? c.n : c.k), "GEMM operand B");
    extents_.check(c.c, int64_t(c.n - 1) * c.ldc + c.m, "GEMM output C");
    for (int j = 0; j < c.n; ++j) {
      for (int i = 0; i < c.m; ++i) {
        double sum = 0.0;
        for (int p = 0; p < c.k; ++p) {
          const double a = ta ? c.a[p + int64_t(i) * c.lda] : c.a[i + int64_t(p) * c.lda];
          const double b = tb ? c.b[j + int64_t(p) * c.ldb] : c.b[p + int64_t(j) * c.ldb];
          sum += a * b;
        }
        float& out = c.c[i + int64_t(j) * c.ldc];
        // As in cuBLAS, beta = 0 means C is not read, so poisoned output stays harmless.
        const double previous = c.beta == 0.0f ? 0.0 : double(c.beta) * out;
        out = static_cast<float>(double(c.alpha) * sum + previous);
      }
    }
  }

  void gemv(const GemvCall& c) {
    EXPECT_GE(c.lda, c.m);
    extents_.check(c.a, int64_t(c.n - 1) * c.lda + c.m, "GEMV matrix");
    extents_.check(c.x, c.n, "GEMV vector x");
    extents_.check(c.y, c.m, "GEMV output y");
    for (int i = 0; i < c.m; ++i) {
      double sum = 0.0;
      for (int j = 0; j < c.n; ++j) sum += double(c.a[i + int64_t(j) * c.lda]) * c.x[j];
      c.y[i] = static_cast<float>(double(c.alpha) * sum);
    }
  }

  void hidden(const StepShape& s, const ModelConfig& m, const float* b, float* pre, float* h,
              uint8_t* active) {
    for (int64_t i = 0; i < int64_t(s.rows) * s.hidden; ++i) {
      active_count += cuda::hidden_element(i, s.hidden, m.activation, m.threshold, b, pre, h,
                                           active);
    }
  }

  void error(const StepShape& s, const float* c, const float* x, float* e) {
    for (int64_t i = 0; i < int64_t(s.rows) * s.visible; ++i) {
      const double err = cuda::error_element(i, s.visible, c, x, e);
      loss_sum += 0.5 * err * err;
    }
  }

  void hidden_gradient(const StepShape& s, const ModelConfig& m, const float* pre,
                       const float* h, float* g) {
    for (int64_t i = 0; i < int64_t(s.rows) * s.hidden; ++i) {
      cuda::hidden_gradient_element(i, m.activation, m.threshold, pre, h, g);
    }
  }

  uint64_t active_count = 0;
  double loss_sum = 0.0;

 private:
  const Extents& extents_;
};

// The device state of the emulated backend: parameters, velocities, gradients and a workspace
// for up to `capacity` rows, all poisoned with NaN at the start.
struct EmulatedDevice {
  ModelConfig model;
  Params params, velocity, grad;
  int capacity = 0;
  std::vector<float> pre, hidden_stack, error_stack, ones;
  std::vector<uint8_t> active;
  Extents extents;

  EmulatedDevice(const ModelConfig& m, const Params& p, int rows)
      : model(m), params(p), velocity(Params::zeros(m)), grad(Params::zeros(m)), capacity(rows) {
    const size_t r = size_t(rows);
    pre.assign(r * m.hidden, kPoison);
    hidden_stack.assign(2 * r * m.hidden, kPoison);
    error_stack.assign(2 * r * m.visible, kPoison);
    ones.assign(r, 1.0f);
    active.assign(r * m.hidden, 0xFF);
    for (std::vector<float>* t : {&grad.W, &grad.b, &grad.c}) t->assign(t->size(), kPoison);
    for (std::vector<float>* t : {&pre, &hidden_stack, &error_stack, &ones, &params.W, &params.b,
                                  &params.c, &grad.W, &grad.b, &grad.c}) {
      extents.add(t->data(), t->size() * sizeof(float));
    }
  }

  static cuda::ParamPointers pointers(Params& p) {
    return {p.W.data(), p.b.empty() ? nullptr : p.b.data(), p.c.empty() ? nullptr : p.c.data()};
  }

  StepWorkspace workspace() {
    StepWorkspace ws;
    ws.pre = pre.data();
    ws.hidden_stack = hidden_stack.data();
    ws.error_stack = error_stack.data();
    ws.active = active.data();
    ws.ones = ones.data();
    return ws;
  }

  // The gradient pass on `rows` rows already placed at input(); returns the executor's
  // loss sum and active count.
  HostExecutor pass(int rows, float scale, WeightGradientMode mode) {
    HostExecutor executor(extents);
    const StepShape shape{rows, model.visible, model.hidden};
    cuda::run_gradient_pass(executor, shape, model, pointers(params), pointers(grad),
                            workspace(), scale, mode);
    return executor;
  }

  float* input(int rows) {
    return cuda::input_rows(workspace(), StepShape{rows, model.visible, model.hidden});
  }

  // The resident step: gather by the order with gather_element, pass, SGD with sgd_element.
  StepRecord step(const std::vector<float>& data, const std::vector<int64_t>& order,
                  int64_t first, int rows, const StepOptions& o, WeightGradientMode mode) {
    float* x = input(rows);
    for (int64_t i = 0; i < int64_t(rows) * model.visible; ++i) {
      cuda::gather_element(i, model.visible, data.data(), order.data(), first, x);
    }
    const int nominal = o.nominal_batch > 0 ? o.nominal_batch : rows;
    const HostExecutor e = pass(rows, 1.0f / float(nominal), mode);

    cuda::SgdTensors t;
    std::vector<float>* values[3] = {&params.W, &params.b, &params.c};
    std::vector<float>* velocities[3] = {&velocity.W, &velocity.b, &velocity.c};
    std::vector<float>* gradients[3] = {&grad.W, &grad.b, &grad.c};
    for (int k = 0; k < 3; ++k) {
      t.part[k] = {values[k]->data(), velocities[k]->data(), gradients[k]->data(),
                   int64_t(values[k]->size()), k == 0 ? o.weight_decay : 0.0f};
    }
    for (int64_t i = 0; i < t.total(); ++i) {
      cuda::sgd_element(i, t, o.learning_rate, o.momentum);
    }
    return {e.loss_sum / rows, double(e.active_count) / (double(rows) * model.hidden), rows};
  }
};

using Param = std::tuple<test::Shape, Activation, WeightGradientMode>;

class PlanEmulation : public ::testing::TestWithParam<Param> {};

TEST_P(PlanEmulation, GradientsMatchReference) {
  const auto [shape, act, mode] = GetParam();
  const test::Case c = test::make_case(shape, act, true, 300 + shape.D + shape.H);
  auto ref = make_reference_backend(c.model);
  ref->set_state(c.params, Params::zeros(c.model));
  const Gradients expected = ref->compute_gradients(c.X.data(), c.B);

  // A workspace larger than the batch, so the stacks sit at offsets of B, not of capacity.
  EmulatedDevice device(c.model, c.params, c.B + 3);
  std::copy(c.X.begin(), c.X.end(), device.input(c.B));
  const HostExecutor e = device.pass(c.B, 1.0f / float(c.B), mode);

  const size_t hidden_count = size_t(c.B) * c.model.hidden;
  const std::vector<float> hidden(device.hidden_stack.begin(),
                                  device.hidden_stack.begin() + hidden_count);
  const std::vector<uint8_t> active(device.active.begin(), device.active.begin() + hidden_count);
  EXPECT_EQ(active, expected.active);
  EXPECT_NEAR(e.loss_sum / c.B, expected.loss, 1e-6 * (1 + expected.loss));
  EXPECT_GT(test::max_abs(expected.grad.W), 0.0);
  test::expect_gradients_close(expected, device.grad, hidden, test::kFloatTolerance);
}

TEST_P(PlanEmulation, StepsMatchReference) {
  const auto [shape, act, mode] = GetParam();
  const test::Case c = test::make_case(shape, act, true, 400 + shape.D + shape.H);
  auto ref = make_reference_backend(c.model);
  ref->set_state(c.params, Params::zeros(c.model));
  ref->set_data(c.X.data(), c.B);
  std::vector<int64_t> order(c.B);
  for (int i = 0; i < c.B; ++i) order[i] = c.B - 1 - i;
  ref->set_order(order);

  EmulatedDevice device(c.model, c.params, c.B);
  const StepOptions o{0.01f, 0.9f, 0.001f, c.B + 1};
  std::vector<StepRecord> records;
  for (int s = 0; s < 2; ++s) {
    ref->step(0, c.B, o);
    records.push_back(device.step(c.X, order, 0, c.B, o, mode));
  }
  const std::vector<StepRecord> expected = ref->take_records();
  ASSERT_EQ(expected.size(), 2u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(records[i].loss, expected[i].loss, 1e-5 * (1 + expected[i].loss)) << i;
    EXPECT_DOUBLE_EQ(records[i].active_fraction, expected[i].active_fraction) << i;
    EXPECT_EQ(records[i].rows, expected[i].rows);
  }
  Params p, v;
  ref->get_state(p, v);
  test::expect_state_close(p, v, device.params, device.velocity, test::kFloatTolerance);
}

INSTANTIATE_TEST_SUITE_P(
    OddShapes, PlanEmulation,
    ::testing::Combine(::testing::Values(test::Shape{1, 1, 1}, test::Shape{31, 33, 1},
                                         test::Shape{33, 31, 127}, test::Shape{127, 33, 31},
                                         test::Shape{31, 127, 33}, test::Shape{1, 513, 31}),
                       ::testing::Values(Activation::TRec, Activation::TLin, Activation::ReLU,
                                         Activation::Sigmoid, Activation::Linear),
                       ::testing::Values(WeightGradientMode::Stacked, WeightGradientMode::Split)),
    [](const auto& info) {
      return test::case_name(std::get<0>(info.param), std::get<1>(info.param)) + "_" +
             cuda::weight_gradient_name(std::get<2>(info.param));
    });

// Without a visible bias the SGD update runs over W and b (ReLU) or W alone (TRec), so the
// concatenated index of sgd_element must skip the empty tensors.
TEST(PlanEmulationSgd, StepsWithoutVisibleBiasMatchReference) {
  for (const Activation act : {Activation::TRec, Activation::ReLU}) {
    SCOPED_TRACE(activation_name(act));
    const test::Case c = test::make_case({31, 33, 17}, act, false, 700);
    auto ref = make_reference_backend(c.model);
    ref->set_state(c.params, Params::zeros(c.model));
    ref->set_data(c.X.data(), c.B);
    std::vector<int64_t> order(c.B);
    for (int i = 0; i < c.B; ++i) order[i] = i;
    ref->set_order(order);

    EmulatedDevice device(c.model, c.params, c.B);
    const StepOptions o{0.01f, 0.9f, 0.001f, c.B};
    for (int s = 0; s < 2; ++s) {
      ref->step(0, c.B, o);
      device.step(c.X, order, 0, c.B, o, WeightGradientMode::Stacked);
    }
    Params p, v;
    ref->get_state(p, v);
    EXPECT_TRUE(device.params.c.empty());
    EXPECT_EQ(device.params.b.size(), p.b.size());
    test::expect_state_close(p, v, device.params, device.velocity, test::kFloatTolerance);
    EXPECT_TRUE(test::all_close(v.b, device.velocity.b,
                                test::kFloatTolerance.abs_share * (1 + test::max_abs(v.b)),
                                10 * test::kFloatTolerance.rel, "v.b"));
  }
}

// A batch placed for B rows in a workspace for more rows keeps [Hh; dA] and [E; X] contiguous.
TEST(PlanLayout, StacksFollowBatchRows) {
  float stack[64] = {};
  StepWorkspace ws;
  ws.hidden_stack = stack;
  ws.error_stack = stack;
  const StepShape s{3, 5, 7};
  EXPECT_EQ(cuda::hidden_gradient_rows(ws, s) - stack, 3 * 7);
  EXPECT_EQ(cuda::input_rows(ws, s) - stack, 3 * 5);
  const GemmCall stacked = cuda::weight_gradient(s, 2 * s.rows, stack, stack, stack, 0.5f, 0.0f);
  EXPECT_EQ(stacked.k, 6);
  EXPECT_EQ(stacked.m, 5);
  EXPECT_EQ(stacked.n, 7);
  EXPECT_FLOAT_EQ(stacked.alpha, 0.5f);
}

}  // namespace
}  // namespace zae
