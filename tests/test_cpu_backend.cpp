// The CPU step against the reference on odd shapes: gradients and whole steps within
// per-element tolerances, active masks exactly, and bit-identical repeats.
#include <gtest/gtest.h>

#include <omp.h>

#include <tuple>
#include <vector>

#include "test_cases.hpp"
#include "test_util.hpp"
#include "zae/backend.hpp"
#include "zae/error.hpp"

namespace zae {
namespace {

using test::Case;
using test::Shape;

// float32 sums of up to 2B products drift by about K * 2^-24 of the largest term, so the
// absolute part is scaled by the tensor's largest magnitude.
constexpr double kRelTol = 1e-4;
constexpr double kAbsTolShare = 2e-5;

using Param = std::tuple<Shape, Activation>;

class CpuVsReference : public ::testing::TestWithParam<Param> {};

TEST_P(CpuVsReference, GradientsMatch) {
  const auto [shape, act] = GetParam();
  Case c = test::make_case(shape, act, true, 100 + shape.D);
  auto ref = make_reference_backend(c.model);
  auto cpu = make_cpu_backend(c.model);
  ref->set_state(c.params, Params::zeros(c.model));
  cpu->set_state(c.params, Params::zeros(c.model));

  const Gradients gr = ref->compute_gradients(c.X.data(), c.B);
  const Gradients gc = cpu->compute_gradients(c.X.data(), c.B);
  EXPECT_EQ(gc.active, gr.active);
  EXPECT_NEAR(gc.loss, gr.loss, 1e-5 * (1 + gr.loss));
  EXPECT_GT(test::max_abs(gr.grad.W), 0.0);
  EXPECT_TRUE(test::all_close(gr.hidden, gc.hidden, kAbsTolShare * (1 + test::max_abs(gr.hidden)),
                              kRelTol, "hidden"));
  EXPECT_TRUE(test::all_close(gr.grad.W, gc.grad.W, kAbsTolShare * test::max_abs(gr.grad.W),
                              kRelTol, "dW"));
  EXPECT_TRUE(test::all_close(gr.grad.b, gc.grad.b, kAbsTolShare * test::max_abs(gr.grad.b),
                              kRelTol, "db"));
  EXPECT_TRUE(test::all_close(gr.grad.c, gc.grad.c, kAbsTolShare * test::max_abs(gr.grad.c),
                              kRelTol, "dc"));
}

TEST_P(CpuVsReference, StepsMatch) {
  const auto [shape, act] = GetParam();
  Case c = test::make_case(shape, act, true, 200 + shape.H);
  auto ref = make_reference_backend(c.model);
  auto cpu = make_cpu_backend(c.model);
  for (Backend* b : {ref.get(), cpu.get()}) {
    b->set_state(c.params, Params::zeros(c.model));
    b->set_data(c.X.data(), c.B);
    std::vector<int64_t> order(c.B);
    for (int i = 0; i < c.B; ++i) order[i] = c.B - 1 - i;
    b->set_order(order);
  }
  StepOptions o;
  o.learning_rate = 0.01f;
  o.momentum = 0.9f;
  o.weight_decay = 0.001f;
  o.nominal_batch = c.B + 1;  // as for a final partial batch
  for (int s = 0; s < 2; ++s) {
    ref->step(0, c.B, o);
    cpu->step(0, c.B, o);
  }
  Params pr, vr, pc, vc;
  ref->get_state(pr, vr);
  cpu->get_state(pc, vc);
  EXPECT_TRUE(test::all_close(vr.W, vc.W, kAbsTolShare * test::max_abs(vr.W), 1e-3, "v.W"));
  EXPECT_TRUE(test::all_close(pr.W, pc.W, kAbsTolShare * test::max_abs(pr.W), kRelTol, "W"));
  EXPECT_TRUE(test::all_close(pr.c, pc.c, kAbsTolShare * test::max_abs(pr.c), kRelTol, "c"));
  EXPECT_TRUE(test::all_close(pr.b, pc.b, kAbsTolShare * (1 + test::max_abs(pr.b)), kRelTol, "b"));
  const auto rr = ref->take_records();
  const auto rc = cpu->take_records();
  ASSERT_EQ(rr.size(), 2u);
  ASSERT_EQ(rc.size(), 2u);
  for (size_t i = 0; i < rr.size(); ++i) {
    EXPECT_NEAR(rc[i].loss, rr[i].loss, 1e-5 * (1 + rr[i].loss)) << "step " << i;
    EXPECT_DOUBLE_EQ(rc[i].active_fraction, rr[i].active_fraction) << "step " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    OddShapes, CpuVsReference,
    ::testing::Combine(::testing::Values(Shape{5, 3, 2}, Shape{127, 33, 31}, Shape{1, 1, 1},
                                         Shape{33, 127, 1}, Shape{31, 513, 33}),
                       ::testing::Values(Activation::TRec, Activation::TLin, Activation::ReLU,
                                         Activation::Sigmoid, Activation::Linear)),
    [](const auto& test_info) {
      const Shape s = std::get<0>(test_info.param);
      return activation_name(std::get<1>(test_info.param)) + "_D" + std::to_string(s.D) + "_H" +
             std::to_string(s.H) + "_B" + std::to_string(s.B);
    });

TEST(CpuBackend, RepeatsBitIdentically) {
  Case c = test::make_case({127, 65, 40}, Activation::TRec, true, 7);
  std::vector<float> first;
  for (int run = 0; run < 2; ++run) {
    auto cpu = make_cpu_backend(c.model);
    cpu->set_state(c.params, Params::zeros(c.model));
    cpu->set_data(c.X.data(), c.B);
    std::vector<int64_t> order(c.B);
    for (int i = 0; i < c.B; ++i) order[i] = i;
    cpu->set_order(order);
    StepOptions o{0.05f, 0.9f, 0.0f, 16};
    for (int s = 0; s < 5; ++s) cpu->step((s * 16) % 32, 16, o);
    Params p, v;
    cpu->get_state(p, v);
    if (run == 0) {
      first = p.W;
    } else {
      EXPECT_EQ(p.W, first);
    }
  }
}

// A final partial batch of b rows out of a nominal B moves the weights by b/B of a full step.
TEST(CpuBackend, PartialBatchWeightedBySize) {
  Case c = test::make_case({9, 6, 2}, Activation::TLin, false, 9);
  auto cpu = make_cpu_backend(c.model);
  cpu->set_state(c.params, Params::zeros(c.model));
  const Gradients g = cpu->compute_gradients(c.X.data(), 2);
  cpu->set_data(c.X.data(), 2);
  cpu->set_order({0, 1});
  cpu->step(0, 2, StepOptions{1.0f, 0.0f, 0.0f, 8});
  Params p, v;
  cpu->get_state(p, v);
  for (size_t i = 0; i < p.W.size(); ++i) {
    EXPECT_NEAR(v.W[i], -g.grad.W[i] * 2.0f / 8.0f, 1e-6) << i;
  }
  EXPECT_GT(test::max_abs(v.W), 1e-4);
}

TEST(CpuBackend, EncodeMatchesReference) {
  Case c = test::make_case({31, 33, 17}, Activation::TRec, true, 5);
  auto ref = make_reference_backend(c.model);
  auto cpu = make_cpu_backend(c.model);
  ref->set_state(c.params, Params::zeros(c.model));
  cpu->set_state(c.params, Params::zeros(c.model));
  std::vector<float> hr(size_t(c.B) * c.model.hidden), hc(hr.size());
  ref->encode(c.X.data(), c.B, hr.data());
  cpu->encode(c.X.data(), c.B, hc.data());
  EXPECT_TRUE(test::all_close(hr, hc, 1e-5, 1e-5, "codes"));
  int zeros = 0;
  for (float h : hr) zeros += h == 0.0f;
  EXPECT_GT(zeros, 0);
  EXPECT_LT(zeros, int(hr.size()));
}

TEST(CpuBackend, RejectsBadRanges) {
  Case c = test::make_case({4, 3, 2}, Activation::TRec, true, 3);
  auto cpu = make_cpu_backend(c.model);
  cpu->set_data(c.X.data(), 2);
  cpu->set_order({0, 5});
  EXPECT_THROW(cpu->step(0, 2, StepOptions{0.1f, 0.0f, 0.0f, 2}), Error);
  EXPECT_THROW(cpu->step(1, 2, StepOptions{0.1f, 0.0f, 0.0f, 2}), Error);
  Params wrong = Params::zeros(c.model);
  wrong.W.pop_back();
  EXPECT_THROW(cpu->set_state(wrong, Params::zeros(c.model)), Error);
}

}  // namespace
}  // namespace zae
