// Construction of the CUDA backend (cuda_backend.cu), behind zae::make_cuda_backend.
#pragma once

#include <memory>

#include "zae/backend.hpp"

namespace zae::cuda {

// Checks the device index, reads the ZAE_CUDA_* settings (backend_options.hpp) and creates
// the backend. Throws zae::Error when no device is present or the index is invalid.
std::unique_ptr<Backend> create_cuda_backend(const ModelConfig& config, int device_index,
                                             bool allow_tf32);

}  // namespace zae::cuda
