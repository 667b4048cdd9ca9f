/* GEMM through oneDNN's dnnl_sgemm when the build has it (SELFSUP_HAVE_DNNL), else CBLAS
 * (OpenBLAS, OpenMP build). Both share the OpenMP thread pool and run single-threaded when
 * called inside one of our parallel regions. oneDNN is preferred because its JIT kernels use
 * AVX-512 where the CPU has it; Debian's OpenBLAS 0.3.21 picks its Haswell (AVX2) kernels on
 * AMD Zen 4/5, at half the rate (bench/README.md). */
#include "kernels/gemm.h"

#include <cblas.h>
#ifdef SELFSUP_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

void sup_cpu_gemm_f32(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
		      int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
	if (M == 0 || N == 0)
		return;
	if (K == 0) {
		/* BLAS leaves C alone when K == 0 only if beta == 1; make beta's meaning explicit. */
		for (int64_t i = 0; i < M; i++)
			for (int64_t j = 0; j < N; j++)
				C[i * ldc + j] = beta == 0 ? 0.0f : beta * C[i * ldc + j];
		return;
	}
#ifdef SELFSUP_HAVE_DNNL
	/* Row-major, like the CBLAS call below; it fails only on arguments CBLAS would reject too. */
	if (dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) == dnnl_success)
		return;
#endif
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
		    (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void sup_cpu_add_bias_f32(float *Y, const float *b, int64_t M, int64_t N)
{
	/* Rows are independent; below ~32k elements a thread team costs more than the adds. */
#pragma omp parallel for schedule(static) if (M * N >= 32768)
	for (int64_t i = 0; i < M; i++) {
		float *restrict y = Y + i * N;
#pragma omp simd
		for (int64_t j = 0; j < N; j++)
			y[j] += b[j];
	}
}
