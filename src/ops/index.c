/* Copying shape ops (concat, stack, pad) and indexing ops (gather, index_select, scatter_add,
 * embedding).
 *
 * Every op here moves elements without arithmetic, so forward and backward are strided copies or
 * index walks; the backward of a gather is a scatter-add and vice versa (docs/autograd/loss.md
 * lists the pairs). Index values are validated before anything is written, and backward loops
 * run serially in index order, so repeated indices sum in a fixed order (bitwise reproducible).
 * Inputs may be strided views: forward kernels read through strides; gradients are contiguous. */
#include "kernels/strided.h"
#include "op_internal.h"

#include <inttypes.h>
#include <string.h>

/* ---- small helpers --------------------------------------------------------------------------- */

/* dst (strided) += src (strided) over `shape`, in the float dtype dt. */
static void add_strided(enum sup_dtype dt, void *dst, const int64_t *ds, const void *src, const int64_t *ss,
			int nd, const int64_t *shape)
{
	if (dt == SUP_F32)
		sup_strided_add_f32(dst, ds, src, ss, nd, shape);
	else
		sup_strided_add_f64(dst, ds, src, ss, nd, shape);
}

static char *elem_ptr(const sup_t *t, int64_t off)
{
	return (char *)t->data + off * (int64_t)sup_dtype_size(t->dtype);
}

/* Checks every index value is in [0, n); records an error naming the first bad value. */
static bool check_range(struct sup_ctx *c, const char *op, const sup_t *idx, int64_t n)
{
	int64_t k = sup_tensor_numel(idx);
	for (int64_t i = 0; i < k; i++) {
		int64_t v = sup_index_at(idx, i);
		if (v < 0 || v >= n) {
			sup_ctx_fail(c, SUP_ERR_ARG, "%s: index %" PRId64 " (at position %" PRId64 ") out of range [0, %" PRId64 ")",
				     op, v, i, n);
			return false;
		}
	}
	return true;
}

/* An index tensor made contiguous (index tensors never require grad, so nothing is recorded). */
static sup_t *index_input(struct sup_ctx *c, const char *op, sup_t *idx)
{
	if (!sup_check_index(c, op, idx))
		return NULL;
	return sup_contiguous(c, idx);
}

/* ---- concat and stack -------------------------------------------------------------------------- */

/* Both ops place input i at element offset off[i] of the output, with the output's strides
 * restricted to the input's axes (stack drops the new axis). iarg[0] = the axis, saved = off[]. */
struct place_plan {
	int64_t *off;
	int64_t dstride[SUP_MAX_DIMS]; /* output strides seen from an input's axes */
};

static void place_backward(struct sup_ctx *c, struct sup_node *n)
{
	const struct place_plan *p = n->saved;
	const sup_t *out = n->out;
	const size_t es = sup_dtype_size(out->dtype);
	for (int i = 0; i < n->n_in; i++) {
		sup_t *x = n->in[i];
		void *g = sup_grad_buf(c, x);
		if (!g)
			continue;
		int64_t cs[SUP_MAX_DIMS];
		sup_contiguous_strides(x->ndim, x->shape, cs);
		add_strided(x->dtype, g, cs, (const char *)out->grad + (size_t)p->off[i] * es, p->dstride, x->ndim,
			    x->shape);
	}
}

const struct sup_op_def sup_opdef_concat = { "concat", place_backward };
const struct sup_op_def sup_opdef_stack = { "stack", place_backward };

/* Shared input checks: n >= 1 float tensors of one dtype and one rank. */
static bool check_list(struct sup_ctx *c, const char *op, sup_t *const *xs, int n)
{
	if (c->err)
		return false;
	if (n < 1 || !xs) {
		sup_op_fail_arg(c, op, "needs at least one input");
		return false;
	}
	if (!sup_op_inputs_ok(c, n, xs) || !sup_check_float(c, op, n, xs))
		return false;
	return true;
}

/* Copies the inputs into place and records the node. */
static sup_t *place_inputs(struct sup_ctx *c, const struct sup_op_def *op, sup_t *out, sup_t *const *xs, int n,
			   struct place_plan *p)
{
	const size_t es = sup_dtype_size(out->dtype);
	for (int i = 0; i < n; i++)
		sup_strided_copy(elem_ptr(out, p->off[i]), p->dstride, xs[i]->data, xs[i]->stride, xs[i]->ndim,
				 xs[i]->shape, es);
	struct sup_node *node = sup_record(c, op, out, n, xs);
	if (node)
		node->saved = p;
	return out;
}

sup_t *sup_concat(struct sup_ctx *c, sup_t *const *xs, int n, int dim)
{
	if (!check_list(c, "concat", xs, n))
		return NULL;
	const sup_t *x0 = xs[0];
	int d = sup_check_axis(c, "concat", dim, x0->ndim);
	if (d < 0)
		return NULL;
	int64_t shape[SUP_MAX_DIMS];
	memcpy(shape, x0->shape, sizeof shape);
	shape[d] = 0;
	for (int i = 0; i < n; i++) {
		bool ok = xs[i]->ndim == x0->ndim;
		for (int k = 0; ok && k < x0->ndim; k++)
			ok = k == d || xs[i]->shape[k] == x0->shape[k];
		if (!ok)
			return sup_op_fail_shape(c, "concat", x0, xs[i], "inputs differ off the concat axis");
		shape[d] += xs[i]->shape[d];
	}
	sup_t *out = sup_tensor_new(c, x0->dtype, x0->ndim, shape);
	struct place_plan *p = sup_ctx_alloc(c, sizeof *p);
	int64_t *off = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)n);
	if (!out || !p || !off)
		return NULL;
	p->off = off;
	memcpy(p->dstride, out->stride, sizeof p->dstride);
	int64_t at = 0;
	for (int i = 0; i < n; i++) {
		off[i] = at * out->stride[d];
		at += xs[i]->shape[d];
	}
	return place_inputs(c, &sup_opdef_concat, out, xs, n, p);
}

sup_t *sup_stack(struct sup_ctx *c, sup_t *const *xs, int n, int dim)
{
	if (!check_list(c, "stack", xs, n))
		return NULL;
	const sup_t *x0 = xs[0];
	if (x0->ndim + 1 > SUP_MAX_DIMS)
		return sup_op_fail_shape(c, "stack", x0, NULL, "result would exceed the maximum rank");
	int d = sup_check_axis(c, "stack", dim, x0->ndim + 1);
	if (d < 0)
		return NULL;
	for (int i = 1; i < n; i++)
		if (!sup_tensor_same_shape(x0, xs[i]))
			return sup_op_fail_shape(c, "stack", x0, xs[i], "inputs must have equal shapes");
	int64_t shape[SUP_MAX_DIMS];
	for (int k = 0, j = 0; k <= x0->ndim; k++)
		shape[k] = k == d ? n : x0->shape[j++];
	sup_t *out = sup_tensor_new(c, x0->dtype, x0->ndim + 1, shape);
	struct place_plan *p = sup_ctx_alloc(c, sizeof *p);
	int64_t *off = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)n);
	if (!out || !p || !off)
		return NULL;
	p->off = off;
	for (int k = 0, j = 0; k <= x0->ndim; k++)
		if (k != d)
			p->dstride[j++] = out->stride[k];
	for (int i = 0; i < n; i++)
		off[i] = i * out->stride[d];
	return place_inputs(c, &sup_opdef_stack, out, xs, n, p);
}

/* ---- pad ----------------------------------------------------------------------------------------- */

/* iarg[0] = element offset of a's first element inside the output. */
static void pad_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0];
	void *g = sup_grad_buf(c, a);
	if (!g)
		return;
	int64_t cs[SUP_MAX_DIMS];
	sup_contiguous_strides(a->ndim, a->shape, cs);
	const size_t es = sup_dtype_size(a->dtype);
	add_strided(a->dtype, g, cs, (const char *)n->out->grad + (size_t)n->iarg[0] * es, n->out->stride, a->ndim,
		    a->shape);
}

const struct sup_op_def sup_opdef_pad = { "pad", pad_backward };

sup_t *sup_pad(struct sup_ctx *c, sup_t *a, const int64_t *pads, double value)
{
	if (!sup_op_inputs_ok(c, 1, &a) || !sup_check_float(c, "pad", 1, &a))
		return NULL;
	if (!pads && a->ndim > 0)
		return sup_op_fail_arg(c, "pad", "pads is NULL");
	int64_t shape[SUP_MAX_DIMS];
	for (int k = 0; k < a->ndim; k++) {
		if (pads[2 * k] < 0 || pads[2 * k + 1] < 0) {
			sup_ctx_fail(c, SUP_ERR_ARG, "pad: negative padding (%" PRId64 ", %" PRId64 ") on axis %d",
				     pads[2 * k], pads[2 * k + 1], k);
			return NULL;
		}
		shape[k] = a->shape[k] + pads[2 * k] + pads[2 * k + 1];
	}
	sup_t *out = sup_tensor_new(c, a->dtype, a->ndim, shape);
	if (!out)
		return NULL;
	int64_t numel = sup_tensor_numel(out), off = 0;
	if (a->dtype == SUP_F32) {
		float *o = out->data, v = (float)value;
		for (int64_t i = 0; i < numel; i++)
			o[i] = v;
	} else {
		double *o = out->data;
		for (int64_t i = 0; i < numel; i++)
			o[i] = value;
	}
	for (int k = 0; k < a->ndim; k++)
		off += pads[2 * k] * out->stride[k];
	sup_strided_copy(elem_ptr(out, off), out->stride, a->data, a->stride, a->ndim, a->shape,
			 sup_dtype_size(a->dtype));
	struct sup_node *node = sup_record(c, &sup_opdef_pad, out, 1, &a);
	if (node)
		node->iarg[0] = off;
	return out;
}

/* ---- gather / scatter walks -------------------------------------------------------------------- */

/* Walks the index space `shape` (the index tensor's shape, row-major, matching idx's elements).
 * At position p with k = idx[p]:
 *   gather  (scatter == false): dst[p]              (+)= src[p with axis dim set to k]
 *   scatter (scatter == true):  dst[p, dim := k]     += src[p]
 * dst and src are addressed through their own strides; `acc` selects += for gather. */
#define WALK_BODY(T)                                                                              \
	int64_t p[SUP_MAX_DIMS] = { 0 };                                                          \
	const int64_t count = sup_shape_numel(nd, shape);                                         \
	for (int64_t i = 0; i < count; i++) {                                                     \
		const int64_t k = sup_index_at(idx, i);                                           \
		int64_t od = 0, os = 0;                                                           \
		for (int d = 0; d < nd; d++) {                                                    \
			od += (d == dim && scatter ? k : p[d]) * ds[d];                           \
			os += (d == dim && !scatter ? k : p[d]) * ss[d];                          \
		}                                                                                 \
		if (acc)                                                                          \
			dst[od] += src[os];                                                       \
		else                                                                              \
			dst[od] = src[os];                                                        \
		for (int d = nd - 1; d >= 0; d--) {                                               \
			if (++p[d] < shape[d])                                                    \
				break;                                                            \
			p[d] = 0;                                                                 \
		}                                                                                 \
	}

static void walk_f32(float *dst, const int64_t *ds, const float *src, const int64_t *ss, int nd,
		     const int64_t *shape, int dim, const sup_t *idx, bool scatter, bool acc)
{
	WALK_BODY(float)
}

static void walk_f64(double *dst, const int64_t *ds, const double *src, const int64_t *ss, int nd,
		     const int64_t *shape, int dim, const sup_t *idx, bool scatter, bool acc)
{
	WALK_BODY(double)
}

static void walk(enum sup_dtype dt, void *dst, const int64_t *ds, const void *src, const int64_t *ss, int nd,
		 const int64_t *shape, int dim, const sup_t *idx, bool scatter, bool acc)
{
	if (dt == SUP_F32)
		walk_f32(dst, ds, src, ss, nd, shape, dim, idx, scatter, acc);
	else
		walk_f64(dst, ds, src, ss, nd, shape, dim, idx, scatter, acc);
}

/* torch.gather/scatter_add shape rule: index has the rank of `a`, index.shape[d] <= a.shape[d] for
 * d != dim, and (for scatter) index.shape[d] <= src.shape[d] for every d. */
static bool check_index_shape(struct sup_ctx *c, const char *op, const sup_t *a, int dim, const sup_t *idx,
			      const sup_t *src)
{
	if (idx->ndim != a->ndim) {
		sup_op_fail_shape(c, op, a, idx, "index must have the rank of the input");
		return false;
	}
	for (int d = 0; d < a->ndim; d++) {
		if (d != dim && idx->shape[d] > a->shape[d]) {
			sup_op_fail_shape(c, op, a, idx, "index is larger than the input off the indexed axis");
			return false;
		}
		if (src && (src->ndim != a->ndim || idx->shape[d] > src->shape[d])) {
			sup_op_fail_shape(c, op, src, idx, "index is larger than src");
			return false;
		}
	}
	return true;
}

/* ---- gather -------------------------------------------------------------------------------------- */

/* in = {a, index}; iarg[0] = dim. grad_a[p, dim := idx[p]] += grad_out[p]. */
static void gather_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0], *idx = n->in[1], *out = n->out;
	void *g = sup_grad_buf(c, a);
	if (!g)
		return;
	int64_t cs[SUP_MAX_DIMS];
	sup_contiguous_strides(a->ndim, a->shape, cs);
	walk(a->dtype, g, cs, out->grad, out->stride, idx->ndim, idx->shape, (int)n->iarg[0], idx, true, true);
}

const struct sup_op_def sup_opdef_gather = { "gather", gather_backward };

sup_t *sup_gather(struct sup_ctx *c, sup_t *a, int dim, sup_t *index)
{
	sup_t *in[2] = { a, index };
	if (!sup_op_inputs_ok(c, 2, in) || !sup_check_float(c, "gather", 1, &a))
		return NULL;
	int d = sup_check_axis(c, "gather", dim, a->ndim);
	if (d < 0 || !(index = index_input(c, "gather", index)))
		return NULL;
	if (!check_index_shape(c, "gather", a, d, index, NULL) || !check_range(c, "gather", index, a->shape[d]))
		return NULL;
	sup_t *out = sup_tensor_new(c, a->dtype, index->ndim, index->shape);
	if (!out)
		return NULL;
	walk(a->dtype, out->data, out->stride, a->data, a->stride, index->ndim, index->shape, d, index, false, false);
	in[1] = index;
	struct sup_node *node = sup_record(c, &sup_opdef_gather, out, 2, in);
	if (node)
		node->iarg[0] = d;
	return out;
}

/* ---- scatter_add --------------------------------------------------------------------------------- */

/* in = {a, index, src}; iarg[0] = dim. grad_a = grad_out; grad_src[p] += grad_out[p, dim := idx[p]]
 * for p inside the index shape (elements of src outside it were never read: gradient 0). */
static void scatter_add_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0], *idx = n->in[1], *src = n->in[2], *out = n->out;
	void *ga = sup_grad_buf(c, a), *gs = sup_grad_buf(c, src);
	if (ga)
		add_strided(a->dtype, ga, out->stride, out->grad, out->stride, a->ndim, a->shape);
	if (gs) {
		int64_t cs[SUP_MAX_DIMS];
		sup_contiguous_strides(src->ndim, src->shape, cs);
		walk(src->dtype, gs, cs, out->grad, out->stride, idx->ndim, idx->shape, (int)n->iarg[0], idx, false,
		     true);
	}
}

const struct sup_op_def sup_opdef_scatter_add = { "scatter_add", scatter_add_backward };

sup_t *sup_scatter_add(struct sup_ctx *c, sup_t *a, int dim, sup_t *index, sup_t *src)
{
	sup_t *in[3] = { a, index, src };
	sup_t *fl[2] = { a, src };
	if (!sup_op_inputs_ok(c, 3, in) || !sup_check_float(c, "scatter_add", 2, fl))
		return NULL;
	int d = sup_check_axis(c, "scatter_add", dim, a->ndim);
	if (d < 0 || !(index = index_input(c, "scatter_add", index)))
		return NULL;
	if (!check_index_shape(c, "scatter_add", a, d, index, src) ||
	    !check_range(c, "scatter_add", index, a->shape[d]))
		return NULL;
	sup_t *out = sup_tensor_new(c, a->dtype, a->ndim, a->shape);
	if (!out)
		return NULL;
	sup_strided_copy(out->data, out->stride, a->data, a->stride, a->ndim, a->shape, sup_dtype_size(a->dtype));
	walk(a->dtype, out->data, out->stride, src->data, src->stride, index->ndim, index->shape, d, index, true,
	     true);
	in[1] = index;
	struct sup_node *node = sup_record(c, &sup_opdef_scatter_add, out, 3, in);
	if (node)
		node->iarg[0] = d;
	return out;
}

/* ---- index_select ---------------------------------------------------------------------------------- */

/* a viewed as [outer, A, inner] (contiguous); out as [outer, K, inner]; iarg[0] = dim. */
static void select_dims(const sup_t *a, int d, int64_t *outer, int64_t *inner)
{
	*outer = sup_shape_numel(d, a->shape);
	*inner = sup_shape_numel(a->ndim - d - 1, a->shape + d + 1);
}

#define SELECT_BWD(T)                                                                         \
	for (int64_t o = 0; o < outer; o++)                                                   \
		for (int64_t k = 0; k < K; k++) {                                             \
			T *dst = (T *)g + (o * A + sup_index_at(idx, k)) * inner;             \
			const T *s = (const T *)go + (o * K + k) * inner;                     \
			for (int64_t i = 0; i < inner; i++)                                   \
				dst[i] += s[i];                                               \
		}

static void index_select_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0], *idx = n->in[1];
	void *g = sup_grad_buf(c, a);
	if (!g)
		return;
	const void *go = n->out->grad;
	int64_t outer, inner, A = a->shape[n->iarg[0]], K = idx->shape[0];
	select_dims(a, (int)n->iarg[0], &outer, &inner);
	if (a->dtype == SUP_F32) {
		SELECT_BWD(float)
	} else {
		SELECT_BWD(double)
	}
}

const struct sup_op_def sup_opdef_index_select = { "index_select", index_select_backward };

sup_t *sup_index_select(struct sup_ctx *c, sup_t *a, int dim, sup_t *index)
{
	sup_t *in[2] = { a, index };
	if (!sup_op_inputs_ok(c, 2, in) || !sup_check_float(c, "index_select", 1, &a))
		return NULL;
	int d = sup_check_axis(c, "index_select", dim, a->ndim);
	if (d < 0 || !(index = index_input(c, "index_select", index)))
		return NULL;
	if (index->ndim != 1)
		return sup_op_fail_shape(c, "index_select", a, index, "index must be 1-D");
	if (!check_range(c, "index_select", index, a->shape[d]) || !(a = sup_contiguous(c, a)))
		return NULL;
	int64_t shape[SUP_MAX_DIMS], outer, inner, A = a->shape[d], K = index->shape[0];
	memcpy(shape, a->shape, sizeof shape);
	shape[d] = K;
	sup_t *out = sup_tensor_new(c, a->dtype, a->ndim, shape);
	if (!out)
		return NULL;
	select_dims(a, d, &outer, &inner);
	const size_t row = (size_t)inner * sup_dtype_size(a->dtype);
	for (int64_t o = 0; o < outer; o++)
		for (int64_t k = 0; k < K; k++)
			memcpy((char *)out->data + (size_t)(o * K + k) * row,
			       (const char *)a->data + (size_t)(o * A + sup_index_at(index, k)) * row, row);
	in[0] = a;
	in[1] = index;
	struct sup_node *node = sup_record(c, &sup_opdef_index_select, out, 2, in);
	if (node)
		node->iarg[0] = d;
	return out;
}

/* ---- embedding ------------------------------------------------------------------------------------- */

/* in = {weight, ids}. grad_w[ids[r]] += grad_out[r] in row order, so repeated ids sum in a fixed
 * order. Rows are split over threads by column block (each thread walks every row), which keeps
 * that order per element without atomics. */
#define EMB_BWD(T)                                                                            \
	_Pragma("omp parallel for if (R * D >= 65536) schedule(static)")                     \
	for (int64_t j0 = 0; j0 < D; j0 += 64) {                                              \
		const int64_t j1 = j0 + 64 < D ? j0 + 64 : D;                                 \
		for (int64_t r = 0; r < R; r++) {                                             \
			T *dst = (T *)g + sup_index_at(ids, r) * D;                           \
			const T *s = (const T *)go + r * D;                                   \
			for (int64_t j = j0; j < j1; j++)                                     \
				dst[j] += s[j];                                               \
		}                                                                             \
	}

static void embedding_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *w = n->in[0], *ids = n->in[1];
	void *g = sup_grad_buf(c, w);
	if (!g)
		return;
	const void *go = n->out->grad;
	const int64_t R = sup_tensor_numel(ids), D = w->shape[1];
	if (w->dtype == SUP_F32) {
		EMB_BWD(float)
	} else {
		EMB_BWD(double)
	}
}

const struct sup_op_def sup_opdef_embedding = { "embedding", embedding_backward };

sup_t *sup_embedding(struct sup_ctx *c, sup_t *weight, sup_t *ids)
{
	sup_t *in[2] = { weight, ids };
	if (!sup_op_inputs_ok(c, 2, in) || !sup_check_float(c, "embedding", 1, &weight))
		return NULL;
	if (weight->ndim != 2)
		return sup_op_fail_shape(c, "embedding", weight, ids, "weight must be [V, D]");
	if (ids->ndim + 1 > SUP_MAX_DIMS)
		return sup_op_fail_shape(c, "embedding", weight, ids, "ids have too many axes");
	if (!(ids = index_input(c, "embedding", ids)))
		return NULL;
	const int64_t V = weight->shape[0], D = weight->shape[1], R = sup_tensor_numel(ids);
	for (int64_t r = 0; r < R; r++) {
		int64_t v = sup_index_at(ids, r);
		if (v < 0 || v >= V) {
			sup_ctx_fail(c, SUP_ERR_ARG, "embedding: id %" PRId64 " (at position %" PRId64 ") out of range for a vocabulary of %" PRId64,
				     v, r, V);
			return NULL;
		}
	}
	if (!(weight = sup_contiguous(c, weight)))
		return NULL;
	int64_t shape[SUP_MAX_DIMS];
	memcpy(shape, ids->shape, sizeof(int64_t) * (size_t)ids->ndim);
	shape[ids->ndim] = D;
	sup_t *out = sup_tensor_new(c, weight->dtype, ids->ndim + 1, shape);
	if (!out)
		return NULL;
	const size_t row = (size_t)D * sup_dtype_size(weight->dtype);
	char *o = out->data;
	const char *w = weight->data;
#pragma omp parallel for if (R * D >= 65536) schedule(static)
	for (int64_t r = 0; r < R; r++)
		memcpy(o + (size_t)r * row, w + (size_t)sup_index_at(ids, r) * row, row);
	in[0] = weight;
	in[1] = ids;
	sup_record(c, &sup_opdef_embedding, out, 2, in);
	return out;
}
