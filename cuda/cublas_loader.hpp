// Run-time loading of cuBLAS. Once loaded, libcublas and libcublasLt take about 220 MB of
// resident memory (cuBLAS 13, measured with /usr/bin/time on `zae --version`), and a binary
// that links them cannot start without them. So zae does not link cuBLAS. The CUDA backend
// dlopen()s it when the backend is created, and every cuBLAS call goes through the table below.
#pragma once

#include <cublas_v2.h>

#include <string>

namespace zae::cuda {

// Type of the exported cublasGemmEx. In C++ the header overloads the name with an inline
// wrapper that takes a cudaDataType compute type, so decltype(&cublasGemmEx) is ambiguous.
using CublasGemmExFunction = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t,
                                                cublasOperation_t, int, int, int, const void*,
                                                const void*, cudaDataType, int, const void*,
                                                cudaDataType, int, const void*, void*, cudaDataType,
                                                int, cublasComputeType_t, cublasGemmAlgo_t);

// Pointers to the cuBLAS functions that zae calls. The fields carry the names that the library
// exports (cublas_v2.h maps cublasCreate to cublasCreate_v2 and so on by macro), so that the
// call text in a ZAE_CUBLAS_CHECK error message names the real function. The types come from
// the declarations in the cuBLAS headers, so the compiler checks every call's signature. The
// static_cast fails to compile unless the header declares a cublasGemmEx of exactly that type.
struct CublasApi {
  decltype(&::cublasCreate_v2) cublasCreate_v2 = nullptr;
  decltype(&::cublasDestroy_v2) cublasDestroy_v2 = nullptr;
  decltype(&::cublasSetStream_v2) cublasSetStream_v2 = nullptr;
  decltype(&::cublasSetPointerMode_v2) cublasSetPointerMode_v2 = nullptr;
  decltype(&::cublasSetAtomicsMode) cublasSetAtomicsMode = nullptr;
  decltype(&::cublasSetMathMode) cublasSetMathMode = nullptr;
  decltype(static_cast<CublasGemmExFunction>(&::cublasGemmEx)) cublasGemmEx = nullptr;
  decltype(&::cublasSgemv_v2) cublasSgemv_v2 = nullptr;
  decltype(&::cublasGetStatusName) cublasGetStatusName = nullptr;
  decltype(&::cublasGetStatusString) cublasGetStatusString = nullptr;
};

// Soname of the cuBLAS major version that these headers declare, e.g. "libcublas.so.13".
std::string cublas_library_name();

// Returns the process-wide table, loading cublas_library_name() on the first call. Thread-safe.
// Throws zae::Error when the library or one of its functions cannot be loaded. A failed load
// is not cached, so a later call tries again. The library stays loaded until the process exits.
const CublasApi& cublas();

// Loads `library` with dlopen(RTLD_NOW | RTLD_LOCAL) and resolves every field of CublasApi.
// Throws zae::Error naming the library, dlerror()'s message and the fix. Each successful call
// adds a reference to the library that is never released. cublas() calls this once, and tests
// call it with other library names.
CublasApi load_cublas(const std::string& library);

}  // namespace zae::cuda
