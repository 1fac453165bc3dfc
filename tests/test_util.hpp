// Helpers shared by the tests: random inputs kept away from activation kinks, and element-wise
// comparison with an absolute + relative tolerance that reports the worst element.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "zae/model.hpp"

namespace zae::test {

inline std::vector<float> random_normal(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// Smallest distance of pre-activation `a` from a point where f or f' jumps.
inline double kink_distance(Activation act, double a, double theta) {
  switch (act) {
    case Activation::TRec: return std::fabs(a - theta);
    case Activation::TLin: return std::min(std::fabs(a - theta), std::fabs(a + theta));
    case Activation::ReLU: return std::fabs(a);
    default: return 1e30;
  }
}

// Redraws rows of X (B x D) until every pre-activation x W^T + b lies at least `margin` away
// from a kink, so float32 and float64 paths agree on every mask bit.
inline void keep_away_from_kinks(const ModelConfig& m, const Params& p, std::vector<float>& X,
                                 int B, double margin, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  const int D = m.visible;
  for (int i = 0; i < B; ++i) {
    for (int attempt = 0;; ++attempt) {
      bool ok = true;
      for (int j = 0; j < m.hidden && ok; ++j) {
        double a = p.b.empty() ? 0.0 : p.b[j];
        for (int k = 0; k < D; ++k) a += double(X[size_t(i) * D + k]) * p.W[size_t(j) * D + k];
        ok = kink_distance(m.activation, a, m.threshold) >= margin;
      }
      if (ok) break;
      ASSERT_LT(attempt, 100000) << "could not draw row " << i << " away from the kinks";
      for (int k = 0; k < D; ++k) X[size_t(i) * D + k] = normal(rng);
    }
  }
}

// Checks |actual - expected| <= atol + rtol * |expected| element-wise. On failure the message
// names the worst element, its values and the share of the tolerance it used.
inline ::testing::AssertionResult all_close(const std::vector<float>& expected,
                                            const std::vector<float>& actual, double atol,
                                            double rtol, const std::string& what) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure() << what << ": size " << actual.size() << " != "
                                         << expected.size();
  }
  double worst_share = 0.0;
  size_t worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double limit = atol + rtol * std::fabs(double(expected[i]));
    const double diff = std::fabs(double(actual[i]) - double(expected[i]));
    const double share = std::isnan(diff) ? 1e300 : diff / limit;
    if (share > worst_share) {
      worst_share = share;
      worst = i;
    }
  }
  std::ostringstream text;
  if (!expected.empty()) {
    text << what << ": worst element " << worst << " expected " << expected[worst] << " got "
         << actual[worst] << ", " << 100.0 * worst_share << "% of the tolerance (atol " << atol
         << ", rtol " << rtol << ")";
  }
  if (worst_share <= 1.0) return ::testing::AssertionSuccess() << text.str();
  return ::testing::AssertionFailure() << text.str();
}

inline double max_abs(const std::vector<float>& v) {
  double m = 0.0;
  for (float x : v) m = std::max(m, std::fabs(double(x)));
  return m;
}

// A fresh, empty folder under the system temp folder, removed with its contents by the
// destructor. Without a tag it is named after the running test.
class TempDir {
 public:
  TempDir() : TempDir(current_test_tag()) {}
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("zae-test-" + tag + "-" + std::to_string(::getpid()) + "-" +
             std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path(const std::string& name = "") const {
    return name.empty() ? path_.string() : (path_ / name).string();
  }
  std::string file(const std::string& name) const { return path(name); }

 private:
  static std::string current_test_tag() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    if (info == nullptr) return "unnamed";
    std::string tag = std::string(info->test_suite_name()) + "-" + info->name();
    for (char& ch : tag) {
      if (ch == '/') ch = '_';
    }
    return tag;
  }

  std::filesystem::path path_;
};

}  // namespace zae::test
