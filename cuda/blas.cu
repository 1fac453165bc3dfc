// cuBLAS calls for the step: GEMMs through cublasGemmEx with an explicit compute type, column
// sums through cublasSgemv. Both are deterministic on a given GPU model because the handle
// uses one stream and atomics mode stays at its default (disallowed).
#include "blas.cuh"

#include "check.cuh"
#include "cublas_loader.hpp"

namespace zae::cuda {
namespace {

cublasOperation_t to_cublas(Transpose t) {
  return t == Transpose::Yes ? CUBLAS_OP_T : CUBLAS_OP_N;
}

}  // namespace

Blas::Blas(cudaStream_t stream, bool allow_tf32) : api_(cublas()), allow_tf32_(allow_tf32) {
  ZAE_CUBLAS_CHECK(api_.cublasCreate_v2(&handle_));
  try {
    ZAE_CUBLAS_CHECK(api_.cublasSetStream_v2(handle_, stream));
    ZAE_CUBLAS_CHECK(api_.cublasSetPointerMode_v2(handle_, CUBLAS_POINTER_MODE_HOST));
    ZAE_CUBLAS_CHECK(api_.cublasSetAtomicsMode(handle_, CUBLAS_ATOMICS_NOT_ALLOWED));
    ZAE_CUBLAS_CHECK(api_.cublasSetMathMode(
        handle_, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  } catch (...) {
    ZAE_CUBLAS_WARN(api_.cublasDestroy_v2(handle_));
    throw;
  }
}

Blas::~Blas() {
  if (handle_ != nullptr) ZAE_CUBLAS_WARN(api_.cublasDestroy_v2(handle_));
}

void Blas::gemm(const GemmCall& call) {
  const cublasComputeType_t compute =
      allow_tf32_ ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  ZAE_CUBLAS_CHECK(api_.cublasGemmEx(handle_, to_cublas(call.trans_a), to_cublas(call.trans_b),
                                     call.m, call.n, call.k, &call.alpha, call.a, CUDA_R_32F,
                                     call.lda, call.b, CUDA_R_32F, call.ldb, &call.beta, call.c,
                                     CUDA_R_32F, call.ldc, compute, CUBLAS_GEMM_DEFAULT));
}

void Blas::gemv(const GemvCall& call) {
  const float beta = 0.0f;
  ZAE_CUBLAS_CHECK(api_.cublasSgemv_v2(handle_, CUBLAS_OP_N, call.m, call.n, &call.alpha,
                                       call.a, call.lda, call.x, 1, &beta, call.y, 1));
}

}  // namespace zae::cuda
