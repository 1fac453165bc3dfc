// CUDA entry points of the public API: whether CUDA is compiled in, the devices present, and
// the backend factory. The factory stays in this file, next to the functions that every
// program with the CUDA backend references, so that a static link pulls it in with them.
#include <cuda_runtime.h>

#include "cuda_backend.hpp"
#include "zae/backend.hpp"

namespace zae {

bool cuda_compiled_in() { return true; }

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clears the sticky "no driver" error
    return 0;
  }
  return count;
}

std::vector<CudaDeviceInfo> list_cuda_devices() {
  std::vector<CudaDeviceInfo> devices;
  const int count = cuda_device_count();
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    devices.push_back({i, prop.name, prop.totalGlobalMem, prop.major, prop.minor});
  }
  return devices;
}

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& config, int device_index,
                                           bool allow_tf32) {
  return cuda::create_cuda_backend(config, device_index, allow_tf32);
}

}  // namespace zae
