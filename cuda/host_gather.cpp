// Host-side row gathering for the streaming path, compiled as C++ so that OpenMP spreads the
// copies over the host threads.
#include "host_gather.hpp"

#include <cstring>

namespace zae::cuda {

void gather_rows_on_host(const float* data, int visible, const int64_t* order, int rows,
                         float* out) {
  const size_t row_bytes = static_cast<size_t>(visible) * sizeof(float);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; ++r) {
    std::memcpy(out + static_cast<size_t>(r) * visible,
                data + static_cast<size_t>(order[r]) * visible, row_bytes);
  }
}

}  // namespace zae::cuda
