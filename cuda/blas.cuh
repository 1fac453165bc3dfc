// A cuBLAS handle bound to one stream, running the GemmCall and GemvCall descriptions of
// step_plan.hpp. FP32 by default: math mode CUBLAS_DEFAULT_MATH with compute type
// CUBLAS_COMPUTE_32F, which in cuBLAS 13 does not down-convert inputs to TF32. With
// allow_tf32 the GEMMs use CUBLAS_TF32_TENSOR_OP_MATH and CUBLAS_COMPUTE_32F_FAST_TF32.
// The cuBLAS functions come from the run-time loaded table of cublas_loader.hpp.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "step_plan.hpp"

namespace zae::cuda {

struct CublasApi;

class Blas {
 public:
  // Loads cuBLAS on first use and throws zae::Error when it cannot be loaded.
  Blas(cudaStream_t stream, bool allow_tf32);
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;
  ~Blas();

  void gemm(const GemmCall& call);
  void gemv(const GemvCall& call);
  bool tf32() const { return allow_tf32_; }

 private:
  const CublasApi& api_;
  cublasHandle_t handle_ = nullptr;
  bool allow_tf32_ = false;
};

}  // namespace zae::cuda
