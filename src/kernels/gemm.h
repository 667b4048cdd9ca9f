/* GEMM kernels: C[M,N] = alpha * op(A) @ op(B) + beta * C, row-major, with leading dimensions.
 * op(X) = X or X^T. The reference kernel is the plain triple loop (the spec); the CPU kernel
 * calls CBLAS (OpenBLAS). Kernels never allocate. */
#ifndef SELFSUP_KERNELS_GEMM_H
#define SELFSUP_KERNELS_GEMM_H

#include <stdbool.h>
#include <stdint.h>

void sup_ref_gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
		      int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
void sup_ref_gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double *A,
		      int64_t lda, const double *B, int64_t ldb, double beta, double *C, int64_t ldc);
void sup_cpu_gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
		      int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/* Y[i, j] += b[j] for a row-major [M, N] matrix Y (the bias of a linear layer). The CPU kernel
 * splits rows over OpenMP threads; every element is one addition, so results match the
 * reference exactly. */
void sup_ref_add_bias_f32(float *Y, const float *b, int64_t M, int64_t N);
void sup_ref_add_bias_f64(double *Y, const double *b, int64_t M, int64_t N);
void sup_cpu_add_bias_f32(float *Y, const float *b, int64_t M, int64_t N);

#endif
