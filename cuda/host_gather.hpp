// Host-side row gathering for the streaming path (host_gather.cpp).
#pragma once

#include <cstdint>

namespace zae::cuda {

// Copies rows order[0, rows) of `data` (visible floats each) to `out`, in order, using the
// OpenMP threads of the host.
void gather_rows_on_host(const float* data, int visible, const int64_t* order, int rows,
                         float* out);

}  // namespace zae::cuda
