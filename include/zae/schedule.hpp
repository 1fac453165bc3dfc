// Learning-rate schedules, each a pure function of the optimizer step count, so that a resumed
// run continues on exactly the same curve.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zae {

enum class ScheduleKind { Constant, Warmup, Step, MultiStep, Exponential, Cosine };

std::string schedule_name(ScheduleKind kind);
ScheduleKind parse_schedule(const std::string& name);  // else zae::Error listing the names

// All step counts are optimizer steps. For every kind except Constant, the first
// warmup_steps steps run at warmup_lr (the authors' recipe: 3 epochs at 1e-4, then 1e-2);
// the decay then counts steps from the end of the warm-up.
//   Constant:    base_lr
//   Warmup:      warmup_lr for warmup_steps, then base_lr
//   Step:        base_lr * gamma^floor(t / step_size)
//   MultiStep:   base_lr * gamma^(number of milestones <= t)
//   Exponential: base_lr * gamma^t
//   Cosine:      min_lr + (base_lr - min_lr) * (1 + cos(pi * t / T)) / 2, T = total - warmup
struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::Constant;
  double base_lr = 1e-2;
  int64_t warmup_steps = 0;
  double warmup_lr = 1e-4;
  int64_t step_size = 1;
  double gamma = 0.1;
  std::vector<int64_t> milestones;
  double min_lr = 0.0;
  int64_t total_steps = 1;

  // Throws zae::Error naming the field for negative rates, non-positive step sizes, etc.
  void validate() const;
};

double learning_rate_at(const ScheduleConfig& schedule, int64_t step);

}  // namespace zae
