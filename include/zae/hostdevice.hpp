// ZAE_HD marks functions compiled for both the host and the device, so that the element-wise
// math is written once and shared by the reference, CPU and CUDA paths.
#pragma once

#if defined(__CUDACC__)
#define ZAE_HD __host__ __device__ __forceinline__
#else
#define ZAE_HD inline
#endif
