/* Elementwise ops: broadcasting binary ops, where, ops with a scalar, and unary maps.
 *
 * Every op here is y = f(inputs) element by element, so one forward and one backward serve
 * each family; the node keeps the kernel's op code in iarg[0] and scalar parameters in
 * farg[0..1]. Broadcasting follows NumPy: shapes are right-aligned and an axis of size 1 (or a
 * missing one) repeats. The gradient of a broadcast operand is the output gradient summed over
 * its broadcast axes, which the strided gradient kernels do by accumulating through a stride of
 * 0 (docs/autograd/elementwise.md).
 *
 * Kernel choice (f32 on the CPU backend): contiguous same-shape operands and the channel pattern
 * ([N, C] + [C], [N, C, H, W] + [1, C, 1, 1], ...) run the fast kernels; everything else (views,
 * general broadcasting) and f64 runs the strided reference kernels over a simplified plan. */
#include "kernels/elementwise.h"
#include "op_internal.h"

#include <math.h>
#include <string.h>

/* ---- iteration plans ------------------------------------------------------------------------ */

#define EW_MAX_OPERANDS 3

/* The index space of an output and the strides of up to EW_MAX_OPERANDS operands in it. */
struct ew_plan {
	int ndim, k;
	int64_t shape[SUP_MAX_DIMS];
	int64_t st[EW_MAX_OPERANDS][SUP_MAX_DIMS];
};

static void plan_init(struct ew_plan *p, const sup_t *out)
{
	p->ndim = out->ndim;
	p->k = 0;
	memcpy(p->shape, out->shape, sizeof(int64_t) * (size_t)out->ndim);
}

/* Adds t (right-aligned in the output's index space) with its data strides, or with the strides
 * of its contiguous gradient when `grad`; broadcast axes get stride 0. */
static void plan_add(struct ew_plan *p, const sup_t *t, bool grad)
{
	int64_t cs[SUP_MAX_DIMS];
	sup_contiguous_strides(t->ndim, t->shape, cs);
	int64_t *st = p->st[p->k++];
	for (int d = 0; d < p->ndim; d++) {
		const int k = d - (p->ndim - t->ndim);
		st[d] = k < 0 || t->shape[k] == 1 ? 0 : grad ? cs[k] : t->stride[k];
	}
}

/* Drops size-1 axes and merges neighbouring axes that every operand walks as one, so the
 * kernels' inner loops run as long as possible; leaves at least one axis. */
static void plan_simplify(struct ew_plan *p)
{
	int nd = 0;
	for (int d = 0; d < p->ndim; d++) {
		if (p->shape[d] == 1)
			continue;
		bool merge = nd > 0;
		for (int j = 0; merge && j < p->k; j++)
			merge = p->st[j][nd - 1] == p->st[j][d] * p->shape[d];
		if (merge) {
			p->shape[nd - 1] *= p->shape[d];
			for (int j = 0; j < p->k; j++)
				p->st[j][nd - 1] = p->st[j][d];
			continue;
		}
		p->shape[nd] = p->shape[d];
		for (int j = 0; j < p->k; j++)
			p->st[j][nd] = p->st[j][d];
		nd++;
	}
	if (nd == 0) {
		p->shape[0] = 1;
		for (int j = 0; j < p->k; j++)
			p->st[j][0] = 0;
		nd = 1;
	}
	p->ndim = nd;
}

/* NumPy broadcasting of two shapes into (nd, shape); false when they do not broadcast. */
static bool broadcast2(const sup_t *a, const sup_t *b, int *nd, int64_t *shape)
{
	const int n = a->ndim > b->ndim ? a->ndim : b->ndim;
	for (int d = 0; d < n; d++) {
		const int ia = d - (n - a->ndim), ib = d - (n - b->ndim);
		const int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
		if (da != db && da != 1 && db != 1)
			return false;
		shape[d] = da == 1 ? db : da;
	}
	*nd = n;
	return true;
}

static bool same_contiguous(const sup_t *out, const sup_t *t)
{
	return sup_tensor_same_shape(out, t) && sup_tensor_is_contiguous(t);
}

/* Whether v (contiguous) broadcasts into out as a vector over one run of axes [d0, d1) that it
 * fills completely; gives out as [outer, C, inner]. */
static bool vec_layout(const sup_t *out, const sup_t *v, struct sup_ew_chan *ch)
{
	if (!sup_tensor_is_contiguous(v))
		return false;
	const int n = out->ndim;
	int d0 = n, d1 = n;
	for (int d = 0; d < n; d++) {
		const int k = d - (n - v->ndim);
		if (k >= 0 && v->shape[k] != 1) {
			d0 = d0 == n ? d : d0;
			d1 = d + 1;
		}
	}
	ch->outer = ch->C = ch->inner = 1;
	for (int d = 0; d < n; d++) {
		const int k = d - (n - v->ndim);
		const int64_t e = k >= 0 ? v->shape[k] : 1;
		if (d < d0) {
			ch->outer *= out->shape[d];
		} else if (d < d1) {
			if (e != out->shape[d])
				return false;
			ch->C *= e;
		} else {
			ch->inner *= out->shape[d];
		}
	}
	return true;
}

/* The fast channel pattern: one operand full and contiguous, the other a vector. */
static bool chan_plan(const sup_t *out, const sup_t *a, const sup_t *b, struct sup_ew_chan *ch)
{
	if (same_contiguous(out, a) && vec_layout(out, b, ch)) {
		ch->vec_a = false;
		return true;
	}
	if (same_contiguous(out, b) && vec_layout(out, a, ch)) {
		ch->vec_a = true;
		return true;
	}
	return false;
}

/* ---- binary --------------------------------------------------------------------------------- */

static void binary_forward(struct sup_ctx *c, enum sup_ew_binary op, sup_t *out, const sup_t *a, const sup_t *b)
{
	struct sup_ew_chan ch;
	if (sup_use_fast(c, out->dtype)) {
		if (same_contiguous(out, a) && same_contiguous(out, b)) {
			sup_cpu_binary_f32(op, out->data, a->data, b->data, sup_tensor_numel(out));
			return;
		}
		if (chan_plan(out, a, b, &ch)) {
			sup_cpu_binary_chan_f32(op, &ch, out->data, a->data, b->data);
			return;
		}
	}
	struct ew_plan p;
	plan_init(&p, out);
	plan_add(&p, a, false);
	plan_add(&p, b, false);
	plan_simplify(&p);
	if (out->dtype == SUP_F32)
		sup_ref_binary_f32(op, out->data, a->data, p.st[0], b->data, p.st[1], p.ndim, p.shape);
	else
		sup_ref_binary_f64(op, out->data, a->data, p.st[0], b->data, p.st[1], p.ndim, p.shape);
}

/* Accumulates the gradient of input a (wrt_b false) or b into its gradient buffer. The fast
 * kernels write every element of it, so they take the buffer with sup_grad_buf_acc (a fresh
 * one is stored, not zeroed and added); a == b works: a's pass completes before b's. */
static void binary_grad_one(struct sup_ctx *c, enum sup_ew_binary op, bool wrt_b, const sup_t *out, sup_t *a,
			    sup_t *b)
{
	sup_t *t = wrt_b ? b : a;
	struct sup_ew_chan ch;
	bool acc;
	if (sup_use_fast(c, out->dtype)) {
		if (same_contiguous(out, a) && same_contiguous(out, b)) {
			void *d = sup_grad_buf_acc(c, t, &acc);
			if (d)
				sup_cpu_binary_grad_f32(op, wrt_b, d, out->grad, a->data, b->data, out->data,
							sup_tensor_numel(out), acc);
			return;
		}
		if (chan_plan(out, a, b, &ch)) {
			void *d = sup_grad_buf_acc(c, t, &acc);
			if (d)
				sup_cpu_binary_chan_grad_f32(op, &ch, wrt_b, d, out->grad, a->data, b->data, out->data,
							     acc);
			return;
		}
	}
	void *d = sup_grad_buf(c, t);
	if (!d)
		return;
	struct ew_plan p;
	plan_init(&p, out);
	plan_add(&p, a, false);
	plan_add(&p, b, false);
	plan_add(&p, wrt_b ? b : a, true);
	plan_simplify(&p);
	if (out->dtype == SUP_F32)
		sup_ref_binary_grad_f32(op, wrt_b, d, p.st[2], out->grad, a->data, p.st[0], b->data, p.st[1], out->data,
					p.ndim, p.shape);
	else
		sup_ref_binary_grad_f64(op, wrt_b, d, p.st[2], out->grad, a->data, p.st[0], b->data, p.st[1], out->data,
					p.ndim, p.shape);
}

static void binary_backward(struct sup_ctx *c, struct sup_node *n)
{
	const enum sup_ew_binary op = (enum sup_ew_binary)n->iarg[0];
	sup_t *a = n->in[0], *b = n->in[1];
	if (a->requires_grad)
		binary_grad_one(c, op, false, n->out, a, b);
	if (b->requires_grad)
		binary_grad_one(c, op, true, n->out, a, b);
}

const struct sup_op_def sup_opdef_add = { "add", binary_backward };
const struct sup_op_def sup_opdef_sub = { "sub", binary_backward };
const struct sup_op_def sup_opdef_mul = { "mul", binary_backward };
const struct sup_op_def sup_opdef_div = { "div", binary_backward };
const struct sup_op_def sup_opdef_pow = { "pow", binary_backward };
const struct sup_op_def sup_opdef_minimum = { "minimum", binary_backward };
const struct sup_op_def sup_opdef_maximum = { "maximum", binary_backward };

static sup_t *binary(struct sup_ctx *c, const struct sup_op_def *def, enum sup_ew_binary op, sup_t *a, sup_t *b)
{
	sup_t *in[2] = { a, b };
	if (!sup_op_inputs_ok(c, 2, in) || !sup_check_float(c, def->name, 2, in))
		return NULL;
	int nd;
	int64_t shape[SUP_MAX_DIMS];
	if (!broadcast2(a, b, &nd, shape))
		return sup_op_fail_shape(c, def->name, a, b, "shapes do not broadcast");
	sup_t *out = sup_tensor_new(c, a->dtype, nd, shape);
	if (!out)
		return NULL;
	binary_forward(c, op, out, a, b);
	struct sup_node *n = sup_record(c, def, out, 2, in);
	if (n)
		n->iarg[0] = op;
	return out;
}

sup_t *sup_add(struct sup_ctx *c, sup_t *a, sup_t *b)
{
	return binary(c, &sup_opdef_add, SUP_EW_ADD, a, b);
}

sup_t *sup_sub(struct sup_ctx *c, sup_t *a, sup_t *b)
{
	return binary(c, &sup_opdef_sub, SUP_EW_SUB, a, b);
}

sup_t *sup_mul(struct sup_ctx *c, sup_t *a, sup_t *b)
{
	return binary(c, &sup_opdef_mul, SUP_EW_MUL, a, b);
}

sup_t *sup_div(struct sup_ctx *c, sup_t *a, sup_t *b)
{
	return binary(c, &sup_opdef_div, SUP_EW_DIV, a, b);
}

sup_t *sup_pow(struct sup_ctx *c, sup_t *a, sup_t *b)
{
	return binary(c, &sup_opdef_pow, SUP_EW_POW, a, b);
}

sup_t *sup_minimum(struct sup_ctx *c, sup_t *a, sup_t *b)
{
	return binary(c, &sup_opdef_minimum, SUP_EW_MIN, a, b);
}

sup_t *sup_maximum(struct sup_ctx *c, sup_t *a, sup_t *b)
{
	return binary(c, &sup_opdef_maximum, SUP_EW_MAX, a, b);
}

/* ---- where ---------------------------------------------------------------------------------- */

/* in = { cond, a, b }: the gradient of a is g where cond, of b where !cond. */
static void where_backward(struct sup_ctx *c, struct sup_node *n)
{
	const sup_t *out = n->out, *cond = n->in[0];
	for (int w = 1; w <= 2; w++) {
		sup_t *t = n->in[w];
		void *d = sup_grad_buf(c, t);
		if (!d)
			continue;
		struct ew_plan p;
		plan_init(&p, out);
		plan_add(&p, cond, false);
		plan_add(&p, t, true);
		plan_simplify(&p);
		if (out->dtype == SUP_F32)
			sup_ref_where_grad_f32(d, p.st[1], out->grad, cond->data, p.st[0], w == 1, p.ndim, p.shape);
		else
			sup_ref_where_grad_f64(d, p.st[1], out->grad, cond->data, p.st[0], w == 1, p.ndim, p.shape);
	}
}

const struct sup_op_def sup_opdef_where = { "where", where_backward };

sup_t *sup_where(struct sup_ctx *c, sup_t *cond, sup_t *a, sup_t *b)
{
	sup_t *in[3] = { cond, a, b };
	if (!sup_op_inputs_ok(c, 3, in) || !sup_check_float(c, "where", 2, in + 1))
		return NULL;
	if (cond->dtype != SUP_U8) {
		sup_ctx_fail(c, SUP_ERR_DTYPE, "where: cond must be u8, got %s", sup_dtype_name(cond->dtype));
		return NULL;
	}
	int nd, nd2;
	int64_t ab[SUP_MAX_DIMS], shape[SUP_MAX_DIMS];
	if (!broadcast2(a, b, &nd, ab))
		return sup_op_fail_shape(c, "where", a, b, "shapes do not broadcast");
	sup_t abt;
	sup_tensor_init(&abt, a->dtype, nd, ab, NULL);
	if (!broadcast2(cond, &abt, &nd2, shape))
		return sup_op_fail_shape(c, "where", cond, &abt, "cond does not broadcast with the values");
	sup_t *out = sup_tensor_new(c, a->dtype, nd2, shape);
	if (!out)
		return NULL;
	struct ew_plan p;
	plan_init(&p, out);
	plan_add(&p, cond, false);
	plan_add(&p, a, false);
	plan_add(&p, b, false);
	plan_simplify(&p);
	if (out->dtype == SUP_F32)
		sup_ref_where_f32(out->data, cond->data, p.st[0], a->data, p.st[1], b->data, p.st[2], p.ndim, p.shape);
	else
		sup_ref_where_f64(out->data, cond->data, p.st[0], a->data, p.st[1], b->data, p.st[2], p.ndim, p.shape);
	sup_record(c, &sup_opdef_where, out, 3, in);
	return out;
}

/* ---- unary and scalar ops ------------------------------------------------------------------ */

static void unary_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0], *out = n->out;
	if (!a->requires_grad)
		return;
	const enum sup_ew_unary op = (enum sup_ew_unary)n->iarg[0];
	const double p0 = n->farg[0], p1 = n->farg[1];
	if (sup_use_fast(c, a->dtype) && sup_tensor_is_contiguous(a)) {
		bool acc;
		void *dx = sup_grad_buf_acc(c, a, &acc);
		if (dx)
			sup_cpu_unary_grad_f32(op, p0, p1, dx, out->grad, a->data, out->data, sup_tensor_numel(a), acc);
		return;
	}
	void *dx = sup_grad_buf(c, a);
	if (!dx)
		return;
	struct ew_plan p;
	plan_init(&p, out);
	plan_add(&p, a, false);
	plan_simplify(&p);
	if (a->dtype == SUP_F32)
		sup_ref_unary_grad_f32(op, p0, p1, dx, out->grad, a->data, out->data, p.ndim, p.shape, p.st[0]);
	else
		sup_ref_unary_grad_f64(op, p0, p1, dx, out->grad, a->data, out->data, p.ndim, p.shape, p.st[0]);
}

static sup_t *unary(struct sup_ctx *c, const struct sup_op_def *def, enum sup_ew_unary op, sup_t *a, double p0,
		    double p1)
{
	if (!sup_op_inputs_ok(c, 1, &a) || !sup_check_float(c, def->name, 1, &a))
		return NULL;
	sup_t *out = sup_tensor_new(c, a->dtype, a->ndim, a->shape);
	if (!out)
		return NULL;
	if (sup_use_fast(c, a->dtype) && sup_tensor_is_contiguous(a)) {
		sup_cpu_unary_f32(op, p0, p1, out->data, a->data, sup_tensor_numel(a));
	} else {
		struct ew_plan p;
		plan_init(&p, out);
		plan_add(&p, a, false);
		plan_simplify(&p);
		if (a->dtype == SUP_F32)
			sup_ref_unary_f32(op, p0, p1, out->data, a->data, p.ndim, p.shape, p.st[0]);
		else
			sup_ref_unary_f64(op, p0, p1, out->data, a->data, p.ndim, p.shape, p.st[0]);
	}
	struct sup_node *n = sup_record(c, def, out, 1, &a);
	if (n) {
		n->iarg[0] = op;
		n->farg[0] = p0;
		n->farg[1] = p1;
	}
	return out;
}

#define UNARY_OP(name, code)                                                  \
	const struct sup_op_def sup_opdef_##name = { #name, unary_backward }; \
	sup_t *sup_##name(struct sup_ctx *c, sup_t *a)                         \
	{                                                                      \
		return unary(c, &sup_opdef_##name, code, a, 0, 0);             \
	}

UNARY_OP(neg, SUP_EW_NEG)
UNARY_OP(exp, SUP_EW_EXP)
UNARY_OP(log, SUP_EW_LOG)
UNARY_OP(sqrt, SUP_EW_SQRT)
UNARY_OP(rsqrt, SUP_EW_RSQRT)
UNARY_OP(abs, SUP_EW_ABS)
UNARY_OP(relu, SUP_EW_RELU)
UNARY_OP(sigmoid, SUP_EW_SIGMOID)
UNARY_OP(tanh, SUP_EW_TANH)
UNARY_OP(softplus, SUP_EW_SOFTPLUS)

const struct sup_op_def sup_opdef_add_scalar = { "add_scalar", unary_backward };
const struct sup_op_def sup_opdef_mul_scalar = { "mul_scalar", unary_backward };
const struct sup_op_def sup_opdef_pow_scalar = { "pow_scalar", unary_backward };
const struct sup_op_def sup_opdef_clamp = { "clamp", unary_backward };
const struct sup_op_def sup_opdef_leaky_relu = { "leaky_relu", unary_backward };
const struct sup_op_def sup_opdef_elu = { "elu", unary_backward };
const struct sup_op_def sup_opdef_gelu = { "gelu", unary_backward };

sup_t *sup_add_scalar(struct sup_ctx *c, sup_t *a, double s)
{
	return unary(c, &sup_opdef_add_scalar, SUP_EW_ADD_SCALAR, a, s, 0);
}

sup_t *sup_mul_scalar(struct sup_ctx *c, sup_t *a, double s)
{
	return unary(c, &sup_opdef_mul_scalar, SUP_EW_MUL_SCALAR, a, s, 0);
}

sup_t *sup_pow_scalar(struct sup_ctx *c, sup_t *a, double p)
{
	return unary(c, &sup_opdef_pow_scalar, SUP_EW_POW_SCALAR, a, p, 0);
}

sup_t *sup_clamp(struct sup_ctx *c, sup_t *a, double lo, double hi)
{
	if (!sup_op_inputs_ok(c, 1, &a))
		return NULL;
	if (!(lo <= hi)) {
		sup_ctx_fail(c, SUP_ERR_ARG, "clamp: need lo <= hi, got lo = %g, hi = %g", lo, hi);
		return NULL;
	}
	return unary(c, &sup_opdef_clamp, SUP_EW_CLAMP, a, lo, hi);
}

sup_t *sup_leaky_relu(struct sup_ctx *c, sup_t *a, double slope)
{
	return unary(c, &sup_opdef_leaky_relu, SUP_EW_LEAKY_RELU, a, slope, 0);
}

sup_t *sup_elu(struct sup_ctx *c, sup_t *a, double alpha)
{
	return unary(c, &sup_opdef_elu, SUP_EW_ELU, a, alpha, 0);
}

sup_t *sup_gelu(struct sup_ctx *c, sup_t *a, bool tanh_approx)
{
	return unary(c, &sup_opdef_gelu, tanh_approx ? SUP_EW_GELU_TANH : SUP_EW_GELU, a, 0, 0);
}
