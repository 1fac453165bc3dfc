// Preprocessing: contrast normalisation, PCA and ZCA whitening on data with a known spectrum,
// component selection, the eigenvalue floor, inverse mapping and input checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "zae/error.hpp"
#include "zae/preprocess.hpp"

namespace zae {
namespace {

// Gaussian rows scaled per axis by `stds` and then rotated by a random orthogonal matrix, so
// the population covariance has eigenvalues stds[i]^2. An offset per column is added so that
// the fitted mean matters.
std::vector<float> rotated_gaussian(const std::vector<double>& stds, int64_t n, uint64_t seed) {
  const int d = static_cast<int>(stds.size());
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);

  // Orthonormal rows by Gram-Schmidt on a Gaussian matrix.
  std::vector<double> q(static_cast<size_t>(d) * d);
  for (double& v : q) v = normal(rng);
  for (int i = 0; i < d; ++i) {
    double* row = &q[static_cast<size_t>(i) * d];
    for (int k = 0; k < i; ++k) {
      const double* prev = &q[static_cast<size_t>(k) * d];
      double dot = 0.0;
      for (int j = 0; j < d; ++j) dot += row[j] * prev[j];
      for (int j = 0; j < d; ++j) row[j] -= dot * prev[j];
    }
    double norm = 0.0;
    for (int j = 0; j < d; ++j) norm += row[j] * row[j];
    for (int j = 0; j < d; ++j) row[j] /= std::sqrt(norm);
  }

  std::vector<double> offset(d);
  for (int j = 0; j < d; ++j) offset[j] = 0.5 * j - 1.0;
  std::vector<float> rows(static_cast<size_t>(n) * d);
  std::vector<double> z(d);
  for (int64_t r = 0; r < n; ++r) {
    for (int i = 0; i < d; ++i) z[i] = stds[i] * normal(rng);
    for (int j = 0; j < d; ++j) {
      double value = offset[j];
      for (int i = 0; i < d; ++i) value += z[i] * q[static_cast<size_t>(i) * d + j];
      rows[r * d + j] = static_cast<float>(value);
    }
  }
  return rows;
}

// Sample covariance (divided by n - 1) of n rows of k floats, in double.
std::vector<double> sample_covariance(const std::vector<float>& rows, int64_t n, int k) {
  std::vector<double> mean(k, 0.0);
  for (int64_t r = 0; r < n; ++r) {
    for (int j = 0; j < k; ++j) mean[j] += rows[r * k + j];
  }
  for (double& m : mean) m /= static_cast<double>(n);
  std::vector<double> cov(static_cast<size_t>(k) * k, 0.0);
  for (int64_t r = 0; r < n; ++r) {
    for (int i = 0; i < k; ++i) {
      for (int j = 0; j < k; ++j) {
        cov[static_cast<size_t>(i) * k + j] +=
            (rows[r * k + i] - mean[i]) * (rows[r * k + j] - mean[j]);
      }
    }
  }
  for (double& c : cov) c /= static_cast<double>(n - 1);
  return cov;
}

// Worst |cov - I| entry, reported with its index.
void expect_identity(const std::vector<double>& cov, int k, double tolerance) {
  double worst = 0.0;
  int worst_i = 0;
  int worst_j = 0;
  for (int i = 0; i < k; ++i) {
    for (int j = 0; j < k; ++j) {
      const double error = std::fabs(cov[static_cast<size_t>(i) * k + j] - (i == j ? 1.0 : 0.0));
      if (error > worst) {
        worst = error;
        worst_i = i;
        worst_j = j;
      }
    }
  }
  EXPECT_LE(worst, tolerance) << "covariance entry (" << worst_i << ", " << worst_j
                              << ") is off the identity by " << worst;
}

// Eigenvalues 25, 9, 4, 1, 0.25, 0.09, 0.04, 0.01 (total 39.39). Cumulative fractions of the
// variance: 0.635, 0.863, 0.965, 0.990, 0.9965, 0.9988, 0.9997, 1.
const std::vector<double> kStds = {5.0, 3.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1};
constexpr int64_t kRows = 20000;  // over two blocks of 8192 rows at D = 8

PreprocessConfig whitening_only(Whiten mode) {
  PreprocessConfig config;
  config.contrast_norm = false;
  config.whiten = mode;
  return config;
}

TEST(Preprocess, WhitenNamesRoundTrip) {
  for (Whiten mode : {Whiten::None, Whiten::Pca, Whiten::Zca}) {
    EXPECT_EQ(parse_whiten(whiten_name(mode)), mode);
  }
  EXPECT_THROW(parse_whiten("PCA"), Error);
  EXPECT_THROW(parse_whiten(""), Error);
}

TEST(Preprocess, EigenvaluesMatchKnownSpectrum) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 1);
  PreprocessConfig config = whitening_only(Whiten::Pca);
  config.retain = 1.0;
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);
  ASSERT_EQ(pre.eigenvalues.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    // Sampling error of a variance estimate from 20000 rows is about 1% (sqrt(2 / n)).
    EXPECT_NEAR(pre.eigenvalues[i], kStds[i] * kStds[i], 0.05 * kStds[i] * kStds[i]) << i;
  }
  for (int i = 1; i < 8; ++i) EXPECT_GE(pre.eigenvalues[i - 1], pre.eigenvalues[i]);
  for (int j = 0; j < 8; ++j) EXPECT_NEAR(pre.mean[j], 0.5 * j - 1.0, 0.1) << j;
}

TEST(Preprocess, RetainPicksSmallestK) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 2);
  const struct {
    double retain;
    int expected;
  } cases[] = {{0.5, 1}, {0.6, 1}, {0.8, 2}, {0.9, 3}, {0.98, 4}, {1.0, 8}};
  for (const auto& c : cases) {
    PreprocessConfig config = whitening_only(Whiten::Pca);
    config.retain = c.retain;
    const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);
    EXPECT_EQ(pre.output_dim(), c.expected) << "retain " << c.retain;
    EXPECT_EQ(pre.input_dim(), 8);
  }
}

TEST(Preprocess, PcaWhitenedCovarianceIsIdentity) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 3);
  PreprocessConfig config = whitening_only(Whiten::Pca);
  config.components = 6;  // all six kept eigenvalues lie far above the floor
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);
  const int k = pre.output_dim();
  ASSERT_EQ(k, 6);
  ASSERT_EQ(pre.forward.size(), static_cast<size_t>(k) * 8);
  ASSERT_EQ(pre.backward.size(), static_cast<size_t>(8) * k);

  std::vector<float> out(static_cast<size_t>(kRows) * k);
  pre.apply(rows.data(), kRows, out.data());
  // The fit divides by n - 1 as sample_covariance does, so only float rounding remains.
  expect_identity(sample_covariance(out, kRows, k), k, 1e-3);
}

TEST(Preprocess, PcaSignConventionIsPositiveLargest) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 4);
  PreprocessConfig config = whitening_only(Whiten::Pca);
  config.retain = 1.0;
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);
  for (int c = 0; c < pre.output_dim(); ++c) {
    const double* row = &pre.forward[static_cast<size_t>(c) * 8];
    const double* largest = std::max_element(
        row, row + 8, [](double a, double b) { return std::fabs(a) < std::fabs(b); });
    EXPECT_GT(*largest, 0.0) << "component " << c;
  }
}

TEST(Preprocess, ZcaForwardSymmetricAndWhitening) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 5);
  PreprocessConfig config = whitening_only(Whiten::Zca);
  config.retain = 1.0;
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);
  ASSERT_EQ(pre.output_dim(), 8);
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) {
      EXPECT_EQ(pre.forward[i * 8 + j], pre.forward[j * 8 + i]) << i << ", " << j;
      EXPECT_EQ(pre.backward[i * 8 + j], pre.backward[j * 8 + i]) << i << ", " << j;
    }
  }

  std::vector<float> out(rows.size());
  pre.apply(rows.data(), kRows, out.data());
  expect_identity(sample_covariance(out, kRows, 8), 8, 1e-3);
}

TEST(Preprocess, ZcaWithFewerComponentsHasRankK) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 6);
  PreprocessConfig config = whitening_only(Whiten::Zca);
  config.components = 3;
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);
  EXPECT_EQ(pre.output_dim(), 8);

  // forward * backward is the projection V_3 V_3^T, whose trace is the rank 3.
  double trace = 0.0;
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) trace += pre.forward[i * 8 + j] * pre.backward[j * 8 + i];
  }
  EXPECT_NEAR(trace, 3.0, 1e-9);
}

TEST(Preprocess, ComponentCountHonoured) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 7);
  for (int components : {1, 5, 8}) {
    PreprocessConfig config = whitening_only(Whiten::Pca);
    config.components = components;
    config.retain = 0.5;  // ignored when components > 0
    const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);
    EXPECT_EQ(pre.output_dim(), components);
  }

  PreprocessConfig config = whitening_only(Whiten::Pca);
  config.components = 9;
  try {
    Preprocessor::fit(config, rows.data(), kRows, 8);
    FAIL() << "expected an error for 9 components of 8 dimensions";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--components"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("D = 8"), std::string::npos) << e.what();
  }
}

TEST(Preprocess, FloorBoundsConstantDimension) {
  // Column 2 is constant, so one eigenvalue is zero up to rounding.
  const int64_t n = 2000;
  std::vector<float> rows = rotated_gaussian({2.0, 1.0, 0.5, 0.25}, n, 8);
  for (int64_t r = 0; r < n; ++r) rows[r * 4 + 2] = 3.0f;

  PreprocessConfig config = whitening_only(Whiten::Pca);
  config.components = 4;
  config.eigen_floor = 1e-3;
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), n, 4);
  EXPECT_NEAR(pre.eigenvalues[3], 0.0, 1e-9);

  std::vector<float> out(static_cast<size_t>(n) * 4);
  pre.apply(rows.data(), n, out.data());
  double largest_last = 0.0;
  for (int64_t r = 0; r < n; ++r) {
    for (int k = 0; k < 4; ++k) ASSERT_TRUE(std::isfinite(out[r * 4 + k])) << r << ", " << k;
    largest_last = std::max(largest_last, std::fabs(static_cast<double>(out[r * 4 + 3])));
  }
  // Without the floor, the last component would be rounding noise divided by the square root
  // of a near-zero eigenvalue.
  EXPECT_LT(largest_last, 1e-3);
  for (int j = 0; j < 4; ++j) {
    EXPECT_NEAR(pre.forward[3 * 4 + j] * std::sqrt(1e-3), j == 2 ? 1.0 : 0.0, 1e-6) << j;
  }
}

TEST(Preprocess, ContrastNormMatchesDirectComputation) {
  const int64_t n = 300;
  const int d = 50;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::vector<float> rows(static_cast<size_t>(n) * d);
  for (int64_t r = 0; r < n; ++r) {
    const double offset = 10.0 * uniform(rng);
    const double scale = 0.1 + std::fabs(3.0 * uniform(rng));
    for (int j = 0; j < d; ++j) rows[r * d + j] = static_cast<float>(offset + scale * uniform(rng));
  }

  PreprocessConfig config;
  config.contrast_norm = true;
  config.contrast_scale = 0.1;
  config.whiten = Whiten::None;
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), n, d);
  EXPECT_FALSE(pre.is_identity());
  EXPECT_EQ(pre.output_dim(), d);

  std::vector<double> means(n);
  std::vector<double> stds(n);
  double std_sum = 0.0;
  for (int64_t r = 0; r < n; ++r) {
    double sum = 0.0;
    for (int j = 0; j < d; ++j) sum += rows[r * d + j];
    means[r] = sum / d;
    double squares = 0.0;
    for (int j = 0; j < d; ++j) squares += std::pow(rows[r * d + j] - means[r], 2);
    stds[r] = std::sqrt(squares / d);
    std_sum += stds[r];
  }
  const double reference = std_sum / n;
  EXPECT_NEAR(pre.contrast_reference, reference, 1e-12 * reference);

  std::vector<float> out(rows.size());
  pre.apply(rows.data(), n, out.data());
  for (int64_t r = 0; r < n; ++r) {
    double row_sum = 0.0;
    for (int j = 0; j < d; ++j) {
      const double expected = (rows[r * d + j] - means[r]) / (stds[r] + 0.1 * reference);
      // Float output: relative rounding of about 6e-8 on values of order 1.
      ASSERT_NEAR(out[r * d + j], expected, 1e-6 * (1.0 + std::fabs(expected))) << r << ", " << j;
      row_sum += out[r * d + j];
    }
    EXPECT_NEAR(row_sum / d, 0.0, 1e-6) << "row " << r;
  }

  // In place gives the same bits, because every row is read whole before it is written.
  std::vector<float> in_place = rows;
  pre.apply(in_place.data(), n, in_place.data());
  EXPECT_EQ(in_place, out);
}

TEST(Preprocess, ConstantRowWithoutScaleBecomesZero) {
  std::vector<float> rows = {1.0f, 2.0f, 3.0f, 5.0f, 5.0f, 5.0f};
  PreprocessConfig config;
  config.contrast_scale = 0.0;
  config.whiten = Whiten::None;
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), 2, 3);
  std::vector<float> out(6);
  pre.apply(rows.data(), 2, out.data());
  EXPECT_EQ(out[3], 0.0f);
  EXPECT_EQ(out[4], 0.0f);
  EXPECT_EQ(out[5], 0.0f);
  EXPECT_NEAR(out[0], -std::sqrt(1.5), 1e-6);
}

TEST(Preprocess, ApplyMatchesDirectWhitening) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 10);
  PreprocessConfig config;  // contrast norm and PCA, as the defaults have it
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);
  const int k = pre.output_dim();
  std::vector<float> out(static_cast<size_t>(kRows) * k);
  pre.apply(rows.data(), kRows, out.data());

  const double scale_term = config.contrast_scale * pre.contrast_reference;
  double worst = 0.0;
  for (int64_t r = 0; r < kRows; r += 7) {
    const float* x = &rows[r * 8];
    double mean = 0.0;
    for (int j = 0; j < 8; ++j) mean += x[j];
    mean /= 8;
    double squares = 0.0;
    for (int j = 0; j < 8; ++j) squares += (x[j] - mean) * (x[j] - mean);
    const double denominator = std::sqrt(squares / 8) + scale_term;
    for (int c = 0; c < k; ++c) {
      double expected = 0.0;
      for (int j = 0; j < 8; ++j) {
        expected += pre.forward[c * 8 + j] * ((x[j] - mean) / denominator - pre.mean[j]);
      }
      worst = std::max(worst, std::fabs(out[r * k + c] - expected) / (1.0 + std::fabs(expected)));
    }
  }
  EXPECT_LT(worst, 1e-6);
}

TEST(Preprocess, UnwhitenInvertsFullRankPca) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 11);
  PreprocessConfig config = whitening_only(Whiten::Pca);
  config.retain = 1.0;
  config.eigen_floor = 1e-12;
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);
  ASSERT_EQ(pre.output_dim(), 8);

  std::vector<float> white(rows.size());
  std::vector<float> back(rows.size());
  pre.apply(rows.data(), kRows, white.data());
  pre.unwhiten(white.data(), kRows, back.data());
  for (size_t i = 0; i < rows.size(); ++i) {
    // Values reach about 20. The float32 whitened values carry rounding of about 6e-8 and
    // are scaled back by sqrt(lambda) <= 5, which stays far below this tolerance.
    ASSERT_NEAR(back[i], rows[i], 1e-4 * (1.0 + std::fabs(rows[i]))) << "index " << i;
  }
}

TEST(Preprocess, UnwhitenInvertsZca) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 12);
  PreprocessConfig config = whitening_only(Whiten::Zca);
  config.retain = 1.0;
  config.eigen_floor = 1e-12;
  const Preprocessor pre = Preprocessor::fit(config, rows.data(), kRows, 8);

  std::vector<float> data = rows;
  pre.apply(data.data(), kRows, data.data());  // in place: D outputs for D inputs
  pre.unwhiten(data.data(), kRows, data.data());
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_NEAR(data[i], rows[i], 1e-4 * (1.0 + std::fabs(rows[i]))) << "index " << i;
  }
}

TEST(Preprocess, IdentityCopiesExactly) {
  const Preprocessor pre = Preprocessor::identity(3);
  EXPECT_TRUE(pre.is_identity());
  EXPECT_EQ(pre.input_dim(), 3);
  EXPECT_EQ(pre.output_dim(), 3);
  const std::vector<float> rows = {-0.0f, 1e-40f, 3.4e38f, -7.25f, 0.1f, 123456.789f};
  std::vector<float> out(rows.size(), 99.0f);
  pre.apply(rows.data(), 2, out.data());
  EXPECT_EQ(std::memcmp(out.data(), rows.data(), rows.size() * sizeof(float)), 0);
  std::vector<float> back(rows.size());
  pre.unwhiten(out.data(), 2, back.data());
  EXPECT_EQ(std::memcmp(back.data(), rows.data(), rows.size() * sizeof(float)), 0);
  EXPECT_THROW(Preprocessor::identity(0), Error);
}

TEST(Preprocess, NonFiniteNamesRowAndColumn) {
  std::vector<float> rows = rotated_gaussian({1.0, 2.0, 3.0, 4.0}, 20, 13);
  rows[7 * 4 + 3] = std::nanf("");
  rows[9 * 4 + 1] = INFINITY;
  PreprocessConfig config;
  try {
    Preprocessor::fit(config, rows.data(), 20, 4);
    FAIL() << "expected an error for NaN";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("row 7, column 3"), std::string::npos) << message;
  }

  const std::vector<float> clean = rotated_gaussian({1.0, 2.0, 3.0, 4.0}, 20, 13);
  const Preprocessor pre = Preprocessor::fit(config, clean.data(), 20, 4);
  std::vector<float> out(static_cast<size_t>(20) * pre.output_dim(), 5.0f);
  rows[7 * 4 + 3] = 0.0f;
  try {
    pre.apply(rows.data(), 20, out.data());
    FAIL() << "expected an error for infinity";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("row 9, column 1"), std::string::npos) << message;
  }
  EXPECT_EQ(out[0], 5.0f) << "apply wrote output before rejecting the input";
}

TEST(Preprocess, WhiteningNeedsTwoRows) {
  const std::vector<float> row = {1.0f, 2.0f, 4.0f};
  EXPECT_THROW(Preprocessor::fit(PreprocessConfig{}, row.data(), 1, 3), Error);
  PreprocessConfig contrast_only;
  contrast_only.whiten = Whiten::None;
  const Preprocessor pre = Preprocessor::fit(contrast_only, row.data(), 1, 3);
  EXPECT_EQ(pre.output_dim(), 3);
}

TEST(Preprocess, InvalidConfigRejected) {
  const std::vector<float> rows = rotated_gaussian({1.0, 2.0}, 10, 14);
  PreprocessConfig config;
  config.retain = 0.0;
  EXPECT_THROW(Preprocessor::fit(config, rows.data(), 10, 2), Error);
  config = PreprocessConfig{};
  config.eigen_floor = 0.0;
  EXPECT_THROW(Preprocessor::fit(config, rows.data(), 10, 2), Error);
  config = PreprocessConfig{};
  config.contrast_scale = -1.0;
  EXPECT_THROW(Preprocessor::fit(config, rows.data(), 10, 2), Error);
}

TEST(Preprocess, FitIsDeterministic) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 15);
  const PreprocessConfig config;
  const Preprocessor a = Preprocessor::fit(config, rows.data(), kRows, 8);
  const Preprocessor b = Preprocessor::fit(config, rows.data(), kRows, 8);
  EXPECT_EQ(a.contrast_reference, b.contrast_reference);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.forward, b.forward);
  EXPECT_EQ(a.backward, b.backward);
  EXPECT_EQ(a.eigenvalues, b.eigenvalues);
}

TEST(Preprocess, FromStateRoundTrip) {
  const std::vector<float> rows = rotated_gaussian(kStds, kRows, 16);
  PreprocessConfig config;
  config.retain = 0.95;
  const Preprocessor fitted = Preprocessor::fit(config, rows.data(), kRows, 8);
  const Preprocessor rebuilt = Preprocessor::from_state(
      fitted.config(), fitted.input_dim(), fitted.output_dim(), fitted.contrast_reference,
      fitted.mean, fitted.forward, fitted.backward, fitted.eigenvalues);
  EXPECT_EQ(rebuilt.input_dim(), fitted.input_dim());
  EXPECT_EQ(rebuilt.output_dim(), fitted.output_dim());

  const int k = fitted.output_dim();
  std::vector<float> a(static_cast<size_t>(kRows) * k);
  std::vector<float> b(a.size());
  fitted.apply(rows.data(), kRows, a.data());
  rebuilt.apply(rows.data(), kRows, b.data());
  EXPECT_EQ(a, b);

  // Sizes that disagree with the dimensions are rejected.
  EXPECT_THROW(Preprocessor::from_state(config, 8, k, fitted.contrast_reference, {1.0, 2.0},
                                        fitted.forward, fitted.backward, fitted.eigenvalues),
               Error);
  EXPECT_THROW(Preprocessor::from_state(config, 8, k + 1, fitted.contrast_reference, fitted.mean,
                                        fitted.forward, fitted.backward, fitted.eigenvalues),
               Error);
  EXPECT_THROW(Preprocessor::from_state(config, 8, k, fitted.contrast_reference, fitted.mean,
                                        fitted.forward, {}, fitted.eigenvalues),
               Error);
  PreprocessConfig none;
  none.whiten = Whiten::None;
  EXPECT_THROW(Preprocessor::from_state(none, 8, 8, 1.0, fitted.mean, fitted.forward, {}, {}),
               Error);
  EXPECT_NO_THROW(Preprocessor::from_state(none, 8, 8, 1.0, fitted.mean, {}, {}, {}));
}

}  // namespace
}  // namespace zae
