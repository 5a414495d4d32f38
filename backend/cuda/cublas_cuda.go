//go:build cuda

// This file implements the one cuBLAS call the runtime makes, through
// cgo directly: device pointers stay uintptr on the Go side and become
// pointers only in C, so no Go slice ever points at device memory.

package cuda

/*
#cgo LDFLAGS: -lcublas
#cgo linux LDFLAGS: -L/usr/local/cuda/lib64
#cgo linux CFLAGS: -I/usr/local/cuda/include
#include <stdint.h>
#include <cublas_v2.h>

static int encc_cublas_create(uintptr_t* h) {
	cublasHandle_t handle;
	int st = (int)cublasCreate(&handle);
	*h = (uintptr_t)handle;
	return st;
}

static void encc_cublas_destroy(uintptr_t h) { cublasDestroy((cublasHandle_t)h); }

static int encc_sgemm(uintptr_t h, int ta, int tb, int m, int n, int k, float alpha,
		uintptr_t A, int lda, long long sa, uintptr_t B, int ldb, long long sb,
		float beta, uintptr_t C, int ldc, long long sc, int batch) {
	return (int)cublasSgemmStridedBatched((cublasHandle_t)h,
		ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
		&alpha, (const float*)A, lda, sa, (const float*)B, ldb, sb,
		&beta, (float*)C, ldc, sc, batch);
}
*/
import "C"

import "fmt"

// A blasHandle is a cuBLAS handle (on the context current at creation).
type blasHandle uintptr

func newBLAS() (blasHandle, error) {
	var h C.uintptr_t
	if st := C.encc_cublas_create(&h); st != 0 {
		return 0, fmt.Errorf("cublasCreate: status %d", int(st))
	}
	return blasHandle(h), nil
}

func (h blasHandle) destroy() { C.encc_cublas_destroy(C.uintptr_t(h)) }

// sgemm runs g with its pointers resolved to a, b, c.
func (h blasHandle) sgemm(g *GEMM, a, b, c uintptr) error {
	st := C.encc_sgemm(C.uintptr_t(h), C.int(b2i(g.TransA == "T")), C.int(b2i(g.TransB == "T")),
		C.int(g.M), C.int(g.N), C.int(g.K), C.float(g.Alpha),
		C.uintptr_t(a), C.int(g.LDA), C.longlong(g.StrideA),
		C.uintptr_t(b), C.int(g.LDB), C.longlong(g.StrideB),
		C.float(g.Beta), C.uintptr_t(c), C.int(g.LDC), C.longlong(g.StrideC), C.int(g.Batch))
	if st != 0 {
		return fmt.Errorf("cublasSgemmStridedBatched: status %d", int(st))
	}
	return nil
}
