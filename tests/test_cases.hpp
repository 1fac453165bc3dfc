// Random test cases shared by the CPU and GPU backend tests: shapes, weights and inputs drawn
// so that every pre-activation stays a margin away from the activation kinks and at least one
// unit is active.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "zae/model.hpp"

namespace zae::test {

struct Shape {
  int D, H, B;
};

struct Case {
  ModelConfig model;
  Params params;
  std::vector<float> X;
  int B = 0;
};

inline int count_active(const Case& c) {
  int on = 0;
  for (int i = 0; i < c.B; ++i) {
    for (int j = 0; j < c.model.hidden; ++j) {
      double a = c.params.b.empty() ? 0.0 : c.params.b[j];
      for (int k = 0; k < c.model.visible; ++k) {
        a += double(c.X[size_t(i) * c.model.visible + k]) *
             c.params.W[size_t(j) * c.model.visible + k];
      }
      on += is_active_d(c.model.activation, a, c.model.threshold);
    }
  }
  return on;
}

// Weights scaled so that pre-activations spread around theta = 1 for any D, biases small,
// and every pre-activation at least `margin` from a kink. float32 rounding moves a
// pre-activation of these sizes by about sqrt(D) * 2^-24 (below 1e-5 for D = 513), so a
// margin of 1e-3 leaves every mask bit the same in float32 and double.
inline Case draw_case(Shape s, Activation act, bool visible_bias, uint64_t seed,
                      double margin = 1e-3) {
  Case c;
  c.model.visible = s.D;
  c.model.hidden = s.H;
  c.model.activation = act;
  c.model.threshold = 1.0f;
  c.model.visible_bias = visible_bias;
  c.B = s.B;
  c.params = Params::zeros(c.model);
  const float w_scale = 1.2f / std::sqrt(float(s.D));
  c.params.W = random_normal(c.params.W.size(), seed, w_scale);
  if (!c.params.b.empty()) c.params.b = random_normal(c.params.b.size(), seed + 1, 0.3f);
  if (!c.params.c.empty()) c.params.c = random_normal(c.params.c.size(), seed + 2, 0.1f);
  c.X = random_normal(size_t(s.B) * s.D, seed + 3, 1.0f);
  keep_away_from_kinks(c.model, c.params, c.X, s.B, margin, seed + 4);
  return c;
}

// A case with at least one active unit, so that no comparison passes on zero gradients.
inline Case make_case(Shape s, Activation act, bool visible_bias, uint64_t seed) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    Case c = draw_case(s, act, visible_bias, seed + 1000 * attempt);
    if (count_active(c) > 0) return c;
  }
  ADD_FAILURE() << "no draw with an active unit";
  return draw_case(s, act, visible_bias, seed);
}

inline std::string case_name(Shape s, Activation act) {
  return activation_name(act) + "_D" + std::to_string(s.D) + "_H" + std::to_string(s.H) + "_B" +
         std::to_string(s.B);
}

}  // namespace zae::test
