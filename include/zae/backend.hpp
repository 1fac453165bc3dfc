// The interface that the reference, CPU and CUDA implementations of a training step share.
//
// The driver hands a backend the whole preprocessed data set once (set_data), the row order
// of each epoch (set_order), and then requests steps over consecutive slices of that order.
// A backend keeps the parameters and velocities itself (on the device for CUDA), and collects
// one StepRecord per step; take_records() returns them and may synchronise.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "zae/model.hpp"

namespace zae {

// Gradients of the mean loss of one batch with respect to the parameters, with the hidden
// state that produced them, as returned by Backend::compute_gradients.
struct Gradients {
  Params grad;                      // same layout as Params; divided by the batch size
  double loss = 0.0;                // mean over the rows of 0.5 ||E_row||^2
  std::vector<float> hidden;        // B x H, f(A)
  std::vector<uint8_t> active;      // B x H, 1 where f'(A) != 0
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Short name for logs: "reference", "cpu", "cuda:0 (NVIDIA H200)".
  virtual std::string name() const = 0;
  virtual const ModelConfig& config() const = 0;

  // Replaces parameters and velocities. Shapes must match config().
  virtual void set_state(const Params& params, const Params& velocity) = 0;
  virtual void get_state(Params& params, Params& velocity) = 0;

  // The data set: n rows of config().visible floats, row-major. The host memory must stay
  // valid until the next set_data or destruction (the CPU paths read it in place).
  virtual void set_data(const float* rows, int64_t n) = 0;
  // The row order for the following steps: a permutation (or any list) of row indices.
  virtual void set_order(const std::vector<int64_t>& order) = 0;
  // One SGD step over order[first, first + rows).
  virtual void step(int64_t first, int rows, const StepOptions& options) = 0;
  // The records of the steps taken since the last call, oldest first.
  virtual std::vector<StepRecord> take_records() = 0;

  // Gradients at the current parameters for the given batch (rows x D, host memory),
  // without changing any state. Used by tests and `zae compare`.
  virtual Gradients compute_gradients(const float* batch, int rows) = 0;
  // Hidden code f(X W^T + b) for n rows of host data into out (n x H).
  virtual void encode(const float* rows, int64_t n, float* out) = 0;

  // Peak device memory allocated by this backend in bytes; 0 for the host backends.
  virtual size_t peak_device_memory() const { return 0; }
};

enum class DeviceKind { Auto, Cpu, Cuda, Reference };

std::unique_ptr<Backend> make_reference_backend(const ModelConfig& config);
std::unique_ptr<Backend> make_cpu_backend(const ModelConfig& config);
// Throws zae::Error when CUDA was not compiled in or no device is present.
std::unique_ptr<Backend> make_cuda_backend(const ModelConfig& config, int device_index,
                                           bool allow_tf32);

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  size_t total_memory = 0;  // bytes
  int major = 0;            // compute capability
  int minor = 0;
};

// The CUDA devices present; empty when CUDA was not compiled in or no driver/device exists.
std::vector<CudaDeviceInfo> list_cuda_devices();

// Number of usable CUDA devices; 0 when CUDA was not compiled in or no driver/device exists.
int cuda_device_count();
bool cuda_compiled_in();

}  // namespace zae
