// Whole-step throughput of the CPU backend against the ceiling of its GEMMs alone.
//
// Usage: cpu_step [D H B] [repeats]   (default 192 1024 256, 30 repeats)
// Validates one step's gradients against the reference first, warms up, then reports the
// median step time, the median time of the step's five sgemm calls run alone (A = X W^T,
// R = Hh W, G = E W^T, and Hh^T E, dA^T X), and their ratio: the share of the GEMM ceiling
// that the fused step reaches. A step performs 10 * B * D * H flops.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include <cblas.h>
#include <omp.h>

#include "zae/backend.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<float> normal(size_t n, unsigned seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const int D = argc > 3 ? std::atoi(argv[1]) : 192;
  const int H = argc > 3 ? std::atoi(argv[2]) : 1024;
  const int B = argc > 3 ? std::atoi(argv[3]) : 256;
  const int repeats = argc > 4 ? std::atoi(argv[4]) : (argc == 2 ? std::atoi(argv[1]) : 30);
  if (D <= 0 || H <= 0 || B <= 0 || repeats <= 0) {
    std::fprintf(stderr, "usage: cpu_step [D H B] [repeats]\n");
    return 2;
  }

  zae::ModelConfig model;
  model.visible = D;
  model.hidden = H;
  model.activation = zae::Activation::TRec;
  model.visible_bias = true;
  zae::Params params = zae::Params::zeros(model);
  params.W = normal(params.W.size(), 1, 1.5f / std::sqrt(float(D)));
  const int rows = B * 8;
  std::vector<float> data = normal(size_t(rows) * D, 2, 1.0f);

  // Validate: CPU gradients against the reference on one batch (a few units near the threshold
  // may flip between float32 and float64, so compare the weight gradient in norm).
  {
    auto ref = zae::make_reference_backend(model);
    auto cpu = zae::make_cpu_backend(model);
    ref->set_state(params, zae::Params::zeros(model));
    cpu->set_state(params, zae::Params::zeros(model));
    const int check_rows = std::min(B, 32);
    const zae::Gradients gr = ref->compute_gradients(data.data(), check_rows);
    const zae::Gradients gc = cpu->compute_gradients(data.data(), check_rows);
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < gr.grad.W.size(); ++i) {
      diff += std::pow(double(gr.grad.W[i]) - gc.grad.W[i], 2);
      norm += std::pow(double(gr.grad.W[i]), 2);
    }
    const double rel = std::sqrt(diff / std::max(norm, 1e-300));
    std::printf("validation: relative dW error vs reference %.2e (%d rows)\n", rel, check_rows);
    if (!(rel < 1e-3) || norm == 0.0) {
      std::fprintf(stderr, "validation failed: the CPU step disagrees with the reference\n");
      return 1;
    }
  }

  auto cpu = zae::make_cpu_backend(model);
  cpu->set_state(params, zae::Params::zeros(model));
  cpu->set_data(data.data(), rows);
  std::vector<int64_t> order(rows);
  for (int i = 0; i < rows; ++i) order[i] = i;
  cpu->set_order(order);
  const zae::StepOptions options{1e-4f, 0.9f, 0.0f, B};

  std::vector<double> step_times;
  for (int r = 0; r < repeats + 3; ++r) {
    const auto t0 = Clock::now();
    cpu->step(int64_t(r % 8) * B, B, options);
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r >= 3) step_times.push_back(t);
  }
  cpu->take_records();

  // The five GEMMs alone, on buffers of the same shapes.
  std::vector<float> X = normal(size_t(B) * D, 3, 1.0f), W = params.W;
  std::vector<float> A(size_t(B) * H), R(size_t(B) * D), G(size_t(B) * H), dW(size_t(H) * D);
  std::vector<double> gemm_times;
  for (int r = 0; r < repeats + 3; ++r) {
    const auto t0 = Clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, D, 1.0f, X.data(), D, W.data(), D,
                0.0f, A.data(), H);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, D, H, 1.0f, A.data(), H, W.data(),
                D, 0.0f, R.data(), D);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, D, 1.0f, R.data(), D, W.data(), D,
                0.0f, G.data(), H);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, B, 1.0f, A.data(), H, R.data(), D,
                0.0f, dW.data(), D);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, H, D, B, 1.0f, G.data(), H, X.data(), D,
                1.0f, dW.data(), D);
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (r >= 3) gemm_times.push_back(t);
  }

  const double step = median(step_times);
  const double gemm = median(gemm_times);
  const double flops = 10.0 * B * double(D) * H;
  std::printf("shape D=%d H=%d B=%d, %d threads, %d repeats (medians)\n", D, H, B,
              omp_get_max_threads(), repeats);
  std::printf("step        %9.3f ms  %8.2f GFLOP/s  %10.0f samples/s\n", step * 1e3,
              flops / step * 1e-9, B / step);
  std::printf("sgemm x5    %9.3f ms  %8.2f GFLOP/s\n", gemm * 1e3, flops / gemm * 1e-9);
  std::printf("ratio step/gemm-ceiling %.3f\n", gemm / step);
  return 0;
}
