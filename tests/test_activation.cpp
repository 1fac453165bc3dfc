// Activation functions: the strict threshold rule and the derivative at the kink.
#include <gtest/gtest.h>

#include "zae/activation.hpp"
#include "zae/error.hpp"

namespace zae {
namespace {

TEST(Activation, TRecIsStrictAtThreshold) {
  EXPECT_EQ(activate(Activation::TRec, 1.0f, 1.0f), 0.0f);
  EXPECT_FALSE(is_active(Activation::TRec, 1.0f, 1.0f));
  EXPECT_EQ(activate(Activation::TRec, 1.0001f, 1.0f), 1.0001f);
  EXPECT_EQ(activate(Activation::TRec, -3.0f, 1.0f), 0.0f);
  EXPECT_EQ(derivative(Activation::TRec, 1.0f, 0.0f, 1.0f), 0.0f);
  EXPECT_EQ(derivative(Activation::TRec, 2.0f, 2.0f, 1.0f), 1.0f);
}

TEST(Activation, TLinPassesBothSigns) {
  EXPECT_EQ(activate(Activation::TLin, -2.5f, 1.0f), -2.5f);
  EXPECT_EQ(activate(Activation::TLin, -1.0f, 1.0f), 0.0f);
  EXPECT_EQ(activate(Activation::TLin, 0.5f, 1.0f), 0.0f);
  EXPECT_TRUE(is_active(Activation::TLin, -1.5f, 1.0f));
  EXPECT_FALSE(is_active(Activation::TLin, 1.0f, 1.0f));
}

TEST(Activation, BaselinesIgnoreThreshold) {
  EXPECT_EQ(activate(Activation::ReLU, 0.5f, 1.0f), 0.5f);
  EXPECT_EQ(activate(Activation::ReLU, 0.0f, 1.0f), 0.0f);
  EXPECT_FALSE(is_active(Activation::ReLU, 0.0f, 1.0f));
  EXPECT_FLOAT_EQ(activate(Activation::Sigmoid, 0.0f, 1.0f), 0.5f);
  EXPECT_FLOAT_EQ(derivative(Activation::Sigmoid, 0.0f, 0.5f, 1.0f), 0.25f);
  EXPECT_EQ(activate(Activation::Linear, -7.0f, 1.0f), -7.0f);
  EXPECT_TRUE(has_hidden_bias(Activation::ReLU));
  EXPECT_FALSE(has_hidden_bias(Activation::TRec));
  EXPECT_FALSE(has_hidden_bias(Activation::TLin));
}

TEST(Activation, DoubleTwinsAgree) {
  const Activation all[] = {Activation::TRec, Activation::TLin, Activation::ReLU,
                            Activation::Sigmoid, Activation::Linear};
  for (Activation act : all) {
    for (float a : {-2.0f, -1.0f, -0.3f, 0.0f, 0.7f, 1.0f, 1.5f}) {
      const float h = activate(act, a, 1.0f);
      EXPECT_NEAR(activate_d(act, a, 1.0), h, 1e-6) << activation_name(act) << " a=" << a;
      EXPECT_EQ(is_active_d(act, a, 1.0), is_active(act, a, 1.0f)) << activation_name(act);
      EXPECT_NEAR(derivative_d(act, a, activate_d(act, a, 1.0), 1.0),
                  derivative(act, a, h, 1.0f), 1e-6);
    }
  }
}

TEST(Activation, NamesRoundTrip) {
  for (const char* name : {"trec", "tlin", "relu", "sigmoid", "linear"}) {
    EXPECT_EQ(activation_name(parse_activation(name)), name);
  }
  EXPECT_THROW(parse_activation("tanh"), Error);
}

}  // namespace
}  // namespace zae
