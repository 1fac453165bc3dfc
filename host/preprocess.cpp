// Preprocessing: fitting contrast normalisation and PCA/ZCA whitening on the training rows, and
// applying the fitted transform to large row sets.
//
// Everything is computed in double. The input is read in blocks of rows that are converted to
// double one block at a time, so neither fit() nor apply() holds an N x D double copy of the
// data. The sample covariance divides by n - 1 and is accumulated with dsyrk per block. The
// eigendecomposition is LAPACK dsyevd from OpenBLAS.
#include "zae/preprocess.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "zae/error.hpp"

// LAPACK symmetric eigensolver (divide and conquer), LP64 interface as exported by OpenBLAS.
// The trailing size_t arguments are the hidden Fortran string lengths of jobz and uplo.
extern "C" void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda,
                        double* w, double* work, const int* lwork, int* iwork, const int* liwork,
                        int* info, size_t jobz_len, size_t uplo_len);

namespace zae {

std::string whiten_name(Whiten mode) {
  switch (mode) {
    case Whiten::None: return "none";
    case Whiten::Pca: return "pca";
    case Whiten::Zca: return "zca";
  }
  return "unknown";
}

Whiten parse_whiten(const std::string& name) {
  if (name == "none") return Whiten::None;
  if (name == "pca") return Whiten::Pca;
  if (name == "zca") return Whiten::Zca;
  fail("invalid whitening mode '", name, "': expected one of none, pca, zca");
}

namespace {

// Rows per block for a buffer `width` doubles wide: about 16 MiB per buffer, and at least 64
// rows so that the GEMM in each block keeps a useful shape.
int64_t block_rows(int64_t width) {
  const int64_t target_values = int64_t{1} << 21;
  return std::clamp<int64_t>(target_values / std::max<int64_t>(width, 1), 64, 8192);
}

// Throws zae::Error naming the first non-finite value (lowest row, then lowest column).
void check_finite(const float* rows, int64_t n, int d) {
  int64_t first_bad_row = n;
#pragma omp parallel for schedule(static) reduction(min : first_bad_row)
  for (int64_t r = 0; r < n; ++r) {
    const float* row = rows + r * d;
    bool finite = true;
    for (int j = 0; j < d; ++j) finite &= std::isfinite(row[j]);
    if (!finite && r < first_bad_row) first_bad_row = r;
  }
  if (first_bad_row == n) return;

  const float* row = rows + first_bad_row * d;
  int column = 0;
  while (std::isfinite(row[column])) ++column;
  fail("non-finite value ", row[column], " in the input at row ", first_bad_row, ", column ",
       column, " (0-based): remove or replace the rows with NaN or infinity and rerun");
}

struct RowStats {
  double mean = 0.0;
  double std = 0.0;  // population std: divides by d
};

RowStats row_stats(const float* row, int d) {
  double sum = 0.0;
  for (int j = 0; j < d; ++j) sum += row[j];
  const double mean = sum / d;

  double squares = 0.0;
  for (int j = 0; j < d; ++j) {
    const double centered = row[j] - mean;
    squares += centered * centered;
  }
  return {mean, std::sqrt(squares / d)};
}

// Writes (x - mean(x)) / (std(x) + scale_term) in double. A row whose denominator is zero (a
// constant row with scale_term 0) becomes all zeros in place of 0 / 0.
void normalise_row(const float* row, int d, double scale_term, double* out) {
  const RowStats stats = row_stats(row, d);
  const double denominator = stats.std + scale_term;
  if (denominator > 0.0) {
    const double inverse = 1.0 / denominator;
    for (int j = 0; j < d; ++j) out[j] = (row[j] - stats.mean) * inverse;
  } else {
    std::fill(out, out + d, 0.0);
  }
}

// Converts `count` rows to double in `buffer` (count x d): contrast-normalised when
// `contrast` is set, then minus `center` when it is not null.
void load_block(const float* rows, int64_t count, int d, bool contrast, double scale_term,
                const double* center, double* buffer) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < count; ++r) {
    const float* row = rows + r * d;
    double* out = buffer + r * d;
    if (contrast) {
      normalise_row(row, d, scale_term, out);
    } else {
      for (int j = 0; j < d; ++j) out[j] = row[j];
    }
    if (center != nullptr) {
      for (int j = 0; j < d; ++j) out[j] -= center[j];
    }
  }
}

void store_block(const double* buffer, int64_t values, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < values; ++i) out[i] = static_cast<float>(buffer[i]);
}

// Mean of the per-row population std over all rows. The per-row values are summed serially
// in row order, so the result does not depend on the thread count.
double mean_row_std(const float* rows, int64_t n, int d) {
  const int64_t block = block_rows(1);
  std::vector<double> stds(static_cast<size_t>(block));
  double total = 0.0;
  for (int64_t first = 0; first < n; first += block) {
    const int64_t count = std::min(block, n - first);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < count; ++r) stds[r] = row_stats(rows + (first + r) * d, d).std;
    for (int64_t r = 0; r < count; ++r) total += stds[r];
  }
  return total / static_cast<double>(n);
}

void validate_config(const PreprocessConfig& config) {
  ZAE_REQUIRE(std::isfinite(config.contrast_scale) && config.contrast_scale >= 0.0,
              "invalid --contrast-scale ", config.contrast_scale, ": expected a finite value >= 0");
  if (config.whiten == Whiten::None) return;
  ZAE_REQUIRE(config.retain > 0.0 && config.retain <= 1.0, "invalid --retain ", config.retain,
              ": expected a fraction of the variance in (0, 1]");
  ZAE_REQUIRE(config.components >= 0, "invalid --components ", config.components,
              ": expected 0 (use --retain) or a positive count");
  ZAE_REQUIRE(std::isfinite(config.eigen_floor) && config.eigen_floor > 0.0,
              "invalid --eigen-floor ", config.eigen_floor, ": expected a finite value > 0");
}

// Eigenvalues (descending) and unit eigenvectors (row k of `vectors` belongs to eigenvalue k)
// of the symmetric d x d matrix `matrix`, which must have both triangles filled.
void symmetric_eigen(std::vector<double> matrix, int d, std::vector<double>* values,
                     std::vector<double>* vectors) {
  // The matrix is symmetric, so its row-major layout is also its column-major layout. dsyevd
  // returns eigenvector j in column j, which reads as row j in row-major order.
  const char jobz = 'V';
  const char uplo = 'L';
  int info = 0;
  int lwork = -1;
  int liwork = -1;
  double work_query = 0.0;
  int iwork_query = 0;
  std::vector<double> ascending(d);
  dsyevd_(&jobz, &uplo, &d, matrix.data(), &d, ascending.data(), &work_query, &lwork, &iwork_query,
          &liwork, &info, 1, 1);
  ZAE_REQUIRE(info == 0, "LAPACK dsyevd workspace query failed with info ", info);

  ZAE_REQUIRE(work_query <= static_cast<double>(std::numeric_limits<int>::max()),
              "the eigendecomposition of a ", d, " x ", d,
              " covariance needs more LAPACK workspace than a 32-bit size can address; use "
              "fewer input dimensions");
  lwork = static_cast<int>(work_query);
  liwork = iwork_query;
  std::vector<double> work(static_cast<size_t>(std::max(lwork, 1)));
  std::vector<int> iwork(static_cast<size_t>(std::max(liwork, 1)));
  dsyevd_(&jobz, &uplo, &d, matrix.data(), &d, ascending.data(), work.data(), &lwork, iwork.data(),
          &liwork, &info, 1, 1);
  ZAE_REQUIRE(info == 0, "LAPACK dsyevd failed to diagonalise the ", d, " x ", d,
              " covariance (info ", info, ")");

  values->resize(d);
  vectors->resize(static_cast<size_t>(d) * d);
  for (int k = 0; k < d; ++k) {
    const int source = d - 1 - k;
    (*values)[k] = ascending[source];
    const double* in = matrix.data() + static_cast<size_t>(source) * d;
    double* out = vectors->data() + static_cast<size_t>(k) * d;

    // Sign convention: the component of largest magnitude (the first one on ties) is
    // positive, so the result does not depend on the LAPACK build. Vectors of a repeated
    // eigenvalue are still only defined up to a rotation within their subspace.
    int largest = 0;
    for (int j = 1; j < d; ++j) {
      if (std::fabs(in[j]) > std::fabs(in[largest])) largest = j;
    }
    const double sign = in[largest] < 0.0 ? -1.0 : 1.0;
    for (int j = 0; j < d; ++j) out[j] = sign * in[j];
  }
}

// The number of leading components to keep: `components` when positive, else the smallest
// count whose eigenvalues (negative rounding noise counted as zero) reach `retain` of the sum.
int kept_components(const PreprocessConfig& config, const std::vector<double>& eigenvalues) {
  const int d = static_cast<int>(eigenvalues.size());
  if (config.components > 0) {
    ZAE_REQUIRE(config.components <= d, "--components ", config.components,
                " exceeds the input dimension D = ", d, ": use at most ", d, " components");
    return config.components;
  }

  double total = 0.0;
  for (double value : eigenvalues) total += std::max(value, 0.0);
  ZAE_REQUIRE(total > 0.0, "cannot whiten: the training data has zero variance in all ", d,
              " dimensions; use --whiten none");

  const double target = config.retain * total;
  double cumulative = 0.0;
  for (int k = 0; k < d; ++k) {
    cumulative += std::max(eigenvalues[k], 0.0);
    if (cumulative >= target) return k + 1;
  }
  return d;
}

// Sums of the (optionally contrast-normalised) rows per dimension, divided by n.
std::vector<double> column_means(const float* rows, int64_t n, int d, bool contrast,
                                 double scale_term) {
  const int64_t block = block_rows(d);
  std::vector<double> buffer(static_cast<size_t>(std::min(block, n)) * d);
  std::vector<double> sums(d, 0.0);
  for (int64_t first = 0; first < n; first += block) {
    const int64_t count = std::min(block, n - first);
    load_block(rows + first * d, count, d, contrast, scale_term, nullptr, buffer.data());
    // Serial in row order, so the means do not depend on the thread count.
    for (int64_t r = 0; r < count; ++r) {
      const double* row = buffer.data() + r * d;
      for (int j = 0; j < d; ++j) sums[j] += row[j];
    }
  }
  for (double& sum : sums) sum /= static_cast<double>(n);
  return sums;
}

// Sample covariance (divided by n - 1) of the centred rows, d x d with both triangles filled.
std::vector<double> covariance(const float* rows, int64_t n, int d, bool contrast,
                               double scale_term, const std::vector<double>& mean) {
  const int64_t block = block_rows(d);
  std::vector<double> buffer(static_cast<size_t>(std::min(block, n)) * d);
  std::vector<double> cov(static_cast<size_t>(d) * d, 0.0);
  for (int64_t first = 0; first < n; first += block) {
    const int64_t count = std::min(block, n - first);
    load_block(rows + first * d, count, d, contrast, scale_term, mean.data(), buffer.data());
    // Upper triangle of cov += block^T block.
    // NOTE: OpenBLAS may split this sum differently under another thread count, so the fit is
    // only known to repeat bit for bit at a fixed thread count.
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, static_cast<int>(count), 1.0,
                buffer.data(), d, 1.0, cov.data(), d);
  }

  const double divisor = static_cast<double>(n - 1);
  for (int i = 0; i < d; ++i) {
    for (int j = i; j < d; ++j) {
      const double value = cov[static_cast<size_t>(i) * d + j] / divisor;
      cov[static_cast<size_t>(i) * d + j] = value;
      cov[static_cast<size_t>(j) * d + i] = value;
    }
  }
  return cov;
}

// product = factor factor^T for a row-major d x k factor, exactly symmetric.
std::vector<double> symmetric_product(const std::vector<double>& factor, int d, int k) {
  std::vector<double> product(static_cast<size_t>(d) * d, 0.0);
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, d, k, 1.0, factor.data(), k, 0.0,
              product.data(), d);
  for (int i = 0; i < d; ++i) {
    for (int j = i + 1; j < d; ++j) {
      product[static_cast<size_t>(j) * d + i] = product[static_cast<size_t>(i) * d + j];
    }
  }
  return product;
}

bool all_finite(const std::vector<double>& values) {
  return std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); });
}

}  // namespace

Preprocessor Preprocessor::identity(int dim) {
  ZAE_REQUIRE(dim > 0, "invalid preprocessing dimension ", dim, ": expected at least 1");
  Preprocessor p;
  p.config_.contrast_norm = false;
  p.config_.whiten = Whiten::None;
  p.input_dim_ = dim;
  p.output_dim_ = dim;
  p.mean.assign(dim, 0.0);
  return p;
}

bool Preprocessor::is_identity() const {
  return !config_.contrast_norm && config_.whiten == Whiten::None;
}

Preprocessor Preprocessor::fit(const PreprocessConfig& config, const float* rows, int64_t n,
                               int d) {
  validate_config(config);
  ZAE_REQUIRE(d > 0, "cannot fit preprocessing on rows of ", d, " values: expected at least 1");
  ZAE_REQUIRE(n > 0, "cannot fit preprocessing on an empty training set");
  ZAE_REQUIRE(rows != nullptr, "cannot fit preprocessing: the training rows are null");
  check_finite(rows, n, d);

  Preprocessor p;
  p.config_ = config;
  p.input_dim_ = d;
  p.output_dim_ = d;
  p.mean.assign(d, 0.0);
  if (config.contrast_norm) p.contrast_reference = mean_row_std(rows, n, d);
  if (config.whiten == Whiten::None) return p;

  ZAE_REQUIRE(n >= 2, "cannot fit ", whiten_name(config.whiten), " whitening on ", n,
              " row: the covariance needs at least 2 rows (or use --whiten none)");
  const double scale_term = config.contrast_scale * p.contrast_reference;
  p.mean = column_means(rows, n, d, config.contrast_norm, scale_term);
  const std::vector<double> cov = covariance(rows, n, d, config.contrast_norm, scale_term, p.mean);

  std::vector<double> vectors;
  symmetric_eigen(cov, d, &p.eigenvalues, &vectors);
  const int k = kept_components(config, p.eigenvalues);

  // Per kept component: the whitening divides by sqrt(max(lambda, floor)).
  std::vector<double> root(k);
  for (int c = 0; c < k; ++c) root[c] = std::sqrt(std::max(p.eigenvalues[c], config.eigen_floor));

  if (config.whiten == Whiten::Pca) {
    // forward = diag(1 / root) V_K^T (k x d), backward = V_K diag(root) (d x k).
    p.output_dim_ = k;
    p.forward.resize(static_cast<size_t>(k) * d);
    p.backward.resize(static_cast<size_t>(d) * k);
    for (int c = 0; c < k; ++c) {
      const double* v = vectors.data() + static_cast<size_t>(c) * d;
      for (int j = 0; j < d; ++j) {
        p.forward[static_cast<size_t>(c) * d + j] = v[j] / root[c];
        p.backward[static_cast<size_t>(j) * k + c] = v[j] * root[c];
      }
    }
    return p;
  }

  // ZCA: forward = V_K diag(1 / root) V_K^T and backward = V_K diag(root) V_K^T, each built as
  // F F^T with F = V_K diag(root^(-1/2)) or V_K diag(root^(1/2)), so both are exactly symmetric.
  std::vector<double> shrink(static_cast<size_t>(d) * k);
  std::vector<double> grow(static_cast<size_t>(d) * k);
  for (int c = 0; c < k; ++c) {
    const double* v = vectors.data() + static_cast<size_t>(c) * d;
    const double half = std::sqrt(root[c]);
    for (int j = 0; j < d; ++j) {
      shrink[static_cast<size_t>(j) * k + c] = v[j] / half;
      grow[static_cast<size_t>(j) * k + c] = v[j] * half;
    }
  }
  p.forward = symmetric_product(shrink, d, k);
  p.backward = symmetric_product(grow, d, k);
  return p;
}

void Preprocessor::apply(const float* in, int64_t n, float* out) const {
  ZAE_REQUIRE(n >= 0, "invalid row count ", n, " for preprocessing");
  if (n == 0) return;
  ZAE_REQUIRE(in != out || input_dim_ == output_dim_, "preprocessing from ", input_dim_, " to ",
              output_dim_, " values per row cannot run in place");
  // Checked before anything is written, so `out` is untouched when the input is rejected.
  check_finite(in, n, input_dim_);
  const int d = input_dim_;

  if (is_identity()) {
    if (in != out) std::memmove(out, in, static_cast<size_t>(n) * d * sizeof(float));
    return;
  }

  const double scale_term = config_.contrast_scale * contrast_reference;
  if (config_.whiten == Whiten::None) {
    // Contrast normalisation only: row by row, each row read whole before it is overwritten.
#pragma omp parallel
    {
      std::vector<double> row(d);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < n; ++r) {
        normalise_row(in + r * d, d, scale_term, row.data());
        for (int j = 0; j < d; ++j) out[r * d + j] = static_cast<float>(row[j]);
      }
    }
    return;
  }

  // Whitening in double GEMMs. The transform runs once per data set, and its 2 N D K flops are
  // about a fifth of one training epoch (10 N D H flops) when H is close to K. So the slower
  // double GEMM is affordable, and its rounding stays far below float32 output precision even
  // where 1 / sqrt(lambda) makes the forward matrix ill-conditioned.
  const int k = output_dim_;
  const int64_t block = block_rows(std::max(d, k));
  std::vector<double> centred(static_cast<size_t>(std::min(block, n)) * d);
  std::vector<double> whitened(static_cast<size_t>(std::min(block, n)) * k);
  for (int64_t first = 0; first < n; first += block) {
    const int64_t count = std::min(block, n - first);
    load_block(in + first * d, count, d, config_.contrast_norm, scale_term, mean.data(),
               centred.data());
    // whitened (count x k) = centred (count x d) * forward^T (d x k).
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(count), k, d, 1.0,
                centred.data(), d, forward.data(), d, 0.0, whitened.data(), k);
    store_block(whitened.data(), count * k, out + first * k);
  }
}

void Preprocessor::unwhiten(const float* in, int64_t n, float* out) const {
  ZAE_REQUIRE(n >= 0, "invalid row count ", n, " for unwhitening");
  if (n == 0) return;
  ZAE_REQUIRE(in != out || input_dim_ == output_dim_, "unwhitening from ", output_dim_, " to ",
              input_dim_, " values per row cannot run in place");
  const int d = input_dim_;
  const int k = output_dim_;
  if (config_.whiten == Whiten::None) {
    if (in != out) std::memmove(out, in, static_cast<size_t>(n) * d * sizeof(float));
    return;
  }

  const int64_t block = block_rows(std::max(d, k));
  std::vector<double> whitened(static_cast<size_t>(std::min(block, n)) * k);
  std::vector<double> restored(static_cast<size_t>(std::min(block, n)) * d);
  for (int64_t first = 0; first < n; first += block) {
    const int64_t count = std::min(block, n - first);
    const float* source = in + first * k;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < count * k; ++i) whitened[i] = source[i];

    // restored (count x d) = whitened (count x k) * backward^T (k x d), plus the mean.
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(count), d, k, 1.0,
                whitened.data(), k, backward.data(), k, 0.0, restored.data(), d);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < count; ++r) {
      for (int j = 0; j < d; ++j) restored[r * d + j] += mean[j];
    }
    store_block(restored.data(), count * d, out + first * d);
  }
}

Preprocessor Preprocessor::from_state(const PreprocessConfig& config, int input_dim, int output_dim,
                                      double contrast_reference, std::vector<double> mean,
                                      std::vector<double> forward, std::vector<double> backward,
                                      std::vector<double> eigenvalues) {
  validate_config(config);
  ZAE_REQUIRE(input_dim > 0, "invalid preprocessing input dimension ", input_dim);
  ZAE_REQUIRE(output_dim > 0, "invalid preprocessing output dimension ", output_dim);
  ZAE_REQUIRE(std::isfinite(contrast_reference) && contrast_reference >= 0.0,
              "invalid preprocessing contrast reference ", contrast_reference,
              ": expected a finite value >= 0");
  ZAE_REQUIRE(mean.size() == static_cast<size_t>(input_dim), "preprocessing mean has ", mean.size(),
              " values, expected input dimension ", input_dim);
  ZAE_REQUIRE(all_finite(mean), "preprocessing mean contains a non-finite value");

  const size_t matrix_size = static_cast<size_t>(input_dim) * output_dim;
  if (config.whiten == Whiten::None) {
    ZAE_REQUIRE(output_dim == input_dim, "preprocessing without whitening maps ", input_dim,
                " inputs to ", output_dim, " outputs, expected the same count");
    ZAE_REQUIRE(forward.empty() && backward.empty() && eigenvalues.empty(),
                "preprocessing without whitening must have no whitening matrices or "
                "eigenvalues");
  } else {
    ZAE_REQUIRE(output_dim <= input_dim, whiten_name(config.whiten), " whitening maps ", input_dim,
                " inputs to ", output_dim, " outputs, expected at most ", input_dim);
    ZAE_REQUIRE(config.whiten != Whiten::Zca || output_dim == input_dim, "zca whitening maps ",
                input_dim, " inputs to ", output_dim, " outputs, expected the same count");
    ZAE_REQUIRE(forward.size() == matrix_size, "preprocessing forward matrix has ", forward.size(),
                " values, expected ", output_dim, " x ", input_dim);
    ZAE_REQUIRE(backward.size() == matrix_size, "preprocessing backward matrix has ",
                backward.size(), " values, expected ", input_dim, " x ", output_dim);
    ZAE_REQUIRE(eigenvalues.size() == static_cast<size_t>(input_dim), "preprocessing stores ",
                eigenvalues.size(), " eigenvalues, expected ", input_dim);
    ZAE_REQUIRE(all_finite(forward) && all_finite(backward) && all_finite(eigenvalues),
                "preprocessing whitening matrices or eigenvalues contain a non-finite value");
  }

  Preprocessor p;
  p.config_ = config;
  p.input_dim_ = input_dim;
  p.output_dim_ = output_dim;
  p.contrast_reference = contrast_reference;
  p.mean = std::move(mean);
  p.forward = std::move(forward);
  p.backward = std::move(backward);
  p.eigenvalues = std::move(eigenvalues);
  return p;
}

}  // namespace zae
