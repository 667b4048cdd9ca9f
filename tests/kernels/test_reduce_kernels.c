/* Fast (cpu/) against reference (ref/) kernels for reductions and the softmax family: odd sizes
 * (1, 7, 33, 257), row / column / generally strided layouts, ties, NaN, long groups (the blocked
 * path) and bitwise determinism of the fast sums (repeated runs and different thread counts). */
#include "kernels/reduce.h"
#include "kernels/softmax.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static const int64_t sizes[] = { 1, 7, 33, 257 };
#define N_SIZES ((int)(sizeof sizes / sizeof sizes[0]))

/* A layout of the [O, I] problem: strides and the buffer length they need. */
struct layout {
	const char *name;
	int64_t so, si;
};
static struct layout layout_make(int kind, int64_t O, int64_t I)
{
	switch (kind) {
	case 0: return (struct layout){ "rows", I, 1 };
	case 1: return (struct layout){ "columns", 1, O };
	case 2: return (struct layout){ "strided", 3 * I + 1, 2 };
	default: return (struct layout){ "strided columns", 2, 2 * O + 1 };
	}
}
static int64_t layout_len(struct layout l, int64_t O, int64_t I)
{
	return (O - 1) * l.so + (I - 1) * l.si + 1;
}

static float *rand_buf(struct sup_rng *r, int64_t n, float lo, float hi, bool integers)
{
	float *x = malloc(sizeof(float) * (size_t)(n ? n : 1));
	for (int64_t i = 0; i < n; i++) {
		float v = lo + (hi - lo) * sup_rng_uniform(r);
		x[i] = integers ? floorf(v) : v;
	}
	return x;
}

/* max |a - b| / (1 + |b|) over n values; a NaN where b is not (or the reverse) is infinite. */
static double rel_err(const float *a, const float *b, int64_t n)
{
	double m = 0;
	for (int64_t i = 0; i < n; i++) {
		if (isnan(a[i]) || isnan(b[i])) {
			if (isnan(a[i]) != isnan(b[i]))
				return INFINITY;
			continue;
		}
		double e = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
		m = e > m ? e : m;
	}
	return m;
}

static void check_forward(struct sup_rng *r, int64_t O, int64_t I, int kind, bool integers)
{
	struct layout l = layout_make(kind, O, I);
	const int64_t len = layout_len(l, O, I);
	float *x = rand_buf(r, len, -3, 3, integers);
	float *a = malloc(sizeof(float) * (size_t)O), *b = malloc(sizeof(float) * (size_t)O);
	float *ma = malloc(sizeof(float) * (size_t)O), *mb = malloc(sizeof(float) * (size_t)O);
	int64_t *ia = malloc(sizeof(int64_t) * (size_t)O), *ib = malloc(sizeof(int64_t) * (size_t)O);
	/* Sums: lanes/blocks vs sequential differ by rounding only; scale by the group size. */
	const double tol = 1e-6 * (double)(I + 8);

	sup_cpu_sum_f32(a, x, O, I, l.so, l.si, 0.5f);
	sup_ref_sum_f32(b, x, O, I, l.so, l.si, 0.5f);
	TU_CHECK_MSG(rel_err(a, b, O) <= tol, "sum O=%lld I=%lld %s", (long long)O, (long long)I, l.name);

	sup_cpu_max_f32(a, ia, x, O, I, l.so, l.si);
	sup_ref_max_f32(b, ib, x, O, I, l.so, l.si);
	TU_CHECK_MSG(memcmp(a, b, sizeof(float) * (size_t)O) == 0 && memcmp(ia, ib, sizeof(int64_t) * (size_t)O) == 0,
		     "max O=%lld I=%lld %s", (long long)O, (long long)I, l.name);

	sup_cpu_logsumexp_f32(a, x, O, I, l.so, l.si);
	sup_ref_logsumexp_f32(b, x, O, I, l.so, l.si);
	TU_CHECK_MSG(rel_err(a, b, O) <= tol, "logsumexp O=%lld I=%lld %s", (long long)O, (long long)I, l.name);

	for (int corr = 0; corr <= 1; corr++) {
		sup_cpu_var_f32(a, ma, x, O, I, l.so, l.si, corr);
		sup_ref_var_f32(b, mb, x, O, I, l.so, l.si, corr);
		TU_CHECK_MSG(rel_err(a, b, O) <= tol && rel_err(ma, mb, O) <= tol, "var(%d) O=%lld I=%lld %s", corr,
			     (long long)O, (long long)I, l.name);
	}
	free(x), free(a), free(b), free(ma), free(mb), free(ia), free(ib);
}

static void check_backward(struct sup_rng *r, int64_t O, int64_t I, int kind)
{
	struct layout l = layout_make(kind, O, I), d = layout_make(3 - kind, O, I);
	const int64_t len = layout_len(l, O, I), dlen = layout_len(d, O, I);
	float *x = rand_buf(r, len, -2, 2, false), *g = rand_buf(r, O, -1, 1, false);
	float *aux = rand_buf(r, O, 1, 2, false);
	float *d0 = rand_buf(r, dlen, -1, 1, false), *da = malloc(sizeof(float) * (size_t)dlen);
	float *db = malloc(sizeof(float) * (size_t)dlen);
	for (int k = 0; k < 3; k++) {
		memcpy(da, d0, sizeof(float) * (size_t)dlen);
		memcpy(db, d0, sizeof(float) * (size_t)dlen);
		sup_cpu_reduce_bwd_f32(da, d.so, d.si, g, x, l.so, l.si, aux, O, I, (enum sup_reduce_bwd_kind)k, 0.75f);
		sup_ref_reduce_bwd_f32(db, d.so, d.si, g, x, l.so, l.si, aux, O, I, (enum sup_reduce_bwd_kind)k, 0.75f);
		TU_CHECK_MSG(rel_err(da, db, dlen) <= 1e-6, "reduce_bwd kind %d O=%lld I=%lld x %s dx %s", k,
			     (long long)O, (long long)I, l.name, d.name);
	}
	free(x), free(g), free(aux), free(d0), free(da), free(db);
}

static void test_odd_sizes(void)
{
	struct sup_rng r = sup_rng_make(3, 1);
	for (int a = 0; a < N_SIZES; a++)
		for (int b = 0; b < N_SIZES; b++)
			for (int kind = 0; kind < 4; kind++) {
				check_forward(&r, sizes[a], sizes[b], kind, false);
				check_forward(&r, sizes[a], sizes[b], kind, true); /* many ties */
				check_backward(&r, sizes[a], sizes[b], kind);
			}
	/* Long groups: the blocked (parallel) path of one group, and many groups over threads. */
	for (int kind = 0; kind < 4; kind++) {
		check_forward(&r, 1, 100003, kind, false);
		check_forward(&r, 1, 5000000, kind, true);
		check_forward(&r, 3, 40001, kind, false);
		check_backward(&r, 2, 70001, kind);
		check_backward(&r, 1, 100003, kind);
	}
}

/* A NaN is the maximum, found at its first position, also across blocks. */
static void test_max_nan_ties(void)
{
	const int64_t n = 20000;
	float *x = calloc((size_t)n, sizeof(float));
	x[5000] = 1, x[9000] = 1, x[15000] = 1;
	float m;
	int64_t at;
	sup_cpu_max_f32(&m, &at, x, 1, n, n, 1);
	TU_CHECK(m == 1 && at == 5000);
	sup_ref_max_f32(&m, &at, x, 1, n, n, 1);
	TU_CHECK(m == 1 && at == 5000);
	x[12000] = NAN, x[17000] = NAN;
	sup_cpu_max_f32(&m, &at, x, 1, n, n, 1);
	TU_CHECK(isnan(m) && at == 12000);
	sup_ref_max_f32(&m, &at, x, 1, n, n, 1);
	TU_CHECK(isnan(m) && at == 12000);
	free(x);
}

/* Hand values: the kernels on tiny inputs, so that a wrong reference cannot hide. */
static void test_hand_values(void)
{
	const float x[6] = { 1, 2, 3, 4, 5, 6 }; /* [2, 3] */
	float o[3], mean[3];
	sup_cpu_sum_f32(o, x, 3, 2, 1, 3, 1.0f); /* axis 0 */
	TU_CHECK(o[0] == 5 && o[1] == 7 && o[2] == 9);
	sup_ref_sum_f32(o, x, 2, 3, 3, 1, 1.0f);
	TU_CHECK(o[0] == 6 && o[1] == 15);
	sup_cpu_var_f32(o, mean, x, 2, 3, 3, 1, 1);
	TU_CHECK(o[0] == 1 && o[1] == 1 && mean[0] == 2 && mean[1] == 5);
	sup_cpu_logsumexp_f32(o, x, 1, 3, 3, 1);
	TU_CHECK_NEAR(o[0], 3.4076059644443806, 1e-6);
	const float inf[2] = { -INFINITY, -INFINITY };
	sup_cpu_logsumexp_f32(o, inf, 1, 2, 2, 1);
	TU_CHECK(isinf(o[0]) && o[0] < 0);
	float y[3];
	sup_cpu_softmax_f32(y, x, 1, 3, 1, false);
	TU_CHECK_NEAR(y[0], 0.0900305732, 1e-7);
	TU_CHECK_NEAR(y[2], 0.6652409558, 1e-7);
}

static void test_determinism(void)
{
	struct sup_rng r = sup_rng_make(9, 2);
	const int64_t n = 3000017;
	float *x = rand_buf(&r, n, -1, 1, false);
	float s1, s2, rows1[64], rows2[64];
	sup_cpu_sum_f32(&s1, x, 1, n, n, 1, 1.0f);
	sup_cpu_sum_f32(&s2, x, 1, n, n, 1, 1.0f);
	TU_CHECK(memcmp(&s1, &s2, sizeof s1) == 0);
	sup_cpu_sum_f32(rows1, x, 64, n / 64, n / 64, 1, 1.0f);
	sup_cpu_sum_f32(rows2, x, 64, n / 64, n / 64, 1, 1.0f);
	TU_CHECK(memcmp(rows1, rows2, sizeof rows1) == 0);
#ifdef _OPENMP
	/* The order is fixed by the sizes alone, so even the thread count does not matter. */
	const int keep = omp_get_max_threads();
	omp_set_num_threads(1);
	sup_cpu_sum_f32(&s2, x, 1, n, n, 1, 1.0f);
	sup_cpu_sum_f32(rows2, x, 64, n / 64, n / 64, 1, 1.0f);
	omp_set_num_threads(keep > 1 ? keep : 3);
	TU_CHECK(memcmp(&s1, &s2, sizeof s1) == 0);
	TU_CHECK(memcmp(rows1, rows2, sizeof rows1) == 0);
	sup_cpu_sum_f32(&s2, x, 1, n, n, 1, 1.0f);
	TU_CHECK(memcmp(&s1, &s2, sizeof s1) == 0);
	omp_set_num_threads(keep);
#endif
	/* The blocked sum is accurate too: compare with a double-precision sum. */
	double ref = 0;
	for (int64_t i = 0; i < n; i++)
		ref += x[i];
	TU_CHECK_NEAR(s1, ref, 1e-2);
	free(x);
}

static void check_softmax(struct sup_rng *r, int64_t O, int64_t C, int64_t N)
{
	const int64_t n = O * C * N;
	float *x = rand_buf(r, n, -4, 4, false), *g = rand_buf(r, n, -1, 1, false);
	float *ya = malloc(sizeof(float) * (size_t)n), *yb = malloc(sizeof(float) * (size_t)n);
	float *d0 = rand_buf(r, n, -1, 1, false), *da = malloc(sizeof(float) * (size_t)n);
	float *db = malloc(sizeof(float) * (size_t)n);
	float *na = malloc(sizeof(float) * (size_t)(O * N)), *nb = malloc(sizeof(float) * (size_t)(O * N));
	for (int lg = 0; lg <= 1; lg++) {
		sup_cpu_softmax_f32(ya, x, O, C, N, lg);
		sup_ref_softmax_f32(yb, x, O, C, N, lg);
		TU_CHECK_MSG(rel_err(ya, yb, n) <= 2e-6, "softmax(log=%d) O=%lld C=%lld N=%lld", lg, (long long)O,
			     (long long)C, (long long)N);
		memcpy(da, d0, sizeof(float) * (size_t)n);
		memcpy(db, d0, sizeof(float) * (size_t)n);
		sup_cpu_softmax_bwd_f32(da, yb, g, O, C, N, lg);
		sup_ref_softmax_bwd_f32(db, yb, g, O, C, N, lg);
		TU_CHECK_MSG(rel_err(da, db, n) <= 1e-5, "softmax_bwd(log=%d) O=%lld C=%lld N=%lld", lg, (long long)O,
			     (long long)C, (long long)N);
	}
	for (int e = 0; e < 2; e++) {
		const float eps = e ? 1e3f : 1e-12f; /* every norm clamped / none clamped */
		sup_cpu_l2norm_f32(ya, na, x, O, C, N, eps);
		sup_ref_l2norm_f32(yb, nb, x, O, C, N, eps);
		TU_CHECK_MSG(rel_err(ya, yb, n) <= 2e-6 && rel_err(na, nb, O * N) <= 1e-5, "l2norm eps %g C=%lld",
			     (double)eps, (long long)C);
		memcpy(da, d0, sizeof(float) * (size_t)n);
		memcpy(db, d0, sizeof(float) * (size_t)n);
		sup_cpu_l2norm_bwd_f32(da, yb, nb, g, O, C, N, eps);
		sup_ref_l2norm_bwd_f32(db, yb, nb, g, O, C, N, eps);
		TU_CHECK_MSG(rel_err(da, db, n) <= 1e-5, "l2norm_bwd eps %g C=%lld", (double)eps, (long long)C);
	}
	free(x), free(g), free(ya), free(yb), free(d0), free(da), free(db), free(na), free(nb);
}

static void test_softmax_kernels(void)
{
	struct sup_rng r = sup_rng_make(5, 3);
	for (int a = 0; a < N_SIZES; a++)
		for (int b = 0; b < N_SIZES; b++) {
			check_softmax(&r, sizes[a], sizes[b], 1);
			check_softmax(&r, sizes[a] < 33 ? sizes[a] : 5, sizes[b], 3);
		}
	check_softmax(&r, 300, 257, 1); /* parallel rows */
}

int main(void)
{
	test_hand_values();
	test_odd_sizes();
	test_max_nan_ties();
	test_determinism();
	test_softmax_kernels();
	return tu_finish("kernels/reduce_kernels");
}
