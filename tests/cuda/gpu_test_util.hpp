// Helpers for the CUDA backend tests: random cases kept away from the activation kinks,
// comparison of gradients and states with stated tolerances, scoped environment variables for
// the backend's settings, and the skip when no device is present.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "test_util.hpp"
#include "zae/backend.hpp"

// Skips the current test when cuda_device_count() is 0.
#define ZAE_SKIP_WITHOUT_GPU()                                                           \
  do {                                                                                   \
    if (::zae::cuda_device_count() == 0) {                                               \
      GTEST_SKIP() << "no CUDA device: this test runs the CUDA backend on a GPU";        \
    }                                                                                    \
  } while (0)

namespace zae::test {

struct Shape {
  int D, H, B;
};

// Per-element tolerance |actual - expected| <= abs_share * max|expected| + rel * |expected|.
// The absolute part scales with the tensor's largest value because float32 sums of K products
// drift by about K * 2^-24 of the largest partial sum, not of each element.
struct Tolerance {
  double rel;
  double abs_share;
};

// float32 values against the double reference with sums of at most 2 * 127 terms.
constexpr Tolerance kFloatTolerance{1e-4, 2e-5};
// cuBLAS FP32 against the double reference: sums of up to 2 * 513 terms in an order that the
// library picks, so the absolute share is ten times that of kFloatTolerance.
constexpr Tolerance kGpuTolerance{1e-4, 2e-4};

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

inline ::testing::AssertionResult tensors_close(const std::vector<float>& expected,
                                                const std::vector<float>& actual,
                                                Tolerance tol, const std::string& what) {
  return all_close(expected, actual, tol.abs_share * max_abs(expected), tol.rel, what);
}

// Compares dW, db, dc and the hidden code with the reference's gradients.
inline void expect_gradients_close(const Gradients& expected, const Params& grad,
                                   const std::vector<float>& hidden, Tolerance tol) {
  EXPECT_TRUE(all_close(expected.hidden, hidden, tol.abs_share * (1 + max_abs(expected.hidden)),
                        tol.rel, "hidden"));
  EXPECT_TRUE(tensors_close(expected.grad.W, grad.W, tol, "dW"));
  EXPECT_TRUE(tensors_close(expected.grad.b, grad.b, tol, "db"));
  EXPECT_TRUE(tensors_close(expected.grad.c, grad.c, tol, "dc"));
}

// Compares parameters and velocities after some steps.
inline void expect_state_close(const Params& p_expected, const Params& v_expected,
                               const Params& p, const Params& v, Tolerance tol) {
  EXPECT_TRUE(tensors_close(p_expected.W, p.W, tol, "W"));
  EXPECT_TRUE(all_close(p_expected.b, p.b, tol.abs_share * (1 + max_abs(p_expected.b)), tol.rel,
                        "b"));
  EXPECT_TRUE(tensors_close(p_expected.c, p.c, tol, "c"));
  // A velocity is a difference of nearly equal weights, hence the looser relative part.
  EXPECT_TRUE(all_close(v_expected.W, v.W, tol.abs_share * max_abs(v_expected.W), 10 * tol.rel,
                        "v.W"));
}

// Sets an environment variable for the lifetime of the object and restores the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Settings of a CUDA backend under test; see cuda/backend_options.hpp for the variables.
struct GpuSettings {
  bool tf32 = false;
  std::string dw_gemm = "stacked";
  bool poison = true;
  std::optional<size_t> max_resident_bytes;
};

inline std::unique_ptr<Backend> make_gpu(const ModelConfig& model, const GpuSettings& s = {}) {
  ScopedEnv dw("ZAE_CUDA_DW_GEMM", s.dw_gemm);
  ScopedEnv poison("ZAE_CUDA_POISON", s.poison ? "1" : "0");
  std::optional<ScopedEnv> resident;
  if (s.max_resident_bytes) {
    resident.emplace("ZAE_CUDA_MAX_RESIDENT_BYTES", std::to_string(*s.max_resident_bytes));
  }
  return make_cuda_backend(model, 0, s.tf32);
}

// ||a - b||_F / ||b||_F in double.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0;
  double norm = 0.0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    norm += double(b[i]) * b[i];
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : std::sqrt(diff);
}

}  // namespace zae::test
