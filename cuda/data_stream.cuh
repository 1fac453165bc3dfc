// Delivery of minibatches to the device. When the data set fits the resident budget it is
// uploaded once and batches are gathered on the device from the epoch's order array, which is
// uploaded once per epoch. Otherwise batches are gathered on the host in the order given into
// pinned staging buffers and copied on a second stream, double-buffered, so that the copy of
// one batch overlaps the computation of the previous one.
#pragma once

#include <cstdint>
#include <vector>

#include <cuda_runtime.h>

#include "device_buffer.cuh"

namespace zae::cuda {

class BatchSource {
 public:
  BatchSource(DeviceMemoryTracker& tracker, cudaStream_t compute, int visible);
  BatchSource(const BatchSource&) = delete;
  BatchSource& operator=(const BatchSource&) = delete;
  ~BatchSource();

  // Waits for the queued work that may read the current data set, then frees its device copy
  // and clears the order.
  void release_data();
  // Takes the data set: uploads it when its size is at most resident_budget bytes, else keeps
  // the host pointer for streaming. Calls release_data() first.
  void set_data(const float* rows, int64_t n, size_t resident_budget);
  // Checks every index against the data size and keeps the order (on the device when
  // resident).
  void set_order(const std::vector<int64_t>& order);
  // Queues on the compute stream the copy of rows order[first, first + rows) into x
  // (rows x visible floats of device memory).
  void load(int64_t first, int rows, float* x);

  bool has_data() const { return host_data_ != nullptr; }
  bool resident() const { return resident_; }
  int64_t order_size() const { return static_cast<int64_t>(order_.size()); }

 private:
  void load_streamed(int64_t first, int rows, float* x);
  void ensure_staging(size_t floats);
  void destroy_handles() noexcept;

  DeviceMemoryTracker& tracker_;
  cudaStream_t compute_;
  int visible_;
  const float* host_data_ = nullptr;
  int64_t rows_ = 0;
  bool resident_ = false;
  std::vector<int64_t> order_;

  // Resident path: the data set and the order on the device, the order staged through pinned
  // memory so that its upload does not wait for the compute stream.
  DeviceBuffer<float> device_data_;
  DeviceBuffer<int64_t> device_order_;
  PinnedBuffer<int64_t> order_staging_;
  cudaEvent_t order_copied_ = nullptr;

  // Streaming path: two pinned host buffers and two device buffers, used in turn.
  // copied_[k] marks the end of the upload from slot k; consumed_[k] marks the end of the
  // compute stream's copy out of device slot k.
  cudaStream_t copy_stream_ = nullptr;
  PinnedBuffer<float> host_staging_[2];
  DeviceBuffer<float> device_staging_[2];
  cudaEvent_t copied_[2] = {nullptr, nullptr};
  cudaEvent_t consumed_[2] = {nullptr, nullptr};
  int next_slot_ = 0;
};

}  // namespace zae::cuda
