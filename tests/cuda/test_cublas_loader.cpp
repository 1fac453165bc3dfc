// The run-time cuBLAS loader: it opens the soname of the cuBLAS headers, resolves every function
// to a callable address, returns one table per process, and names the library in the error when
// the library or a function is missing. These tests need the cuBLAS library of the CUDA toolkit
// but no GPU, and never create a cuBLAS handle, which fails without a device.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <string>

#include "../../cuda/check.cuh"
#include "../../cuda/cublas_loader.hpp"
#include "zae/error.hpp"

namespace zae {
namespace {

using cuda::CublasApi;

// Returns the message of the zae::Error that load_cublas(library) throws, or "" when it loads.
std::string load_error(const std::string& library) {
  try {
    cuda::load_cublas(library);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CublasLoader, LibraryNameHasHeaderMajorVersion) {
  EXPECT_EQ(cuda::cublas_library_name(), "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR));
}

TEST(CublasLoader, ResolvesEveryFunction) {
  const CublasApi& api = cuda::cublas();
  EXPECT_NE(api.cublasCreate_v2, nullptr);
  EXPECT_NE(api.cublasDestroy_v2, nullptr);
  EXPECT_NE(api.cublasSetStream_v2, nullptr);
  EXPECT_NE(api.cublasSetPointerMode_v2, nullptr);
  EXPECT_NE(api.cublasSetAtomicsMode, nullptr);
  EXPECT_NE(api.cublasSetMathMode, nullptr);
  EXPECT_NE(api.cublasGemmEx, nullptr);
  EXPECT_NE(api.cublasSgemv_v2, nullptr);
  EXPECT_NE(api.cublasGetStatusName, nullptr);
  EXPECT_NE(api.cublasGetStatusString, nullptr);
}

TEST(CublasLoader, SecondCallReturnsSameTable) {
  const CublasApi& first = cuda::cublas();
  const CublasApi& second = cuda::cublas();
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(first.cublasGemmEx, second.cublasGemmEx);
}

TEST(CublasLoader, LoadsLibraryOfHeaderVersion) {
  cuda::cublas();
  // RTLD_NOLOAD returns a handle only for a library that the process has already loaded.
  void* handle = dlopen(cuda::cublas_library_name().c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr) << cuda::cublas_library_name() << " is not loaded";
  dlclose(handle);
}

TEST(CublasLoader, ResolvedStatusFunctionsAreCallable) {
  // The status functions need neither a handle nor a device, so they show that the resolved
  // addresses are the real cuBLAS functions.
  const CublasApi& api = cuda::cublas();
  EXPECT_STREQ(api.cublasGetStatusName(CUBLAS_STATUS_NOT_INITIALIZED),
               "CUBLAS_STATUS_NOT_INITIALIZED");
  EXPECT_STRNE(api.cublasGetStatusString(CUBLAS_STATUS_NOT_INITIALIZED), "");
}

TEST(CublasLoader, MissingLibraryThrowsNamingIt) {
  const std::string message = load_error("libcublas.so.999");
  ASSERT_FALSE(message.empty()) << "libcublas.so.999 loaded";
  EXPECT_NE(message.find("libcublas.so.999"), std::string::npos) << message;
  EXPECT_NE(message.find("LD_LIBRARY_PATH"), std::string::npos) << message;
  EXPECT_NE(message.find("--device cpu"), std::string::npos) << message;
}

TEST(CublasLoader, LibraryWithoutFunctionsThrowsNamingFunction) {
  // libc exists on every Linux machine but exports no cuBLAS function.
  const std::string message = load_error("libc.so.6");
  ASSERT_FALSE(message.empty()) << "libc.so.6 loaded as cuBLAS";
  EXPECT_NE(message.find("libc.so.6"), std::string::npos) << message;
  EXPECT_NE(message.find("cublasCreate_v2"), std::string::npos) << message;
  EXPECT_NE(message.find("--device cpu"), std::string::npos) << message;
}

TEST(CublasLoader, CheckErrorNamesStatus) {
  try {
    cuda::throw_cublas_error(CUBLAS_STATUS_INVALID_VALUE, "cublasGemmEx(...)", "blas.cu", 7);
    ADD_FAILURE() << "throw_cublas_error returned";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("cublasGemmEx(...) failed at blas.cu:7"), std::string::npos) << message;
    EXPECT_NE(message.find("CUBLAS_STATUS_INVALID_VALUE"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace zae
