// Argument checks shared by the backends, so that every path rejects the same mistakes with
// the same message, and the state that the two host backends keep alike.
#pragma once

#include <cstdint>
#include <vector>

#include "zae/backend.hpp"
#include "zae/model.hpp"

namespace zae {

// Throws zae::Error when a tensor of `params` does not have the size `config` calls for.
void check_params_shape(const ModelConfig& config, const Params& params, const char* what);
// Throws zae::Error unless 0 < rows and [first, first + rows) lies inside the order and every
// index in it names one of `data_rows` rows.
void check_step_range(const std::vector<int64_t>& order, int64_t data_rows, int64_t first,
                      int rows);

// The part of a host backend that only stores things: configuration, parameters and
// velocities, the data pointer and row order, and the records of the steps taken.
class HostBackend : public Backend {
 public:
  explicit HostBackend(const ModelConfig& config);

  const ModelConfig& config() const override { return config_; }
  void set_state(const Params& params, const Params& velocity) override;
  void get_state(Params& params, Params& velocity) override;
  void set_data(const float* rows, int64_t n) override;
  void set_order(const std::vector<int64_t>& order) override { order_ = order; }
  std::vector<StepRecord> take_records() override;

 protected:
  // Appends the record of a step over `rows` rows.
  void record(double loss_sum, int64_t active_count, int rows);

  ModelConfig config_;
  Params params_;
  Params velocity_;
  const float* data_ = nullptr;
  int64_t data_rows_ = 0;
  std::vector<int64_t> order_;
  std::vector<StepRecord> records_;
};

}  // namespace zae
