/* Fused losses: cross-entropy (log-softmax + NLL + label smoothing + ignore_index in one pass),
 * BCE on logits, MSE and the Gaussian KL of VAEs.
 *
 * Each loss computes one value per row / element with a kernel (kernels/loss.h), then the op sums
 * them serially in double in index order (bitwise reproducible, and exact enough for f32 sums of
 * millions of terms). Backward is one kernel call per input: the output gradient is read with
 * stride 0 (MEAN/SUM) or 1 (NONE) and scaled by 1/count for MEAN. Derivations:
 * docs/autograd/loss.md. */
#include "kernels/loss.h"
#include "op_internal.h"

#include <inttypes.h>
#include <math.h>

static bool check_reduction(struct sup_ctx *c, const char *op, enum sup_reduction red)
{
	if ((int)red >= 0 && red < SUP_REDUCTION_COUNT)
		return true;
	sup_ctx_fail(c, SUP_ERR_ARG, "%s: unknown reduction %d", op, (int)red);
	return false;
}

/* The output of a reduced loss: a scalar holding sum(v) (MEAN: / count), summed in order. */
static sup_t *reduce_out(struct sup_ctx *c, enum sup_dtype dt, const void *v, int64_t n, int64_t count,
			 enum sup_reduction red)
{
	double s = 0.0;
	if (dt == SUP_F32)
		for (int64_t i = 0; i < n; i++)
			s += ((const float *)v)[i];
	else
		for (int64_t i = 0; i < n; i++)
			s += ((const double *)v)[i];
	if (red == SUP_REDUCE_MEAN)
		s /= (double)count; /* count 0 gives NaN, as PyTorch does */
	return sup_tensor_scalar(c, dt, s);
}

/* ---- cross-entropy ------------------------------------------------------------------------------ */

/* Saved for backward: the targets as int64 and the per-row log-sum-exp. iarg: [0] ignore_index,
 * [1] reduction, [2] rows kept; farg[0] = label smoothing. in = {logits (contiguous), target}. */
struct xent_saved {
	int64_t *target;
	void *lse;
};

static void xent_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *x = n->in[0];
	void *g = sup_grad_buf(c, x);
	if (!g)
		return;
	const struct xent_saved *s = n->saved;
	const int64_t N = x->shape[0], C = x->shape[1], ignore = n->iarg[0];
	const enum sup_reduction red = (enum sup_reduction)n->iarg[1];
	const int64_t gstride = red == SUP_REDUCE_NONE ? 1 : 0;
	const double scale = red == SUP_REDUCE_MEAN ? 1.0 / (double)n->iarg[2] : 1.0, eps = n->farg[0];
	if (x->dtype == SUP_F64)
		sup_ref_xent_bwd_f64(g, x->data, s->lse, s->target, n->out->grad, gstride, scale, N, C, ignore, eps);
	else if (sup_use_fast(c, x->dtype))
		sup_cpu_xent_bwd_f32(g, x->data, s->lse, s->target, n->out->grad, gstride, (float)scale, N, C, ignore,
				     (float)eps);
	else
		sup_ref_xent_bwd_f32(g, x->data, s->lse, s->target, n->out->grad, gstride, (float)scale, N, C, ignore,
				     (float)eps);
}

const struct sup_op_def sup_opdef_cross_entropy = { "cross_entropy", xent_backward };

/* Copies the targets to int64, checking each is a class id or ignore_index; counts kept rows. */
static int64_t *xent_targets(struct sup_ctx *c, const sup_t *target, int64_t C, int64_t ignore, int64_t *kept)
{
	const int64_t N = target->shape[0];
	int64_t *t = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(N ? N : 1));
	if (!t)
		return NULL;
	*kept = 0;
	for (int64_t i = 0; i < N; i++) {
		t[i] = sup_index_at(target, i);
		if (t[i] == ignore)
			continue;
		if (t[i] < 0 || t[i] >= C) {
			sup_ctx_fail(c, SUP_ERR_ARG, "cross_entropy: target %" PRId64 " of row %" PRId64 " out of range for %" PRId64 " classes",
				     t[i], i, C);
			return NULL;
		}
		++*kept;
	}
	return t;
}

static bool xent_check(struct sup_ctx *c, const sup_t *logits, const sup_t *target, double eps,
		       enum sup_reduction red)
{
	sup_t *x = (sup_t *)logits;
	if (!sup_check_float(c, "cross_entropy", 1, &x) || !sup_check_index(c, "cross_entropy", target) ||
	    !check_reduction(c, "cross_entropy", red))
		return false;
	if (logits->ndim != 2 || target->ndim != 1 || target->shape[0] != logits->shape[0]) {
		sup_op_fail_shape(c, "cross_entropy", logits, target, "expected logits [N, C] and target [N]");
		return false;
	}
	if (logits->shape[1] < 1) {
		sup_op_fail_shape(c, "cross_entropy", logits, NULL, "needs at least one class");
		return false;
	}
	if (!(eps >= 0.0 && eps < 1.0)) {
		sup_ctx_fail(c, SUP_ERR_ARG, "cross_entropy: label_smoothing %g is not in [0, 1)", eps);
		return false;
	}
	return true;
}

sup_t *sup_cross_entropy(struct sup_ctx *c, sup_t *logits, sup_t *target, int64_t ignore_index,
			 double label_smoothing, enum sup_reduction red)
{
	sup_t *in[2] = { logits, target };
	if (!sup_op_inputs_ok(c, 2, in) || !xent_check(c, logits, target, label_smoothing, red))
		return NULL;
	if (!(target = sup_contiguous(c, target)) || !(logits = sup_contiguous(c, logits)))
		return NULL;
	const enum sup_dtype dt = logits->dtype;
	const int64_t N = logits->shape[0], C = logits->shape[1];
	const size_t es = sup_dtype_size(dt);
	int64_t kept = 0;
	struct xent_saved *s = sup_ctx_alloc(c, sizeof *s);
	if (!s || !(s->target = xent_targets(c, target, C, ignore_index, &kept)))
		return NULL;
	sup_t *out = red == SUP_REDUCE_NONE ? sup_tensor_new(c, dt, 1, &N) : NULL;
	void *loss = out ? out->data : sup_ctx_alloc(c, es * (size_t)N);
	s->lse = sup_ctx_alloc(c, es * (size_t)N);
	if (!loss || !s->lse)
		return NULL;
	if (dt == SUP_F64)
		sup_ref_xent_fwd_f64(loss, s->lse, logits->data, s->target, N, C, ignore_index, label_smoothing);
	else if (sup_use_fast(c, dt))
		sup_cpu_xent_fwd_f32(loss, s->lse, logits->data, s->target, N, C, ignore_index, (float)label_smoothing);
	else
		sup_ref_xent_fwd_f32(loss, s->lse, logits->data, s->target, N, C, ignore_index, (float)label_smoothing);
	if (!out && !(out = reduce_out(c, dt, loss, N, kept, red)))
		return NULL;
	in[0] = logits;
	in[1] = target;
	struct sup_node *node = sup_record(c, &sup_opdef_cross_entropy, out, 2, in);
	if (node) {
		node->iarg[0] = ignore_index;
		node->iarg[1] = red;
		node->iarg[2] = kept;
		node->farg[0] = label_smoothing;
		node->saved = s;
	}
	return out;
}

/* ---- pointwise losses --------------------------------------------------------------------------- */

/* in = {a, b} (contiguous, same shape); iarg[0] = kind, iarg[1] = reduction. */
static void ploss_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *a = n->in[0], *b = n->in[1];
	void *ga = sup_grad_buf(c, a), *gb = sup_grad_buf(c, b);
	if (!ga && !gb)
		return;
	const enum sup_ploss_kind k = (enum sup_ploss_kind)n->iarg[0];
	const enum sup_reduction red = (enum sup_reduction)n->iarg[1];
	const int64_t count = sup_tensor_numel(a), gstride = red == SUP_REDUCE_NONE ? 1 : 0;
	const double scale = red == SUP_REDUCE_MEAN ? 1.0 / (double)count : 1.0;
	if (a->dtype == SUP_F32)
		sup_ref_ploss_bwd_f32(k, ga, gb, a->data, b->data, n->out->grad, gstride, (float)scale, count);
	else
		sup_ref_ploss_bwd_f64(k, ga, gb, a->data, b->data, n->out->grad, gstride, scale, count);
}

const struct sup_op_def sup_opdef_bce_with_logits = { "bce_with_logits", ploss_backward };
const struct sup_op_def sup_opdef_mse = { "mse", ploss_backward };
const struct sup_op_def sup_opdef_gaussian_kl = { "gaussian_kl", ploss_backward };

static sup_t *ploss(struct sup_ctx *c, const struct sup_op_def *op, enum sup_ploss_kind k, sup_t *a, sup_t *b,
		    enum sup_reduction red)
{
	sup_t *in[2] = { a, b };
	if (!sup_op_inputs_ok(c, 2, in) || !sup_check_float(c, op->name, 2, in) || !check_reduction(c, op->name, red))
		return NULL;
	if (!sup_tensor_same_shape(a, b))
		return sup_op_fail_shape(c, op->name, a, b, "operands must have equal shapes");
	if (!(a = sup_contiguous(c, a)) || !(b = sup_contiguous(c, b)))
		return NULL;
	const int64_t count = sup_tensor_numel(a);
	sup_t *out = red == SUP_REDUCE_NONE ? sup_tensor_new(c, a->dtype, a->ndim, a->shape) : NULL;
	void *v = out ? out->data : sup_ctx_alloc(c, sup_tensor_nbytes(a));
	if (!v)
		return NULL;
	if (a->dtype == SUP_F32)
		sup_ref_ploss_fwd_f32(k, v, a->data, b->data, count);
	else
		sup_ref_ploss_fwd_f64(k, v, a->data, b->data, count);
	if (!out && !(out = reduce_out(c, a->dtype, v, count, count, red)))
		return NULL;
	in[0] = a;
	in[1] = b;
	struct sup_node *node = sup_record(c, op, out, 2, in);
	if (node) {
		node->iarg[0] = k;
		node->iarg[1] = red;
	}
	return out;
}

sup_t *sup_bce_with_logits(struct sup_ctx *c, sup_t *logits, sup_t *target, enum sup_reduction red)
{
	return ploss(c, &sup_opdef_bce_with_logits, SUP_PLOSS_BCE_LOGITS, logits, target, red);
}

sup_t *sup_mse(struct sup_ctx *c, sup_t *a, sup_t *b, enum sup_reduction red)
{
	return ploss(c, &sup_opdef_mse, SUP_PLOSS_MSE, a, b, red);
}

sup_t *sup_gaussian_kl(struct sup_ctx *c, sup_t *mu, sup_t *logvar, enum sup_reduction red)
{
	return ploss(c, &sup_opdef_gaussian_kl, SUP_PLOSS_GAUSS_KL, mu, logvar, red);
}
