// Launchers for the fused element-wise kernels of a step (kernels.cu). Each launcher checks the
// launch and returns at once; the work runs on `stream`. Sizes are element counts, and every
// kernel handles any count through a grid-stride loop, including counts that are not a
// multiple of the block size.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

#include "step_math.hpp"
#include "zae/activation.hpp"

namespace zae::cuda {

// Threads per block of every kernel; the block reductions assume exactly this many.
constexpr int kThreadsPerBlock = 256;
// Capacity of the per-block partial-sum arrays: the reducing kernels use at most this many
// blocks, so their partial sums fit and their order is fixed for a given element count.
constexpr int kMaxReductionBlocks = 1024;

// Fills n floats with `value`.
void launch_fill(cudaStream_t stream, float* out, int64_t n, float value);

// x (rows x visible) = data rows order[first + r], r < rows.
void launch_gather(cudaStream_t stream, int rows, int visible, const float* data,
                   const int64_t* order, int64_t first, float* x);

// Over rows x hidden: pre += b, h = f(pre), active = f'(pre) != 0; writes the number of active
// units counted by each block to block_counts. Returns the number of blocks used.
int launch_hidden(cudaStream_t stream, int rows, int hidden, Activation activation,
                  float threshold, const float* b, float* pre, float* h, uint8_t* active,
                  unsigned long long* block_counts);

// Over rows x visible: e = e + c - x in place; writes each block's sum of 0.5 e^2 (in double)
// to block_sums. Returns the number of blocks used.
int launch_error(cudaStream_t stream, int rows, int visible, const float* c, const float* x,
                 float* e, double* block_sums);

// Over rows x hidden: g *= f'(pre) in place.
void launch_hidden_gradient(cudaStream_t stream, int rows, int hidden, Activation activation,
                            float threshold, const float* pre, const float* h, float* g);

// Momentum SGD over W, b and c in one launch.
void launch_sgd(cudaStream_t stream, const SgdTensors& tensors, float learning_rate,
                float momentum);

// One block sums the partials in a fixed order: loss_out = sum of loss_partials[0, loss_blocks)
// and count_out = sum of count_partials[0, count_blocks).
void launch_finish_reduction(cudaStream_t stream, const double* loss_partials, int loss_blocks,
                             const unsigned long long* count_partials, int count_blocks,
                             double* loss_out, unsigned long long* count_out);

}  // namespace zae::cuda
