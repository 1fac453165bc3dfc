// Argument checks shared by the backends.
#include "zae/host_backend_common.hpp"

#include "zae/error.hpp"

namespace zae {

namespace {
void check_size(const std::vector<float>& tensor, size_t expected, const char* what,
                const char* name) {
  ZAE_REQUIRE(tensor.size() == expected, what, ": tensor ", name, " has ", tensor.size(),
              " values, but the model needs ", expected);
}
}  // namespace

void check_params_shape(const ModelConfig& config, const Params& params, const char* what) {
  check_size(params.W, size_t(config.hidden) * config.visible, what, "W");
  check_size(params.b, config.hidden_bias() ? size_t(config.hidden) : 0, what, "b");
  check_size(params.c, config.visible_bias ? size_t(config.visible) : 0, what, "c");
}

void check_step_range(const std::vector<int64_t>& order, int64_t data_rows, int64_t first,
                      int rows) {
  ZAE_REQUIRE(rows > 0, "a step needs at least one row, got ", rows);
  ZAE_REQUIRE(first >= 0 && first + rows <= static_cast<int64_t>(order.size()),
              "step rows [", first, ", ", first + rows, ") are outside the order of ",
              order.size(), " rows: call set_order first");
  for (int64_t i = first; i < first + rows; ++i) {
    ZAE_REQUIRE(order[i] >= 0 && order[i] < data_rows, "row index ", order[i],
                " is outside the data set of ", data_rows, " rows");
  }
}

HostBackend::HostBackend(const ModelConfig& config)
    : config_(config), params_(Params::zeros(config)), velocity_(Params::zeros(config)) {
  config_.validate();
}

void HostBackend::set_state(const Params& params, const Params& velocity) {
  check_params_shape(config_, params, "parameters");
  check_params_shape(config_, velocity, "velocities");
  params_ = params;
  velocity_ = velocity;
}

void HostBackend::get_state(Params& params, Params& velocity) {
  params = params_;
  velocity = velocity_;
}

void HostBackend::set_data(const float* rows, int64_t n) {
  data_ = rows;
  data_rows_ = n;
}

std::vector<StepRecord> HostBackend::take_records() {
  std::vector<StepRecord> out;
  out.swap(records_);
  return out;
}

void HostBackend::record(double loss_sum, int64_t active_count, int rows) {
  records_.push_back(
      {loss_sum / rows, double(active_count) / (double(rows) * config_.hidden), rows});
}

}  // namespace zae
