// The buffer layout and the sequence of operations of one gradient pass, as plain C++ shared by
// the CUDA backend and the CPU emulation test. The backend runs the sequence with cuBLAS and
// the kernels of kernels.cu. The test runs it with naive loops and compares the result with
// the reference backend, which checks the operand order, leading dimensions and offsets on
// any machine.
//
// Row-major data through column-major BLAS: a row-major M x N matrix with leading dimension N
// is the column-major N x M matrix, its transpose. So the row-major product C = P Q is
// computed as the column-major C^T = Q^T P^T by swapping the operands, with no explicit
// transposes. With B = rows, D = visible, H = hidden:
//
//   A  = X W^T         column-major A^T (H x B) = op_T(W: D x H) * (X: D x B)
//   R  = Hh W          column-major R^T (D x B) = (W: D x H) * (Hh: H x B)
//   G  = E W^T         as for A
//   dW = Hh^T E + dA^T X, column-major dW^T (D x H) = (E: D x B) * op_T(Hh: H x B) + (X ...)
//
// Stacking [Hh; dA] (2B x H) and [E; X] (2B x D) contiguously turns the two weight-gradient
// products into one GEMM with K = 2B.
#pragma once

#include <cstdint>

#include "zae/model.hpp"

namespace zae::cuda {

enum class Transpose { No, Yes };

// C = alpha op(A) op(B) + beta C on column-major matrices, as cublasSgemm takes it:
// op(A) is m x k, op(B) is k x n, C is m x n.
struct GemmCall {
  Transpose trans_a = Transpose::No;
  Transpose trans_b = Transpose::No;
  int m = 0;
  int n = 0;
  int k = 0;
  const float* a = nullptr;
  int lda = 0;
  const float* b = nullptr;
  int ldb = 0;
  float* c = nullptr;
  int ldc = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
};

// y = alpha A x for a column-major m x n matrix A, as cublasSgemv takes it (no transpose).
struct GemvCall {
  int m = 0;
  int n = 0;
  const float* a = nullptr;
  int lda = 0;
  const float* x = nullptr;
  float* y = nullptr;
  float alpha = 1.0f;
};

// Method for dW = Hh^T E + dA^T X: one GEMM over the stacked operands with K = 2B, or two
// GEMMs with K = B, the second accumulating with beta = 1.
enum class WeightGradientMode { Stacked, Split };

struct StepShape {
  int rows = 0;     // B, the rows of this batch
  int visible = 0;  // D
  int hidden = 0;   // H
};

// W, b and c (or their gradients). b and c are nullptr when the model has none.
struct ParamPointers {
  float* W = nullptr;
  float* b = nullptr;
  float* c = nullptr;
};

// Workspace of one pass for `rows` rows. The backend allocates it for its largest batch and
// lays smaller batches out from the same base pointers, so the stacks stay contiguous.
struct StepWorkspace {
  float* pre = nullptr;           // B x H: A, then A + b
  float* hidden_stack = nullptr;  // 2B x H: Hh in rows [0, B), then G, masked into dA
  float* error_stack = nullptr;   // 2B x D: R, turned into E, in rows [0, B), then X
  uint8_t* active = nullptr;      // B x H: 1 where f'(A) != 0
  const float* ones = nullptr;    // B ones, for column sums by gemv
};

inline float* hidden_rows(const StepWorkspace& ws, const StepShape&) { return ws.hidden_stack; }
inline float* hidden_gradient_rows(const StepWorkspace& ws, const StepShape& s) {
  return ws.hidden_stack + static_cast<int64_t>(s.rows) * s.hidden;
}
inline float* error_rows(const StepWorkspace& ws, const StepShape&) { return ws.error_stack; }
// Returns the rows where the batch X is placed before a pass.
inline float* input_rows(const StepWorkspace& ws, const StepShape& s) {
  return ws.error_stack + static_cast<int64_t>(s.rows) * s.visible;
}

// out (B x H) = in (B x D) W^T: the pre-activations A = X W^T, and also G = E W^T.
inline GemmCall project_to_hidden(const StepShape& s, const float* W, const float* in,
                                  float* out) {
  GemmCall call;
  call.trans_a = Transpose::Yes;
  call.trans_b = Transpose::No;
  call.m = s.hidden;
  call.n = s.rows;
  call.k = s.visible;
  call.a = W;
  call.lda = s.visible;
  call.b = in;
  call.ldb = s.visible;
  call.c = out;
  call.ldc = s.hidden;
  return call;
}

// R (B x D) = Hh (B x H) W.
inline GemmCall reconstruct(const StepShape& s, const float* W, const float* h, float* r) {
  GemmCall call;
  call.trans_a = Transpose::No;
  call.trans_b = Transpose::No;
  call.m = s.visible;
  call.n = s.rows;
  call.k = s.hidden;
  call.a = W;
  call.lda = s.visible;
  call.b = h;
  call.ldb = s.hidden;
  call.c = r;
  call.ldc = s.visible;
  return call;
}

// dW (H x D) = scale * left^T right + beta * dW, where left is `count` rows of H values and
// right is `count` rows of D values: Hh^T E, dA^T X, or both stacked with count = 2B.
inline GemmCall weight_gradient(const StepShape& s, int count, const float* left,
                                const float* right, float* dW, float scale, float beta) {
  GemmCall call;
  call.trans_a = Transpose::No;
  call.trans_b = Transpose::Yes;
  call.m = s.visible;
  call.n = s.hidden;
  call.k = count;
  call.a = right;
  call.lda = s.visible;
  call.b = left;
  call.ldb = s.hidden;
  call.c = dW;
  call.ldc = s.visible;
  call.alpha = scale;
  call.beta = beta;
  return call;
}

// out (cols) = scale * the column sums of a row-major rows x cols matrix.
inline GemvCall column_sums(int rows, int cols, const float* matrix, const float* ones,
                            float* out, float scale) {
  GemvCall call;
  call.m = cols;
  call.n = rows;
  call.a = matrix;
  call.lda = cols;
  call.x = ones;
  call.y = out;
  call.alpha = scale;
  return call;
}

// Runs one forward and backward pass on the batch already stored at input_rows(ws, s). It
// computes pre-activations, hidden code, active flags and the error, and writes the gradients
// scaled by grad_scale (1 / nominal batch in a step, 1 / B for compute_gradients) to `grad`.
// Hh, E and X stay in the workspace. The executor sums the loss and counts active units. It
// provides
//   gemm(GemmCall), gemv(GemvCall),
//   hidden(shape, model, b, pre, h, active)        -> hidden_element over B x H, counts
//   error(shape, c, x, e)                          -> error_element over B x D, loss sums
//   hidden_gradient(shape, model, pre, h, g)       -> hidden_gradient_element over B x H
template <typename Executor>
void run_gradient_pass(Executor& executor, const StepShape& s, const ModelConfig& model,
                       const ParamPointers& params, const ParamPointers& grad,
                       const StepWorkspace& ws, float grad_scale, WeightGradientMode mode) {
  float* x = input_rows(ws, s);
  float* h = hidden_rows(ws, s);
  float* dA = hidden_gradient_rows(ws, s);
  float* e = error_rows(ws, s);

  executor.gemm(project_to_hidden(s, params.W, x, ws.pre));
  executor.hidden(s, model, params.b, ws.pre, h, ws.active);

  executor.gemm(reconstruct(s, params.W, h, e));
  executor.error(s, params.c, x, e);

  executor.gemm(project_to_hidden(s, params.W, e, dA));
  executor.hidden_gradient(s, model, ws.pre, h, dA);

  if (mode == WeightGradientMode::Stacked) {
    executor.gemm(weight_gradient(s, 2 * s.rows, h, e, grad.W, grad_scale, 0.0f));
  } else {
    executor.gemm(weight_gradient(s, s.rows, h, e, grad.W, grad_scale, 0.0f));
    executor.gemm(weight_gradient(s, s.rows, dA, x, grad.W, grad_scale, 1.0f));
  }

  if (grad.b != nullptr) {
    executor.gemv(column_sums(s.rows, s.hidden, dA, ws.ones, grad.b, grad_scale));
  }
  if (grad.c != nullptr) {
    executor.gemv(column_sums(s.rows, s.visible, e, ws.ones, grad.c, grad_scale));
  }
}

}  // namespace zae::cuda
