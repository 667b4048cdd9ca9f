/* Reference GEMM: the definition, summed in k order in the element type. */
#include "kernels/gemm.h"

#define GEMM_BODY(T)                                                                          \
	for (int64_t i = 0; i < M; i++)                                                       \
		for (int64_t j = 0; j < N; j++) {                                             \
			T acc = 0;                                                            \
			for (int64_t k = 0; k < K; k++) {                                     \
				T a = ta ? A[k * lda + i] : A[i * lda + k];                   \
				T b = tb ? B[j * ldb + k] : B[k * ldb + j];                   \
				acc += a * b;                                                 \
			}                                                                     \
			C[i * ldc + j] = alpha * acc + (beta == 0 ? (T)0 : beta * C[i * ldc + j]); \
		}

void sup_ref_gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
		      int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
	GEMM_BODY(float)
}

void sup_ref_gemm_f64(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double *A,
		      int64_t lda, const double *B, int64_t ldb, double beta, double *C, int64_t ldc)
{
	GEMM_BODY(double)
}

void sup_ref_add_bias_f32(float *Y, const float *b, int64_t M, int64_t N)
{
	for (int64_t i = 0; i < M; i++)
		for (int64_t j = 0; j < N; j++)
			Y[i * N + j] += b[j];
}

void sup_ref_add_bias_f64(double *Y, const double *b, int64_t M, int64_t N)
{
	for (int64_t i = 0; i < M; i++)
		for (int64_t j = 0; j < N; j++)
			Y[i * N + j] += b[j];
}
