/* Reductions and the softmax family at the op level: hand-computed values (both backends, both
 * dtypes), output shapes, errors, max tie behaviour, hand-derived gradients, and the CPU backend
 * against the reference backend on odd sizes and strided views (forward and backward). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define AX(...) ((const int[]){ __VA_ARGS__ }), (int)(sizeof((int[]){ __VA_ARGS__ }) / sizeof(int))

static struct sup_tensor *from(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
			       const double *v)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	for (int64_t i = 0; t && i < sup_tensor_numel(t); i++)
		sup_tensor_set(t, i, v[i]);
	return t;
}

/* t has the given shape and values (within tol). */
static bool equals(const struct sup_tensor *t, int ndim, const int64_t *shape, const double *v, double tol)
{
	if (!t || t->ndim != ndim)
		return false;
	for (int i = 0; i < ndim; i++)
		if (t->shape[i] != shape[i])
			return false;
	for (int64_t i = 0; i < sup_tensor_numel(t); i++)
		if (!(fabs(sup_tensor_get(t, i) - v[i]) <= tol))
			return false;
	return true;
}

static void test_values(enum sup_dtype dt, enum sup_backend be)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	c.backend = be;
	const double tol = dt == SUP_F32 ? 1e-5 : 1e-12;
	struct sup_tensor *x = from(&c, dt, TU_SHAPE(2, 3), (const double[]){ 1, 2, 3, 4, 5, 6 });
	TU_CHECK(equals(sup_sum(&c, x, NULL, 0, false), 0, NULL, (const double[]){ 21 }, tol));
	TU_CHECK(equals(sup_sum(&c, x, NULL, 0, true), TU_SHAPE(1, 1), (const double[]){ 21 }, tol));
	TU_CHECK(equals(sup_sum(&c, x, AX(0), false), TU_SHAPE(3), (const double[]){ 5, 7, 9 }, tol));
	TU_CHECK(equals(sup_sum(&c, x, AX(-1), true), TU_SHAPE(2, 1), (const double[]){ 6, 15 }, tol));
	TU_CHECK(equals(sup_sum(&c, sup_transpose(&c, x, 0, 1), AX(1), false), TU_SHAPE(3),
			(const double[]){ 5, 7, 9 }, tol));
	TU_CHECK(equals(sup_mean(&c, x, AX(1), false), TU_SHAPE(2), (const double[]){ 2, 5 }, tol));
	TU_CHECK(equals(sup_mean(&c, x, NULL, 0, false), 0, NULL, (const double[]){ 3.5 }, tol));
	TU_CHECK(equals(sup_max(&c, x, AX(0), false), TU_SHAPE(3), (const double[]){ 4, 5, 6 }, tol));
	TU_CHECK(equals(sup_max(&c, x, AX(1), true), TU_SHAPE(2, 1), (const double[]){ 3, 6 }, tol));
	TU_CHECK(equals(sup_var(&c, x, AX(1), 1, false), TU_SHAPE(2), (const double[]){ 1, 1 }, tol));
	TU_CHECK(equals(sup_var(&c, x, AX(1), 0, false), TU_SHAPE(2), (const double[]){ 2.0 / 3, 2.0 / 3 }, tol));
	/* var of 1..6 (population): 35/12; unbiased: 3.5. */
	TU_CHECK(equals(sup_var(&c, x, NULL, 0, 0, false), 0, NULL, (const double[]){ 35.0 / 12 }, tol));
	TU_CHECK(equals(sup_var(&c, x, AX(0, 1), 1, false), 0, NULL, (const double[]){ 3.5 }, tol));
	TU_CHECK(equals(sup_logsumexp(&c, x, AX(1), false), TU_SHAPE(2),
			(const double[]){ 3.4076059644443806, 6.4076059644443806 }, tol));
	struct sup_tensor *big = from(&c, dt, TU_SHAPE(2), (const double[]){ 1000, 1000 });
	TU_CHECK(equals(sup_logsumexp(&c, big, NULL, 0, false), 0, NULL, (const double[]){ 1000.6931471805599 },
			dt == SUP_F32 ? 1e-3 : 1e-9));

	/* [2, 3, 4] = 0..23: sum over {0, 2} is 32 j + 60; mean over {0, 1} per k. */
	double ar[24];
	for (int i = 0; i < 24; i++)
		ar[i] = i;
	struct sup_tensor *y = from(&c, dt, TU_SHAPE(2, 3, 4), ar);
	TU_CHECK(equals(sup_sum(&c, y, AX(0, 2), true), TU_SHAPE(1, 3, 1), (const double[]){ 60, 92, 124 }, tol));
	TU_CHECK(equals(sup_sum(&c, y, AX(2, 0), false), TU_SHAPE(3), (const double[]){ 60, 92, 124 }, tol));
	TU_CHECK(equals(sup_mean(&c, y, AX(0, 1), false), TU_SHAPE(4), (const double[]){ 10, 11, 12, 13 }, tol));
	TU_CHECK(equals(sup_max(&c, y, AX(1, 2), false), TU_SHAPE(2), (const double[]){ 11, 23 }, tol));
	/* A [6, 2] slice (step 2 along axis 1) of the [6, 4] reshape: columns 0, 4, ..., 20 and 2, ..., 22. */
	struct sup_tensor *v = sup_slice(&c, sup_reshape(&c, y, 2, (const int64_t[]){ 6, 4 }), 1, 0, 4, 2);
	TU_CHECK(equals(sup_sum(&c, v, AX(0), false), TU_SHAPE(2), (const double[]){ 60, 72 }, tol));

	struct sup_tensor *s = from(&c, dt, TU_SHAPE(3), (const double[]){ 1, 2, 3 });
	TU_CHECK(equals(sup_softmax(&c, s, 0), TU_SHAPE(3),
			(const double[]){ 0.09003057317038046, 0.24472847105479767, 0.6652409557748219 }, tol));
	TU_CHECK(equals(sup_log_softmax(&c, s, -1), TU_SHAPE(3),
			(const double[]){ -2.4076059644443806, -1.4076059644443806, -0.4076059644443806 }, tol));
	struct sup_tensor *s2 = from(&c, dt, TU_SHAPE(2), (const double[]){ 1000, 1001 });
	TU_CHECK(equals(sup_softmax(&c, s2, 0), TU_SHAPE(2), (const double[]){ 0.2689414213699951, 0.7310585786300049 },
			tol));
	/* softmax over axis 0 of [[1, 2], [3, 2]]: columns [1, 3] and [2, 2]. */
	struct sup_tensor *m = from(&c, dt, TU_SHAPE(2, 2), (const double[]){ 1, 2, 3, 2 });
	TU_CHECK(equals(sup_softmax(&c, m, 0), TU_SHAPE(2, 2),
			(const double[]){ 0.11920292202211755, 0.5, 0.8807970779778824, 0.5 }, tol));
	struct sup_tensor *n = from(&c, dt, TU_SHAPE(2, 2), (const double[]){ 3, 0, 4, 0 });
	TU_CHECK(equals(sup_l2_normalize(&c, n, 0, 1e-12), TU_SHAPE(2, 2), (const double[]){ 0.6, 0, 0.8, 0 }, tol));
	TU_CHECK(equals(sup_l2_normalize(&c, n, 1, 1e-12), TU_SHAPE(2, 2), (const double[]){ 1, 0, 1, 0 }, tol));
	TU_CHECK(equals(sup_l2_normalize(&c, s, 0, 10), TU_SHAPE(3), (const double[]){ 0.1, 0.2, 0.3 }, tol));
	TU_CHECK(sup_ctx_status(&c) == SUP_OK);
	sup_ctx_deinit(&c);
}

/* Each call must fail with `st`, return NULL and name the op in the message. */
#define EXPECT_FAIL(call, st, name)                                                                \
	do {                                                                                       \
		sup_ctx_clear_error(&c);                                                           \
		TU_CHECK((call) == NULL);                                                          \
		TU_CHECK_MSG(sup_ctx_status(&c) == (st), "%s", sup_ctx_error(&c));                 \
		TU_CHECK_MSG(strstr(sup_ctx_error(&c), name) != NULL, "%s", sup_ctx_error(&c));    \
	} while (0)

static void test_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(1, 1);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, TU_SHAPE(2, 3), -1, 1);
	struct sup_tensor *xi = sup_tensor_zeros(&c, SUP_I32, TU_SHAPE(2, 3));
	EXPECT_FAIL(sup_sum(&c, x, AX(2), false), SUP_ERR_ARG, "sum");
	EXPECT_FAIL(sup_mean(&c, x, AX(-3), false), SUP_ERR_ARG, "mean");
	EXPECT_FAIL(sup_max(&c, x, AX(1, -1), false), SUP_ERR_ARG, "twice");
	EXPECT_FAIL(sup_logsumexp(&c, x, AX(0, 0), true), SUP_ERR_ARG, "[2, 3]");
	EXPECT_FAIL(sup_var(&c, x, AX(1), -1, false), SUP_ERR_ARG, "var");
	EXPECT_FAIL(sup_sum(&c, x, NULL, 2, false), SUP_ERR_ARG, "sum");
	EXPECT_FAIL(sup_sum(&c, xi, NULL, 0, false), SUP_ERR_DTYPE, "i32");
	EXPECT_FAIL(sup_softmax(&c, xi, 0), SUP_ERR_DTYPE, "softmax");
	EXPECT_FAIL(sup_softmax(&c, x, 2), SUP_ERR_ARG, "softmax");
	EXPECT_FAIL(sup_log_softmax(&c, x, -3), SUP_ERR_ARG, "log_softmax");
	EXPECT_FAIL(sup_l2_normalize(&c, x, 0, -1), SUP_ERR_ARG, "l2_normalize");
	sup_ctx_clear_error(&c);
	struct sup_tensor *empty = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(2, 0));
	EXPECT_FAIL(sup_max(&c, empty, AX(1), false), SUP_ERR_SHAPE, "[2, 0]");
	sup_ctx_clear_error(&c);
	/* Empty groups that are defined: sum 0, logsumexp -inf; an empty output is fine for max. */
	struct sup_tensor *e = sup_sum(&c, empty, AX(1), false);
	TU_CHECK(e && e->shape[0] == 2 && sup_tensor_get(e, 0) == 0);
	e = sup_logsumexp(&c, empty, AX(1), false);
	TU_CHECK(e && isinf(sup_tensor_get(e, 1)) && sup_tensor_get(e, 1) < 0);
	e = sup_max(&c, empty, AX(0), false);
	TU_CHECK(e && e->ndim == 1 && e->shape[0] == 0);
	/* NULL inputs stay silent; a sticky error makes later ops return NULL. */
	TU_CHECK(sup_sum(&c, NULL, NULL, 0, false) == NULL && sup_ctx_status(&c) == SUP_OK);
	TU_CHECK(sup_softmax(&c, NULL, 0) == NULL && sup_ctx_status(&c) == SUP_OK);
	sup_sum(&c, x, AX(5), false);
	TU_CHECK(sup_mean(&c, x, NULL, 0, false) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_deinit(&c);
}

/* Runs backward from y with the explicit output gradient g (y's numel values, <= 64). */
static void backward_with(struct sup_ctx *c, struct sup_tensor *y, const double *g)
{
	int64_t n = sup_tensor_numel(y);
	double gd[64];
	float gf[64];
	for (int64_t i = 0; i < n; i++)
		gd[i] = g[i], gf[i] = (float)g[i];
	sup_backward_grad(c, y, y->dtype == SUP_F32 ? (const void *)gf : (const void *)gd);
}

static bool grad_is(const struct sup_tensor *x, const double *v, double tol)
{
	for (int64_t i = 0; i < sup_tensor_numel(x); i++)
		if (!(fabs(sup_tensor_grad_get(x, i) - v[i]) <= tol))
			return false;
	return true;
}

static void test_gradients(enum sup_dtype dt, enum sup_backend be)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	c.backend = be;
	const double tol = dt == SUP_F32 ? 1e-6 : 1e-12;
	/* max: ties send the whole gradient to the first maximal element of each group. */
	struct sup_tensor *x = from(&c, dt, TU_SHAPE(2, 3), (const double[]){ 5, 1, 5, 2, 7, 7 });
	x->requires_grad = true;
	backward_with(&c, sup_max(&c, x, AX(1), false), (const double[]){ 1, 2 });
	TU_CHECK(grad_is(x, (const double[]){ 1, 0, 0, 0, 2, 0 }, tol));
	sup_grad_release(&c, x);
	backward_with(&c, sup_max(&c, x, NULL, 0, false), (const double[]){ 3 });
	TU_CHECK(grad_is(x, (const double[]){ 0, 0, 0, 0, 3, 0 }, tol));
	sup_grad_release(&c, x);
	backward_with(&c, sup_max(&c, x, AX(0), true), (const double[]){ 1, 1, 1 });
	TU_CHECK(grad_is(x, (const double[]){ 1, 0, 0, 0, 1, 1 }, tol));
	sup_grad_release(&c, x);
	/* A transposed view: columns of x^T are rows of x. */
	backward_with(&c, sup_max(&c, sup_transpose(&c, x, 0, 1), AX(0), false), (const double[]){ 1, 2 });
	TU_CHECK(grad_is(x, (const double[]){ 1, 0, 0, 0, 2, 0 }, tol));
	sup_grad_release(&c, x);
	/* sum / mean / var / logsumexp on a row: dvar = 2 (x - mean) / (n - 1). */
	struct sup_tensor *a = from(&c, dt, TU_SHAPE(3), (const double[]){ 1, 2, 3 });
	a->requires_grad = true;
	backward_with(&c, sup_var(&c, a, NULL, 0, 1, false), (const double[]){ 1 });
	TU_CHECK(grad_is(a, (const double[]){ -1, 0, 1 }, tol));
	sup_grad_release(&c, a);
	backward_with(&c, sup_mean(&c, a, AX(0), true), (const double[]){ 3 });
	TU_CHECK(grad_is(a, (const double[]){ 1, 1, 1 }, tol));
	sup_grad_release(&c, a);
	backward_with(&c, sup_logsumexp(&c, a, AX(0), false), (const double[]){ 1 });
	TU_CHECK(grad_is(a, (const double[]){ 0.09003057317038046, 0.24472847105479767, 0.6652409557748219 }, tol));
	sup_grad_release(&c, a);
	/* softmax with g = e0: dx = y (e0 - y0). */
	const double y0 = 0.09003057317038046, y1 = 0.24472847105479767, y2 = 0.6652409557748219;
	backward_with(&c, sup_softmax(&c, a, 0), (const double[]){ 1, 0, 0 });
	TU_CHECK(grad_is(a, (const double[]){ y0 * (1 - y0), -y1 * y0, -y2 * y0 }, tol));
	sup_grad_release(&c, a);
	/* log_softmax with g = 1: dx = 1 - 3 y. */
	backward_with(&c, sup_log_softmax(&c, a, 0), (const double[]){ 1, 1, 1 });
	TU_CHECK(grad_is(a, (const double[]){ 1 - 3 * y0, 1 - 3 * y1, 1 - 3 * y2 }, tol));
	sup_grad_release(&c, a);
	/* l2_normalize of [3, 4] with g = [1, 0]: ([1, 0] - 0.6 [0.6, 0.8]) / 5; clamped: g / eps. */
	struct sup_tensor *p = from(&c, dt, TU_SHAPE(2), (const double[]){ 3, 4 });
	p->requires_grad = true;
	backward_with(&c, sup_l2_normalize(&c, p, 0, 1e-12), (const double[]){ 1, 0 });
	TU_CHECK(grad_is(p, (const double[]){ 0.128, -0.096 }, tol));
	sup_grad_release(&c, p);
	backward_with(&c, sup_l2_normalize(&c, p, 0, 10), (const double[]){ 1, 2 });
	TU_CHECK(grad_is(p, (const double[]){ 0.1, 0.2 }, tol));
	TU_CHECK(sup_ctx_status(&c) == SUP_OK);
	sup_ctx_deinit(&c);
}

/* A long group on the fast backend: the first of tied maxima far apart (blocked path). */
static void test_max_long_ties(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *x = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(40000));
	x->requires_grad = true;
	sup_tensor_set(x, 30000, 2);
	sup_tensor_set(x, 9000, 2);
	sup_tensor_set(x, 39999, 2);
	struct sup_tensor *m = sup_max(&c, x, NULL, 0, false);
	TU_CHECK(m && sup_tensor_get(m, 0) == 2);
	sup_backward(&c, m);
	TU_CHECK(sup_tensor_grad_get(x, 9000) == 1 && sup_tensor_grad_get(x, 30000) == 0);
	sup_ctx_deinit(&c);
}

/* ---- CPU backend against the reference backend (f32) ---------------------------------------- */

enum which { W_SUM, W_MEAN, W_MAX, W_LSE, W_VAR, W_SOFTMAX, W_LOG_SOFTMAX, W_L2, W_COUNT };
static const char *const which_name[] = { "sum", "mean", "max", "logsumexp", "var", "softmax", "log_softmax",
					  "l2_normalize" };

struct variant {
	int view; /* 0: as is, 1: transpose(0, 1), 2: every second row (slice step 2 along axis 0) */
	int axes[3], n_axes;
	bool keepdim;
};

static struct sup_tensor *apply(struct sup_ctx *c, enum which w, struct sup_tensor *x, const struct variant *v)
{
	if (v->view == 1)
		x = sup_transpose(c, x, 0, 1);
	else if (v->view == 2)
		x = sup_slice(c, x, 0, 0, x->shape[0], 2);
	const int dim = v->n_axes ? v->axes[0] : -1;
	switch (w) {
	case W_SUM: return sup_sum(c, x, v->axes, v->n_axes, v->keepdim);
	case W_MEAN: return sup_mean(c, x, v->axes, v->n_axes, v->keepdim);
	case W_MAX: return sup_max(c, x, v->axes, v->n_axes, v->keepdim);
	case W_LSE: return sup_logsumexp(c, x, v->axes, v->n_axes, v->keepdim);
	case W_VAR: return sup_var(c, x, v->axes, v->n_axes, 1, v->keepdim);
	case W_SOFTMAX: return sup_softmax(c, x, dim);
	case W_LOG_SOFTMAX: return sup_log_softmax(c, x, dim);
	default: return sup_l2_normalize(c, x, dim, 1e-6);
	}
}

/* Forward value and input gradient (random output gradient) on one backend, copied to the heap. */
static void run_backend(enum sup_backend be, enum which w, int ndim, const int64_t *shape, const struct variant *v,
			double **out, int64_t *n_out, double **grad, int64_t *n_in)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	c.backend = be;
	struct sup_rng r = sup_rng_make(77, 1);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, ndim, shape, -2, 2);
	x->requires_grad = true;
	struct sup_tensor *y = apply(&c, w, x, v);
	*n_out = y ? sup_tensor_numel(y) : -1;
	*n_in = sup_tensor_numel(x);
	*out = calloc((size_t)(*n_out > 0 ? *n_out : 1), sizeof(double));
	*grad = calloc((size_t)*n_in, sizeof(double));
	if (y) {
		float *g = malloc(sizeof(float) * (size_t)(*n_out + 1));
		for (int64_t i = 0; i < *n_out; i++) {
			(*out)[i] = sup_tensor_get(y, i);
			g[i] = 2 * sup_rng_uniform(&r) - 1;
		}
		sup_backward_grad(&c, y, g);
		free(g);
		for (int64_t i = 0; i < *n_in; i++)
			(*grad)[i] = sup_tensor_grad_get(x, i);
	}
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s: %s", which_name[w], sup_ctx_error(&c));
	sup_ctx_deinit(&c);
}

static double max_rel(const double *a, const double *b, int64_t n)
{
	double m = 0;
	for (int64_t i = 0; i < n; i++) {
		if (isnan(a[i]) && isnan(b[i]))
			continue; /* var of a single element with correction 1 */
		double e = fabs(a[i] - b[i]) / (1 + fabs(b[i]));
		m = e > m || isnan(e) ? (isnan(e) ? INFINITY : e) : m;
	}
	return m;
}

static void test_cpu_vs_ref(void)
{
	static const int64_t shapes[][3] = { { 1, 7, 0 }, { 7, 33, 0 }, { 33, 257, 0 }, { 257, 7, 0 }, { 3, 7, 33 } };
	static const struct variant vars[] = {
		{ 0, { 1 }, 1, false }, { 0, { 0 }, 1, true }, { 0, { 0 }, 0, false }, { 1, { 0 }, 1, false },
		{ 1, { -1 }, 1, true }, { 2, { 1 }, 1, false }, { 2, { 0, 1 }, 2, false },
	};
	for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
		const int ndim = shapes[s][2] ? 3 : 2;
		for (size_t k = 0; k < sizeof vars / sizeof vars[0]; k++)
			for (int w = 0; w < W_COUNT; w++) {
				const struct variant *v = &vars[k];
				if (w >= W_SOFTMAX && v->n_axes != 1)
					continue;
				double *oa, *ga, *ob, *gb;
				int64_t na, ia, nb, ib;
				run_backend(SUP_BACKEND_CPU, (enum which)w, ndim, shapes[s], v, &oa, &na, &ga, &ia);
				run_backend(SUP_BACKEND_REF, (enum which)w, ndim, shapes[s], v, &ob, &nb, &gb, &ib);
				const double tol = 1e-5 * (w == W_SUM || w == W_VAR ? 10 : 1);
				TU_CHECK_MSG(na == nb && max_rel(oa, ob, na) <= tol && max_rel(ga, gb, ia) <= tol,
					     "%s shape %zu variant %zu: out %g grad %g", which_name[w], s, k,
					     max_rel(oa, ob, na), max_rel(ga, gb, ia));
				free(oa), free(ga), free(ob), free(gb);
			}
	}
}

int main(void)
{
	for (int dt = 0; dt < 2; dt++)
		for (int be = 0; be < 2; be++) {
			test_values(dt ? SUP_F64 : SUP_F32, (enum sup_backend)be);
			test_gradients(dt ? SUP_F64 : SUP_F32, (enum sup_backend)be);
		}
	test_errors();
	test_max_long_ties();
	test_cpu_vs_ref();
	return tu_finish("ops/reduce");
}
