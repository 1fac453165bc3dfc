// Learning-rate schedules as pure functions of the step count.
#include "zae/schedule.hpp"

#include <algorithm>
#include <cmath>

#include "zae/error.hpp"

namespace zae {

std::string schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::Constant: return "constant";
    case ScheduleKind::Warmup: return "warmup";
    case ScheduleKind::Step: return "step";
    case ScheduleKind::MultiStep: return "multistep";
    case ScheduleKind::Exponential: return "exponential";
    case ScheduleKind::Cosine: return "cosine";
  }
  return "unknown";
}

ScheduleKind parse_schedule(const std::string& name) {
  for (ScheduleKind kind : {ScheduleKind::Constant, ScheduleKind::Warmup, ScheduleKind::Step,
                            ScheduleKind::MultiStep, ScheduleKind::Exponential,
                            ScheduleKind::Cosine}) {
    if (schedule_name(kind) == name) return kind;
  }
  fail("invalid schedule '", name,
       "': expected one of constant, warmup, step, multistep, exponential, cosine");
}

void ScheduleConfig::validate() const {
  ZAE_REQUIRE(std::isfinite(base_lr) && base_lr >= 0.0, "invalid learning rate ", base_lr,
              ": --lr must be zero or positive");
  ZAE_REQUIRE(std::isfinite(warmup_lr) && warmup_lr >= 0.0, "invalid warm-up learning rate ",
              warmup_lr, ": --warmup-lr must be zero or positive");
  ZAE_REQUIRE(std::isfinite(min_lr) && min_lr >= 0.0, "invalid minimum learning rate ", min_lr,
              ": --min-lr must be zero or positive");
  ZAE_REQUIRE(warmup_steps >= 0, "invalid warm-up length ", warmup_steps, " steps");
  ZAE_REQUIRE(step_size > 0, "invalid step size ", step_size,
              " steps: --step-epochs must give at least one step");
  ZAE_REQUIRE(std::isfinite(gamma) && gamma > 0.0, "invalid decay factor ", gamma,
              ": --gamma must be positive");
  ZAE_REQUIRE(std::is_sorted(milestones.begin(), milestones.end()),
              "--milestones must be in increasing order");
}

double learning_rate_at(const ScheduleConfig& s, int64_t step) {
  if (s.kind == ScheduleKind::Constant) return s.base_lr;
  if (step < s.warmup_steps) return s.warmup_lr;
  const int64_t t = step - s.warmup_steps;

  switch (s.kind) {
    case ScheduleKind::Warmup:
      return s.base_lr;
    case ScheduleKind::Step:
      return s.base_lr * std::pow(s.gamma, double(t / s.step_size));
    case ScheduleKind::MultiStep: {
      const auto passed = std::upper_bound(s.milestones.begin(), s.milestones.end(), t) -
                          s.milestones.begin();
      return s.base_lr * std::pow(s.gamma, double(passed));
    }
    case ScheduleKind::Exponential:
      return s.base_lr * std::pow(s.gamma, double(t));
    case ScheduleKind::Cosine: {
      const int64_t span = std::max<int64_t>(1, s.total_steps - s.warmup_steps);
      const double progress = std::min(1.0, double(t) / double(span));
      const double pi = 3.14159265358979323846;
      return s.min_lr + (s.base_lr - s.min_lr) * 0.5 * (1.0 + std::cos(pi * progress));
    }
    default:
      return s.base_lr;
  }
}

}  // namespace zae
