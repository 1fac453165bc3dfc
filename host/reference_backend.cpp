// The reference step: naive loops accumulating in double, one thread, no BLAS. It is the oracle
// that the CPU and CUDA paths are tested against, so it stays plain enough to check by eye.
//
// For a batch X (B x D) and W (H x D):
//   A = X W^T + b, Hh = f(A), R = Hh W + c, E = R - X, G = E W^T, dA = G * f'(A),
//   dW = Hh^T E + dA^T X (decoder path plus encoder path of the tied weights),
//   db = colsum(dA), dc = colsum(E), all divided by the batch size used for averaging.
#include <cmath>
#include <string>
#include <vector>

#include "zae/backend.hpp"
#include "zae/error.hpp"
#include "zae/host_backend_common.hpp"

namespace zae {
namespace {

class ReferenceBackend final : public HostBackend {
 public:
  explicit ReferenceBackend(const ModelConfig& config) : HostBackend(config) {
  }

  std::string name() const override { return "reference"; }

  void step(int64_t first, int rows, const StepOptions& options) override {
    check_step_range(order_, data_rows_, first, rows);
    const int D = config_.visible;
    std::vector<float> batch(static_cast<size_t>(rows) * D);
    for (int i = 0; i < rows; ++i) {
      const float* src = data_ + order_[first + i] * D;
      std::copy(src, src + D, batch.begin() + static_cast<size_t>(i) * D);
    }

    const int divisor = options.nominal_batch > 0 ? options.nominal_batch : rows;
    Pass pass = run(batch.data(), rows, divisor);
    record(pass.loss_sum, pass.active_count, rows);
    apply_update(pass, options);
  }

  Gradients compute_gradients(const float* batch, int rows) override {
    ZAE_REQUIRE(rows > 0, "compute_gradients needs at least one row");
    Pass pass = run(batch, rows, rows);
    Gradients g;
    g.grad = Params::zeros(config_);
    to_float(pass.dW, g.grad.W);
    to_float(pass.db, g.grad.b);
    to_float(pass.dc, g.grad.c);
    g.loss = pass.loss_sum / rows;
    to_float(pass.hidden, g.hidden);
    g.active = pass.active;
    return g;
  }

  void encode(const float* rows, int64_t n, float* out) override {
    const int D = config_.visible;
    const int H = config_.hidden;
    for (int64_t i = 0; i < n; ++i) {
      for (int j = 0; j < H; ++j) {
        const double a = preactivation(rows + i * D, j);
        out[i * H + j] = static_cast<float>(activate_d(config_.activation, a, config_.threshold));
      }
    }
  }

 private:
  // Gradient sums (already divided by the averaging divisor) and the forward quantities.
  struct Pass {
    std::vector<double> dW, db, dc, hidden;
    std::vector<uint8_t> active;
    double loss_sum = 0.0;
    int64_t active_count = 0;
  };

  double preactivation(const float* x, int j) const {
    const int D = config_.visible;
    double a = config_.hidden_bias() ? params_.b[j] : 0.0;
    for (int k = 0; k < D; ++k) a += double(x[k]) * double(params_.W[size_t(j) * D + k]);
    return a;
  }

  Pass run(const float* X, int B, int divisor) const {
    const int D = config_.visible;
    const int H = config_.hidden;
    const double theta = config_.threshold;
    const Activation act = config_.activation;
    const std::vector<float>& W = params_.W;
    Pass p;
    p.dW.assign(size_t(H) * D, 0.0);
    p.db.assign(config_.hidden_bias() ? H : 0, 0.0);
    p.dc.assign(config_.visible_bias ? D : 0, 0.0);
    p.hidden.assign(size_t(B) * H, 0.0);
    p.active.assign(size_t(B) * H, 0);

    std::vector<double> a(H), h(H), e(D), g(H), da(H);
    for (int i = 0; i < B; ++i) {
      const float* x = X + size_t(i) * D;

      // Encoder: A = x W^T + b, Hh = f(A).
      for (int j = 0; j < H; ++j) {
        a[j] = preactivation(x, j);
        h[j] = activate_d(act, a[j], theta);
        p.hidden[size_t(i) * H + j] = h[j];
        p.active[size_t(i) * H + j] = is_active_d(act, a[j], theta) ? 1 : 0;
        p.active_count += p.active[size_t(i) * H + j];
      }

      // Decoder and error: E = Hh W + c - x.
      double row_loss = 0.0;
      for (int k = 0; k < D; ++k) {
        double r = config_.visible_bias ? params_.c[k] : 0.0;
        for (int j = 0; j < H; ++j) r += h[j] * double(W[size_t(j) * D + k]);
        e[k] = r - double(x[k]);
        row_loss += 0.5 * e[k] * e[k];
      }
      p.loss_sum += row_loss;

      // Back through the decoder into the code: G = E W^T, dA = G * f'(A).
      for (int j = 0; j < H; ++j) {
        double s = 0.0;
        for (int k = 0; k < D; ++k) s += e[k] * double(W[size_t(j) * D + k]);
        g[j] = s;
        da[j] = s * derivative_d(act, a[j], h[j], theta);
      }

      // Tied weights: the decoder path Hh^T E plus the encoder path dA^T X.
      for (int j = 0; j < H; ++j) {
        for (int k = 0; k < D; ++k) {
          p.dW[size_t(j) * D + k] += h[j] * e[k] + da[j] * double(x[k]);
        }
      }
      for (size_t j = 0; j < p.db.size(); ++j) p.db[j] += da[j];
      for (size_t k = 0; k < p.dc.size(); ++k) p.dc[k] += e[k];
    }

    for (double& v : p.dW) v /= divisor;
    for (double& v : p.db) v /= divisor;
    for (double& v : p.dc) v /= divisor;
    return p;
  }

  void apply_update(const Pass& pass, const StepOptions& o) {
    update_tensor(params_.W, velocity_.W, pass.dW, o, o.weight_decay);
    update_tensor(params_.b, velocity_.b, pass.db, o, 0.0);
    update_tensor(params_.c, velocity_.c, pass.dc, o, 0.0);
  }

  static void update_tensor(std::vector<float>& p, std::vector<float>& v,
                            const std::vector<double>& grad, const StepOptions& o,
                            double decay) {
    for (size_t i = 0; i < p.size(); ++i) {
      const double g = grad[i] + decay * double(p[i]);
      const double vi = double(o.momentum) * double(v[i]) - double(o.learning_rate) * g;
      v[i] = static_cast<float>(vi);
      p[i] = static_cast<float>(double(p[i]) + double(v[i]));
    }
  }

  static void to_float(const std::vector<double>& in, std::vector<float>& out) {
    out.resize(in.size());
    for (size_t i = 0; i < in.size(); ++i) out[i] = static_cast<float>(in[i]);
  }

};

}  // namespace

std::unique_ptr<Backend> make_reference_backend(const ModelConfig& config) {
  return std::make_unique<ReferenceBackend>(config);
}

}  // namespace zae
