// The tied-weight autoencoder: shapes, parameters and the per-step options.
//
// Layout: a minibatch X is B x D row-major (one patch per row); W is H x D row-major (one
// filter per row); b has H entries (baselines only); c has D entries (optional visible bias).
//   A = X W^T + b,  Hh = f(A),  R = Hh W + c,  E = R - X,
//   loss = (1/B) sum_rows 0.5 ||E_row||^2.
#pragma once

#include <cstdint>
#include <vector>

#include "zae/activation.hpp"

namespace zae {

struct ModelConfig {
  int visible = 0;  // D
  int hidden = 0;   // H
  Activation activation = Activation::TRec;
  float threshold = 1.0f;  // theta for TRec and TLin
  bool visible_bias = true;

  bool hidden_bias() const { return has_hidden_bias(activation); }
  // Throws zae::Error naming the field when a size is not positive or theta is not finite.
  void validate() const;
};

// Weights and biases, or their velocities or gradients, which share the layout.
struct Params {
  std::vector<float> W;  // H x D
  std::vector<float> b;  // H, empty when the model has no hidden bias
  std::vector<float> c;  // D, empty when the model has no visible bias

  // Zero-filled tensors with the shapes that `config` calls for.
  static Params zeros(const ModelConfig& config);
};

// Options of one SGD step: gradient g, v = momentum * v - lr * g, p += v.
struct StepOptions {
  float learning_rate = 0.0f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;  // adds weight_decay * W to the gradient of W, not to the biases
  // The gradient of a batch of `rows` rows is the sum of per-row gradients divided by
  // nominal_batch, so a final partial batch moves the weights in proportion to its size.
  int nominal_batch = 0;
};

// Per-step record returned by the backends: mean loss over the batch rows, the fraction of
// hidden units that were active (f'(a) != 0) over the batch, and the number of rows.
struct StepRecord {
  double loss = 0.0;
  double active_fraction = 0.0;
  int rows = 0;
};

}  // namespace zae
