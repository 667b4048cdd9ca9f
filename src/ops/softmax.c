/* softmax, log_softmax and l2_normalize along one axis.
 *
 * The input is made contiguous (sup_contiguous, recorded, so gradients reach strided views) and
 * seen as [O, C, N] with C the reduced axis; the kernels (kernels/softmax.h) run row by row.
 * Backward derivations: docs/autograd/reduce.md. */
#include "kernels/softmax.h"
#include "op_internal.h"

enum smkind { SM_SOFTMAX, SM_LOG_SOFTMAX, SM_L2 };

/* Node attributes: iarg[0..2] = O, C, N; iarg[3] = kind; farg[0] = eps; saved = row norms (l2). */
static void softmax_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0], *out = n->out;
	void *dx = sup_grad_buf(c, a);
	if (!dx)
		return;
	const int64_t O = n->iarg[0], C = n->iarg[1], N = n->iarg[2];
	const enum smkind kind = (enum smkind)n->iarg[3];
	const bool fast = sup_use_fast(c, a->dtype);
	if (a->dtype == SUP_F64) {
		if (kind == SM_L2)
			sup_ref_l2norm_bwd_f64(dx, out->data, n->saved, out->grad, O, C, N, n->farg[0]);
		else
			sup_ref_softmax_bwd_f64(dx, out->data, out->grad, O, C, N, kind == SM_LOG_SOFTMAX);
	} else if (kind == SM_L2) {
		(fast ? sup_cpu_l2norm_bwd_f32 : sup_ref_l2norm_bwd_f32)(dx, out->data, n->saved, out->grad, O, C, N,
									 (float)n->farg[0]);
	} else {
		(fast ? sup_cpu_softmax_bwd_f32 : sup_ref_softmax_bwd_f32)(dx, out->data, out->grad, O, C, N,
									   kind == SM_LOG_SOFTMAX);
	}
}

const struct sup_op_def sup_opdef_softmax = { "softmax", softmax_backward };
const struct sup_op_def sup_opdef_log_softmax = { "log_softmax", softmax_backward };
const struct sup_op_def sup_opdef_l2_normalize = { "l2_normalize", softmax_backward };

static sup_t *softmax_like(struct sup_ctx *c, enum smkind kind, sup_t *a, int dim, double eps)
{
	static const char *const names[] = { "softmax", "log_softmax", "l2_normalize" };
	static const struct sup_op_def *const defs[] = { &sup_opdef_softmax, &sup_opdef_log_softmax,
							  &sup_opdef_l2_normalize };
	const char *op = names[kind];
	if (!sup_op_inputs_ok(c, 1, &a) || !sup_check_float(c, op, 1, &a))
		return NULL;
	const int d = sup_check_axis(c, op, dim, a->ndim);
	if (d < 0)
		return NULL;
	if (kind == SM_L2 && !(eps >= 0))
		return sup_op_fail_arg(c, op, "eps must be >= 0");
	a = sup_contiguous(c, a);
	if (!a)
		return NULL;
	const int64_t O = sup_shape_numel(d, a->shape), C = a->shape[d];
	const int64_t N = sup_shape_numel(a->ndim - d - 1, a->shape + d + 1);
	sup_t *out = sup_tensor_new_like(c, a);
	void *norm = NULL;
	if (kind == SM_L2)
		norm = sup_ctx_alloc(c, sup_dtype_size(a->dtype) * (size_t)(O * N));
	if (!out || (kind == SM_L2 && !norm))
		return NULL;
	const bool fast = sup_use_fast(c, a->dtype), take_log = kind == SM_LOG_SOFTMAX;
	if (a->dtype == SUP_F64) {
		if (kind == SM_L2)
			sup_ref_l2norm_f64(out->data, norm, a->data, O, C, N, eps);
		else
			sup_ref_softmax_f64(out->data, a->data, O, C, N, take_log);
	} else if (kind == SM_L2) {
		(fast ? sup_cpu_l2norm_f32 : sup_ref_l2norm_f32)(out->data, norm, a->data, O, C, N, (float)eps);
	} else {
		(fast ? sup_cpu_softmax_f32 : sup_ref_softmax_f32)(out->data, a->data, O, C, N, take_log);
	}
	struct sup_node *n = sup_record(c, defs[kind], out, 1, &a);
	if (n) {
		n->iarg[0] = O;
		n->iarg[1] = C;
		n->iarg[2] = N;
		n->iarg[3] = kind;
		n->farg[0] = eps;
		n->saved = norm;
	}
	return out;
}

sup_t *sup_softmax(struct sup_ctx *c, sup_t *a, int dim)
{
	return softmax_like(c, SM_SOFTMAX, a, dim, 0);
}

sup_t *sup_log_softmax(struct sup_ctx *c, sup_t *a, int dim)
{
	return softmax_like(c, SM_LOG_SOFTMAX, a, dim, 0);
}

sup_t *sup_l2_normalize(struct sup_ctx *c, sup_t *a, int dim, double eps)
{
	return softmax_like(c, SM_L2, a, dim, eps);
}
