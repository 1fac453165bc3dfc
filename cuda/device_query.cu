// CUDA entry points that do not need a backend: whether CUDA is compiled in, device count.
#include <cuda_runtime.h>

#include "zae/backend.hpp"
#include "zae/error.hpp"

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

std::unique_ptr<Backend> make_cuda_backend(const ModelConfig&, int, bool) {
  fail("the CUDA backend is not available yet");
}

}  // namespace zae
