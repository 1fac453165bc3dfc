// Error checks for CUDA runtime, cuBLAS and cuRAND calls. A failing call throws zae::Error
// with the call's text, file:line and the library's error string. The *_WARN forms are for
// destructors, which must not throw: they print the same message to stderr and continue.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <curand.h>

namespace zae::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t status, const char* call, const char* file,
                                   int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t status, const char* call, const char* file,
                                     int line);
[[noreturn]] void throw_curand_error(curandStatus_t status, const char* call, const char* file,
                                     int line);
void warn_cuda_error(cudaError_t status, const char* call, const char* file, int line) noexcept;
void warn_cublas_error(cublasStatus_t status, const char* call, const char* file,
                       int line) noexcept;

}  // namespace zae::cuda

#define ZAE_CUDA_CHECK(call)                                                 \
  do {                                                                       \
    const cudaError_t zae_status_ = (call);                                  \
    if (zae_status_ != cudaSuccess)                                          \
      ::zae::cuda::throw_cuda_error(zae_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define ZAE_CUBLAS_CHECK(call)                                                 \
  do {                                                                         \
    const cublasStatus_t zae_status_ = (call);                                 \
    if (zae_status_ != CUBLAS_STATUS_SUCCESS)                                  \
      ::zae::cuda::throw_cublas_error(zae_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define ZAE_CURAND_CHECK(call)                                                 \
  do {                                                                         \
    const curandStatus_t zae_status_ = (call);                                 \
    if (zae_status_ != CURAND_STATUS_SUCCESS)                                  \
      ::zae::cuda::throw_curand_error(zae_status_, #call, __FILE__, __LINE__); \
  } while (0)

// Follows every kernel launch: reports an invalid configuration or a missing kernel image at
// the launch site. Errors raised while the kernel runs surface at the next synchronising call.
#define ZAE_CUDA_CHECK_LAUNCH(kernel_name)                                          \
  do {                                                                              \
    const cudaError_t zae_status_ = cudaGetLastError();                             \
    if (zae_status_ != cudaSuccess)                                                 \
      ::zae::cuda::throw_cuda_error(zae_status_, "launch of " kernel_name, __FILE__, \
                                    __LINE__);                                      \
  } while (0)

#define ZAE_CUDA_WARN(call) ::zae::cuda::warn_cuda_error((call), #call, __FILE__, __LINE__)
#define ZAE_CUBLAS_WARN(call) ::zae::cuda::warn_cublas_error((call), #call, __FILE__, __LINE__)
