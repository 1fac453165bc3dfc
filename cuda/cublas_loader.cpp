// Run-time loading of cuBLAS with dlopen (see cublas_loader.hpp).
#include "cublas_loader.hpp"

#include <dlfcn.h>

#include <string>

#include "zae/error.hpp"

namespace zae::cuda {
namespace {

// Returns the fix to suggest when cuBLAS cannot be loaded.
std::string install_hint() {
  return detail::concat("install cuBLAS ", CUBLAS_VER_MAJOR, " from the CUDA toolkit or ",
                        "put its directory on LD_LIBRARY_PATH, or use --device cpu");
}

// Returns dlerror()'s message, or a stand-in when dlerror() has none to report.
std::string last_dl_error() {
  const char* message = dlerror();
  return message != nullptr ? message : "no dlerror() message";
}

// Sets `function` to the address of `symbol` in the library opened as `handle`.
template <typename Function>
void resolve(void* handle, const std::string& library, const char* symbol, Function& function) {
  dlerror();  // Clears any earlier message, so that the one read below belongs to this call.
  void* address = dlsym(handle, symbol);
  if (address == nullptr) {
    fail("failed to load cuBLAS: ", library, " has no function ", symbol, " (", last_dl_error(),
         "); ", install_hint());
  }
  // POSIX guarantees that a function's address survives the round trip through void*.
  function = reinterpret_cast<Function>(address);
}

}  // namespace

std::string cublas_library_name() { return "libcublas.so." + std::to_string(CUBLAS_VER_MAJOR); }

const CublasApi& cublas() {
  static const CublasApi api = load_cublas(cublas_library_name());
  return api;
}

CublasApi load_cublas(const std::string& library) {
  void* handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    fail("failed to load cuBLAS library ", library, " (", last_dl_error(), "); ", install_hint());
  }

  CublasApi api;
  try {
    resolve(handle, library, "cublasCreate_v2", api.cublasCreate_v2);
    resolve(handle, library, "cublasDestroy_v2", api.cublasDestroy_v2);
    resolve(handle, library, "cublasSetStream_v2", api.cublasSetStream_v2);
    resolve(handle, library, "cublasSetPointerMode_v2", api.cublasSetPointerMode_v2);
    resolve(handle, library, "cublasSetAtomicsMode", api.cublasSetAtomicsMode);
    resolve(handle, library, "cublasSetMathMode", api.cublasSetMathMode);
    resolve(handle, library, "cublasGemmEx", api.cublasGemmEx);
    resolve(handle, library, "cublasSgemv_v2", api.cublasSgemv_v2);
    resolve(handle, library, "cublasGetStatusName", api.cublasGetStatusName);
    resolve(handle, library, "cublasGetStatusString", api.cublasGetStatusString);
  } catch (const Error&) {
    dlclose(handle);
    throw;
  }
  return api;
}

}  // namespace zae::cuda
