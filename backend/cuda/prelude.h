// prelude.h: what kernels.cu needs from CUDA when it is compiled by
// clang without the CUDA toolkit, to check it compiles to PTX:
//
//   clang -x cuda --cuda-device-only --cuda-gpu-arch=sm_80 -nocudainc \
//         -nocudalib -include backend/cuda/prelude.h -S kernels.cu
//
// NVRTC and nvcc define all of this themselves; never include it there.
// -nocudainc leaves out the CUDA headers (so the attribute macros and the
// device functions below) and -nocudalib leaves out libdevice (so the
// math functions cannot call __nv_expf and friends: clang would lower
// __builtin_expf to a call of expf that nothing defines). The math here
// is built from NVVM intrinsics, which become PTX instructions
// (ex2.approx, lg2.approx, sqrt.rn, …): accurate enough for a compile
// check, and never what a GPU run uses.

#ifndef ENCC_PRELUDE_H
#define ENCC_PRELUDE_H

#include <__clang_cuda_builtin_vars.h> // threadIdx, blockIdx, blockDim, gridDim

#define __global__ __attribute__((global))
#define __device__ __attribute__((device))
#define __shared__ __attribute__((shared))
#define __forceinline__ __inline__ __attribute__((always_inline))

// __syncthreads is a clang builtin.

static __device__ __forceinline__ float atomicAdd(float* p, float v) { return __nvvm_atom_add_gen_f(p, v); }
static __device__ __forceinline__ float __int_as_float(int x) { return __builtin_bit_cast(float, x); }

static __device__ __forceinline__ float expf(float x) { return __nvvm_ex2_approx_f(x * 1.4426950408889634f); }
static __device__ __forceinline__ float logf(float x) { return __nvvm_lg2_approx_f(x) * 0.6931471805599453f; }
static __device__ __forceinline__ float log1pf(float x) { return logf(1.0f + x); }
static __device__ __forceinline__ float expm1f(float x) { return expf(x) - 1.0f; }
static __device__ __forceinline__ float sqrtf(float x) { return __nvvm_sqrt_rn_f(x); }
static __device__ __forceinline__ float rsqrtf(float x) { return __nvvm_rsqrt_approx_f(x); }
static __device__ __forceinline__ float fmaxf(float x, float y) { return __nvvm_fmax_f(x, y); }
static __device__ __forceinline__ float fminf(float x, float y) { return __nvvm_fmin_f(x, y); }
static __device__ __forceinline__ float fabsf(float x) { return __nvvm_fabs_f(x); }
// rintf rounds half to even (cvt.rni): fake_quant, as PyTorch's nearbyint.
static __device__ __forceinline__ float rintf(float x) { return __builtin_rintf(x); }
static __device__ __forceinline__ float powf(float x, float y) { return expf(y * logf(x)); }
static __device__ __forceinline__ float tanhf(float x) {
  float e = expf(2.0f * x);
  return (e - 1.0f) / (e + 1.0f);
}
// erff: Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7).
static __device__ __forceinline__ float erff(float x) {
  float t = 1.0f / (1.0f + 0.3275911f * fabsf(x));
  float y = 1.0f - (((((1.061405429f * t - 1.453152027f) * t) + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t * expf(-x * x);
  return x < 0.0f ? -y : y;
}
static __device__ __forceinline__ double sqrt(double x) { return __nvvm_sqrt_rn_d(x); }

#endif
