// Preprocessing fitted once on the training data and stored with the model, so that encoding
// later applies exactly the same transform. Statistics accumulate in double.
//
// Steps, each optional:
//   1. contrast normalisation per patch: x <- (x - mean(x)) / (std(x) + contrast_scale * s),
//      where s is the mean per-patch std over the training set;
//   2. whitening: subtract the per-dimension mean, rotate onto the covariance eigenvectors
//      and divide by sqrt(max(lambda, eigen_floor)). PCA keeps the leading K components
//      (K x D output); ZCA rotates back (D outputs, rank K).
// K is `components` when it is positive, else the smallest count retaining `retain` of the
// total variance.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zae {

enum class Whiten { None, Pca, Zca };

std::string whiten_name(Whiten mode);
Whiten parse_whiten(const std::string& name);  // none | pca | zca, else zae::Error

struct PreprocessConfig {
  bool contrast_norm = true;
  double contrast_scale = 0.1;
  Whiten whiten = Whiten::Pca;
  double retain = 0.9;     // fraction of variance, in (0, 1]
  int components = 0;      // > 0 overrides retain
  double eigen_floor = 1e-3;
};

class Preprocessor {
 public:
  // Identity transform on `dim` inputs (contrast_norm false, whiten none).
  static Preprocessor identity(int dim);
  // Fits on n rows of d floats. The covariance is the sample covariance (divided by n - 1).
  // Throws zae::Error for non-finite values or n < 2 when whitening is requested.
  static Preprocessor fit(const PreprocessConfig& config, const float* rows, int64_t n, int d);

  int input_dim() const { return input_dim_; }
  int output_dim() const { return output_dim_; }
  bool is_identity() const;
  const PreprocessConfig& config() const { return config_; }

  // n rows of input_dim() floats to n rows of output_dim() floats. `in` and `out` may alias
  // only when input_dim() == output_dim(). Throws zae::Error naming the row and column of a
  // non-finite input value before anything is written.
  void apply(const float* in, int64_t n, float* out) const;
  // Maps n rows of output_dim() values back to input space through the inverse of the
  // whitening (no contrast de-normalisation), for pictures of the filters. The mean is added
  // back, so unwhiten(apply(x)) recovers x for full-rank whitening without contrast norm.
  void unwhiten(const float* in, int64_t n, float* out) const;

  // Fitted state, stored in checkpoints.
  double contrast_reference = 0.0;  // s above
  std::vector<double> mean;         // input_dim, all zero unless whitening centres the data
  std::vector<double> forward;      // output_dim x input_dim, empty for no whitening
  std::vector<double> backward;     // input_dim x output_dim, empty for no whitening
  std::vector<double> eigenvalues;  // all input_dim eigenvalues, descending

  // Rebuilds a fitted preprocessor from stored state; checks that the sizes agree.
  static Preprocessor from_state(const PreprocessConfig& config, int input_dim, int output_dim,
                                 double contrast_reference, std::vector<double> mean,
                                 std::vector<double> forward, std::vector<double> backward,
                                 std::vector<double> eigenvalues);

 private:
  PreprocessConfig config_;
  int input_dim_ = 0;
  int output_dim_ = 0;
};

}  // namespace zae
