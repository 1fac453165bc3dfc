// Model configuration checks, parameter allocation and activation names.
#include "zae/model.hpp"

#include <cmath>

#include "zae/error.hpp"

namespace zae {

std::string activation_name(Activation act) {
  switch (act) {
    case Activation::TRec:
      return "trec";
    case Activation::TLin:
      return "tlin";
    case Activation::ReLU:
      return "relu";
    case Activation::Sigmoid:
      return "sigmoid";
    case Activation::Linear:
      return "linear";
  }
  return "unknown";
}

Activation parse_activation(const std::string& name) {
  if (name == "trec") return Activation::TRec;
  if (name == "tlin") return Activation::TLin;
  if (name == "relu") return Activation::ReLU;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "linear") return Activation::Linear;
  fail("invalid activation '", name, "': expected one of trec, tlin, relu, sigmoid, linear");
}

void ModelConfig::validate() const {
  ZAE_REQUIRE(visible > 0, "invalid visible size ", visible,
              ": the data needs at least one column");
  ZAE_REQUIRE(hidden > 0, "invalid hidden unit count ", hidden, ": use --hidden 1 or more");
  ZAE_REQUIRE(std::isfinite(threshold), "invalid threshold ", threshold,
              ": use a finite --threshold such as 1.0");
}

Params Params::zeros(const ModelConfig& config) {
  Params p;
  p.W.assign(static_cast<size_t>(config.hidden) * config.visible, 0.0f);
  if (config.hidden_bias()) p.b.assign(config.hidden, 0.0f);
  if (config.visible_bias) p.c.assign(config.visible, 0.0f);
  return p;
}

}  // namespace zae
