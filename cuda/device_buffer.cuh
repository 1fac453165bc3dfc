// Owning device and pinned host buffers. Every device allocation of the backend goes through a
// DeviceMemoryTracker, which counts the bytes in use and their peak for peak_device_memory().
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include <cuda_runtime.h>

#include "check.cuh"

namespace zae::cuda {

// Bytes currently allocated through this tracker and the maximum reached.
class DeviceMemoryTracker {
 public:
  void on_allocate(size_t bytes) {
    current_ += bytes;
    if (current_ > peak_) peak_ = current_;
  }
  void on_free(size_t bytes) { current_ -= bytes; }
  size_t current() const { return current_; }
  size_t peak() const { return peak_; }

 private:
  size_t current_ = 0;
  size_t peak_ = 0;
};

// A device array of `size` elements of T, uninitialised, freed on destruction. Move-only.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(DeviceMemoryTracker& tracker, size_t size) : tracker_(&tracker), size_(size) {
    if (size_ == 0) return;
    ZAE_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), bytes()));
    tracker_->on_allocate(bytes());
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept { swap(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      swap(other);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

  // Frees the memory now; cudaFree waits for the device work that may still use it.
  void release() noexcept {
    if (data_ != nullptr) {
      ZAE_CUDA_WARN(cudaFree(data_));
      tracker_->on_free(bytes());
    }
    data_ = nullptr;
    size_ = 0;
  }

 private:
  void swap(DeviceBuffer& other) noexcept {
    std::swap(tracker_, other.tracker_);
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }

  DeviceMemoryTracker* tracker_ = nullptr;
  T* data_ = nullptr;
  size_t size_ = 0;
};

// Page-locked host memory, so that cudaMemcpyAsync from it runs asynchronously. Move-only.
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(size_t size) : size_(size) {
    if (size_ == 0) return;
    ZAE_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&data_), size_ * sizeof(T)));
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  PinnedBuffer(PinnedBuffer&& other) noexcept { swap(other); }
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    if (this != &other) {
      release();
      swap(other);
    }
    return *this;
  }
  ~PinnedBuffer() { release(); }

  T* data() { return data_; }
  size_t size() const { return size_; }

  void release() noexcept {
    if (data_ != nullptr) ZAE_CUDA_WARN(cudaFreeHost(data_));
    data_ = nullptr;
    size_ = 0;
  }

 private:
  void swap(PinnedBuffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
  }

  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace zae::cuda
