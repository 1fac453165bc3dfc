// The CUDA implementation of zae::Backend. Parameters, velocities and the step's work buffers
// live on the device. A step is five cuBLAS GEMMs (four with the stacked weight gradient) and
// the fused kernels of kernels.cu, all queued on one stream with no host synchronisation.
// Per-step records (loss sum, active count) stay in a device array until take_records().
//
// Work buffers are sized for the largest batch seen so far (B_max rows):
//   pre           B_max x H     pre-activations A (+ b)
//   hidden_stack  2 B_max x H   [Hh; dA] for the current B, contiguous
//   error_stack   2 B_max x D   [E; X] for the current B, contiguous
//   active        B_max x H     uint8 active flags
//   ones          B_max         for column sums by gemv
//
// NOTE: this backend was compiled and its GEMM plan and element math were checked on the CPU
// (tests/cuda/test_cuda_plan_emulation.cpp), but it has not yet run on a GPU. The first run of
// bench/gpu_check.sh --run on a GPU machine is its first real test.
#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "backend_options.hpp"
#include "blas.cuh"
#include "cuda_backend.hpp"
#include "check.cuh"
#include "data_stream.cuh"
#include "device_buffer.cuh"
#include "kernels.cuh"
#include "step_plan.hpp"
#include "zae/backend.hpp"
#include "zae/error.hpp"
#include "zae/host_backend_common.hpp"

namespace zae {
namespace cuda {
namespace {

// Steps whose records wait on the device; one extra slot stores compute_gradients' sums.
constexpr int kRecordCapacity = 4096;
// Rows per chunk in encode() unless the workspace is already larger.
constexpr int kEncodeChunkRows = 4096;
// The stacked GEMM has K = 2B, which cuBLAS takes as an int.
constexpr int kMaxBatchRows = INT_MAX / 2;

// Runs the operations of run_gradient_pass on the device and remembers how many per-block
// partial sums the reducing kernels wrote.
class DeviceExecutor {
 public:
  DeviceExecutor(Blas& blas, cudaStream_t stream, unsigned long long* count_partials,
                 double* loss_partials)
      : blas_(blas), stream_(stream), count_partials_(count_partials),
        loss_partials_(loss_partials) {}

  void gemm(const GemmCall& call) { blas_.gemm(call); }
  void gemv(const GemvCall& call) { blas_.gemv(call); }

  void hidden(const StepShape& s, const ModelConfig& model, const float* b, float* pre,
              float* h, uint8_t* active) {
    count_blocks_ = launch_hidden(stream_, s.rows, s.hidden, model.activation, model.threshold,
                                  b, pre, h, active, count_partials_);
  }

  void error(const StepShape& s, const float* c, const float* x, float* e) {
    loss_blocks_ = launch_error(stream_, s.rows, s.visible, c, x, e, loss_partials_);
  }

  void hidden_gradient(const StepShape& s, const ModelConfig& model, const float* pre,
                       const float* h, float* g) {
    launch_hidden_gradient(stream_, s.rows, s.hidden, model.activation, model.threshold, pre, h,
                           g);
  }

  // Writes the loss sum and the active count of the last pass to device memory.
  void finish(double* loss_out, unsigned long long* count_out) {
    launch_finish_reduction(stream_, loss_partials_, loss_blocks_, count_partials_,
                            count_blocks_, loss_out, count_out);
  }

 private:
  Blas& blas_;
  cudaStream_t stream_;
  unsigned long long* count_partials_;
  double* loss_partials_;
  int count_blocks_ = 0;
  int loss_blocks_ = 0;
};

// A stream owned by the backend, destroyed after everything that uses it.
class OwnedStream {
 public:
  OwnedStream() { ZAE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
  OwnedStream(const OwnedStream&) = delete;
  OwnedStream& operator=(const OwnedStream&) = delete;
  ~OwnedStream() {
    ZAE_CUDA_WARN(cudaStreamSynchronize(stream_));
    ZAE_CUDA_WARN(cudaStreamDestroy(stream_));
  }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// W, b and c on the device. b and c are empty when the model has none.
struct DeviceParams {
  DeviceBuffer<float> W;
  DeviceBuffer<float> b;
  DeviceBuffer<float> c;

  DeviceParams(DeviceMemoryTracker& tracker, const ModelConfig& config)
      : W(tracker, static_cast<size_t>(config.hidden) * config.visible),
        b(tracker, config.hidden_bias() ? config.hidden : 0),
        c(tracker, config.visible_bias ? config.visible : 0) {}

  ParamPointers pointers() {
    return {W.data(), b.size() > 0 ? b.data() : nullptr, c.size() > 0 ? c.data() : nullptr};
  }
};

int current_device_selected(int device) {
  ZAE_CUDA_CHECK(cudaSetDevice(device));
  return device;
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(const ModelConfig& config, int device, bool allow_tf32,
              const CudaBackendOptions& options)
      : config_(config),
        device_(current_device_selected(device)),
        options_(options),
        blas_(stream_.get(), allow_tf32),
        params_(tracker_, config),
        velocity_(tracker_, config),
        grad_(tracker_, config),
        count_partials_(tracker_, kMaxReductionBlocks),
        loss_partials_(tracker_, kMaxReductionBlocks),
        record_loss_(tracker_, kRecordCapacity + 1),
        record_active_(tracker_, kRecordCapacity + 1),
        source_(tracker_, stream_.get(), config.visible) {
    cudaDeviceProp prop{};
    ZAE_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
    name_ = "cuda:" + std::to_string(device) + " (" + prop.name + ")";

    for (DeviceParams* p : {&params_, &velocity_}) {
      for (DeviceBuffer<float>* t : {&p->W, &p->b, &p->c}) {
        if (t->size() > 0) ZAE_CUDA_CHECK(cudaMemsetAsync(t->data(), 0, t->bytes(), stream()));
      }
    }
    ZAE_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

  ~CudaBackend() override { ZAE_CUDA_WARN(cudaSetDevice(device_)); }

  std::string name() const override { return name_; }
  const ModelConfig& config() const override { return config_; }
  size_t peak_device_memory() const override { return tracker_.peak(); }

  void set_state(const Params& params, const Params& velocity) override {
    check_params_shape(config_, params, "set_state parameters");
    check_params_shape(config_, velocity, "set_state velocities");
    select_device();
    upload(params, params_);
    upload(velocity, velocity_);
    ZAE_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

  void get_state(Params& params, Params& velocity) override {
    select_device();
    params = Params::zeros(config_);
    velocity = Params::zeros(config_);
    download(params_, params);
    download(velocity_, velocity);
    ZAE_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

  void set_data(const float* rows, int64_t n) override {
    select_device();
    source_.release_data();
    size_t free_bytes = 0;
    size_t total_bytes = 0;
    ZAE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    // A resident data set also keeps its row order on the device, 8 bytes a row, which is a
    // large part of the total when rows are short, so the order's bytes come out of the share.
    const size_t share =
        static_cast<size_t>(static_cast<double>(free_bytes) * kResidentMemoryFraction);
    const size_t order_bytes = static_cast<size_t>(std::max<int64_t>(n, 0)) * sizeof(int64_t);
    const size_t memory_budget = share > order_bytes ? share - order_bytes : 0;
    const size_t budget = std::min(memory_budget, options_.max_resident_bytes);
    source_.set_data(rows, n, budget);
  }

  void set_order(const std::vector<int64_t>& order) override {
    select_device();
    source_.set_order(order);
  }

  void step(int64_t first, int rows, const StepOptions& options) override {
    ZAE_REQUIRE(rows > 0 && rows <= kMaxBatchRows, "step: invalid batch of ", rows, " rows");
    ZAE_REQUIRE(source_.has_data(), "step called before set_data");
    ZAE_REQUIRE(first >= 0 && first + rows <= source_.order_size(), "step: rows [", first, ", ",
                first + rows, ") are outside the order of ", source_.order_size(),
                " rows; call set_order first");
    select_device();
    const int nominal = options.nominal_batch > 0 ? options.nominal_batch : rows;
    ensure_capacity(rows);
    if (pending_rows_.size() == static_cast<size_t>(kRecordCapacity)) flush_records();

    const StepShape shape{rows, config_.visible, config_.hidden};
    const StepWorkspace ws = workspace();
    poison_workspace();
    source_.load(first, rows, input_rows(ws, shape));

    DeviceExecutor executor(blas_, stream(), count_partials_.data(), loss_partials_.data());
    run_gradient_pass(executor, shape, config_, params_.pointers(), grad_.pointers(), ws,
                      1.0f / static_cast<float>(nominal), options_.weight_gradient);
    const size_t slot = pending_rows_.size();
    executor.finish(record_loss_.data() + slot, record_active_.data() + slot);
    launch_sgd(stream(), sgd_tensors(options.weight_decay), options.learning_rate,
               options.momentum);
    pending_rows_.push_back(rows);
  }

  std::vector<StepRecord> take_records() override {
    select_device();
    flush_records();
    std::vector<StepRecord> records;
    records.swap(finished_);
    return records;
  }

  Gradients compute_gradients(const float* batch, int rows) override {
    ZAE_REQUIRE(batch != nullptr, "compute_gradients: the batch pointer is null");
    ZAE_REQUIRE(rows > 0 && rows <= kMaxBatchRows, "compute_gradients: invalid batch of ", rows,
                " rows");
    select_device();
    ensure_capacity(rows);

    const StepShape shape{rows, config_.visible, config_.hidden};
    const StepWorkspace ws = workspace();
    const size_t hidden_count = static_cast<size_t>(rows) * config_.hidden;
    poison_workspace();
    ZAE_CUDA_CHECK(cudaMemcpyAsync(input_rows(ws, shape), batch,
                                   static_cast<size_t>(rows) * config_.visible * sizeof(float),
                                   cudaMemcpyHostToDevice, stream()));

    DeviceExecutor executor(blas_, stream(), count_partials_.data(), loss_partials_.data());
    run_gradient_pass(executor, shape, config_, params_.pointers(), grad_.pointers(), ws,
                      1.0f / static_cast<float>(rows), options_.weight_gradient);
    executor.finish(record_loss_.data() + kRecordCapacity,
                    record_active_.data() + kRecordCapacity);

    Gradients out;
    out.grad = Params::zeros(config_);
    download(grad_, out.grad);
    out.hidden.resize(hidden_count);
    out.active.resize(hidden_count);
    copy_to_host(out.hidden.data(), hidden_rows(ws, shape), hidden_count);
    copy_to_host(out.active.data(), ws.active, hidden_count);
    double loss_sum = 0.0;
    copy_to_host(&loss_sum, record_loss_.data() + kRecordCapacity, 1);
    ZAE_CUDA_CHECK(cudaStreamSynchronize(stream()));
    out.loss = loss_sum / rows;
    return out;
  }

  void encode(const float* rows, int64_t n, float* out) override {
    ZAE_REQUIRE(n >= 0, "encode: invalid row count ", n);
    if (n == 0) return;
    ZAE_REQUIRE(rows != nullptr && out != nullptr, "encode: null input or output pointer");
    select_device();
    const int chunk = static_cast<int>(std::min<int64_t>(n, std::max(capacity_, kEncodeChunkRows)));
    ensure_capacity(chunk);
    const StepWorkspace ws = workspace();
    const int visible = config_.visible;
    const int hidden = config_.hidden;
    const ParamPointers params = params_.pointers();

    for (int64_t start = 0; start < n; start += chunk) {
      const int count = static_cast<int>(std::min<int64_t>(chunk, n - start));
      const StepShape shape{count, visible, hidden};
      float* x = input_rows(ws, shape);
      float* h = hidden_rows(ws, shape);
      ZAE_CUDA_CHECK(cudaMemcpyAsync(x, rows + start * visible,
                                     static_cast<size_t>(count) * visible * sizeof(float),
                                     cudaMemcpyHostToDevice, stream()));
      blas_.gemm(project_to_hidden(shape, params.W, x, ws.pre));
      launch_hidden(stream(), count, hidden, config_.activation, config_.threshold, params.b,
                    ws.pre, h, ws.active, count_partials_.data());
      copy_to_host(out + start * hidden, h, static_cast<size_t>(count) * hidden);
    }
    ZAE_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }

 private:
  cudaStream_t stream() const { return stream_.get(); }
  void select_device() const { ZAE_CUDA_CHECK(cudaSetDevice(device_)); }

  template <typename T>
  void copy_to_host(T* out, const T* device, size_t count) {
    ZAE_CUDA_CHECK(cudaMemcpyAsync(out, device, count * sizeof(T), cudaMemcpyDeviceToHost,
                                   stream()));
  }

  void upload(const Params& host, DeviceParams& device) {
    const std::vector<float>* sources[3] = {&host.W, &host.b, &host.c};
    DeviceBuffer<float>* targets[3] = {&device.W, &device.b, &device.c};
    for (int k = 0; k < 3; ++k) {
      if (targets[k]->size() == 0) continue;
      ZAE_CUDA_CHECK(cudaMemcpyAsync(targets[k]->data(), sources[k]->data(), targets[k]->bytes(),
                                     cudaMemcpyHostToDevice, stream()));
    }
  }

  void download(DeviceParams& device, Params& host) {
    std::vector<float>* targets[3] = {&host.W, &host.b, &host.c};
    DeviceBuffer<float>* sources[3] = {&device.W, &device.b, &device.c};
    for (int k = 0; k < 3; ++k) {
      if (sources[k]->size() == 0) continue;
      copy_to_host(targets[k]->data(), sources[k]->data(), sources[k]->size());
    }
  }

  // Grows the work buffers to `rows` rows. Waits for queued work, which may use the old ones.
  void ensure_capacity(int rows) {
    if (rows <= capacity_) return;
    ZAE_CUDA_CHECK(cudaStreamSynchronize(stream()));
    const size_t r = static_cast<size_t>(rows);
    const size_t hidden = static_cast<size_t>(config_.hidden);
    const size_t visible = static_cast<size_t>(config_.visible);
    for (DeviceBuffer<float>* b : {&pre_, &hidden_stack_, &error_stack_, &ones_}) b->release();
    active_.release();
    capacity_ = 0;

    pre_ = DeviceBuffer<float>(tracker_, r * hidden);
    hidden_stack_ = DeviceBuffer<float>(tracker_, 2 * r * hidden);
    error_stack_ = DeviceBuffer<float>(tracker_, 2 * r * visible);
    active_ = DeviceBuffer<uint8_t>(tracker_, r * hidden);
    ones_ = DeviceBuffer<float>(tracker_, r);
    launch_fill(stream(), ones_.data(), rows, 1.0f);
    capacity_ = rows;
  }

  StepWorkspace workspace() {
    StepWorkspace ws;
    ws.pre = pre_.data();
    ws.hidden_stack = hidden_stack_.data();
    ws.error_stack = error_stack_.data();
    ws.active = active_.data();
    ws.ones = ones_.data();
    return ws;
  }

  // With ZAE_CUDA_POISON=1, fills every buffer that a pass must write with 0xFF bytes (NaN as
  // float and double, 255 as an active flag) before the pass.
  void poison_workspace() {
    if (!options_.poison) return;
    for (DeviceBuffer<float>* b : {&pre_, &hidden_stack_, &error_stack_, &grad_.W, &grad_.b,
                                   &grad_.c}) {
      if (b->size() > 0) ZAE_CUDA_CHECK(cudaMemsetAsync(b->data(), 0xFF, b->bytes(), stream()));
    }
    ZAE_CUDA_CHECK(cudaMemsetAsync(active_.data(), 0xFF, active_.bytes(), stream()));
    ZAE_CUDA_CHECK(cudaMemsetAsync(loss_partials_.data(), 0xFF, loss_partials_.bytes(),
                                   stream()));
    ZAE_CUDA_CHECK(cudaMemsetAsync(count_partials_.data(), 0xFF, count_partials_.bytes(),
                                   stream()));
  }

  SgdTensors sgd_tensors(float weight_decay) {
    SgdTensors t;
    DeviceBuffer<float>* values[3] = {&params_.W, &params_.b, &params_.c};
    DeviceBuffer<float>* velocities[3] = {&velocity_.W, &velocity_.b, &velocity_.c};
    DeviceBuffer<float>* gradients[3] = {&grad_.W, &grad_.b, &grad_.c};
    for (int k = 0; k < 3; ++k) {
      t.part[k].value = values[k]->data();
      t.part[k].velocity = velocities[k]->data();
      t.part[k].gradient = gradients[k]->data();
      t.part[k].size = static_cast<int64_t>(values[k]->size());
      t.part[k].decay = k == 0 ? weight_decay : 0.0f;
    }
    return t;
  }

  // Copies the pending records to the host (one synchronisation) and appends them to
  // finished_.
  void flush_records() {
    const size_t count = pending_rows_.size();
    if (count == 0) return;
    std::vector<double> loss(count);
    std::vector<unsigned long long> active(count);
    copy_to_host(loss.data(), record_loss_.data(), count);
    copy_to_host(active.data(), record_active_.data(), count);
    ZAE_CUDA_CHECK(cudaStreamSynchronize(stream()));
    for (size_t i = 0; i < count; ++i) {
      const double rows = static_cast<double>(pending_rows_[i]);
      StepRecord record;
      record.loss = loss[i] / rows;
      record.active_fraction = static_cast<double>(active[i]) / (rows * config_.hidden);
      record.rows = pending_rows_[i];
      finished_.push_back(record);
    }
    pending_rows_.clear();
  }

  ModelConfig config_;
  int device_;
  CudaBackendOptions options_;
  std::string name_;
  // Declared before every buffer, so that it outlives them; the stream outlives its users.
  DeviceMemoryTracker tracker_;
  OwnedStream stream_;
  Blas blas_;

  DeviceParams params_;
  DeviceParams velocity_;
  DeviceParams grad_;

  int capacity_ = 0;
  DeviceBuffer<float> pre_;
  DeviceBuffer<float> hidden_stack_;
  DeviceBuffer<float> error_stack_;
  DeviceBuffer<uint8_t> active_;
  DeviceBuffer<float> ones_;
  DeviceBuffer<unsigned long long> count_partials_;
  DeviceBuffer<double> loss_partials_;

  // Loss sums and active counts of the pending steps; slot kRecordCapacity belongs to
  // compute_gradients.
  DeviceBuffer<double> record_loss_;
  DeviceBuffer<unsigned long long> record_active_;
  std::vector<int> pending_rows_;
  std::vector<StepRecord> finished_;

  BatchSource source_;
};

}  // namespace

std::unique_ptr<Backend> create_cuda_backend(const ModelConfig& config, int device_index,
                                             bool allow_tf32) {
  config.validate();
  const int count = cuda_device_count();
  ZAE_REQUIRE(count > 0, "no CUDA device found (no NVIDIA GPU or driver is visible to this "
              "process): use --device cpu");
  ZAE_REQUIRE(device_index >= 0 && device_index < count, "invalid CUDA device index ",
              device_index, ": ", count, " device(s) present, numbered from 0");
  const CudaBackendOptions options = CudaBackendOptions::from_environment();
  return std::make_unique<CudaBackend>(config, device_index, allow_tf32, options);
}

}  // namespace cuda
}  // namespace zae
