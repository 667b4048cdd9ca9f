/* Non-differentiable selection helpers: argmax, topk, sort, one_hot, nonzero. Hand-written
 * expectations (ties, NaN, strided views, every dtype), errors, nothing recorded on the tape, and
 * topk/sort against an independent O(C^2) stable selection on random data with many ties. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static struct sup_tensor *from(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
			       const double *v)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	for (int64_t i = 0; t && i < sup_tensor_numel(t); i++)
		sup_tensor_set(t, i, v[i]);
	return t;
}

static bool equals(const struct sup_tensor *t, int ndim, const int64_t *shape, const double *v)
{
	if (!t || t->ndim != ndim)
		return false;
	for (int i = 0; i < ndim; i++)
		if (t->shape[i] != shape[i])
			return false;
	for (int64_t i = 0; i < sup_tensor_numel(t); i++) {
		double a = sup_tensor_get(t, i);
		if (!(a == v[i] || (isnan(a) && isnan(v[i]))))
			return false;
	}
	return true;
}

#define V(...) ((const double[]){ __VA_ARGS__ })

static void test_argmax(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *x = from(&c, SUP_F32, TU_SHAPE(2, 3), V(1, 3, 3, 2, 2, 1));
	x->requires_grad = true;
	const int64_t tape = c.tape_len;
	struct sup_tensor *a = sup_argmax(&c, x, 1, false);
	TU_CHECK(a && a->dtype == SUP_I64 && equals(a, TU_SHAPE(2), V(1, 0)));
	TU_CHECK(a && !a->requires_grad && c.tape_len == tape);
	TU_CHECK(equals(sup_argmax(&c, x, -1, true), TU_SHAPE(2, 1), V(1, 0)));
	TU_CHECK(equals(sup_argmax(&c, x, 0, false), TU_SHAPE(3), V(1, 0, 0)));
	/* A transposed view: argmax along axis 1 of x^T = along axis 0 of x. */
	TU_CHECK(equals(sup_argmax(&c, sup_transpose(&c, x, 0, 1), 1, false), TU_SHAPE(3), V(1, 0, 0)));
	struct sup_tensor *n = from(&c, SUP_F64, TU_SHAPE(4), V(1, NAN, 5, NAN));
	TU_CHECK(equals(sup_argmax(&c, n, 0, false), 0, NULL, V(1))); /* the first NaN is the maximum */
	struct sup_tensor *xi = from(&c, SUP_I32, TU_SHAPE(2, 2), V(-5, -7, 4, 4));
	TU_CHECK(equals(sup_argmax(&c, xi, 1, false), TU_SHAPE(2), V(0, 0)));
	/* i64 values beyond 2^53 still compare exactly. */
	struct sup_tensor *big = sup_tensor_new(&c, SUP_I64, TU_SHAPE(2));
	((int64_t *)big->data)[0] = (INT64_C(1) << 60) + 1;
	((int64_t *)big->data)[1] = (INT64_C(1) << 60) + 2;
	TU_CHECK(equals(sup_argmax(&c, big, 0, false), 0, NULL, V(1)));
	/* A long row on several threads: the first maximum still wins. */
	struct sup_tensor *l = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(4, 30000));
	sup_tensor_set(l, 70000, 9), sup_tensor_set(l, 70001, 9), sup_tensor_set(l, 65000, 9);
	TU_CHECK(equals(sup_argmax(&c, l, 1, false), TU_SHAPE(4), V(0, 0, 5000, 0)));
	TU_CHECK(sup_ctx_status(&c) == SUP_OK);

	TU_CHECK(sup_argmax(&c, x, 2, false) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	TU_CHECK(strstr(sup_ctx_error(&c), "argmax") != NULL);
	sup_ctx_clear_error(&c);
	struct sup_tensor *e = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(3, 0));
	TU_CHECK(sup_argmax(&c, e, 1, false) == NULL && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	TU_CHECK(strstr(sup_ctx_error(&c), "[3, 0]") != NULL);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_argmax(&c, NULL, 0, false) == NULL && sup_ctx_status(&c) == SUP_OK);
	sup_ctx_deinit(&c);
}

static void test_topk_sort_hand(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *x = from(&c, SUP_F32, TU_SHAPE(5), V(3, 1, 3, 2, 3)), *v, *i;
	TU_CHECK(sup_topk(&c, x, 2, 0, true, &v, &i) == SUP_OK);
	TU_CHECK(equals(v, TU_SHAPE(2), V(3, 3)) && equals(i, TU_SHAPE(2), V(0, 2)) && i->dtype == SUP_I64);
	TU_CHECK(sup_topk(&c, x, 3, -1, false, &v, &i) == SUP_OK);
	TU_CHECK(equals(v, TU_SHAPE(3), V(1, 2, 3)) && equals(i, TU_SHAPE(3), V(1, 3, 0)));
	TU_CHECK(sup_topk(&c, x, 0, 0, true, &v, &i) == SUP_OK);
	TU_CHECK(equals(v, TU_SHAPE(0), V(0)) && equals(i, TU_SHAPE(0), V(0)));
	/* Only values, only indices. */
	i = x;
	TU_CHECK(sup_topk(&c, x, 1, 0, true, &v, NULL) == SUP_OK && equals(v, TU_SHAPE(1), V(3)));
	TU_CHECK(sup_topk(&c, x, 4, 0, true, NULL, &i) == SUP_OK && equals(i, TU_SHAPE(4), V(0, 2, 4, 3)));
	/* Along axis 0 of [3, 2] (rows interleaved in memory), and through a transposed view. */
	struct sup_tensor *m = from(&c, SUP_F64, TU_SHAPE(3, 2), V(1, 5, 4, 2, 3, 6));
	TU_CHECK(sup_topk(&c, m, 2, 0, true, &v, &i) == SUP_OK);
	TU_CHECK(equals(v, TU_SHAPE(2, 2), V(4, 6, 3, 5)) && equals(i, TU_SHAPE(2, 2), V(1, 2, 2, 0)));
	TU_CHECK(sup_topk(&c, sup_transpose(&c, m, 0, 1), 2, 1, false, &v, &i) == SUP_OK);
	TU_CHECK(equals(v, TU_SHAPE(2, 2), V(1, 3, 2, 5)) && equals(i, TU_SHAPE(2, 2), V(0, 2, 1, 0)));

	struct sup_tensor *s = from(&c, SUP_I32, TU_SHAPE(4), V(2, 1, 2, 1));
	TU_CHECK(sup_sort(&c, s, 0, false, &v, &i) == SUP_OK);
	TU_CHECK(v->dtype == SUP_I32 && equals(v, TU_SHAPE(4), V(1, 1, 2, 2)) && equals(i, TU_SHAPE(4), V(1, 3, 0, 2)));
	TU_CHECK(sup_sort(&c, s, -1, true, &v, &i) == SUP_OK);
	TU_CHECK(equals(v, TU_SHAPE(4), V(2, 2, 1, 1)) && equals(i, TU_SHAPE(4), V(0, 2, 1, 3)));
	/* NaN sorts as the largest value. */
	struct sup_tensor *nn = from(&c, SUP_F32, TU_SHAPE(4), V(NAN, 1, 0, -INFINITY));
	TU_CHECK(sup_sort(&c, nn, 0, false, &v, &i) == SUP_OK);
	TU_CHECK(equals(v, TU_SHAPE(4), V(-INFINITY, 0, 1, NAN)) && equals(i, TU_SHAPE(4), V(3, 2, 1, 0)));
	TU_CHECK(sup_sort(&c, nn, 0, true, NULL, &i) == SUP_OK && equals(i, TU_SHAPE(4), V(0, 1, 2, 3)));
	struct sup_tensor *u = from(&c, SUP_U8, TU_SHAPE(3), V(200, 7, 255));
	TU_CHECK(sup_sort(&c, u, 0, true, &v, NULL) == SUP_OK && equals(v, TU_SHAPE(3), V(255, 200, 7)));
	TU_CHECK(sup_ctx_status(&c) == SUP_OK);

	/* Errors: k out of range (values/indices come back NULL), bad dim, nothing requested. */
	v = i = x;
	TU_CHECK(sup_topk(&c, x, 6, 0, true, &v, &i) == SUP_ERR_ARG && !v && !i);
	TU_CHECK(strstr(sup_ctx_error(&c), "topk") && strstr(sup_ctx_error(&c), "[5]"));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_topk(&c, x, -1, 0, true, &v, &i) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_sort(&c, x, 1, false, &v, &i) == SUP_ERR_ARG && strstr(sup_ctx_error(&c), "sort"));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_sort(&c, x, 0, false, NULL, NULL) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_topk(&c, NULL, 1, 0, true, &v, &i) == SUP_ERR_ARG && !v && !i);
	sup_ctx_deinit(&c);
}

/* Independent stable selection: repeatedly take the best remaining element (first on ties). */
static void naive_order(const int64_t *x, int64_t n, bool largest, int64_t *order)
{
	bool *used = calloc((size_t)n, 1);
	for (int64_t k = 0; k < n; k++) {
		int64_t best = -1;
		for (int64_t j = 0; j < n; j++)
			if (!used[j] && (best < 0 || (largest ? x[j] > x[best] : x[j] < x[best])))
				best = j;
		used[best] = true;
		order[k] = best;
	}
	free(used);
}

static void test_topk_sort_random(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(4, 4);
	const int64_t R = 33, C = 257, K = 7;
	/* i64 values: few distinct ones (many ties), offset beyond 2^53 so doubles could not tell them apart. */
	struct sup_tensor *x = sup_tensor_new(&c, SUP_I64, TU_SHAPE(R, C));
	int64_t *xv = x->data;
	for (int64_t i = 0; i < R * C; i++)
		xv[i] = (INT64_C(1) << 60) + (int64_t)sup_rng_below(&r, 9);
	int64_t *order = malloc(sizeof(int64_t) * (size_t)C);
	for (int lg = 0; lg <= 1; lg++) {
		struct sup_tensor *v, *i, *sv, *si;
		TU_CHECK(sup_topk(&c, x, K, 1, lg, &v, &i) == SUP_OK);
		TU_CHECK(sup_sort(&c, x, 1, lg, &sv, &si) == SUP_OK);
		int bad = 0;
		for (int64_t row = 0; row < R && v && sv; row++) {
			naive_order(xv + row * C, C, lg, order);
			for (int64_t k = 0; k < C; k++) {
				bad += ((int64_t *)si->data)[row * C + k] != order[k];
				bad += ((int64_t *)sv->data)[row * C + k] != xv[row * C + order[k]];
				if (k < K) {
					bad += ((int64_t *)i->data)[row * K + k] != order[k];
					bad += ((int64_t *)v->data)[row * K + k] != xv[row * C + order[k]];
				}
			}
		}
		TU_CHECK_MSG(bad == 0, "largest=%d: %d mismatches", lg, bad);
	}
	/* Along axis 0 of a [C, 5] float matrix, large enough for threads, against sort's prefix. */
	struct sup_tensor *f = tu_rand(&c, &r, SUP_F32, TU_SHAPE(20000, 5), 0, 4);
	for (int64_t k = 0; k < 20000 * 5; k++)
		sup_tensor_set(f, k, floor(sup_tensor_get(f, k)));
	struct sup_tensor *tv, *ti, *sv, *si;
	TU_CHECK(sup_topk(&c, f, 50, 0, false, &tv, &ti) == SUP_OK);
	TU_CHECK(sup_sort(&c, f, 0, false, &sv, &si) == SUP_OK);
	int bad = 0;
	for (int64_t k = 0; tv && sv && k < 50 * 5; k++)
		bad += sup_tensor_get(ti, k) != sup_tensor_get(si, k) || sup_tensor_get(tv, k) != sup_tensor_get(sv, k);
	TU_CHECK(bad == 0);
	/* Sorted output is ordered, and ties keep increasing indices. */
	for (int64_t k = 5; sv && k < 20000 * 5; k++) {
		double a = sup_tensor_get(sv, k - 5), b = sup_tensor_get(sv, k);
		bad += a > b || (a == b && sup_tensor_get(si, k - 5) >= sup_tensor_get(si, k));
	}
	TU_CHECK(bad == 0);
	free(order);
	sup_ctx_deinit(&c);
}

static void test_one_hot(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *ids = from(&c, SUP_I32, TU_SHAPE(3), V(2, 0, 1));
	TU_CHECK(equals(sup_one_hot(&c, ids, 3, SUP_F32), TU_SHAPE(3, 3), V(0, 0, 1, 1, 0, 0, 0, 1, 0)));
	struct sup_tensor *ids2 = from(&c, SUP_I64, TU_SHAPE(2, 2), V(3, 0, 1, 3));
	struct sup_tensor *o = sup_one_hot(&c, ids2, 4, SUP_U8);
	TU_CHECK(o && o->dtype == SUP_U8 &&
		 equals(o, TU_SHAPE(2, 2, 4), V(0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1)));
	/* A transposed view of the ids. */
	TU_CHECK(equals(sup_one_hot(&c, sup_transpose(&c, ids2, 0, 1), 4, SUP_F64), TU_SHAPE(2, 2, 4),
			V(0, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1)));
	TU_CHECK(sup_ctx_status(&c) == SUP_OK);
	TU_CHECK(sup_one_hot(&c, ids, 2, SUP_F32) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	TU_CHECK(strstr(sup_ctx_error(&c), "one_hot") && strstr(sup_ctx_error(&c), "id 2"));
	sup_ctx_clear_error(&c);
	struct sup_tensor *neg = from(&c, SUP_I64, TU_SHAPE(2), V(0, -1));
	TU_CHECK(sup_one_hot(&c, neg, 5, SUP_F32) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	struct sup_tensor *fl = from(&c, SUP_F32, TU_SHAPE(2), V(0, 1));
	TU_CHECK(sup_one_hot(&c, fl, 5, SUP_F32) == NULL && sup_ctx_status(&c) == SUP_ERR_DTYPE);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_one_hot(&c, ids, 0, SUP_F32) == NULL && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_deinit(&c);
}

static void test_nonzero(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *x = from(&c, SUP_F32, TU_SHAPE(2, 3), V(0, 1, 0, 2, 0, -3));
	struct sup_tensor *nz = sup_nonzero(&c, x);
	TU_CHECK(nz && nz->dtype == SUP_I64 && equals(nz, TU_SHAPE(3, 2), V(0, 1, 1, 0, 1, 2)));
	/* Row-major order of the view, not of memory. */
	TU_CHECK(equals(sup_nonzero(&c, sup_transpose(&c, x, 0, 1)), TU_SHAPE(3, 2), V(0, 1, 1, 0, 2, 1)));
	TU_CHECK(equals(sup_nonzero(&c, sup_tensor_zeros(&c, SUP_F64, TU_SHAPE(2, 2))), TU_SHAPE(0, 2), V(0)));
	struct sup_tensor *u = from(&c, SUP_U8, TU_SHAPE(4), V(0, 9, 0, 1));
	TU_CHECK(equals(sup_nonzero(&c, u), TU_SHAPE(2, 1), V(1, 3)));
	struct sup_tensor *n = from(&c, SUP_F64, TU_SHAPE(3), V(-0.0, NAN, 0));
	TU_CHECK(equals(sup_nonzero(&c, n), TU_SHAPE(1, 1), V(1)));
	struct sup_tensor *s = sup_tensor_scalar(&c, SUP_I32, 5);
	TU_CHECK(equals(sup_nonzero(&c, s), TU_SHAPE(1, 0), V(0)));
	TU_CHECK(sup_ctx_status(&c) == SUP_OK);
	TU_CHECK(sup_nonzero(&c, NULL) == NULL && sup_ctx_status(&c) == SUP_OK);
	sup_ctx_deinit(&c);
}

int main(void)
{
	test_argmax();
	test_topk_sort_hand();
	test_topk_sort_random();
	test_one_hot();
	test_nonzero();
	return tu_finish("ops/select");
}
