// Hidden-unit activations and their derivatives, callable from host and device.
//
// Zero-bias units (no hidden bias): TRec f(a) = a if a > theta else 0, TLin f(a) = a if
// |a| > theta else 0. Baselines with a hidden bias: ReLU, sigmoid, linear. Comparisons are
// strict, so a == theta is inactive, and the derivative is 1 on active units and 0 elsewhere,
// in training and in encoding alike.
#pragma once

#include <cmath>
#include <string>

#include "zae/hostdevice.hpp"

namespace zae {

enum class Activation : int { TRec = 0, TLin = 1, ReLU = 2, Sigmoid = 3, Linear = 4 };

// True for the baselines, which train a hidden bias b; the zero-bias units have none.
ZAE_HD bool has_hidden_bias(Activation act) {
  return act == Activation::ReLU || act == Activation::Sigmoid || act == Activation::Linear;
}

// True where the unit passes gradient: f'(a) != 0. Sigmoid and linear units are always active.
ZAE_HD bool is_active(Activation act, float a, float theta) {
  switch (act) {
    case Activation::TRec: return a > theta;
    case Activation::TLin: return a > theta || a < -theta;
    case Activation::ReLU: return a > 0.0f;
    default: return true;
  }
}

ZAE_HD float activate(Activation act, float a, float theta) {
  switch (act) {
    case Activation::TRec: return a > theta ? a : 0.0f;
    case Activation::TLin: return (a > theta || a < -theta) ? a : 0.0f;
    case Activation::ReLU: return a > 0.0f ? a : 0.0f;
    case Activation::Sigmoid: return 1.0f / (1.0f + expf(-a));
    default: return a;
  }
}

// f'(a) from the active flag is_active(a) and the output h = f(a), so that a fused pass can
// keep a one-byte mask instead of the pre-activations.
ZAE_HD float derivative_from_mask(Activation act, bool active, float h) {
  switch (act) {
    case Activation::Sigmoid: return h * (1.0f - h);
    case Activation::Linear: return 1.0f;
    default: return active ? 1.0f : 0.0f;
  }
}

// f'(a) expressed through the pre-activation a and the output h = f(a).
ZAE_HD float derivative(Activation act, float a, float h, float theta) {
  return derivative_from_mask(act, is_active(act, a, theta), h);
}

// Double-precision twins for the reference path.
inline bool is_active_d(Activation act, double a, double theta) {
  switch (act) {
    case Activation::TRec: return a > theta;
    case Activation::TLin: return a > theta || a < -theta;
    case Activation::ReLU: return a > 0.0;
    default: return true;
  }
}

inline double activate_d(Activation act, double a, double theta) {
  switch (act) {
    case Activation::Sigmoid: return 1.0 / (1.0 + std::exp(-a));
    case Activation::Linear: return a;
    default: return is_active_d(act, a, theta) ? a : 0.0;
  }
}

inline double derivative_d(Activation act, double a, double h, double theta) {
  switch (act) {
    case Activation::Sigmoid: return h * (1.0 - h);
    case Activation::Linear: return 1.0;
    default: return is_active_d(act, a, theta) ? 1.0 : 0.0;
  }
}

// Names used on the command line and in checkpoints: trec, tlin, relu, sigmoid, linear.
std::string activation_name(Activation act);
// Parses a name above; throws zae::Error listing the valid names otherwise.
Activation parse_activation(const std::string& name);

}  // namespace zae
