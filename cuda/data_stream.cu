// Resident and streamed delivery of minibatches (see data_stream.cuh).
#include "data_stream.cuh"

#include <cstring>

#include "check.cuh"
#include "host_gather.hpp"
#include "kernels.cuh"
#include "zae/error.hpp"

namespace zae::cuda {

BatchSource::BatchSource(DeviceMemoryTracker& tracker, cudaStream_t compute, int visible)
    : tracker_(tracker), compute_(compute), visible_(visible) {
  try {
    ZAE_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
    ZAE_CUDA_CHECK(cudaEventCreateWithFlags(&order_copied_, cudaEventDisableTiming));
    for (int k = 0; k < 2; ++k) {
      ZAE_CUDA_CHECK(cudaEventCreateWithFlags(&copied_[k], cudaEventDisableTiming));
      ZAE_CUDA_CHECK(cudaEventCreateWithFlags(&consumed_[k], cudaEventDisableTiming));
    }
  } catch (...) {
    destroy_handles();
    throw;
  }
}

BatchSource::~BatchSource() {
  if (copy_stream_ != nullptr) ZAE_CUDA_WARN(cudaStreamSynchronize(copy_stream_));
  ZAE_CUDA_WARN(cudaStreamSynchronize(compute_));
  destroy_handles();
}

void BatchSource::destroy_handles() noexcept {
  for (int k = 0; k < 2; ++k) {
    if (copied_[k] != nullptr) ZAE_CUDA_WARN(cudaEventDestroy(copied_[k]));
    if (consumed_[k] != nullptr) ZAE_CUDA_WARN(cudaEventDestroy(consumed_[k]));
    copied_[k] = nullptr;
    consumed_[k] = nullptr;
  }
  if (order_copied_ != nullptr) ZAE_CUDA_WARN(cudaEventDestroy(order_copied_));
  order_copied_ = nullptr;
  if (copy_stream_ != nullptr) ZAE_CUDA_WARN(cudaStreamDestroy(copy_stream_));
  copy_stream_ = nullptr;
}

void BatchSource::release_data() {
  // Queued steps may still read the current data set and staging buffers.
  ZAE_CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
  ZAE_CUDA_CHECK(cudaStreamSynchronize(compute_));
  device_data_.release();
  device_order_.release();
  order_.clear();
  host_data_ = nullptr;
  rows_ = 0;
  resident_ = false;
}

void BatchSource::set_data(const float* rows, int64_t n, size_t resident_budget) {
  ZAE_REQUIRE(rows != nullptr, "set_data: the data pointer is null");
  ZAE_REQUIRE(n > 0, "set_data: invalid row count ", n, ": the data set needs at least one row");

  release_data();
  const size_t floats = static_cast<size_t>(n) * static_cast<size_t>(visible_);
  const bool resident = floats * sizeof(float) <= resident_budget;
  if (resident) {
    device_data_ = DeviceBuffer<float>(tracker_, floats);
    ZAE_CUDA_CHECK(cudaMemcpyAsync(device_data_.data(), rows, floats * sizeof(float),
                                   cudaMemcpyHostToDevice, compute_));
    ZAE_CUDA_CHECK(cudaStreamSynchronize(compute_));
  }
  host_data_ = rows;
  rows_ = n;
  resident_ = resident;
}

void BatchSource::set_order(const std::vector<int64_t>& order) {
  ZAE_REQUIRE(has_data(), "set_order called before set_data");
  for (size_t i = 0; i < order.size(); ++i) {
    ZAE_REQUIRE(order[i] >= 0 && order[i] < rows_, "set_order: index ", order[i],
                " at position ", i, " is out of range for a data set of ", rows_, " rows");
  }
  order_ = order;
  if (!resident_ || order.empty()) return;

  if (device_order_.size() < order.size()) {
    // The old order array may still be read by queued steps.
    ZAE_CUDA_CHECK(cudaStreamSynchronize(compute_));
    device_order_ = DeviceBuffer<int64_t>(tracker_, order.size());
    order_staging_ = PinnedBuffer<int64_t>(order.size());
  } else {
    // The staging buffer is free once the previous upload from it has finished.
    ZAE_CUDA_CHECK(cudaEventSynchronize(order_copied_));
  }
  std::memcpy(order_staging_.data(), order.data(), order.size() * sizeof(int64_t));
  ZAE_CUDA_CHECK(cudaMemcpyAsync(device_order_.data(), order_staging_.data(),
                                 order.size() * sizeof(int64_t), cudaMemcpyHostToDevice,
                                 compute_));
  ZAE_CUDA_CHECK(cudaEventRecord(order_copied_, compute_));
}

void BatchSource::load(int64_t first, int rows, float* x) {
  ZAE_REQUIRE(has_data(), "step called before set_data");
  ZAE_REQUIRE(rows > 0, "step: invalid batch of ", rows, " rows");
  ZAE_REQUIRE(first >= 0 && first + rows <= order_size(), "step: rows [", first, ", ",
              first + rows, ") are outside the order of ", order_size(),
              " rows; call set_order first");
  if (resident_) {
    launch_gather(compute_, rows, visible_, device_data_.data(), device_order_.data(), first, x);
  } else {
    load_streamed(first, rows, x);
  }
}

void BatchSource::ensure_staging(size_t floats) {
  if (host_staging_[0].size() >= floats) return;
  ZAE_CUDA_CHECK(cudaStreamSynchronize(copy_stream_));
  ZAE_CUDA_CHECK(cudaStreamSynchronize(compute_));
  for (int k = 0; k < 2; ++k) {
    host_staging_[k] = PinnedBuffer<float>(floats);
    device_staging_[k] = DeviceBuffer<float>(tracker_, floats);
  }
}

void BatchSource::load_streamed(int64_t first, int rows, float* x) {
  const size_t floats = static_cast<size_t>(rows) * static_cast<size_t>(visible_);
  const size_t bytes = floats * sizeof(float);
  ensure_staging(floats);
  const int slot = next_slot_;
  next_slot_ = 1 - next_slot_;

  // The pinned slot is free once its upload two loads ago has finished; an event that was
  // never recorded counts as complete.
  ZAE_CUDA_CHECK(cudaEventSynchronize(copied_[slot]));
  gather_rows_on_host(host_data_, visible_, order_.data() + first, rows,
                      host_staging_[slot].data());

  // The device slot is free once the compute stream has copied the batch out of it.
  ZAE_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, consumed_[slot], 0));
  ZAE_CUDA_CHECK(cudaMemcpyAsync(device_staging_[slot].data(), host_staging_[slot].data(), bytes,
                                 cudaMemcpyHostToDevice, copy_stream_));
  ZAE_CUDA_CHECK(cudaEventRecord(copied_[slot], copy_stream_));

  ZAE_CUDA_CHECK(cudaStreamWaitEvent(compute_, copied_[slot], 0));
  ZAE_CUDA_CHECK(cudaMemcpyAsync(x, device_staging_[slot].data(), bytes,
                                 cudaMemcpyDeviceToDevice, compute_));
  ZAE_CUDA_CHECK(cudaEventRecord(consumed_[slot], compute_));
}

}  // namespace zae::cuda
