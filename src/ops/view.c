/* View ops (reshape, permute, transpose, slice, detach) and contiguous.
 *
 * A view shares its input's data. Its gradient is contiguous in the view's shape, so backward
 * needs where each view element sits in the *input's* contiguous gradient: every view node
 * saves that map as an offset (iarg[0]) and strides (iarg[1..SUP_MAX_DIMS]). */
#include "kernels/strided.h"
#include "op_internal.h"

#include <string.h>

/* Every view except a slice covers all of its input, one view element per input element. When
 * the input has no gradient yet, its gradient is the view's gradient rearranged: an identity
 * map (reshape, contiguous of a contiguous tensor) adopts the view's buffer (the tape runs in
 * reverse, so no later backward step reads the view's gradient again: the view hands the
 * buffer over and drops its pointer), any other bijection copies into a fresh buffer instead of zeroing and adding. */
static void view_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *in = n->in[0], *out = n->out;
	if (!in->requires_grad)
		return;
	int64_t cs[SUP_MAX_DIMS];
	sup_contiguous_strides(out->ndim, out->shape, cs);
	const int64_t off = n->iarg[0], *gstride = &n->iarg[1];
	const bool whole = sup_tensor_numel(out) == sup_tensor_numel(in) && off == 0;
	bool identity = whole;
	for (int i = 0; i < out->ndim && identity; i++)
		identity = out->shape[i] == 1 || gstride[i] == cs[i];
	sup_grad_forget_stale(c, in);
	if (identity && !in->grad) {
		/* The input takes the buffer over (and frees it when its own producer is done). */
		in->grad = out->grad;
		in->grad_fresh = false;
		in->grad_pooled = out->grad_pooled;
		in->grad_pool = out->grad_pool;
		in->grad_gen = out->grad_gen;
		out->grad = NULL;
		out->grad_pooled = false;
		return;
	}
	bool acc = true;
	void *g = whole ? sup_grad_buf_acc(c, in, &acc) : sup_grad_buf(c, in);
	if (!g)
		return;
	if (!acc)
		sup_strided_copy(g, gstride, out->grad, cs, out->ndim, out->shape, sup_dtype_size(in->dtype));
	else if (in->dtype == SUP_F32)
		sup_strided_add_f32((float *)g + off, gstride, out->grad, cs, out->ndim, out->shape);
	else
		sup_strided_add_f64((double *)g + off, gstride, out->grad, cs, out->ndim, out->shape);
}

const struct sup_op_def sup_opdef_reshape = { "reshape", view_backward };
const struct sup_op_def sup_opdef_permute = { "permute", view_backward };
const struct sup_op_def sup_opdef_transpose = { "transpose", view_backward };
const struct sup_op_def sup_opdef_slice = { "slice", view_backward };
const struct sup_op_def sup_opdef_contiguous = { "contiguous", view_backward };

/* Records a view node with its gradient map. */
static void record_view(struct sup_ctx *c, const struct sup_op_def *op, sup_t *out, sup_t *in, int64_t goff,
			const int64_t *gstride)
{
	struct sup_node *n = sup_record(c, op, out, 1, &in);
	if (!n)
		return;
	n->iarg[0] = goff;
	memcpy(&n->iarg[1], gstride, sizeof(int64_t) * (size_t)out->ndim);
}

sup_t *sup_contiguous(struct sup_ctx *c, sup_t *a)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	if (sup_tensor_is_contiguous(a))
		return a;
	sup_t *out = sup_tensor_new(c, a->dtype, a->ndim, a->shape);
	if (!out)
		return NULL;
	sup_strided_copy(out->data, out->stride, a->data, a->stride, a->ndim, a->shape, sup_dtype_size(a->dtype));
	record_view(c, &sup_opdef_contiguous, out, a, 0, out->stride);
	return out;
}

sup_t *sup_reshape(struct sup_ctx *c, sup_t *a, int ndim, const int64_t *shape)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	if (ndim < 0 || ndim > SUP_MAX_DIMS)
		return sup_op_fail_arg(c, "reshape", "rank out of range");
	int64_t s[SUP_MAX_DIMS], known = 1;
	int infer = -1;
	for (int i = 0; i < ndim; i++) {
		s[i] = shape[i];
		if (s[i] == -1 && infer < 0)
			infer = i;
		else if (s[i] < 0)
			return sup_op_fail_arg(c, "reshape", "sizes must be >= 0 with at most one -1");
		else
			known *= s[i];
	}
	int64_t numel = sup_tensor_numel(a);
	if (infer >= 0) {
		if (known == 0 || numel % known)
			return sup_op_fail_shape(c, "reshape", a, NULL, "cannot infer the -1 size");
		s[infer] = numel / known;
	}
	if (sup_shape_numel(ndim, s) != numel) {
		sup_t want;
		sup_tensor_init(&want, a->dtype, ndim, s, NULL);
		return sup_op_fail_shape(c, "reshape", a, &want, "element counts differ");
	}
	sup_t *src = sup_contiguous(c, a);
	if (!src)
		return NULL;
	sup_t *out = sup_tensor_wrap(c, a->dtype, ndim, s, src->data);
	if (out)
		record_view(c, &sup_opdef_reshape, out, src, 0, out->stride);
	return out;
}

sup_t *sup_permute(struct sup_ctx *c, sup_t *a, const int *perm)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	int seen[SUP_MAX_DIMS] = { 0 };
	int p[SUP_MAX_DIMS];
	for (int i = 0; i < a->ndim; i++) {
		p[i] = sup_check_axis(c, "permute", perm[i], a->ndim);
		if (p[i] < 0)
			return NULL;
		if (seen[p[i]]++)
			return sup_op_fail_arg(c, "permute", "perm is not a permutation");
	}
	sup_t *out = sup_view_of(c, a);
	if (!out)
		return NULL;
	int64_t cs[SUP_MAX_DIMS], gs[SUP_MAX_DIMS];
	sup_contiguous_strides(a->ndim, a->shape, cs);
	for (int i = 0; i < a->ndim; i++) {
		out->shape[i] = a->shape[p[i]];
		out->stride[i] = a->stride[p[i]];
		gs[i] = cs[p[i]];
	}
	record_view(c, &sup_opdef_permute, out, a, 0, gs);
	return out;
}

sup_t *sup_transpose(struct sup_ctx *c, sup_t *a, int d0, int d1)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	int x = sup_check_axis(c, "transpose", d0, a->ndim), y = sup_check_axis(c, "transpose", d1, a->ndim);
	if (x < 0 || y < 0)
		return NULL;
	sup_t *out = sup_view_of(c, a);
	if (!out)
		return NULL;
	int64_t gs[SUP_MAX_DIMS];
	sup_contiguous_strides(a->ndim, a->shape, gs);
	int64_t t;
	t = out->shape[x], out->shape[x] = out->shape[y], out->shape[y] = t;
	t = out->stride[x], out->stride[x] = out->stride[y], out->stride[y] = t;
	t = gs[x], gs[x] = gs[y], gs[y] = t;
	record_view(c, &sup_opdef_transpose, out, a, 0, gs);
	return out;
}

sup_t *sup_slice(struct sup_ctx *c, sup_t *a, int dim, int64_t start, int64_t end, int64_t step)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	int d = sup_check_axis(c, "slice", dim, a->ndim);
	if (d < 0)
		return NULL;
	if (step < 1)
		return sup_op_fail_arg(c, "slice", "step must be >= 1");
	int64_t n = a->shape[d];
	if (start < 0)
		start += n;
	if (end < 0)
		end += n;
	start = start < 0 ? 0 : start > n ? n : start;
	end = end < start ? start : end > n ? n : end;
	sup_t *out = sup_view_of(c, a);
	if (!out)
		return NULL;
	int64_t gs[SUP_MAX_DIMS];
	sup_contiguous_strides(a->ndim, a->shape, gs);
	/* ceil((end - start) / step), computed so that a huge step cannot overflow; an axis of size
	 * <= 1 never uses its stride, so the step only scales strides when it is <= end - start. */
	out->shape[d] = end > start ? (end - start - 1) / step + 1 : 0;
	const int64_t eff_step = out->shape[d] > 1 ? step : 1;
	out->stride[d] = a->stride[d] * eff_step;
	out->data = (char *)a->data + start * a->stride[d] * (int64_t)sup_dtype_size(a->dtype);
	int64_t goff = start * gs[d];
	gs[d] *= eff_step;
	record_view(c, &sup_opdef_slice, out, a, goff, gs);
	return out;
}

sup_t *sup_detach(struct sup_ctx *c, sup_t *a)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	return sup_view_of(c, a);
}
