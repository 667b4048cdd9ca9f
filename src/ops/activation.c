/* PReLU and dropout: the elementwise ops with a learned or a random second operand.
 *
 * PReLU (He et al., "Delving deep into rectifiers", ICCV 2015): y = x for x > 0, else w x, with
 * one slope shared by all elements or one per channel (axis 1). Dropout (Srivastava et al.,
 * JMLR 2014) in its inverted form: kept elements are scaled by 1 / (1 - p) at training time, so
 * evaluation is the identity. */
#include "kernels/elementwise.h"
#include "op_internal.h"

/* ---- PReLU ---------------------------------------------------------------------------------- */

/* x viewed as [outer, C, inner] with the slope index along C (C = 1 when shared). */
struct prelu_shape {
	int64_t outer, C, inner;
	bool shared;
};

static struct prelu_shape prelu_shape_of(const sup_t *x, const sup_t *w)
{
	struct prelu_shape s = { sup_tensor_numel(x), 1, 1, sup_tensor_numel(w) == 1 };
	if (!s.shared) {
		s.outer = x->shape[0];
		s.C = x->shape[1];
		s.inner = sup_shape_numel(x->ndim - 2, x->shape + 2);
	}
	return s;
}

/* in = { x, w } (both contiguous: the op records the contiguous versions). */
static void prelu_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *x = n->in[0], *w = n->in[1];
	const bool fast = sup_use_fast(c, x->dtype);
	bool acc = true; /* the fast kernel writes all of dx, so a fresh dx is stored, not zeroed */
	void *dx = fast ? sup_grad_buf_acc(c, x, &acc) : sup_grad_buf(c, x), *dw = sup_grad_buf(c, w);
	if (!dx && !dw)
		return;
	const struct prelu_shape s = prelu_shape_of(x, w);
	if (fast)
		sup_cpu_prelu_grad_f32(dx, dw, n->out->grad, x->data, w->data, s.shared, s.outer, s.C, s.inner, acc);
	else if (x->dtype == SUP_F32)
		sup_ref_prelu_grad_f32(dx, dw, n->out->grad, x->data, w->data, s.shared, s.outer, s.C, s.inner);
	else
		sup_ref_prelu_grad_f64(dx, dw, n->out->grad, x->data, w->data, s.shared, s.outer, s.C, s.inner);
}

const struct sup_op_def sup_opdef_prelu = { "prelu", prelu_backward };

sup_t *sup_prelu(struct sup_ctx *c, sup_t *a, sup_t *slope)
{
	sup_t *in[2] = { a, slope };
	if (!sup_op_inputs_ok(c, 2, in) || !sup_check_float(c, "prelu", 2, in))
		return NULL;
	const int64_t ns = sup_tensor_numel(slope);
	if (ns != 1 && (a->ndim < 2 || ns != a->shape[1]))
		return sup_op_fail_shape(c, "prelu", a, slope, "slope must have 1 or C = shape[1] elements");
	in[0] = sup_contiguous(c, a);
	in[1] = sup_contiguous(c, slope);
	if (!in[0] || !in[1])
		return NULL;
	sup_t *out = sup_tensor_new(c, a->dtype, a->ndim, a->shape);
	if (!out)
		return NULL;
	const struct prelu_shape s = prelu_shape_of(in[0], in[1]);
	if (sup_use_fast(c, a->dtype))
		sup_cpu_prelu_f32(out->data, in[0]->data, in[1]->data, s.shared, s.outer, s.C, s.inner);
	else if (a->dtype == SUP_F32)
		sup_ref_prelu_f32(out->data, in[0]->data, in[1]->data, s.shared, s.outer, s.C, s.inner);
	else
		sup_ref_prelu_f64(out->data, in[0]->data, in[1]->data, s.shared, s.outer, s.C, s.inner);
	sup_record(c, &sup_opdef_prelu, out, 2, in);
	return out;
}

/* ---- dropout -------------------------------------------------------------------------------- */

/* saved = the keep mask (u8, one per element), farg[0] = the scale 1 / (1 - p). */
static void dropout_backward(struct sup_ctx *c, struct sup_node *n)
{
	sup_t *x = n->in[0];
	void *dx = sup_grad_buf(c, x);
	if (!dx)
		return;
	const uint8_t *keep = n->saved;
	const int64_t numel = sup_tensor_numel(x);
	if (sup_use_fast(c, x->dtype))
		sup_cpu_dropout_grad_f32(dx, n->out->grad, keep, n->farg[0], numel);
	else if (x->dtype == SUP_F32)
		sup_ref_dropout_grad_f32(dx, n->out->grad, keep, n->farg[0], numel);
	else
		sup_ref_dropout_grad_f64(dx, n->out->grad, keep, n->farg[0], numel);
}

const struct sup_op_def sup_opdef_dropout = { "dropout", dropout_backward };

/* The mask is a pure function of the context RNG: element i (row-major) is kept iff
 * sup_rng_uniform_at(key, counter + i) >= p; the counter then advances by numel, so the next
 * stochastic op draws fresh numbers and a replayed RNG state replays the mask. When the op is
 * the identity (!training or p == 0) it returns `a` itself and draws nothing. */
sup_t *sup_dropout(struct sup_ctx *c, sup_t *a, double p, bool training)
{
	if (!sup_op_inputs_ok(c, 1, &a) || !sup_check_float(c, "dropout", 1, &a))
		return NULL;
	if (!(p >= 0 && p < 1)) {
		sup_ctx_fail(c, SUP_ERR_ARG, "dropout: p must be in [0, 1), got %g", p);
		return NULL;
	}
	if (!training || p == 0)
		return a;
	sup_t *x = sup_contiguous(c, a);
	if (!x)
		return NULL;
	const int64_t numel = sup_tensor_numel(x);
	uint8_t *keep = sup_ctx_alloc(c, (size_t)numel);
	sup_t *out = sup_tensor_new(c, x->dtype, x->ndim, x->shape);
	if (!keep || !out)
		return NULL;
	/* In a group of K shards (c->comm) this tensor is taken to be shard `rank` of a batch-major
	 * global tensor of K * numel elements (axis 0 = examples, equal shards in rank order): its
	 * elements are drawn at their global positions and the counter advances by the global size,
	 * so every process keeps the same RNG state and the masks equal one process's on the whole
	 * batch. */
	const int K = sup_comm_size(c->comm);
	const uint64_t key = c->rng.key, base = c->rng.counter + (uint64_t)sup_comm_rank(c->comm) * (uint64_t)numel;
	c->rng.counter += (uint64_t)numel * (uint64_t)K;
	const double scale = 1.0 / (1.0 - p);
	if (c->backend == SUP_BACKEND_CPU)
		sup_cpu_dropout_mask(keep, key, base, p, numel);
	else
		sup_ref_dropout_mask(keep, key, base, p, numel);
	if (sup_use_fast(c, x->dtype))
		sup_cpu_dropout_f32(out->data, x->data, keep, scale, numel);
	else if (x->dtype == SUP_F32)
		sup_ref_dropout_f32(out->data, x->data, keep, scale, numel);
	else
		sup_ref_dropout_f64(out->data, x->data, keep, scale, numel);
	struct sup_node *n = sup_record(c, &sup_opdef_dropout, out, 1, &x);
	if (n) {
		n->saved = keep;
		n->farg[0] = scale;
	}
	return out;
}
