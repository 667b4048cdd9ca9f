/* Fast f32 normalisation kernels against the reference kernels on odd sizes (1, 7, 33, 257),
 * with and without weight/bias, training and eval backward; the fast kernels' results must not
 * depend on the thread count; the ops on non-contiguous views equal the ops on copies. */
#include "kernels/norm.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static float *frand(struct sup_rng *r, int64_t n, float lo, float hi)
{
	float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
	for (int64_t i = 0; i < n; i++)
		p[i] = lo + (hi - lo) * sup_rng_uniform(r);
	return p;
}

static float *fcopy(const float *src, int64_t n)
{
	float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
	memcpy(p, src, sizeof(float) * (size_t)n);
	return p;
}

/* max |a - b| / (1 + |b|) */
static double rel_diff(const float *a, const float *b, int64_t n)
{
	double m = 0;
	for (int64_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
		if (!(d <= m))
			m = isnan(d) ? INFINITY : d;
	}
	return m;
}

static void set_threads(int n)
{
#ifdef _OPENMP
	omp_set_num_threads(n);
#else
	(void)n;
#endif
}

#define TOL 2e-5

static void check_ln(int64_t R, int64_t C, bool use_w, bool use_b)
{
	struct sup_rng r = sup_rng_make(3, (uint64_t)(R * 1000 + C));
	const int64_t n = R * C;
	float *x = frand(&r, n, -2, 3), *dy = frand(&r, n, -1, 1);
	float *w = use_w ? frand(&r, C, 0.5f, 2) : NULL, *b = use_b ? frand(&r, C, -1, 1) : NULL;
	float *y0 = frand(&r, n, 0, 1), *y1 = fcopy(y0, n);
	float *s0 = frand(&r, 2 * R, 0, 1), *s1 = fcopy(s0, 2 * R);
	sup_ref_layer_norm_fwd_f32(y0, s0, s0 + R, x, w, b, R, C, 1e-5);
	sup_cpu_layer_norm_fwd_f32(y1, s1, s1 + R, x, w, b, R, C, 1e-5);
	TU_CHECK_MSG(rel_diff(y1, y0, n) <= TOL, "ln fwd R %lld C %lld: %g", (long long)R, (long long)C,
		     rel_diff(y1, y0, n));
	TU_CHECK_MSG(rel_diff(s1, s0, 2 * R) <= TOL, "ln stats R %lld C %lld", (long long)R, (long long)C);
	/* backward accumulates onto existing values */
	float *dx0 = frand(&r, n, -1, 1), *dx1 = fcopy(dx0, n);
	float *dw0 = frand(&r, C, -1, 1), *dw1 = fcopy(dw0, C), *db0 = frand(&r, C, -1, 1), *db1 = fcopy(db0, C);
	float *dxa = fcopy(dx0, n), *dwa = fcopy(dw0, C);
	sup_ref_layer_norm_bwd_f32(dx0, dw0, db0, dy, x, s0, s0 + R, w, R, C);
	sup_cpu_layer_norm_bwd_f32(dx1, dw1, db1, dy, x, s0, s0 + R, w, R, C);
	TU_CHECK_MSG(rel_diff(dx1, dx0, n) <= TOL, "ln dx R %lld C %lld: %g", (long long)R, (long long)C,
		     rel_diff(dx1, dx0, n));
	TU_CHECK_MSG(rel_diff(dw1, dw0, C) <= TOL && rel_diff(db1, db0, C) <= TOL, "ln dw/db R %lld C %lld: %g %g",
		     (long long)R, (long long)C, rel_diff(dw1, dw0, C), rel_diff(db1, db0, C));
	/* only dx wanted, only dw wanted */
	sup_cpu_layer_norm_bwd_f32(dxa, NULL, NULL, dy, x, s0, s0 + R, w, R, C);
	sup_cpu_layer_norm_bwd_f32(NULL, dwa, NULL, dy, x, s0, s0 + R, w, R, C);
	TU_CHECK(rel_diff(dxa, dx0, n) <= TOL && rel_diff(dwa, dw0, C) <= TOL);
	/* thread-count independence (bitwise) */
	float *y2 = fcopy(y1, n), *dx2 = fcopy(dx0, n), *dw2 = fcopy(dw0, C), *dx3 = fcopy(dx0, n), *dw3 = fcopy(dw0, C);
	set_threads(1);
	sup_cpu_layer_norm_fwd_f32(y1, s1, s1 + R, x, w, b, R, C, 1e-5);
	sup_cpu_layer_norm_bwd_f32(dx2, dw2, NULL, dy, x, s0, s0 + R, w, R, C);
	set_threads(3);
	sup_cpu_layer_norm_fwd_f32(y2, s1, s1 + R, x, w, b, R, C, 1e-5);
	sup_cpu_layer_norm_bwd_f32(dx3, dw3, NULL, dy, x, s0, s0 + R, w, R, C);
	set_threads(2);
	TU_CHECK(memcmp(y1, y2, sizeof(float) * (size_t)n) == 0);
	TU_CHECK(memcmp(dx2, dx3, sizeof(float) * (size_t)n) == 0 && memcmp(dw2, dw3, sizeof(float) * (size_t)C) == 0);
	float *all[] = { x, dy, w, b, y0, y1, y2, s0, s1, dx0, dx1, dw0, dw1, db0, db1, dxa, dwa, dx2, dw2, dx3, dw3 };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]);
}

static void check_bn(int64_t N, int64_t C, int64_t S, bool use_w, bool use_b)
{
	struct sup_rng r = sup_rng_make(4, (uint64_t)(N * 1000000 + C * 1000 + S));
	const int64_t n = N * C * S;
	float *x = frand(&r, n, -1, 4), *dy = frand(&r, n, -1, 1);
	float *w = use_w ? frand(&r, C, 0.5f, 2) : NULL, *b = use_b ? frand(&r, C, -1, 1) : NULL;
	float *m0 = frand(&r, C, 0, 1), *m1 = fcopy(m0, C), *v0 = frand(&r, C, 0, 1), *v1 = fcopy(v0, C);
	sup_ref_batch_norm_stats_f32(m0, v0, x, N, C, S);
	sup_cpu_batch_norm_stats_f32(m1, v1, x, N, C, S);
	TU_CHECK_MSG(rel_diff(m1, m0, C) <= TOL && rel_diff(v1, v0, C) <= TOL, "bn stats %lld %lld %lld: %g %g",
		     (long long)N, (long long)C, (long long)S, rel_diff(m1, m0, C), rel_diff(v1, v0, C));
	float *rs = malloc(sizeof(float) * (size_t)C);
	for (int64_t ch = 0; ch < C; ch++)
		rs[ch] = (float)(1.0 / sqrt((double)v0[ch] + 1e-5));
	float *y0 = frand(&r, n, 0, 1), *y1 = fcopy(y0, n);
	sup_ref_batch_norm_apply_f32(y0, x, m0, rs, w, b, N, C, S);
	sup_cpu_batch_norm_apply_f32(y1, x, m0, rs, w, b, N, C, S);
	TU_CHECK_MSG(rel_diff(y1, y0, n) <= TOL, "bn apply %lld %lld %lld", (long long)N, (long long)C, (long long)S);
	for (int tr = 0; tr < 2; tr++) {
		float *dx0 = frand(&r, n, -1, 1), *dx1 = fcopy(dx0, n);
		float *dw0 = frand(&r, C, -1, 1), *dw1 = fcopy(dw0, C), *db0 = frand(&r, C, -1, 1), *db1 = fcopy(db0, C);
		sup_ref_batch_norm_bwd_f32(dx0, dw0, db0, dy, x, m0, rs, w, N, C, S, tr);
		sup_cpu_batch_norm_bwd_f32(dx1, dw1, db1, dy, x, m0, rs, w, N, C, S, tr);
		/* the training dx is a difference of O(1) terms: compare with an absolute floor */
		TU_CHECK_MSG(rel_diff(dx1, dx0, n) <= 4 * TOL, "bn dx %lld %lld %lld tr %d: %g", (long long)N,
			     (long long)C, (long long)S, tr, rel_diff(dx1, dx0, n));
		TU_CHECK_MSG(rel_diff(dw1, dw0, C) <= TOL && rel_diff(db1, db0, C) <= TOL, "bn dw/db %lld %lld %lld",
			     (long long)N, (long long)C, (long long)S);
		float *dx2 = fcopy(dx0, n), *dx3 = fcopy(dx0, n), *dw2 = fcopy(dw0, C), *dw3 = fcopy(dw0, C);
		set_threads(1);
		sup_cpu_batch_norm_bwd_f32(dx2, dw2, NULL, dy, x, m0, rs, w, N, C, S, tr);
		set_threads(3);
		sup_cpu_batch_norm_bwd_f32(dx3, dw3, NULL, dy, x, m0, rs, w, N, C, S, tr);
		set_threads(2);
		TU_CHECK(memcmp(dx2, dx3, sizeof(float) * (size_t)n) == 0 &&
			 memcmp(dw2, dw3, sizeof(float) * (size_t)C) == 0);
		float *all[] = { dx0, dx1, dw0, dw1, db0, db1, dx2, dx3, dw2, dw3 };
		for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
			free(all[i]);
	}
	set_threads(1);
	sup_cpu_batch_norm_stats_f32(m1, v1, x, N, C, S);
	float *m2 = fcopy(m1, C), *v2 = fcopy(v1, C);
	set_threads(3);
	sup_cpu_batch_norm_stats_f32(m2, v2, x, N, C, S);
	set_threads(2);
	TU_CHECK(memcmp(m1, m2, sizeof(float) * (size_t)C) == 0 && memcmp(v1, v2, sizeof(float) * (size_t)C) == 0);
	float *all[] = { x, dy, w, b, m0, m1, m2, v0, v1, v2, rs, y0, y1 };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]);
}

/* batch_norm then layer_norm, each fed a strided view (copied first when `copy`), backward g. */
static struct sup_tensor *view_chain(struct sup_ctx *c, struct sup_tensor *x, struct sup_tensor *w, bool copy,
				     struct sup_rng *r)
{
	const int perm[4] = { 0, 2, 3, 1 }; /* [33, 4, 7, 5] -> [33, 7, 5, 4]: non-contiguous */
	struct sup_tensor *v = sup_permute(c, x, perm);
	TU_CHECK(v && !sup_tensor_is_contiguous(v));
	struct sup_tensor *y = sup_batch_norm(c, copy ? sup_contiguous(c, v) : v, w, NULL, NULL, NULL, NULL);
	struct sup_tensor *t = sup_transpose(c, y, 1, 3);
	struct sup_tensor *z = sup_layer_norm(c, copy ? sup_contiguous(c, t) : t, NULL, w, 1e-5);
	struct sup_rng rr = *r; /* the same g for both chains */
	struct sup_tensor *g = z ? tu_rand(c, &rr, SUP_F32, z->ndim, z->shape, -1, 1) : NULL;
	TU_CHECK(g && sup_backward_grad(c, z, g->data) == SUP_OK);
	return z;
}

/* The ops on strided views (fast backend) equal the ops on contiguous copies, values and grads. */
static void check_views(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 9);
	struct sup_rng r = sup_rng_make(5, 5);
	struct sup_tensor *base = tu_rand(&c, &r, SUP_F32, TU_SHAPE(33, 4, 7, 5), -1, 2);
	struct sup_tensor *copy = sup_tensor_clone(&c, base);
	struct sup_tensor *w = tu_rand(&c, &r, SUP_F32, TU_SHAPE(7), 0.5, 2);
	base->requires_grad = copy->requires_grad = true;
	struct sup_tensor *z1 = view_chain(&c, base, w, false, &r), *z2 = view_chain(&c, copy, w, true, &r);
	TU_CHECK(z1 && z2 && tu_max_abs_diff(z1, z2) == 0.0);
	double m = 0;
	for (int64_t i = 0; i < sup_tensor_numel(base); i++) {
		double d = fabs(sup_tensor_grad_get(base, i) - sup_tensor_grad_get(copy, i));
		m = d > m ? d : m;
	}
	TU_CHECK_MSG(m == 0.0 && sup_tensor_grad_get(base, 0) != 0.0, "view vs copy grads differ by %g", m);
	sup_ctx_deinit(&c);
}

int main(void)
{
	const int64_t sizes[] = { 1, 7, 33, 257 };
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++)
			check_ln(sizes[i], sizes[j], (i + j) % 2 == 0, (i + j) % 4 < 2);
	const int64_t ns[] = { 1, 7, 33 };
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 4; j++)
			for (int k = 0; k < 3; k++) {
				if (ns[i] * sizes[j] * ns[k] > 100000)
					continue; /* keep the reference loops quick */
				check_bn(ns[i], sizes[j], ns[k], (i + j + k) % 2 == 0, (i + k) % 2 == 0);
			}
	check_bn(257, 33, 1, true, true);
	check_bn(33, 257, 7, true, false);
	check_views();
	return tu_finish("kernels/norm");
}
