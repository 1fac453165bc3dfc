// Per-element operations of the CUDA step, written once for host and device. The kernels in
// kernels.cu call them from grid-stride loops. The CPU emulation test calls them from plain
// loops, so the index arithmetic below runs on every machine, GPU or not.
//
// All matrices are row-major; i is the flat element index, so the column of element i of a
// matrix with `cols` columns is i % cols and its row is i / cols.
#pragma once

#include <cstdint>

#include "zae/activation.hpp"
#include "zae/hostdevice.hpp"

namespace zae::cuda {

// Gathers row order[first + i / visible] of `data` into the batch: x[i] for i < rows * visible.
ZAE_HD void gather_element(int64_t i, int visible, const float* data, const int64_t* order,
                           int64_t first, float* x) {
  const int64_t row = i / visible;
  const int64_t col = i % visible;
  x[i] = data[order[first + row] * visible + col];
}

// Adds the hidden bias b (nullptr when the model has none) to the pre-activation pre[i] in
// place, writes h[i] = f(a) and active[i] = 1 where f'(a) != 0. Returns active[i].
ZAE_HD unsigned hidden_element(int64_t i, int hidden, Activation activation, float threshold,
                               const float* b, float* pre, float* h, uint8_t* active) {
  float a = pre[i];
  if (b != nullptr) {
    a += b[i % hidden];
    pre[i] = a;
  }
  h[i] = activate(activation, a, threshold);
  const unsigned on = is_active(activation, a, threshold) ? 1u : 0u;
  active[i] = static_cast<uint8_t>(on);
  return on;
}

// Turns the reconstruction r = e[i] into the error e[i] = r + c - x in place (c is nullptr
// without a visible bias). Returns the error.
ZAE_HD float error_element(int64_t i, int visible, const float* c, const float* x, float* e) {
  float r = e[i];
  if (c != nullptr) r += c[i % visible];
  const float err = r - x[i];
  e[i] = err;
  return err;
}

// Masks the back-propagated gradient in place: g[i] = g[i] * f'(pre[i]), with h = f(pre).
ZAE_HD void hidden_gradient_element(int64_t i, Activation activation, float threshold,
                                    const float* pre, const float* h, float* g) {
  g[i] *= derivative(activation, pre[i], h[i], threshold);
}

// One parameter tensor for the SGD update: value, velocity, gradient, element count, and the
// weight decay that joins the gradient (zero for the biases).
struct SgdTensor {
  float* value = nullptr;
  float* velocity = nullptr;
  const float* gradient = nullptr;
  int64_t size = 0;
  float decay = 0.0f;
};

// W, b and c, updated by one launch; absent tensors have size 0.
struct SgdTensors {
  SgdTensor part[3];
  int64_t total() const { return part[0].size + part[1].size + part[2].size; }
};

// Momentum SGD on element i of the concatenation W, b, c:
// v = momentum * v - lr * (g + decay * p), p += v.
ZAE_HD void sgd_element(int64_t i, const SgdTensors& tensors, float learning_rate,
                        float momentum) {
  int k = 0;
  while (i >= tensors.part[k].size) {
    i -= tensors.part[k].size;
    ++k;
  }
  const SgdTensor& t = tensors.part[k];
  const float gradient = t.gradient[i] + t.decay * t.value[i];
  const float velocity = momentum * t.velocity[i] - learning_rate * gradient;
  t.velocity[i] = velocity;
  t.value[i] += velocity;
}

}  // namespace zae::cuda
