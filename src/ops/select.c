/* Non-differentiable selection helpers: argmax, topk, sort, one_hot, nonzero.
 *
 * None of them is recorded on the tape (they have no op_def): their outputs are index tensors or
 * copies that never require grad. Inputs of any dtype are accepted (one_hot: i64/i32 ids).
 *
 * Order: "a before b" when a is larger (largest / descending) or smaller (smallest / ascending),
 * NaN counting as larger than every number, and equal values ordered by their index. That order
 * is total, so argmax returns the first maximum and topk/sort are stable (ties keep their input
 * order). Along `dim`, the input is seen as a contiguous [O, C, N] array (a strided input is
 * copied first, untracked); row (o, n) holds the C elements at (o*C + c)*N + n. */
#include "kernels/strided.h"
#include "op_internal.h"

#include <math.h>
#include <string.h>

#define SELECT_GRAIN 32768 /* elements below which a call stays on one thread */

/* True when element i of the row x (stride s) comes before element j. */
typedef bool (*before_fn)(const void *x, int64_t s, int64_t i, int64_t j, bool largest);

#define NO_NAN(v) ((void)(v), false)
#define BEFORE_FN(S, T, ISNAN)                                                       \
	static bool before_##S(const void *xv, int64_t s, int64_t i, int64_t j, bool largest) \
	{                                                                            \
		const T *x = xv;                                                     \
		const T a = x[i * s], b = x[j * s];                                  \
		const bool na = ISNAN(a), nb = ISNAN(b);                             \
		if (na != nb)                                                        \
			return na == largest;                                        \
		if (!na && a != b)                                                   \
			return (a > b) == largest;                                   \
		return i < j;                                                        \
	}
BEFORE_FN(f32, float, isnan)
BEFORE_FN(f64, double, isnan)
BEFORE_FN(i32, int32_t, NO_NAN)
BEFORE_FN(i64, int64_t, NO_NAN)
BEFORE_FN(u8, uint8_t, NO_NAN)

static before_fn before_for(enum sup_dtype dt)
{
	switch (dt) {
	case SUP_F32: return before_f32;
	case SUP_F64: return before_f64;
	case SUP_I32: return before_i32;
	case SUP_I64: return before_i64;
	default: return before_u8;
	}
}

/* a itself when contiguous, else an untracked contiguous copy. */
static const sup_t *contiguous_copy(struct sup_ctx *c, const sup_t *a)
{
	if (sup_tensor_is_contiguous(a))
		return a;
	sup_t *t = sup_tensor_new(c, a->dtype, a->ndim, a->shape);
	if (t)
		sup_strided_copy(t->data, t->stride, a->data, a->stride, a->ndim, a->shape, sup_dtype_size(a->dtype));
	return t;
}

/* Status for the functions that return one: the sticky error, or a new one for a NULL input. */
static enum sup_status null_input(struct sup_ctx *c, const char *op)
{
	return c->err ? c->err : sup_ctx_fail(c, SUP_ERR_ARG, "%s: input is NULL", op);
}

sup_t *sup_argmax(struct sup_ctx *c, sup_t *a, int dim, bool keepdim)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	const int d = sup_check_axis(c, "argmax", dim, a->ndim);
	if (d < 0)
		return NULL;
	const int64_t O = sup_shape_numel(d, a->shape), C = a->shape[d];
	const int64_t N = sup_shape_numel(a->ndim - d - 1, a->shape + d + 1);
	if (C == 0 && O * N > 0)
		return sup_op_fail_shape(c, "argmax", a, NULL, "cannot take the argmax of an empty axis");
	int64_t oshape[SUP_MAX_DIMS];
	int k = 0;
	for (int i = 0; i < a->ndim; i++)
		if (i != d || keepdim)
			oshape[k++] = i == d ? 1 : a->shape[i];
	const sup_t *x = contiguous_copy(c, a);
	sup_t *out = x ? sup_tensor_new(c, SUP_I64, k, oshape) : NULL;
	if (!out)
		return NULL;
	const before_fn bf = before_for(a->dtype);
	const size_t es = sup_dtype_size(a->dtype);
	int64_t *res = out->data;
#pragma omp parallel for schedule(static) if (O * N * C > SELECT_GRAIN)
	for (int64_t r = 0; r < O * N; r++) {
		const char *row = (const char *)x->data + (size_t)((r / N) * C * N + r % N) * es;
		int64_t best = 0;
		for (int64_t i = 1; i < C; i++)
			if (bf(row, N, i, best, true))
				best = i;
		res[r] = best;
	}
	return out;
}

/* Max-heap on "worse": h[0] is the element that comes last in the order. */
static void sift_down(before_fn bf, const void *x, int64_t s, bool lg, int64_t *h, int64_t n, int64_t p)
{
	for (;;) {
		int64_t w = p, l = 2 * p + 1, r = l + 1;
		if (l < n && bf(x, s, h[w], h[l], lg))
			w = l;
		if (r < n && bf(x, s, h[w], h[r], lg))
			w = r;
		if (w == p)
			return;
		int64_t t = h[p];
		h[p] = h[w];
		h[w] = t;
		p = w;
	}
}

/* The indices of the first k elements of a row (in the order), sorted, into h[0..k). */
static void row_topk(before_fn bf, const void *x, int64_t s, bool lg, int64_t C, int64_t k, int64_t *h)
{
	int64_t m = 0;
	for (int64_t i = 0; i < C && k > 0; i++) {
		if (m < k) {
			int64_t p = m;
			h[m++] = i;
			while (p > 0 && bf(x, s, h[(p - 1) / 2], h[p], lg)) {
				int64_t q = (p - 1) / 2, t = h[q];
				h[q] = h[p];
				h[p] = t;
				p = q;
			}
		} else if (bf(x, s, i, h[0], lg)) {
			h[0] = i;
			sift_down(bf, x, s, lg, h, k, 0);
		}
	}
	/* Heap sort: the worst remaining goes to the end, leaving h in order. */
	for (int64_t end = m - 1; end > 0; end--) {
		int64_t t = h[0];
		h[0] = h[end];
		h[end] = t;
		sift_down(bf, x, s, lg, h, end, 0);
	}
}

/* topk and sort: the first k of every row along dim, in order. */
static enum sup_status select_k(struct sup_ctx *c, const char *op, sup_t *a, int64_t k, int dim, bool largest,
				sup_t **values, sup_t **indices)
{
	if (values)
		*values = NULL;
	if (indices)
		*indices = NULL;
	if (!sup_op_inputs_ok(c, 1, &a))
		return null_input(c, op);
	if (!values && !indices)
		return sup_ctx_fail(c, SUP_ERR_ARG, "%s: neither values nor indices requested", op);
	const int d = sup_check_axis(c, op, dim, a->ndim);
	if (d < 0)
		return c->err;
	const int64_t O = sup_shape_numel(d, a->shape), C = a->shape[d];
	const int64_t N = sup_shape_numel(a->ndim - d - 1, a->shape + d + 1);
	if (k < 0 || k > C) {
		char buf[128];
		return sup_ctx_fail(c, SUP_ERR_ARG, "%s: k = %lld outside [0, %lld] along dim %d (shape %s)", op,
				    (long long)k, (long long)C, dim, sup_shape_str(buf, sizeof buf, a->ndim, a->shape));
	}
	int64_t oshape[SUP_MAX_DIMS];
	memcpy(oshape, a->shape, sizeof oshape);
	oshape[d] = k;
	const sup_t *x = contiguous_copy(c, a);
	int64_t *heap = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(O * N * k));
	sup_t *vo = values ? sup_tensor_new(c, a->dtype, a->ndim, oshape) : NULL;
	sup_t *io = indices ? sup_tensor_new(c, SUP_I64, a->ndim, oshape) : NULL;
	if (!x || !heap || c->err)
		return c->err;
	const before_fn bf = before_for(a->dtype);
	const size_t es = sup_dtype_size(a->dtype);
#pragma omp parallel for schedule(static) if (O * N * C > SELECT_GRAIN)
	for (int64_t r = 0; r < O * N; r++) {
		const int64_t o = r / N, n = r % N;
		const char *row = (const char *)x->data + (size_t)(o * C * N + n) * es;
		int64_t *h = heap + r * k;
		row_topk(bf, row, N, largest, C, k, h);
		for (int64_t j = 0; j < k; j++) {
			const int64_t at = o * k * N + j * N + n;
			if (io)
				((int64_t *)io->data)[at] = h[j];
			if (vo)
				memcpy((char *)vo->data + (size_t)at * es, row + (size_t)(h[j] * N) * es, es);
		}
	}
	if (values)
		*values = vo;
	if (indices)
		*indices = io;
	return SUP_OK;
}

enum sup_status sup_topk(struct sup_ctx *c, sup_t *a, int64_t k, int dim, bool largest, sup_t **values,
			 sup_t **indices)
{
	return select_k(c, "topk", a, k, dim, largest, values, indices);
}

enum sup_status sup_sort(struct sup_ctx *c, sup_t *a, int dim, bool descending, sup_t **values, sup_t **indices)
{
	/* A full top-k: the order is total (index tie-break), so the heap gives the stable sort. */
	int64_t k = 0;
	if (a && !c->err && a->ndim > 0) {
		const int d = dim < 0 ? dim + a->ndim : dim;
		k = d >= 0 && d < a->ndim ? a->shape[d] : 0;
	}
	return select_k(c, "sort", a, k, dim, descending, values, indices);
}

sup_t *sup_one_hot(struct sup_ctx *c, sup_t *ids, int64_t n_classes, enum sup_dtype dt)
{
	if (!sup_op_inputs_ok(c, 1, &ids) || !sup_check_index(c, "one_hot", ids))
		return NULL;
	if (n_classes < 1)
		return sup_op_fail_arg(c, "one_hot", "n_classes must be >= 1");
	if ((unsigned)dt >= SUP_DTYPE_COUNT)
		return sup_op_fail_arg(c, "one_hot", "unknown output dtype");
	if (ids->ndim >= SUP_MAX_DIMS)
		return sup_op_fail_shape(c, "one_hot", ids, NULL, "ids have too many axes for one more");
	const sup_t *x = contiguous_copy(c, ids);
	if (!x)
		return NULL;
	const int64_t n = sup_tensor_numel(x);
	for (int64_t i = 0; i < n; i++) {
		const int64_t v = sup_index_at(x, i);
		if (v < 0 || v >= n_classes) {
			char buf[128];
			sup_ctx_fail(c, SUP_ERR_ARG, "one_hot: id %lld at index %lld outside [0, %lld) (ids shape %s)",
				     (long long)v, (long long)i, (long long)n_classes,
				     sup_shape_str(buf, sizeof buf, ids->ndim, ids->shape));
			return NULL;
		}
	}
	int64_t oshape[SUP_MAX_DIMS];
	memcpy(oshape, ids->shape, sizeof(int64_t) * (size_t)ids->ndim);
	oshape[ids->ndim] = n_classes;
	sup_t *out = sup_tensor_zeros(c, dt, ids->ndim + 1, oshape);
	if (!out)
		return NULL;
	for (int64_t i = 0; i < n; i++)
		sup_tensor_set(out, i * n_classes + sup_index_at(x, i), 1.0);
	return out;
}

static bool elem_nonzero(const char *p, enum sup_dtype dt)
{
	switch (dt) {
	case SUP_F32: return *(const float *)p != 0;
	case SUP_F64: return *(const double *)p != 0;
	case SUP_I32: return *(const int32_t *)p != 0;
	case SUP_I64: return *(const int64_t *)p != 0;
	default: return *(const uint8_t *)p != 0;
	}
}

sup_t *sup_nonzero(struct sup_ctx *c, sup_t *a)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	const sup_t *x = contiguous_copy(c, a);
	if (!x)
		return NULL;
	const int64_t n = sup_tensor_numel(x);
	const size_t es = sup_dtype_size(x->dtype);
	const char *data = x->data;
	int64_t count = 0;
	for (int64_t i = 0; i < n; i++)
		count += elem_nonzero(data + (size_t)i * es, x->dtype);
	int64_t oshape[2] = { count, a->ndim };
	sup_t *out = sup_tensor_new(c, SUP_I64, 2, oshape);
	if (!out)
		return NULL;
	int64_t *res = out->data, idx[SUP_MAX_DIMS] = { 0 };
	for (int64_t i = 0; i < n; i++) {
		if (elem_nonzero(data + (size_t)i * es, x->dtype)) {
			memcpy(res, idx, sizeof(int64_t) * (size_t)a->ndim);
			res += a->ndim;
		}
		for (int d = a->ndim - 1; d >= 0; d--) { /* odometer: next row-major index */
			if (++idx[d] < a->shape[d])
				break;
			idx[d] = 0;
		}
	}
	return out;
}
