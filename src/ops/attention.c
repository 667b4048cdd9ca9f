/* attention: fused multi-head scaled dot-product attention (kernels/attention.h has the math).
 *
 * One op instead of split-heads views + contiguous copies + scale + matmul + mask add + softmax
 * + matmul + merge-heads copy: the forward keeps only the probabilities P [B, H, T, S] (and its
 * output), where the unfused chain kept every intermediate (about 5 tensors of [B, H, T, S] or
 * [B, T, D] per layer), and backward needs no copies either. The mask is a constant: the op has
 * no gradient for it (the attention masks of nn/ are built from shapes and padding flags), and
 * refuses a mask that requires grad rather than silently give it zero. */
#include "kernels/attention.h"
#include "op_internal.h"

#include <stdio.h>

struct attn_saved {
	struct sup_attn_geom g;
	void *probs; /* [B, H, T, S], arena */
};

static void attention_backward(struct sup_ctx *c, struct sup_node *n)
{
	const struct attn_saved *sv = n->saved;
	const struct sup_attn_geom *g = &sv->g;
	sup_t *q = n->in[0], *k = n->in[1], *v = n->in[2];
	const enum sup_dtype dt = q->dtype;
	/* Distinct inputs may be stored into when fresh; inputs that alias (self-attention on one
	 * tensor) share one buffer, so it is zeroed once and every pass accumulates. */
	const bool distinct = q != k && k != v && q != v;
	bool acc[3] = { true, true, true };
	void *dq, *dk, *dv;
	if (distinct) {
		dq = sup_grad_buf_acc(c, q, &acc[0]);
		dk = sup_grad_buf_acc(c, k, &acc[1]);
		dv = sup_grad_buf_acc(c, v, &acc[2]);
	} else {
		dq = sup_grad_buf(c, q);
		dk = sup_grad_buf(c, k);
		dv = sup_grad_buf(c, v);
	}
	if (c->err || (!dq && !dk && !dv))
		return;
	struct sup_arena_mark m = sup_arena_mark(&c->arena);
	if (dt == SUP_F64) {
		double *work = sup_ctx_alloc(c, sizeof(double) * (size_t)(g->T * g->S + 1));
		if (work)
			sup_ref_attention_bwd_f64(dq, dk, dv, n->out->grad, sv->probs, q->data, k->data, v->data, g, acc,
						  work);
	} else if (sup_use_fast(c, dt)) {
		float *work = sup_ctx_alloc(c, sizeof(float) * (sup_cpu_attention_bwd_work(g) + 1));
		if (work)
			sup_cpu_attention_bwd_f32(dq, dk, dv, n->out->grad, sv->probs, q->data, k->data, v->data, g, acc,
						  work);
	} else {
		float *work = sup_ctx_alloc(c, sizeof(float) * (size_t)(g->T * g->S + 1));
		if (work)
			sup_ref_attention_bwd_f32(dq, dk, dv, n->out->grad, sv->probs, q->data, k->data, v->data, g, acc,
						  work);
	}
	sup_arena_rewind(&c->arena, m);
}

const struct sup_op_def sup_opdef_attention = { "attention", attention_backward };

/* mask: NULL or [Bm, 1, Tm, S] with Bm in {1, B}, Tm in {1, T}; sets the broadcast strides. */
static bool check_mask(struct sup_ctx *c, const sup_t *mask, const sup_t *q, struct sup_attn_geom *g)
{
	g->mask_sb = g->mask_st = 0;
	if (!mask)
		return true;
	if (mask->requires_grad && sup_grad_enabled(c)) {
		sup_ctx_fail(c, SUP_ERR_ARG,
			     "attention: the mask requires grad, but the fused attention op treats it as a constant "
			     "(no gradient would reach it); detach it, or add it to the scores with the unfused ops");
		return false;
	}
	if (mask->dtype != q->dtype) {
		sup_ctx_fail(c, SUP_ERR_DTYPE, "attention: mask dtype %s differs from q's %s", sup_dtype_name(mask->dtype),
			     sup_dtype_name(q->dtype));
		return false;
	}
	if (mask->ndim != 4 || (mask->shape[0] != 1 && mask->shape[0] != g->B) || mask->shape[1] != 1 ||
	    (mask->shape[2] != 1 && mask->shape[2] != g->T) || mask->shape[3] != g->S) {
		char why[160];
		snprintf(why, sizeof why, "the mask must be [1 or %lld, 1, 1 or %lld, %lld]", (long long)g->B,
			 (long long)g->T, (long long)g->S);
		sup_op_fail_shape(c, "attention", q, mask, why);
		return false;
	}
	g->mask_st = mask->shape[2] == 1 ? 0 : g->S;
	g->mask_sb = mask->shape[0] == 1 ? 0 : mask->shape[2] * g->S;
	return true;
}

sup_t *sup_attention(struct sup_ctx *c, sup_t *q, sup_t *k, sup_t *v, sup_t *mask, int64_t heads, double scale)
{
	sup_t *in[3] = { q, k, v };
	if (!sup_op_inputs_ok(c, 3, in) || !sup_check_float(c, "attention", 3, in))
		return NULL;
	if (q->ndim != 3 || k->ndim != 3 || v->ndim != 3 || k->shape[0] != q->shape[0] ||
	    v->shape[0] != q->shape[0] || k->shape[1] != v->shape[1] || k->shape[2] != q->shape[2] ||
	    v->shape[2] != q->shape[2])
		return sup_op_fail_shape(c, "attention", q, k, "need q [B, T, D] and k, v [B, S, D]");
	if (heads < 1 || q->shape[2] % heads)
		return sup_op_fail_arg(c, "attention", "the width D must be a positive multiple of the head count");
	struct sup_attn_geom g = { .B = q->shape[0], .T = q->shape[1], .S = k->shape[1], .H = heads,
				   .dh = q->shape[2] / heads, .scale = scale };
	if (!check_mask(c, mask, q, &g))
		return NULL;
	q = sup_contiguous(c, q);
	k = sup_contiguous(c, k);
	v = sup_contiguous(c, v);
	mask = mask ? sup_contiguous(c, mask) : NULL;
	sup_t *out = q && k && v ? sup_tensor_new(c, q->dtype, 3, q->shape) : NULL;
	struct attn_saved *sv = out ? sup_ctx_alloc(c, sizeof *sv) : NULL;
	void *probs = sv ? sup_ctx_alloc(c, (size_t)(g.B * g.H * g.T * g.S + 1) * sup_dtype_size(q->dtype)) : NULL;
	if (!probs || c->err)
		return NULL;
	const void *md = mask ? mask->data : NULL;
	if (q->dtype == SUP_F64)
		sup_ref_attention_fwd_f64(out->data, probs, q->data, k->data, v->data, md, &g);
	else if (sup_use_fast(c, q->dtype))
		sup_cpu_attention_fwd_f32(out->data, probs, q->data, k->data, v->data, md, &g);
	else
		sup_ref_attention_fwd_f32(out->data, probs, q->data, k->data, v->data, md, &g);
	sv->g = g;
	sv->probs = probs;
	sup_t *ins[3] = { q, k, v };
	struct sup_node *n = sup_record(c, &sup_opdef_attention, out, 3, ins);
	if (n)
		n->saved = sv;
	return out;
}
