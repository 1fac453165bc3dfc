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

#include "test_cases.hpp"
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
