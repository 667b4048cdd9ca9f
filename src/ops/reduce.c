/* Reductions over a set of axes: sum, mean, max, logsumexp, var.
 *
 * Every reduction is an [O, I] problem on the permuted view [kept axes..., reduced axes...] of
 * the input: O = product of kept sizes (in the output's row-major order), I = product of reduced
 * sizes. When both axis groups of the view collapse to one stride each (the common cases: last
 * axes of a contiguous tensor, axis 0 of a matrix, everything, transposed matrices), the kernels
 * read the input in place; otherwise the view is first copied into a contiguous scratch buffer
 * (untracked: backward writes the input's gradient directly, through the same permutation).
 * Backward derivations: docs/autograd/reduce.md. */
#include "kernels/reduce.h"
#include "kernels/strided.h"
#include "op_internal.h"

#include <string.h>

enum rkind { R_SUM, R_MEAN, R_MAX, R_LSE, R_VAR };

/* How a reduction reads its input; kept on the node for backward. */
struct rplan {
	enum rkind kind;
	int ndim, nk;             /* input rank; how many of perm's axes are kept */
	int perm[SUP_MAX_DIMS];   /* kept axes (in order), then reduced axes (in order) */
	int64_t O, I;
	const void *x;            /* element (o, i) at x[o * so + i * si]: a's data or a copy */
	int64_t so, si;
	void *aux;                /* max: i64 argmax [O]; var: mean [O]; lse: the output */
	int64_t correction;       /* var */
};

/* Merges k axes (sizes n, strides s, outermost first) into one (N, S) when they form a single
 * row-major progression; size-1 axes are ignored. */
static bool collapse(int k, const int64_t *n, const int64_t *s, int64_t *N, int64_t *S)
{
	int64_t total = 1, inner = 1, expect = 0;
	bool any = false;
	for (int i = k - 1; i >= 0; i--) {
		total *= n[i];
		if (n[i] == 1)
			continue;
		if (!any)
			inner = s[i];
		else if (s[i] != expect)
			return false;
		expect = s[i] * n[i];
		any = true;
	}
	*N = total;
	*S = inner;
	return true;
}

/* Marks the reduced axes; n_axes == 0 means all. Records an error and returns false for an axis
 * out of range or given twice. */
static bool parse_axes(struct sup_ctx *c, const char *op, const sup_t *a, const int *axes, int n_axes, bool *red)
{
	char buf[128];
	if (n_axes < 0 || (n_axes > 0 && !axes)) {
		sup_op_fail_arg(c, op, "n_axes must be >= 0 and axes non-NULL when n_axes > 0");
		return false;
	}
	for (int d = 0; d < a->ndim; d++)
		red[d] = n_axes == 0;
	for (int i = 0; i < n_axes; i++) {
		int ax = sup_check_axis(c, op, axes[i], a->ndim);
		if (ax < 0)
			return false;
		if (red[ax]) {
			sup_ctx_fail(c, SUP_ERR_ARG, "%s: axis %d given twice (shape %s)", op, axes[i],
				     sup_shape_str(buf, sizeof buf, a->ndim, a->shape));
			return false;
		}
		red[ax] = true;
	}
	return true;
}

/* The [O, I] plan and the output shape; NULL (error recorded) on bad axes or no memory. */
static struct rplan *make_plan(struct sup_ctx *c, const char *op, const sup_t *a, const int *axes, int n_axes,
			       bool keepdim, int *ondim, int64_t *oshape)
{
	bool red[SUP_MAX_DIMS];
	if (!parse_axes(c, op, a, axes, n_axes, red))
		return NULL;
	struct rplan *p = sup_ctx_calloc(c, sizeof *p);
	if (!p)
		return NULL;
	p->ndim = a->ndim;
	int j = 0, k = 0;
	for (int d = 0; d < a->ndim; d++) {
		if (!red[d])
			p->perm[j++] = d;
		if (!red[d] || keepdim)
			oshape[k++] = red[d] ? 1 : a->shape[d];
	}
	*ondim = k;
	p->nk = j;
	for (int d = 0; d < a->ndim; d++)
		if (red[d])
			p->perm[j++] = d;
	int64_t pn[SUP_MAX_DIMS], ps[SUP_MAX_DIMS];
	for (int i = 0; i < a->ndim; i++) {
		pn[i] = a->shape[p->perm[i]];
		ps[i] = a->stride[p->perm[i]];
	}
	const int nr = a->ndim - p->nk;
	if (collapse(p->nk, pn, ps, &p->O, &p->so) && collapse(nr, pn + p->nk, ps + p->nk, &p->I, &p->si)) {
		p->x = a->data;
		return p;
	}
	/* General layout: copy the permuted view into contiguous [O, I]. */
	const size_t es = sup_dtype_size(a->dtype);
	void *buf = sup_ctx_alloc(c, sup_tensor_nbytes(a));
	if (!buf)
		return NULL;
	int64_t cs[SUP_MAX_DIMS];
	sup_contiguous_strides(a->ndim, pn, cs);
	sup_strided_copy(buf, cs, a->data, ps, a->ndim, pn, es);
	p->O = sup_shape_numel(p->nk, pn);
	p->I = sup_shape_numel(nr, pn + p->nk);
	p->x = buf;
	p->so = p->I;
	p->si = 1;
	return p;
}

/* Picks the kernel by dtype and backend: sup_ref_<fn>_f64, sup_cpu_<fn>_f32 or sup_ref_<fn>_f32.
 * Pointer arguments are passed as void * and scalars as double, converted at the call. */
#define RUN_KERNEL(c, dt, fn, ...)                       \
	do {                                             \
		if ((dt) == SUP_F64)                     \
			sup_ref_##fn##_f64(__VA_ARGS__); \
		else if (sup_use_fast(c, dt))            \
			sup_cpu_##fn##_f32(__VA_ARGS__); \
		else                                     \
			sup_ref_##fn##_f32(__VA_ARGS__); \
	} while (0)

/* dx[o * dso + idx[o] * dsi] += g[o]: the max gradient goes to one element per group. */
static void max_scatter(enum sup_dtype dt, void *dx, int64_t dso, int64_t dsi, const void *g, const int64_t *idx,
			int64_t O)
{
	for (int64_t o = 0; o < O; o++) {
		const int64_t k = o * dso + idx[o] * dsi;
		if (dt == SUP_F32)
			((float *)dx)[k] += ((const float *)g)[o];
		else
			((double *)dx)[k] += ((const double *)g)[o];
	}
}

static void reduce_backward(struct sup_ctx *c, struct sup_node *n)
{
	const struct rplan *p = n->saved;
	sup_t *a = n->in[0];
	void *gbuf = sup_grad_buf(c, a);
	if (!gbuf)
		return;
	const enum sup_dtype dt = a->dtype;
	const int nr = p->ndim - p->nk;
	/* Where element (o, i) of the plan sits in a's contiguous gradient. */
	int64_t cs[SUP_MAX_DIMS], pn[SUP_MAX_DIMS], gs[SUP_MAX_DIMS], O, I, dso, dsi;
	sup_contiguous_strides(a->ndim, a->shape, cs);
	for (int i = 0; i < p->ndim; i++) {
		pn[i] = a->shape[p->perm[i]];
		gs[i] = cs[p->perm[i]];
	}
	void *dx = gbuf, *tmp = NULL;
	if (!collapse(p->nk, pn, gs, &O, &dso) || !collapse(nr, pn + p->nk, gs + p->nk, &I, &dsi)) {
		tmp = sup_ctx_calloc(c, sup_tensor_nbytes(a));
		if (!tmp)
			return;
		dx = tmp;
		dso = p->I;
		dsi = 1;
	}
	const void *g = n->out->grad;
	const double denom = (double)(p->I - p->correction > 0 ? p->I - p->correction : 0);
	switch (p->kind) {
	case R_SUM:
	case R_MEAN: {
		const double scale = p->kind == R_SUM ? 1.0 : 1.0 / (double)p->I;
		RUN_KERNEL(c, dt, reduce_bwd, dx, dso, dsi, g, NULL, 0, 0, NULL, p->O, p->I, SUP_REDUCE_BWD_SCALE, scale);
		break;
	}
	case R_MAX: max_scatter(dt, dx, dso, dsi, g, p->aux, p->O); break;
	case R_LSE:
		RUN_KERNEL(c, dt, reduce_bwd, dx, dso, dsi, g, p->x, p->so, p->si, p->aux, p->O, p->I,
			   SUP_REDUCE_BWD_EXP, 1.0);
		break;
	case R_VAR:
		RUN_KERNEL(c, dt, reduce_bwd, dx, dso, dsi, g, p->x, p->so, p->si, p->aux, p->O, p->I,
			   SUP_REDUCE_BWD_CENTERED, 2.0 / denom);
		break;
	}
	if (tmp) {
		int64_t ts[SUP_MAX_DIMS];
		sup_contiguous_strides(p->ndim, pn, ts);
		if (dt == SUP_F32)
			sup_strided_add_f32(gbuf, gs, tmp, ts, p->ndim, pn);
		else
			sup_strided_add_f64(gbuf, gs, tmp, ts, p->ndim, pn);
	}
}

const struct sup_op_def sup_opdef_sum = { "sum", reduce_backward };
const struct sup_op_def sup_opdef_mean = { "mean", reduce_backward };
const struct sup_op_def sup_opdef_max = { "max", reduce_backward };
const struct sup_op_def sup_opdef_logsumexp = { "logsumexp", reduce_backward };
const struct sup_op_def sup_opdef_var = { "var", reduce_backward };

static const struct {
	const char *name;
	const struct sup_op_def *def;
} rinfo[] = {
	[R_SUM] = { "sum", &sup_opdef_sum },
	[R_MEAN] = { "mean", &sup_opdef_mean },
	[R_MAX] = { "max", &sup_opdef_max },
	[R_LSE] = { "logsumexp", &sup_opdef_logsumexp },
	[R_VAR] = { "var", &sup_opdef_var },
};

static sup_t *reduce(struct sup_ctx *c, enum rkind kind, sup_t *a, const int *axes, int n_axes, bool keepdim,
		     int64_t correction)
{
	const char *op = rinfo[kind].name;
	if (!sup_op_inputs_ok(c, 1, &a) || !sup_check_float(c, op, 1, &a))
		return NULL;
	int ondim;
	int64_t oshape[SUP_MAX_DIMS];
	struct rplan *p = make_plan(c, op, a, axes, n_axes, keepdim, &ondim, oshape);
	if (!p)
		return NULL;
	p->kind = kind;
	p->correction = correction;
	if (kind == R_MAX && p->I == 0 && p->O > 0)
		return sup_op_fail_shape(c, op, a, NULL, "cannot take the maximum of an empty group");
	sup_t *out = sup_tensor_new(c, a->dtype, ondim, oshape);
	if (!out)
		return NULL;
	const enum sup_dtype dt = a->dtype;
	const size_t es = sup_dtype_size(dt);
	switch (kind) {
	case R_SUM:
	case R_MEAN: {
		const double scale = kind == R_SUM ? 1.0 : 1.0 / (double)p->I;
		RUN_KERNEL(c, dt, sum, out->data, p->x, p->O, p->I, p->so, p->si, scale);
		break;
	}
	case R_MAX:
		p->aux = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)p->O);
		if (!p->aux)
			return NULL;
		RUN_KERNEL(c, dt, max, out->data, p->aux, p->x, p->O, p->I, p->so, p->si);
		break;
	case R_LSE:
		p->aux = out->data;
		RUN_KERNEL(c, dt, logsumexp, out->data, p->x, p->O, p->I, p->so, p->si);
		break;
	case R_VAR:
		p->aux = sup_ctx_alloc(c, es * (size_t)p->O);
		if (!p->aux)
			return NULL;
		RUN_KERNEL(c, dt, var, out->data, p->aux, p->x, p->O, p->I, p->so, p->si, correction);
		break;
	}
	struct sup_node *n = sup_record(c, rinfo[kind].def, out, 1, &a);
	if (n)
		n->saved = p;
	return out;
}

sup_t *sup_sum(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, bool keepdim)
{
	return reduce(c, R_SUM, a, axes, n_axes, keepdim, 0);
}

sup_t *sup_mean(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, bool keepdim)
{
	return reduce(c, R_MEAN, a, axes, n_axes, keepdim, 0);
}

sup_t *sup_max(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, bool keepdim)
{
	return reduce(c, R_MAX, a, axes, n_axes, keepdim, 0);
}

sup_t *sup_logsumexp(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, bool keepdim)
{
	return reduce(c, R_LSE, a, axes, n_axes, keepdim, 0);
}

sup_t *sup_var(struct sup_ctx *c, sup_t *a, const int *axes, int n_axes, int correction, bool keepdim)
{
	if (a && !c->err && correction < 0)
		return sup_op_fail_arg(c, "var", "correction must be >= 0");
	return reduce(c, R_VAR, a, axes, n_axes, keepdim, correction);
}
