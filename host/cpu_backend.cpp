// The CPU step: four cblas_sgemm calls (the two weight-gradient GEMMs run as one with K = 2B)
// and fused OpenMP passes around them. Deterministic for a fixed thread count: every OpenMP
// loop uses a static schedule and every reduction runs in a fixed order.
//
// Buffers, all row-major and sized for the largest batch seen:
//   stack_x  2B x D : rows [0, b) hold E, rows [b, 2b) the gathered batch X
//   stack_h  2B x H : rows [0, b) hold Hh = f(A), rows [b, 2b) hold G and then dA in place
//   pre      B x H  : the pre-activations A without the hidden bias (GEMM output only)
//   active   B x H  : 1 where f'(A) != 0
//   grad_w   H x D  : dW for compute_gradients; a training step writes mu v - lr dW into the
//                    velocity of W instead, so the momentum update rides on the GEMM
// Stacking lets dW = [Hh; dA]^T [E; X] / nb run as a single GEMM.
#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include <cblas.h>
#include <omp.h>

#include "zae/backend.hpp"
#include "zae/error.hpp"
#include "zae/host_backend_common.hpp"

namespace zae {
namespace {

// Calls f with std::integral_constant<Activation, act>, so that hot loops see the activation
// as a compile-time constant and vectorise.
template <typename F>
void with_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::TRec: f(std::integral_constant<Activation, Activation::TRec>{}); break;
    case Activation::TLin: f(std::integral_constant<Activation, Activation::TLin>{}); break;
    case Activation::ReLU: f(std::integral_constant<Activation, Activation::ReLU>{}); break;
    case Activation::Sigmoid: f(std::integral_constant<Activation, Activation::Sigmoid>{}); break;
    case Activation::Linear: f(std::integral_constant<Activation, Activation::Linear>{}); break;
  }
}

// Element counts below this run on one thread: waking the team costs more than the loop, and
// on a busy machine a descheduled team member can stall a small step for milliseconds.
constexpr int64_t kParallelMinElements = 32768;

bool worth_parallel(int64_t elements) { return elements >= kParallelMinElements; }

class CpuBackend final : public HostBackend {
 public:
  explicit CpuBackend(const ModelConfig& config) : HostBackend(config) {
    grad_w_.resize(params_.W.size());
    grad_b_.resize(params_.b.size());
    grad_c_.resize(params_.c.size());
  }

  std::string name() const override { return "cpu"; }

  void step(int64_t first, int rows, const StepOptions& options) override {
    check_step_range(order_, data_rows_, first, rows);
    reserve(rows);
    gather(first, rows);
    const int divisor = options.nominal_batch > 0 ? options.nominal_batch : rows;
    const Totals totals = forward_backward(rows, divisor, &options);
    record(totals.loss_sum, totals.active_count, rows);
    update(options);
  }

  Gradients compute_gradients(const float* batch, int rows) override {
    ZAE_REQUIRE(rows > 0, "compute_gradients needs at least one row");
    reserve(rows);
    const int D = config_.visible;
    const int H = config_.hidden;
    std::memcpy(stack_x_.data() + size_t(rows) * D, batch, sizeof(float) * size_t(rows) * D);
    const Totals totals = forward_backward(rows, rows, nullptr);

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
#pragma omp parallel for schedule(static) if (worth_parallel(int64_t(rows) * D))
    for (int i = 0; i < rows; ++i) {
      std::memcpy(x + size_t(i) * D, data + idx[i] * D, sizeof(float) * D);
    }
  }

  // Fills grad_b_/grad_c_ (divided by `divisor`) and the forward buffers for the batch in the
  // lower half of stack_x. With `fused` (a training step) the weight gradient goes straight
  // into the velocity of W; without it (compute_gradients) into grad_w_.
  Totals forward_backward(int B, int divisor, const StepOptions* fused) {
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
    int* row_active = row_active_.data();
    const bool parallel_hidden = worth_parallel(int64_t(B) * H);
    with_activation(act, [=](auto tag) {
      constexpr Activation kAct = decltype(tag)::value;
#pragma omp parallel for schedule(static) if (parallel_hidden)
      for (int i = 0; i < B; ++i) {
        // Restrict-qualified rows, values captured by copy and a compile-time activation let
        // the compiler vectorise this loop (about 10x faster here): the byte mask could
        // otherwise alias the float rows and the captured references.
        float* __restrict a_row = A + size_t(i) * H;
        float* __restrict h_row = Hh + size_t(i) * H;
        uint8_t* __restrict m_row = mask + size_t(i) * H;
        if (bias != nullptr) {
          for (int j = 0; j < H; ++j) a_row[j] += bias[j];
        }
        int count = 0;
        for (int j = 0; j < H; ++j) {
          const float a = a_row[j];
          h_row[j] = activate(kAct, a, theta);
          const bool on = is_active(kAct, a, theta);
          m_row[j] = on ? 1 : 0;
          count += on ? 1 : 0;
        }
        row_active[i] = count;
      }
    });

    // R = Hh W, written into the E half of stack_x.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, H, 1.0f, Hh, H, W, D, 0.0f, E,
                D);

    // Fused: E = R + c - X, per-row 0.5 ||E_row||^2 in double, and colsum(E) for dc.
    const float* c = config_.visible_bias ? params_.c.data() : nullptr;
    const bool want_dc = !grad_c_.empty();
    const int threads = omp_get_max_threads();
    partial_.assign(size_t(threads) * std::max(D, H), 0.0);
#pragma omp parallel num_threads(threads) if (worth_parallel(int64_t(B) * D))
    {
      double* part = partial_.data() + size_t(omp_get_thread_num()) * D;
#pragma omp for schedule(static)
      for (int i = 0; i < B; ++i) {
        double sum = 0.0;
        float* __restrict e = E + size_t(i) * D;
        const float* __restrict x = X + size_t(i) * D;
        for (int k = 0; k < D; ++k) {
          const float v = e[k] + (c ? c[k] : 0.0f) - x[k];
          e[k] = v;
          sum += 0.5 * double(v) * double(v);
          if (want_dc) part[k] += v;
        }
        row_loss_[i] = sum;
      }
    }
    const float scale = 1.0f / float(divisor);
    if (want_dc) reduce_partials(threads, D, scale, grad_c_);

    // G = E W^T into the dA half of stack_h, then dA = G * f'(A) in place, with colsum(dA)
    // for db.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, D, 1.0f, E, D, W, D, 0.0f, dA,
                H);
    const bool want_db = !grad_b_.empty();
    with_activation(act, [=](auto tag) {
      constexpr Activation kAct = decltype(tag)::value;
#pragma omp parallel for schedule(static) if (parallel_hidden)
      for (int i = 0; i < B; ++i) {
        float* __restrict d_row = dA + size_t(i) * H;
        const float* __restrict h_row = Hh + size_t(i) * H;
        const uint8_t* __restrict m_row = mask + size_t(i) * H;
        for (int j = 0; j < H; ++j) {
          d_row[j] *= derivative_from_mask(kAct, m_row[j] != 0, h_row[j]);
        }
      }
    });
    if (want_db) {
      std::fill(partial_.begin(), partial_.end(), 0.0);
#pragma omp parallel num_threads(threads) if (parallel_hidden)
      {
        double* __restrict part = partial_.data() + size_t(omp_get_thread_num()) * H;
#pragma omp for schedule(static)
        for (int i = 0; i < B; ++i) {
          const float* __restrict d_row = dA + size_t(i) * H;
          for (int j = 0; j < H; ++j) part[j] += d_row[j];
        }
      }
    }
    if (want_db) reduce_partials(threads, H, scale, grad_b_);

    // dW as one GEMM over the stacked buffers, K = 2B. A training step folds the momentum in:
    // v.W = mu * v.W - (lr / divisor) * (Hh^T E + dA^T X); otherwise dW = (...) / divisor.
    if (fused != nullptr) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, 2 * B,
                  -fused->learning_rate * scale, Hh, H, E, D, fused->momentum,
                  velocity_.W.data(), D);
    } else {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, 2 * B, scale, Hh, H, E, D, 0.0f,
                  grad_w_.data(), D);
    }

    Totals totals;
    for (int i = 0; i < B; ++i) {
      totals.loss_sum += row_loss_[i];
      totals.active_count += row_active_[i];
    }
    return totals;
  }

  // out[j] = scale * sum over threads t (in order) of partial_[t][j]: the column sums of the
  // rows each thread handled, combined in a fixed order.
  void reduce_partials(int threads, int cols, float scale, std::vector<float>& out) {
    for (int j = 0; j < cols; ++j) {
      double sum = 0.0;
      for (int t = 0; t < threads; ++t) sum += partial_[size_t(t) * cols + j];
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
#pragma omp parallel for schedule(static) if (worth_parallel(n))
    for (int64_t i = 0; i < n; ++i) {
      const float grad = gp[i] + decay * pp[i];
      const float vel = mu * vp[i] - lr * grad;
      vp[i] = vel;
      pp[i] += vel;
    }
  }

  // W += v.W after the dW GEMM has written v.W = mu v.W - lr dW; weight decay adds its part
  // of the velocity here, where W still has its value from before the step.
  void update_weights(const StepOptions& o) {
    const int64_t n = static_cast<int64_t>(params_.W.size());
    float* w = params_.W.data();
    float* v = velocity_.W.data();
    const float decay = o.learning_rate * o.weight_decay;
    if (decay != 0.0f) {
#pragma omp parallel for schedule(static) if (worth_parallel(n))
      for (int64_t i = 0; i < n; ++i) {
        const float vel = v[i] - decay * w[i];
        v[i] = vel;
        w[i] += vel;
      }
    } else {
#pragma omp parallel for schedule(static) if (worth_parallel(n))
      for (int64_t i = 0; i < n; ++i) w[i] += v[i];
    }
  }

  void update(const StepOptions& o) {
    update_weights(o);
    update_tensor(params_.b, velocity_.b, grad_b_, o, 0.0f);
    update_tensor(params_.c, velocity_.c, grad_c_, o, 0.0f);
  }

  std::vector<float> grad_w_, grad_b_, grad_c_;
  std::vector<float> stack_x_, stack_h_, pre_;
  std::vector<uint8_t> active_;
  std::vector<double> row_loss_;
  std::vector<double> partial_;  // per-thread column sums, threads x max(D, H)
  std::vector<int> row_active_;
  int capacity_ = 0;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& config) {
  return std::make_unique<CpuBackend>(config);
}

}  // namespace zae
