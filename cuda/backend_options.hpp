// Settings of the CUDA backend that the Backend interface does not carry, read from the
// environment when the backend is created, so that tests, benchmarks and users can set them
// without a rebuild:
//
//   ZAE_CUDA_DW_GEMM=stacked|split   how dW is computed: one GEMM with K = 2B over the stacked
//                                    operands (default), or two GEMMs with K = B
//   ZAE_CUDA_MAX_RESIDENT_BYTES=N    keep the data set on the device only when it has at most
//                                    N bytes (and fits the memory budget); 0 forces streaming
//   ZAE_CUDA_POISON=1                fill the step's work buffers with NaN bytes before every
//                                    pass, so that a value that no kernel wrote shows up as NaN
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "step_plan.hpp"

namespace zae::cuda {

// Fraction of the free device memory, measured after the model's buffers are allocated, that
// a resident data set and its row order may take. The rest stays free for the batch buffers
// and cuBLAS.
constexpr double kResidentMemoryFraction = 0.8;

struct CudaBackendOptions {
  WeightGradientMode weight_gradient = WeightGradientMode::Stacked;
  bool poison = false;
  // SIZE_MAX means no limit beyond the memory budget.
  size_t max_resident_bytes = SIZE_MAX;

  // Parses the variables above. Throws zae::Error naming the variable for an invalid value.
  static CudaBackendOptions from_environment();
};

std::string weight_gradient_name(WeightGradientMode mode);

}  // namespace zae::cuda
