// Message formatting for the checks in check.cuh.
#include "check.cuh"

#include <cstdio>
#include <string>

#include "cublas_loader.hpp"
#include "zae/error.hpp"

namespace zae::cuda {
namespace {

const char* curand_status_name(curandStatus_t status) {
  switch (status) {
    case CURAND_STATUS_SUCCESS: return "CURAND_STATUS_SUCCESS";
    case CURAND_STATUS_VERSION_MISMATCH: return "CURAND_STATUS_VERSION_MISMATCH";
    case CURAND_STATUS_NOT_INITIALIZED: return "CURAND_STATUS_NOT_INITIALIZED";
    case CURAND_STATUS_ALLOCATION_FAILED: return "CURAND_STATUS_ALLOCATION_FAILED";
    case CURAND_STATUS_TYPE_ERROR: return "CURAND_STATUS_TYPE_ERROR";
    case CURAND_STATUS_OUT_OF_RANGE: return "CURAND_STATUS_OUT_OF_RANGE";
    case CURAND_STATUS_LENGTH_NOT_MULTIPLE: return "CURAND_STATUS_LENGTH_NOT_MULTIPLE";
    case CURAND_STATUS_DOUBLE_PRECISION_REQUIRED:
      return "CURAND_STATUS_DOUBLE_PRECISION_REQUIRED";
    case CURAND_STATUS_LAUNCH_FAILURE: return "CURAND_STATUS_LAUNCH_FAILURE";
    case CURAND_STATUS_PREEXISTING_FAILURE: return "CURAND_STATUS_PREEXISTING_FAILURE";
    case CURAND_STATUS_INITIALIZATION_FAILED: return "CURAND_STATUS_INITIALIZATION_FAILED";
    case CURAND_STATUS_ARCH_MISMATCH: return "CURAND_STATUS_ARCH_MISMATCH";
    case CURAND_STATUS_INTERNAL_ERROR: return "CURAND_STATUS_INTERNAL_ERROR";
  }
  return "unknown cuRAND status";
}

// Returns "NAME (description)" from cuBLAS, or the status number when cuBLAS cannot be loaded,
// so that a failed load does not replace the error being reported.
std::string cublas_status_text(cublasStatus_t status) {
  try {
    const CublasApi& api = cublas();
    return detail::concat(api.cublasGetStatusName(status), " (",
                          api.cublasGetStatusString(status), ")");
  } catch (const Error&) {
    return detail::concat("cuBLAS status ", static_cast<int>(status),
                          " (cuBLAS could not be loaded to name it)");
  }
}

}  // namespace

void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  // Clears the runtime's last-error slot, so that a caller who catches this error does not see
  // it again at the next launch check. Sticky errors (a crashed kernel) persist regardless.
  cudaGetLastError();
  fail(call, " failed at ", file, ":", line, ": ", cudaGetErrorName(status), " (",
       cudaGetErrorString(status), ")");
}

void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  fail(call, " failed at ", file, ":", line, ": ", cublas_status_text(status));
}

void throw_curand_error(curandStatus_t status, const char* call, const char* file, int line) {
  fail(call, " failed at ", file, ":", line, ": ", curand_status_name(status));
}

void warn_cuda_error(cudaError_t status, const char* call, const char* file, int line) noexcept {
  if (status == cudaSuccess) return;
  std::fprintf(stderr, "zae: warning: %s failed at %s:%d: %s (%s)\n", call, file, line,
               cudaGetErrorName(status), cudaGetErrorString(status));
}

void warn_cublas_error(cublasStatus_t status, const char* call, const char* file,
                       int line) noexcept {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  std::fprintf(stderr, "zae: warning: %s failed at %s:%d: %s\n", call, file, line,
               cublas_status_text(status).c_str());
}

}  // namespace zae::cuda
