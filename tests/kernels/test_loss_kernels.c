/* Fast f32 cross-entropy kernels against the reference kernels on odd sizes, with ignored rows,
 * label smoothing, both gradient-weight layouts, thread-count independence, and the op on a
 * strided (transposed) logits view on both backends.
 *
 * (Named test_loss_kernels, not test_loss: tests/CMakeLists.txt names each executable after its
 * file, and tests/ops/test_loss.c already takes that name.) */
#include "kernels/loss.h"
#include "testutil.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static double rel_err(double a, double b)
{
	double d = fabs(a - b) / (fabs(b) > 1 ? fabs(b) : 1);
	return isnan(d) ? INFINITY : d;
}

/* One (N, C) problem: logits uniform in [-spread, spread], every 5th row ignored. */
static void compare(int64_t N, int64_t C, float eps, float spread, uint64_t seed)
{
	struct sup_rng r = sup_rng_make(seed, 3);
	float *x = malloc(sizeof(float) * (size_t)(N * C));
	float *lr = malloc(sizeof(float) * (size_t)N * 5), *lse_r = lr + N, *lf = lr + 2 * N, *lse_f = lr + 3 * N;
	float *g = lr + 4 * N;
	float *dr = calloc((size_t)(N * C) * 2, sizeof(float)), *df = dr + N * C;
	int64_t *t = malloc(sizeof(int64_t) * (size_t)N);
	for (int64_t i = 0; i < N * C; i++)
		x[i] = spread * (2 * sup_rng_uniform(&r) - 1);
	for (int64_t n = 0; n < N; n++) {
		t[n] = n % 5 == 3 ? -100 : (int64_t)sup_rng_below(&r, (uint64_t)C);
		g[n] = 2 * sup_rng_uniform(&r) - 1;
	}
	sup_ref_xent_fwd_f32(lr, lse_r, x, t, N, C, -100, eps);
	sup_cpu_xent_fwd_f32(lf, lse_f, x, t, N, C, -100, eps);
	double worst = 0;
	for (int64_t n = 0; n < N; n++) {
		double e = fmax(rel_err(lf[n], lr[n]), rel_err(lse_f[n], lse_r[n]));
		worst = e > worst ? e : worst;
	}
	TU_CHECK_MSG(worst <= 2e-6, "xent fwd N=%lld C=%lld eps=%g: rel err %g", (long long)N, (long long)C, eps, worst);
	for (int64_t n = 3; n < N; n += 5)
		TU_CHECK(lf[n] == 0.0f);

	/* Backward twice: per-row weights (NONE) then a shared scaled weight (MEAN), accumulating. */
	for (int pass = 0; pass < 2; pass++) {
		const int64_t gs = pass == 0 ? 1 : 0;
		const float scale = pass == 0 ? 1.0f : 0.25f;
		sup_ref_xent_bwd_f32(dr, x, lse_r, t, g, gs, scale, N, C, -100, eps);
		sup_cpu_xent_bwd_f32(df, x, lse_r, t, g, gs, scale, N, C, -100, eps);
	}
	worst = 0;
	double norm = 0;
	for (int64_t i = 0; i < N * C; i++) {
		double e = fabs(df[i] - dr[i]);
		worst = isnan(e) ? INFINITY : e > worst ? e : worst;
		norm += fabs(dr[i]);
	}
	TU_CHECK_MSG(worst <= 1e-6, "xent bwd N=%lld C=%lld eps=%g: abs err %g", (long long)N, (long long)C, eps, worst);
	TU_CHECK(N < 2 || C < 2 || norm > 0); /* saw non-zero gradients (C = 1 has none) */
	free(x);
	free(lr);
	free(dr);
	free(t);
}

/* Rows are independent: 1 thread and 4 threads give bitwise equal results. */
static void test_threads(void)
{
	const int64_t N = 300, C = 257;
	float *x = malloc(sizeof(float) * (size_t)(N * C)), *out = malloc(sizeof(float) * (size_t)(4 * N));
	float *d = calloc((size_t)(2 * N * C), sizeof(float));
	int64_t *t = malloc(sizeof(int64_t) * (size_t)N);
	struct sup_rng r = sup_rng_make(9, 1);
	for (int64_t i = 0; i < N * C; i++)
		x[i] = 10 * sup_rng_uniform(&r);
	for (int64_t n = 0; n < N; n++)
		t[n] = (int64_t)sup_rng_below(&r, (uint64_t)C);
	const float one = 1.0f;
	int saved = omp_get_max_threads();
	omp_set_num_threads(1);
	sup_cpu_xent_fwd_f32(out, out + N, x, t, N, C, -100, 0.1f);
	sup_cpu_xent_bwd_f32(d, x, out + N, t, &one, 0, 1.0f, N, C, -100, 0.1f);
	omp_set_num_threads(4);
	sup_cpu_xent_fwd_f32(out + 2 * N, out + 3 * N, x, t, N, C, -100, 0.1f);
	sup_cpu_xent_bwd_f32(d + N * C, x, out + 3 * N, t, &one, 0, 1.0f, N, C, -100, 0.1f);
	omp_set_num_threads(saved);
	TU_CHECK(memcmp(out, out + 2 * N, sizeof(float) * (size_t)(2 * N)) == 0);
	TU_CHECK(memcmp(d, d + N * C, sizeof(float) * (size_t)(N * C)) == 0);
	free(x);
	free(out);
	free(d);
	free(t);
}

/* The op on a transposed f32 view, CPU backend vs reference backend, value and gradient. */
static void test_op_backends(void)
{
	double loss[2], grad[2][7 * 33];
	for (int b = 0; b < 2; b++) {
		struct sup_ctx c;
		tu_ctx(&c, 5);
		c.backend = b ? SUP_BACKEND_REF : SUP_BACKEND_CPU;
		struct sup_rng r = sup_rng_make(77, 0);
		struct sup_tensor *w = tu_rand(&c, &r, SUP_F32, TU_SHAPE(33, 7), -4, 4);
		struct sup_tensor *t = tu_index(&c, &r, TU_SHAPE(7), 33);
		w->requires_grad = true;
		((int64_t *)t->data)[2] = -100;
		struct sup_tensor *y = sup_cross_entropy(&c, sup_transpose(&c, w, 0, 1), t, -100, 0.05, SUP_REDUCE_MEAN);
		TU_CHECK(sup_backward(&c, y) == SUP_OK);
		loss[b] = y ? sup_tensor_get(y, 0) : NAN;
		for (int i = 0; i < 7 * 33; i++)
			grad[b][i] = sup_tensor_grad_get(w, i);
		sup_ctx_deinit(&c);
	}
	TU_CHECK_NEAR(loss[0], loss[1], 1e-5 * fabs(loss[1]));
	double worst = 0;
	for (int i = 0; i < 7 * 33; i++)
		worst = fmax(worst, fabs(grad[0][i] - grad[1][i]));
	TU_CHECK_MSG(worst <= 1e-7, "op grad cpu vs ref: %g", worst);
	for (int v = 0; v < 33; v++) /* column 2 of w is row 2 of the logits: ignored */
		TU_CHECK(grad[0][v * 7 + 2] == 0.0 && grad[1][v * 7 + 2] == 0.0);
}

int main(void)
{
	const int64_t sizes[] = { 1, 7, 33, 257 };
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) {
			compare(sizes[i], sizes[j], 0.0f, 5.0f, (uint64_t)(i * 4 + j));
			compare(sizes[i], sizes[j], 0.1f, 60.0f, (uint64_t)(100 + i * 4 + j));
		}
	compare(2048, 64, 0.2f, 3.0f, 999); /* large enough to run threaded */
	test_threads();
	test_op_backends();
	return tu_finish("kernels/loss");
}
