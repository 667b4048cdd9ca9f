/* The fast GEMM kernel (dnnl_sgemm or OpenBLAS) against the reference triple loop: every
 * transpose combination, odd sizes, leading dimensions wider than the matrices, alpha != 1,
 * beta 0 over a C full of NaN (must be overwritten, not scaled) and beta 1 (accumulate), K = 0,
 * calls from inside an OpenMP parallel region (what the chunk-parallel convolutions do), and
 * the linear layer's bias kernel. */
#include "testutil.h"

#include "kernels/gemm.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Max |x - y| / (1 + |y|), NaN anywhere counts as infinite. */
static double rel_diff(const float *x, const float *y, int64_t rows, int64_t cols, int64_t ld)
{
	double m = 0;
	for (int64_t i = 0; i < rows; i++)
		for (int64_t j = 0; j < cols; j++) {
			double d = fabs((double)x[i * ld + j] - (double)y[i * ld + j]) / (1 + fabs((double)y[i * ld + j]));
			if (!(d <= m))
				m = isnan(d) ? INFINITY : d;
		}
	return m;
}

static void fill(struct sup_rng *r, float *p, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		p[i] = (float)(2.0 * sup_rng_uniform(r) - 1.0);
}

/* One case: C (M x N, ldc = N + 3) from A, B stored with leading dimensions padded by 5 and 2. */
static void check_case(struct sup_rng *r, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
		       float beta)
{
	const int64_t lda = (ta ? M : K) + 5, ldb = (tb ? K : N) + 2, ldc = N + 3;
	const int64_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
	float *A = malloc(sizeof(float) * (size_t)(na + 1)), *B = malloc(sizeof(float) * (size_t)(nb + 1));
	float *C = malloc(sizeof(float) * (size_t)(nc + 1)), *R = malloc(sizeof(float) * (size_t)(nc + 1));
	if (!A || !B || !C || !R) {
		TU_CHECK(!"out of memory");
		goto free_all;
	}
	fill(r, A, na);
	fill(r, B, nb);
	fill(r, C, nc);
	if (beta == 0)
		for (int64_t i = 0; i < nc; i++)
			C[i] = NAN; /* beta 0 overwrites: NaN must not leak through */
	memcpy(R, C, sizeof(float) * (size_t)nc);
	sup_ref_gemm_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, R, ldc);
	sup_cpu_gemm_f32(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
	const double tol = 1e-6 * (double)(K + 1);
	double d = rel_diff(C, R, M, N, ldc);
	TU_CHECK_MSG(d <= tol, "gemm ta %d tb %d M %lld N %lld K %lld alpha %g beta %g: differs by %g", ta, tb,
		     (long long)M, (long long)N, (long long)K, alpha, beta, d);
	/* The padding columns of C are not touched. */
	bool pad_ok = true;
	for (int64_t i = 0; i < M; i++)
		for (int64_t j = N; j < ldc; j++)
			pad_ok &= memcmp(&C[i * ldc + j], &R[i * ldc + j], sizeof(float)) == 0;
	TU_CHECK_MSG(pad_ok, "gemm wrote outside the M x N block (ldc %lld)", (long long)ldc);
free_all:
	free(A);
	free(B);
	free(C);
	free(R);
}

static void test_gemm_shapes(void)
{
	struct sup_rng r = sup_rng_make(11, 0);
	const int64_t dims[][3] = { { 1, 1, 1 }, { 7, 5, 3 }, { 33, 17, 65 }, { 64, 192, 256 }, { 130, 1, 77 },
				    { 1, 129, 40 }, { 5, 6, 0 } };
	for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++)
		for (int t = 0; t < 4; t++) {
			check_case(&r, t & 1, t & 2, dims[s][0], dims[s][1], dims[s][2], 1.0f, 0.0f);
			check_case(&r, t & 1, t & 2, dims[s][0], dims[s][1], dims[s][2], -0.5f, 1.0f);
		}
}

/* Two threads each run their own GEMM at once (the convolutions' chunk-parallel mode): both
 * results must match the same GEMM run alone (to rounding: a GEMM run alone may be split over
 * threads, which OpenBLAS does in a way that changes the rounding). */
static void test_gemm_in_parallel_region(void)
{
	enum { M = 96, N = 80, K = 200 };
	struct sup_rng r = sup_rng_make(12, 0);
	float *A = malloc(sizeof(float) * 2 * M * K), *B = malloc(sizeof(float) * K * N);
	float *C = malloc(sizeof(float) * 2 * M * N), *R = malloc(sizeof(float) * 2 * M * N);
	if (!A || !B || !C || !R) {
		TU_CHECK(!"out of memory");
		goto free_all;
	}
	fill(&r, A, 2 * M * K);
	fill(&r, B, K * N);
	for (int i = 0; i < 2; i++)
		sup_cpu_gemm_f32(false, false, M, N, K, 1.0f, A + i * M * K, K, B, N, 0.0f, R + i * M * N, N);
#pragma omp parallel for num_threads(2)
	for (int i = 0; i < 2; i++)
		sup_cpu_gemm_f32(false, false, M, N, K, 1.0f, A + i * M * K, K, B, N, 0.0f, C + i * M * N, N);
	TU_CHECK(rel_diff(C, R, 2 * M, N, N) <= 1e-6 * K);
free_all:
	free(A);
	free(B);
	free(C);
	free(R);
}

static void test_add_bias(void)
{
	struct sup_rng r = sup_rng_make(13, 0);
	const int64_t shapes[][2] = { { 1, 1 }, { 3, 7 }, { 4096, 33 } };
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		const int64_t M = shapes[s][0], N = shapes[s][1];
		float *y = malloc(sizeof(float) * (size_t)(M * N)), *ref = malloc(sizeof(float) * (size_t)(M * N));
		float *b = malloc(sizeof(float) * (size_t)N);
		if (!y || !ref || !b) {
			TU_CHECK(!"out of memory");
		} else {
			fill(&r, y, M * N);
			fill(&r, b, N);
			memcpy(ref, y, sizeof(float) * (size_t)(M * N));
			sup_ref_add_bias_f32(ref, b, M, N);
			sup_cpu_add_bias_f32(y, b, M, N);
			TU_CHECK_MSG(memcmp(y, ref, sizeof(float) * (size_t)(M * N)) == 0, "add_bias %lld x %lld",
				     (long long)M, (long long)N);
		}
		free(y);
		free(ref);
		free(b);
	}
}

int main(void)
{
	test_gemm_shapes();
	test_gemm_in_parallel_region();
	test_add_bias();
	return tu_finish("gemm kernels");
}
