// Parsing of the ZAE_CUDA_* environment variables (see backend_options.hpp).
#include "backend_options.hpp"

#include <cerrno>
#include <cstdlib>

#include "zae/error.hpp"

namespace zae::cuda {
namespace {

const char* get_variable(const char* name) {
  const char* value = std::getenv(name);
  return (value != nullptr && value[0] != '\0') ? value : nullptr;
}

}  // namespace

std::string weight_gradient_name(WeightGradientMode mode) {
  return mode == WeightGradientMode::Stacked ? "stacked" : "split";
}

CudaBackendOptions CudaBackendOptions::from_environment() {
  CudaBackendOptions options;

  if (const char* value = get_variable("ZAE_CUDA_DW_GEMM")) {
    const std::string mode = value;
    if (mode == "stacked") {
      options.weight_gradient = WeightGradientMode::Stacked;
    } else if (mode == "split") {
      options.weight_gradient = WeightGradientMode::Split;
    } else {
      fail("invalid ZAE_CUDA_DW_GEMM '", mode, "': expected stacked or split");
    }
  }

  if (const char* value = get_variable("ZAE_CUDA_POISON")) {
    const std::string flag = value;
    if (flag == "1") {
      options.poison = true;
    } else if (flag == "0") {
      options.poison = false;
    } else {
      fail("invalid ZAE_CUDA_POISON '", flag, "': expected 0 or 1");
    }
  }

  if (const char* value = get_variable("ZAE_CUDA_MAX_RESIDENT_BYTES")) {
    errno = 0;
    char* end = nullptr;
    const unsigned long long bytes = std::strtoull(value, &end, 10);
    ZAE_REQUIRE(value[0] != '-' && end != value && *end == '\0' && errno == 0,
                "invalid ZAE_CUDA_MAX_RESIDENT_BYTES '", value,
                "': expected a byte count such as 0 or 1000000000");
    options.max_resident_bytes = static_cast<size_t>(bytes);
  }
  return options;
}

}  // namespace zae::cuda
