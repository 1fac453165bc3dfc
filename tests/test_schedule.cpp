// Learning-rate schedules as functions of the step count.
#include <gtest/gtest.h>

#include "zae/error.hpp"
#include "zae/schedule.hpp"

namespace zae {
namespace {

ScheduleConfig with_warmup(ScheduleKind kind) {
  ScheduleConfig s;
  s.kind = kind;
  s.base_lr = 1e-2;
  s.warmup_steps = 30;
  s.warmup_lr = 1e-4;
  s.step_size = 10;
  s.gamma = 0.5;
  s.milestones = {5, 25};
  s.min_lr = 1e-3;
  s.total_steps = 130;
  return s;
}

TEST(Schedule, ConstantIgnoresWarmup) {
  const ScheduleConfig s = with_warmup(ScheduleKind::Constant);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0), 1e-2);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 1000), 1e-2);
}

TEST(Schedule, WarmupThenBase) {
  const ScheduleConfig s = with_warmup(ScheduleKind::Warmup);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 0), 1e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 29), 1e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 30), 1e-2);
}

TEST(Schedule, StepDecaysAfterWarmup) {
  const ScheduleConfig s = with_warmup(ScheduleKind::Step);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 39), 1e-2);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 40), 5e-3);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 55), 2.5e-3);
}

TEST(Schedule, MultiStepCountsMilestones) {
  const ScheduleConfig s = with_warmup(ScheduleKind::MultiStep);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 34), 1e-2);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 35), 5e-3);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 55), 2.5e-3);
}

TEST(Schedule, ExponentialPerStep) {
  const ScheduleConfig s = with_warmup(ScheduleKind::Exponential);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 33), 1e-2 * 0.125);
}

TEST(Schedule, CosineEndpoints) {
  const ScheduleConfig s = with_warmup(ScheduleKind::Cosine);
  EXPECT_DOUBLE_EQ(learning_rate_at(s, 30), 1e-2);
  EXPECT_NEAR(learning_rate_at(s, 80), 1e-3 + 0.5 * (1e-2 - 1e-3), 1e-15);
  EXPECT_NEAR(learning_rate_at(s, 130), 1e-3, 1e-15);
  EXPECT_NEAR(learning_rate_at(s, 500), 1e-3, 1e-15);
}

TEST(Schedule, ValidateRejectsNegativeRate) {
  ScheduleConfig s = with_warmup(ScheduleKind::Step);
  s.base_lr = -1.0;
  EXPECT_THROW(s.validate(), Error);
  s = with_warmup(ScheduleKind::Step);
  s.step_size = 0;
  EXPECT_THROW(s.validate(), Error);
}

TEST(Schedule, NamesRoundTrip) {
  for (const char* name : {"constant", "warmup", "step", "multistep", "exponential", "cosine"}) {
    EXPECT_EQ(schedule_name(parse_schedule(name)), name);
  }
  EXPECT_THROW(parse_schedule("linear"), Error);
}

}  // namespace
}  // namespace zae
