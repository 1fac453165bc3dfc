// Fused element-wise kernels of one step. The element math lives in step_math.hpp and the
// activation functions in zae/activation.hpp; this file holds only the loops, the block
// reductions and the launch configuration.
//
//   fill_kernel             overwrites out[0, n)
//   gather_kernel           overwrites x (rows x D) with data rows picked by the order array
//   hidden_kernel           fuses "+ b", f(A) and the active flag; overwrites pre (only when b
//                           is given), h and active (rows x H), and block_counts[0, blocks)
//   error_kernel            fuses "+ c", "- X" and the loss partial sums; overwrites e in
//                           place (rows x D) and block_sums[0, blocks)
//   hidden_gradient_kernel  overwrites g (rows x H) with g * f'(pre)
//   sgd_kernel              updates W, b, c and their velocities in place
//   finish_reduction_kernel one block; overwrites *loss_out and *count_out
//
// Determinism: no floating-point atomics. A reducing kernel uses a grid size that depends only
// on the element count, each thread visits its elements in a fixed order, blocks reduce by a
// fixed tree in shared memory, and one block sums the per-block results in index order, so a
// step gives the same bits every time on the same GPU model. Loss sums accumulate in double.
#include "kernels.cuh"

#include <algorithm>

#include "check.cuh"

namespace zae::cuda {
namespace {

// Upper bound on the grid of the plain element-wise kernels; the grid-stride loops cover the
// rest. 8192 blocks of 256 threads are several waves on any current GPU.
constexpr int64_t kMaxElementwiseBlocks = 8192;

int elementwise_blocks(int64_t n) {
  const int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<int>(std::min(blocks, kMaxElementwiseBlocks));
}

int reduction_blocks(int64_t n) {
  const int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<int>(std::min<int64_t>(blocks, kMaxReductionBlocks));
}

__device__ int64_t first_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ int64_t grid_stride() { return static_cast<int64_t>(gridDim.x) * blockDim.x; }

// Sum of `value` over the block by a fixed tree; every thread of the block must call it, and
// the block must have kThreadsPerBlock threads. The result is valid in every thread.
template <typename T>
__device__ T block_sum(T value, T* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = kThreadsPerBlock / 2; stride > 0; stride /= 2) {
    if (static_cast<int>(threadIdx.x) < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  return shared[0];
}

__global__ void fill_kernel(float* out, int64_t n, float value) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) out[i] = value;
}

__global__ void gather_kernel(int64_t n, int visible, const float* data, const int64_t* order,
                              int64_t first, float* x) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    gather_element(i, visible, data, order, first, x);
  }
}

__global__ void hidden_kernel(int64_t n, int hidden, Activation activation, float threshold,
                              const float* b, float* pre, float* h, uint8_t* active,
                              unsigned long long* block_counts) {
  __shared__ unsigned long long shared[kThreadsPerBlock];
  unsigned long long count = 0;
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    count += hidden_element(i, hidden, activation, threshold, b, pre, h, active);
  }
  const unsigned long long total = block_sum(count, shared);
  if (threadIdx.x == 0) block_counts[blockIdx.x] = total;
}

__global__ void error_kernel(int64_t n, int visible, const float* c, const float* x, float* e,
                             double* block_sums) {
  __shared__ double shared[kThreadsPerBlock];
  double sum = 0.0;
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    const double err = error_element(i, visible, c, x, e);
    sum += 0.5 * err * err;
  }
  const double total = block_sum(sum, shared);
  if (threadIdx.x == 0) block_sums[blockIdx.x] = total;
}

__global__ void hidden_gradient_kernel(int64_t n, Activation activation, float threshold,
                                       const float* pre, const float* h, float* g) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    hidden_gradient_element(i, activation, threshold, pre, h, g);
  }
}

__global__ void sgd_kernel(SgdTensors tensors, int64_t n, float learning_rate, float momentum) {
  for (int64_t i = first_index(); i < n; i += grid_stride()) {
    sgd_element(i, tensors, learning_rate, momentum);
  }
}

__global__ void finish_reduction_kernel(const double* loss_partials, int loss_blocks,
                                        const unsigned long long* count_partials,
                                        int count_blocks, double* loss_out,
                                        unsigned long long* count_out) {
  __shared__ double loss_shared[kThreadsPerBlock];
  __shared__ unsigned long long count_shared[kThreadsPerBlock];
  double loss = 0.0;
  for (int i = threadIdx.x; i < loss_blocks; i += kThreadsPerBlock) loss += loss_partials[i];
  unsigned long long count = 0;
  for (int i = threadIdx.x; i < count_blocks; i += kThreadsPerBlock) count += count_partials[i];
  const double loss_total = block_sum(loss, loss_shared);
  const unsigned long long count_total = block_sum(count, count_shared);
  if (threadIdx.x == 0) {
    *loss_out = loss_total;
    *count_out = count_total;
  }
}

}  // namespace

void launch_fill(cudaStream_t stream, float* out, int64_t n, float value) {
  if (n <= 0) return;
  fill_kernel<<<elementwise_blocks(n), kThreadsPerBlock, 0, stream>>>(out, n, value);
  ZAE_CUDA_CHECK_LAUNCH("fill_kernel");
}

void launch_gather(cudaStream_t stream, int rows, int visible, const float* data,
                   const int64_t* order, int64_t first, float* x) {
  const int64_t n = static_cast<int64_t>(rows) * visible;
  if (n <= 0) return;
  gather_kernel<<<elementwise_blocks(n), kThreadsPerBlock, 0, stream>>>(n, visible, data, order,
                                                                          first, x);
  ZAE_CUDA_CHECK_LAUNCH("gather_kernel");
}

int launch_hidden(cudaStream_t stream, int rows, int hidden, Activation activation,
                  float threshold, const float* b, float* pre, float* h, uint8_t* active,
                  unsigned long long* block_counts) {
  const int64_t n = static_cast<int64_t>(rows) * hidden;
  if (n <= 0) return 0;
  const int blocks = reduction_blocks(n);
  hidden_kernel<<<blocks, kThreadsPerBlock, 0, stream>>>(n, hidden, activation, threshold, b,
                                                          pre, h, active, block_counts);
  ZAE_CUDA_CHECK_LAUNCH("hidden_kernel");
  return blocks;
}

int launch_error(cudaStream_t stream, int rows, int visible, const float* c, const float* x,
                 float* e, double* block_sums) {
  const int64_t n = static_cast<int64_t>(rows) * visible;
  if (n <= 0) return 0;
  const int blocks = reduction_blocks(n);
  error_kernel<<<blocks, kThreadsPerBlock, 0, stream>>>(n, visible, c, x, e, block_sums);
  ZAE_CUDA_CHECK_LAUNCH("error_kernel");
  return blocks;
}

void launch_hidden_gradient(cudaStream_t stream, int rows, int hidden, Activation activation,
                            float threshold, const float* pre, const float* h, float* g) {
  const int64_t n = static_cast<int64_t>(rows) * hidden;
  if (n <= 0) return;
  hidden_gradient_kernel<<<elementwise_blocks(n), kThreadsPerBlock, 0, stream>>>(
      n, activation, threshold, pre, h, g);
  ZAE_CUDA_CHECK_LAUNCH("hidden_gradient_kernel");
}

void launch_sgd(cudaStream_t stream, const SgdTensors& tensors, float learning_rate,
                float momentum) {
  const int64_t n = tensors.total();
  if (n <= 0) return;
  sgd_kernel<<<elementwise_blocks(n), kThreadsPerBlock, 0, stream>>>(tensors, n, learning_rate,
                                                                      momentum);
  ZAE_CUDA_CHECK_LAUNCH("sgd_kernel");
}

void launch_finish_reduction(cudaStream_t stream, const double* loss_partials, int loss_blocks,
                             const unsigned long long* count_partials, int count_blocks,
                             double* loss_out, unsigned long long* count_out) {
  finish_reduction_kernel<<<1, kThreadsPerBlock, 0, stream>>>(
      loss_partials, loss_blocks, count_partials, count_blocks, loss_out, count_out);
  ZAE_CUDA_CHECK_LAUNCH("finish_reduction_kernel");
}

}  // namespace zae::cuda
