// Choice of the training backend for --device auto, cpu, cuda or reference.
#include <memory>
#include <string>

#include "zae/backend.hpp"
#include "zae/error.hpp"
#include "zae/trainer.hpp"

namespace zae {

std::unique_ptr<Backend> make_backend(const std::string& device, const ModelConfig& model,
                                      bool allow_tf32, std::string* note) {
  std::string text;
  std::unique_ptr<Backend> backend;
  if (device == "cpu") {
    backend = make_cpu_backend(model);
  } else if (device == "reference") {
    backend = make_reference_backend(model);
  } else if (device == "cuda") {
    ZAE_REQUIRE(cuda_compiled_in(),
                "--device cuda: this zae was built without CUDA; "
                "use --device cpu or rebuild with the CUDA toolkit");
    ZAE_REQUIRE(cuda_device_count() > 0,
                "--device cuda: no CUDA device found; "
                "use --device cpu or --device auto");
    backend = make_cuda_backend(model, 0, allow_tf32);
  } else if (device == "auto") {
    if (cuda_device_count() > 0) {
      backend = make_cuda_backend(model, 0, allow_tf32);
      text = "device auto: a CUDA device is present, training on " + backend->name();
    } else {
      backend = make_cpu_backend(model);
      text = cuda_compiled_in() ? "device auto: no CUDA device found, training on the cpu"
                                : "device auto: CUDA not compiled in, training on the cpu";
    }
  } else {
    fail("invalid --device '", device, "': expected auto, cpu, cuda or reference");
  }
  if (text.empty()) text = "device " + device + ": training on " + backend->name();
  if (note != nullptr) *note = text;
  return backend;
}
}  // namespace zae
