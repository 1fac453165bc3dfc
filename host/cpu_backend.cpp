// The CPU step: four cblas_sgemm calls (the two weight-gradient GEMMs run as one with K = 2B)
// and fused OpenMP passes around them. Deterministic for a fixed thread count: every OpenMP
// loop uses a static schedule and every reduction runs in a fixed order.
//
// Buffers, all row-major and sized for the largest batch seen:
//   stack_x  2B x D : rows [0, b) hold E, rows [b, 2b) the gathered batch X
//   stack_h  2B x H : rows [0, b) hold Hh = f(A), rows [b, 2b) hold G and then dA in place
//   pre      B x H  : the pre-activations A (with the hidden bias added)
//   active   B x H  : 1 where f'(A) != 0
//   grad_w   H x D  : dW, overwritten each step
// Stacking lets dW = [Hh; dA]^T [E; X] / nb run as a single GEMM.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <cblas.h>
#include <omp.h>

#include "zae/backend.hpp"
#include "zae/error.hpp"
#include "zae/host_backend_common.hpp"

namespace zae {
namespace {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(const ModelConfig& config)
      : config_(config), params_(Params::zeros(config)), velocity_(Params::zeros(config)) {
    config_.validate();
    grad_w_.resize(params_.W.size());
    grad_b_.resize(params_.b.size());
    grad_c_.resize(params_.c.size());
  }

  std::string name() const override { return "cpu"; }
  const ModelConfig& config() const override { return config_; }

  void set_state(const Params& params, const Params& velocity) override {
    check_params_shape(config_, params, "parameters");
    check_params_shape(config_, velocity, "velocities");
    params_ = params;
    velocity_ = velocity;
  }

  void get_state(Params& params, Params& velocity) override {
    params = params_;
    velocity = velocity_;
  }

  void set_data(const float* rows, int64_t n) override {
    data_ = rows;
    data_rows_ = n;
  }

  void set_order(const std::vector<int64_t>& order) override { order_ = order; }

  void step(int64_t first, int rows, const StepOptions& options) override {
    check_step_range(order_, data_rows_, first, rows);
    reserve(rows);
    gather(first, rows);
    const int divisor = options.nominal_batch > 0 ? options.nominal_batch : rows;
    const Totals totals = forward_backward(rows, divisor);
    records_.push_back({totals.loss_sum / rows,
                        double(totals.active_count) / (double(rows) * config_.hidden), rows});
    update(options);
  }

  std::vector<StepRecord> take_records() override {
    std::vector<StepRecord> out;
    out.swap(records_);
    return out;
  }

  Gradients compute_gradients(const float* batch, int rows) override {
    ZAE_REQUIRE(rows > 0, "compute_gradients needs at least one row");
    reserve(rows);
    const int D = config_.visible;
    const int H = config_.hidden;
    std::memcpy(stack_x_.data() + size_t(rows) * D, batch, sizeof(float) * size_t(rows) * D);
    const Totals totals = forward_backward(rows, rows);

    Gradients g;
    g.grad.W = grad_w_;
    g.grad.b = grad_b_;
    g.grad.c = grad_c_;
    g.loss = totals.loss_sum / rows;
    g.hidden.assign(stack_h_.begin(), stack_h_.begin() + size_t(rows) * H);
    g.active.assign(active_.begin(), active_.begin() + size_t(rows) * H);
    return g;
  }

  void encode(const float* rows, int64_t n, float* out) override {
    const int D = config_.visible;
    const int H = config_.hidden;
    const int64_t chunk = 4096;
    for (int64_t start = 0; start < n; start += chunk) {
      const int64_t m = std::min(chunk, n - start);
      float* a = out + start * H;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), H, D, 1.0f, rows + start * D,
                  D, params_.W.data(), D, 0.0f, a, H);
      const float* b = config_.hidden_bias() ? params_.b.data() : nullptr;
      const Activation act = config_.activation;
      const float theta = config_.threshold;
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < m; ++i) {
        for (int j = 0; j < H; ++j) {
          const float pre = a[i * H + j] + (b ? b[j] : 0.0f);
          a[i * H + j] = activate(act, pre, theta);
        }
      }
    }
  }

 private:
  struct Totals {
    double loss_sum = 0.0;
    int64_t active_count = 0;
  };

  void reserve(int rows) {
    if (rows <= capacity_) return;
    capacity_ = rows;
    const size_t D = config_.visible;
    const size_t H = config_.hidden;
    stack_x_.assign(2 * size_t(rows) * D, 0.0f);
    stack_h_.assign(2 * size_t(rows) * H, 0.0f);
    pre_.assign(size_t(rows) * H, 0.0f);
    active_.assign(size_t(rows) * H, 0);
    row_loss_.assign(rows, 0.0);
    row_active_.assign(rows, 0);
  }

  // Copies the batch rows into the lower half of stack_x.
  void gather(int64_t first, int rows) {
    const int D = config_.visible;
    float* x = stack_x_.data() + size_t(rows) * D;
    const int64_t* idx = order_.data() + first;
    const float* data = data_;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < rows; ++i) {
      std::memcpy(x + size_t(i) * D, data + idx[i] * D, sizeof(float) * D);
    }
  }

  // Fills grad_w_/grad_b_/grad_c_ (divided by `divisor`) and the forward buffers for the
  // batch in the lower half of stack_x.
  Totals forward_backward(int B, int divisor) {
    const int D = config_.visible;
    const int H = config_.hidden;
    const Activation act = config_.activation;
    const float theta = config_.threshold;
    const float* W = params_.W.data();
    float* E = stack_x_.data();
    const float* X = stack_x_.data() + size_t(B) * D;
    float* Hh = stack_h_.data();
    float* dA = stack_h_.data() + size_t(B) * H;
    float* A = pre_.data();
    uint8_t* mask = active_.data();

    // A = X W^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, D, 1.0f, X, D, W, D, 0.0f, A, H);

    // Fused: A += b, Hh = f(A), mask = f'(A) != 0, active counts per row.
    const float* bias = config_.hidden_bias() ? params_.b.data() : nullptr;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < B; ++i) {
      int64_t count = 0;
      for (int j = 0; j < H; ++j) {
        const size_t at = size_t(i) * H + j;
        const float a = A[at] + (bias ? bias[j] : 0.0f);
        A[at] = a;
        Hh[at] = activate(act, a, theta);
        const bool on = is_active(act, a, theta);
        mask[at] = on ? 1 : 0;
        count += on;
      }
      row_active_[i] = count;
    }

    // R = Hh W, written into the E half of stack_x.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, H, 1.0f, Hh, H, W, D, 0.0f, E,
                D);

    // Fused: E = R + c - X and per-row 0.5 ||E_row||^2 in double.
    const float* c = config_.visible_bias ? params_.c.data() : nullptr;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < B; ++i) {
      double sum = 0.0;
      float* e = E + size_t(i) * D;
      const float* x = X + size_t(i) * D;
      for (int k = 0; k < D; ++k) {
        const float v = e[k] + (c ? c[k] : 0.0f) - x[k];
        e[k] = v;
        sum += 0.5 * double(v) * double(v);
      }
      row_loss_[i] = sum;
    }

    // G = E W^T into the dA half of stack_h, then dA = G * f'(A) in place.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, D, 1.0f, E, D, W, D, 0.0f, dA,
                H);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < B; ++i) {
      for (int j = 0; j < H; ++j) {
        const size_t at = size_t(i) * H + j;
        dA[at] *= derivative(act, A[at], Hh[at], theta);
      }
    }

    // dW = (Hh^T E + dA^T X) / divisor as one GEMM over the stacked buffers, K = 2B.
    const float scale = 1.0f / float(divisor);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, 2 * B, scale, Hh, H, E, D, 0.0f,
                grad_w_.data(), D);

    // db = colsum(dA) / divisor, dc = colsum(E) / divisor, rows summed in order.
    column_sums(dA, B, H, scale, grad_b_);
    column_sums(E, B, D, scale, grad_c_);

    Totals totals;
    for (int i = 0; i < B; ++i) {
      totals.loss_sum += row_loss_[i];
      totals.active_count += row_active_[i];
    }
    return totals;
  }

  // out[j] = scale * sum_i M[i][j] for the columns of a B x cols matrix; no-op when out is
  // empty (the model has no such bias).
  static void column_sums(const float* M, int B, int cols, float scale, std::vector<float>& out) {
    if (out.empty()) return;
#pragma omp parallel for schedule(static)
    for (int j = 0; j < cols; ++j) {
      double sum = 0.0;
      for (int i = 0; i < B; ++i) sum += M[size_t(i) * cols + j];
      out[j] = float(sum) * scale;
    }
  }

  // Fused momentum pass: g += decay * p; v = mu * v - lr * g; p += v.
  static void update_tensor(std::vector<float>& p, std::vector<float>& v,
                            const std::vector<float>& g, const StepOptions& o, float decay) {
    const int64_t n = static_cast<int64_t>(p.size());
    const float mu = o.momentum;
    const float lr = o.learning_rate;
    float* pp = p.data();
    float* vp = v.data();
    const float* gp = g.data();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) {
      const float grad = gp[i] + decay * pp[i];
      const float vel = mu * vp[i] - lr * grad;
      vp[i] = vel;
      pp[i] += vel;
    }
  }

  void update(const StepOptions& o) {
    update_tensor(params_.W, velocity_.W, grad_w_, o, o.weight_decay);
    update_tensor(params_.b, velocity_.b, grad_b_, o, 0.0f);
    update_tensor(params_.c, velocity_.c, grad_c_, o, 0.0f);
  }

  ModelConfig config_;
  Params params_;
  Params velocity_;
  std::vector<float> grad_w_, grad_b_, grad_c_;
  std::vector<float> stack_x_, stack_h_, pre_;
  std::vector<uint8_t> active_;
  std::vector<double> row_loss_;
  std::vector<int64_t> row_active_;
  int capacity_ = 0;
  const float* data_ = nullptr;
  int64_t data_rows_ = 0;
  std::vector<int64_t> order_;
  std::vector<StepRecord> records_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& config) {
  return std::make_unique<CpuBackend>(config);
}

}  // namespace zae
