// Argument checks shared by the backends, so that every path rejects the same mistakes with
// the same message.
#pragma once

#include <cstdint>
#include <vector>

#include "zae/model.hpp"

namespace zae {

// Throws zae::Error when a tensor of `params` does not have the size `config` calls for.
void check_params_shape(const ModelConfig& config, const Params& params, const char* what);
// Throws zae::Error unless 0 < rows and [first, first + rows) lies inside the order and every
// index in it names one of `data_rows` rows.
void check_step_range(const std::vector<int64_t>& order, int64_t data_rows, int64_t first,
                      int rows);

}  // namespace zae
