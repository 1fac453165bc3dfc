// The reference step against central finite differences in float64 and a case worked by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "test_util.hpp"
#include "zae/backend.hpp"

namespace zae {
namespace {

// Mean loss of a batch in double, written independently of the backends.
double batch_loss(const ModelConfig& m, const std::vector<double>& W,
                  const std::vector<double>& b, const std::vector<double>& c,
                  const std::vector<float>& X, int B) {
  const int D = m.visible;
  const int H = m.hidden;
  double total = 0.0;
  for (int i = 0; i < B; ++i) {
    std::vector<double> h(H);
    for (int j = 0; j < H; ++j) {
      double a = b.empty() ? 0.0 : b[j];
      for (int k = 0; k < D; ++k) a += W[size_t(j) * D + k] * X[size_t(i) * D + k];
      h[j] = activate_d(m.activation, a, m.threshold);
    }
    for (int k = 0; k < D; ++k) {
      double r = c.empty() ? 0.0 : c[k];
      for (int j = 0; j < H; ++j) r += h[j] * W[size_t(j) * D + k];
      const double e = r - X[size_t(i) * D + k];
      total += 0.5 * e * e;
    }
  }
  return total / B;
}

std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

class ReferenceGradient : public ::testing::TestWithParam<Activation> {};

TEST_P(ReferenceGradient, MatchesFiniteDifferences) {
  ModelConfig m;
  m.visible = 7;
  m.hidden = 4;
  m.activation = GetParam();
  m.threshold = 1.0f;
  m.visible_bias = true;
  const int B = 3;

  Params p = Params::zeros(m);
  p.W = test::random_normal(p.W.size(), 11, 0.5f);
  if (!p.b.empty()) p.b = test::random_normal(p.b.size(), 12, 0.3f);
  p.c = test::random_normal(p.c.size(), 13, 0.2f);
  std::vector<float> X = test::random_normal(size_t(B) * m.visible, 14, 1.0f);
  test::keep_away_from_kinks(m, p, X, B, 1e-3, 15);

  auto backend = make_reference_backend(m);
  backend->set_state(p, Params::zeros(m));
  const Gradients g = backend->compute_gradients(X.data(), B);

  // No vacuous pass: the thresholded units must have both states in this batch.
  int on = 0;
  for (uint8_t a : g.active) on += a;
  if (m.activation == Activation::TRec || m.activation == Activation::TLin ||
      m.activation == Activation::ReLU) {
    EXPECT_GT(on, 0);
    EXPECT_LT(on, B * m.hidden);
  }

  std::vector<double> W = to_double(p.W), bb = to_double(p.b), c = to_double(p.c);
  EXPECT_NEAR(g.loss, batch_loss(m, W, bb, c, X, B), 1e-9 * (1 + g.loss));
  const double h = 1e-6;
  auto check = [&](std::vector<double>& param, const std::vector<float>& grad, const char* name) {
    ASSERT_EQ(param.size(), grad.size()) << name;
    for (size_t i = 0; i < param.size(); ++i) {
      const double saved = param[i];
      param[i] = saved + h;
      const double up = batch_loss(m, W, bb, c, X, B);
      param[i] = saved - h;
      const double down = batch_loss(m, W, bb, c, X, B);
      param[i] = saved;
      const double fd = (up - down) / (2 * h);
      EXPECT_NEAR(grad[i], fd, 1e-6 + 1e-5 * std::fabs(fd)) << name << "[" << i << "]";
    }
  };
  check(W, g.grad.W, "W");
  check(bb, g.grad.b, "b");
  check(c, g.grad.c, "c");
  EXPECT_GT(test::max_abs(g.grad.W), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(AllActivations, ReferenceGradient,
                         ::testing::Values(Activation::TRec, Activation::TLin, Activation::ReLU,
                                           Activation::Sigmoid, Activation::Linear),
                         [](const auto& test_info) { return activation_name(test_info.param); });

// x = [1, 1, 2], W = [[1, 1, 0], [0, 0.5, 0.5]] (2 x 3), TRec theta 1, no biases:
// A = [2, 1.5], h = [2, 1.5], R = [2, 2.75, 0.75], E = [1, 1.75, -1.25], loss = 2.8125,
// G = E W^T = [2.75, 0.25], dA = G (both active),
// dW row 0 = 2 * E + 2.75 * x = [4.75, 6.25, 3.0], row 1 = 1.5 * E + 0.25 * x =
// [1.75, 2.875, -1.375].
TEST(ReferenceStep, HandComputedTiedGradient) {
  ModelConfig m;
  m.visible = 3;
  m.hidden = 2;
  m.activation = Activation::TRec;
  m.visible_bias = false;
  Params p = Params::zeros(m);
  p.W = {1, 1, 0, 0, 0.5f, 0.5f};
  const std::vector<float> x = {1, 1, 2};

  auto backend = make_reference_backend(m);
  backend->set_state(p, Params::zeros(m));
  const Gradients g = backend->compute_gradients(x.data(), 1);
  EXPECT_DOUBLE_EQ(g.loss, 2.8125);
  const std::vector<float> expected = {4.75f, 6.25f, 3.0f, 1.75f, 2.875f, -1.375f};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(g.grad.W[i], expected[i]) << i;
  EXPECT_EQ(g.hidden, (std::vector<float>{2.0f, 1.5f}));
}

// The same input with W row 1 = [0, 0.25, 0.25]: unit 1 has a = 0.75 < theta, so it is off and
// its row of dW is zero (a step that ignored the mask would give -0.25 * x there).
TEST(ReferenceStep, HandComputedInactiveUnit) {
  ModelConfig m;
  m.visible = 3;
  m.hidden = 2;
  m.activation = Activation::TRec;
  m.visible_bias = false;
  Params p = Params::zeros(m);
  p.W = {1, 1, 0, 0, 0.25f, 0.25f};
  const std::vector<float> x = {1, 1, 2};

  auto backend = make_reference_backend(m);
  backend->set_state(p, Params::zeros(m));
  const Gradients g = backend->compute_gradients(x.data(), 1);
  // h = [2, 0], R = [2, 2, 0], E = [1, 1, -2], loss 3, dA = [2, 0].
  EXPECT_DOUBLE_EQ(g.loss, 3.0);
  const std::vector<float> expected = {4, 4, 0, 0, 0, 0};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(g.grad.W[i], expected[i]) << i;
  EXPECT_EQ(g.active, (std::vector<uint8_t>{1, 0}));
}

// A unit exactly at the threshold is off, in training and in encoding.
TEST(ReferenceStep, ThresholdEqualityIsInactive) {
  ModelConfig m;
  m.visible = 2;
  m.hidden = 1;
  m.activation = Activation::TRec;
  m.visible_bias = false;
  Params p = Params::zeros(m);
  p.W = {0.5f, 0.5f};
  const std::vector<float> x = {1, 1};  // a = 1 exactly

  auto backend = make_reference_backend(m);
  backend->set_state(p, Params::zeros(m));
  const Gradients g = backend->compute_gradients(x.data(), 1);
  EXPECT_EQ(g.active[0], 0);
  EXPECT_EQ(g.hidden[0], 0.0f);
  float code = -1.0f;
  backend->encode(x.data(), 1, &code);
  EXPECT_EQ(code, 0.0f);
}

// One SGD step with momentum: v = mu v - lr g, W += v, with weight decay on W only.
TEST(ReferenceStep, MomentumUpdate) {
  ModelConfig m;
  m.visible = 3;
  m.hidden = 2;
  m.activation = Activation::ReLU;
  m.visible_bias = true;
  Params p = Params::zeros(m);
  p.W = {1, 1, 0, 0, 0.5f, 0.5f};
  p.b = {0.25f, -0.5f};
  Params v = Params::zeros(m);
  v.W = {0.1f, 0, 0, 0, 0, -0.1f};
  const std::vector<float> x = {1, 1, 2};

  auto backend = make_reference_backend(m);
  backend->set_state(p, v);
  const Gradients g = backend->compute_gradients(x.data(), 1);
  backend->set_data(x.data(), 1);
  backend->set_order({0});
  StepOptions o;
  o.learning_rate = 0.01f;
  o.momentum = 0.9f;
  o.weight_decay = 0.1f;
  o.nominal_batch = 1;
  backend->step(0, 1, o);
  Params p2, v2;
  backend->get_state(p2, v2);
  for (size_t i = 0; i < p.W.size(); ++i) {
    const double vel = 0.9 * v.W[i] - 0.01 * (double(g.grad.W[i]) + 0.1 * p.W[i]);
    EXPECT_NEAR(v2.W[i], vel, 1e-6) << i;
    EXPECT_NEAR(p2.W[i], p.W[i] + vel, 1e-6) << i;
  }
  for (size_t j = 0; j < p.b.size(); ++j) {
    EXPECT_NEAR(p2.b[j], p.b[j] - 0.01 * g.grad.b[j], 1e-7) << j;  // no decay on biases
  }
  const auto records = backend->take_records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_DOUBLE_EQ(records[0].loss, g.loss);
  EXPECT_EQ(records[0].rows, 1);
}

}  // namespace
}  // namespace zae
