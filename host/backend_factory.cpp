// Stand-ins for the CUDA entry points when the CUDA backend is not compiled in; with CUDA
// the definitions live in cuda/.
#include "zae/backend.hpp"
#include "zae/error.hpp"

namespace zae {

#ifndef ZAE_HAVE_CUDA
std::unique_ptr<Backend> make_cuda_backend(const ModelConfig&, int, bool) {
  fail("this zae was built without the CUDA backend (no CUDA toolkit at build time): "
       "use --device cpu, or rebuild on a machine with nvcc");
}

int cuda_device_count() { return 0; }

bool cuda_compiled_in() { return false; }

std::vector<CudaDeviceInfo> list_cuda_devices() { return {}; }
#endif

}  // namespace zae
