/* Multi-head attention (Vaswani et al. 2017, "Attention Is All You Need", §3.2.1 eq. 1 and §3.2.2):
 *   Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + M) V,  one per head, heads concatenated and
 *   projected by W^O. Separate q/k/v/out projections (the layout of most checkpoints since
 *   BERT/GPT-2 were ported; PyTorch's nn.MultiheadAttention packs them as in_proj_weight).
 *
 * Masks are additive (M above): 0 where a key may be seen, SUP_ATTN_MASKED (-1e9, finite) where
 * not. A finite value rather than -inf keeps a fully masked row finite: softmax of a row that is
 * entirely ~-1e9 is a plain (near-uniform) distribution instead of 0/0 = NaN, so neither the
 * output nor the gradient gets NaN. In a row with at least one visible key the masked
 * probabilities are exactly 0 (exp of < -1e8 underflows to 0 in f32 and f64), so masked keys
 * contribute exactly nothing, forward or backward. Shapes and names: docs/nn/attention.md. */
#include "selfsup/nn.h"

#include <math.h>
#include <stdio.h>

#define T(m, i) sup_model_tensor((m), (i))

int sup_attention_declare(struct sup_attention *a, struct sup_model *m, const char *prefix, int64_t dim,
			  int64_t heads, double dropout)
{
	*a = (struct sup_attention){ .dim = dim, .heads = heads, .dropout = dropout };
	if (heads < 1 || dim < 1 || dim % heads)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: attention dim %lld is not a multiple of %lld heads", prefix,
				      (long long)dim, (long long)heads);
	if (!(dropout >= 0 && dropout < 1))
		return sup_model_fail(m, SUP_ERR_ARG, "%s: attention dropout %g is not in [0, 1)", prefix, dropout);
	static const char *const names[4] = { "q_proj", "k_proj", "v_proj", "out_proj" };
	struct sup_linear *lin[4] = { &a->q_proj, &a->k_proj, &a->v_proj, &a->out_proj };
	char name[SUP_NAME_MAX];
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "%s%s%s", prefix, prefix[0] ? "." : "", names[i]);
		sup_linear_declare(lin[i], m, name, dim, dim, true);
	}
	return m->err ? -1 : 0;
}

/* [B, L, D] -> [B, H, L, D/H] (a view; matmul makes it contiguous). */
static struct sup_tensor *split_heads(struct sup_ctx *c, struct sup_tensor *x, int64_t heads)
{
	if (!x)
		return NULL;
	const int64_t shape[4] = { x->shape[0], x->shape[1], heads, x->shape[2] / heads };
	return sup_permute(c, sup_reshape(c, x, 4, shape), (const int[]){ 0, 2, 1, 3 });
}

/* The additive mask [B or 1, 1, T or 1, S], or NULL when nothing is masked (the common
 * unmasked case then skips the add). padding: u8 [B, S], nonzero = padding. */
static struct sup_tensor *build_mask(struct sup_ctx *c, enum sup_dtype dt, int64_t B, int64_t T, int64_t S,
				     bool causal, const struct sup_tensor *padding)
{
	if (!causal && !padding)
		return NULL;
	if (padding && (padding->dtype != SUP_U8 || padding->ndim != 2 || padding->shape[0] != B ||
			padding->shape[1] != S)) {
		char got[64];
		sup_shape_str(got, sizeof got, padding->ndim, padding->shape);
		sup_ctx_fail(c, SUP_ERR_SHAPE, "attention: key padding mask must be u8 [%lld, %lld], got %s %s",
			     (long long)B, (long long)S, sup_dtype_name(padding->dtype), got);
		return NULL;
	}
	const int64_t Bm = padding ? B : 1, Tm = causal ? T : 1;
	struct sup_tensor *mask = sup_tensor_new(c, dt, 4, (const int64_t[]){ Bm, 1, Tm, S });
	if (!mask)
		return NULL;
	for (int64_t b = 0; b < Bm; b++)
		for (int64_t t = 0; t < Tm; t++)
			for (int64_t s = 0; s < S; s++) {
				bool hide = (causal && s > t) ||
					    (padding && ((const uint8_t *)padding->data)[b * padding->stride[0] +
											   s * padding->stride[1]]);
				sup_tensor_set(mask, (b * Tm + t) * S + s, hide ? SUP_ATTN_MASKED : 0.0);
			}
	return mask;
}

struct sup_tensor *sup_attention_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_attention *a,
					 struct sup_tensor *x, struct sup_tensor *kv, bool causal,
					 const struct sup_tensor *key_padding)
{
	if (!x || c->err)
		return NULL;
	if (!kv)
		kv = x;
	if (x->ndim != 3 || kv->ndim != 3 || x->shape[2] != a->dim || kv->shape[2] != a->dim ||
	    kv->shape[0] != x->shape[0]) {
		char xs[64], ks[64];
		sup_shape_str(xs, sizeof xs, x->ndim, x->shape);
		sup_shape_str(ks, sizeof ks, kv->ndim, kv->shape);
		sup_ctx_fail(c, SUP_ERR_SHAPE, "attention: query %s and key/value %s must be [B, T, %lld] and [B, S, %lld]",
			     xs, ks, (long long)a->dim, (long long)a->dim);
		return NULL;
	}
	const int64_t B = x->shape[0], Tq = x->shape[1], S = kv->shape[1], H = a->heads, dh = a->dim / H;
	if (!(a->dropout > 0 && m->training)) {
		/* No dropout on the probabilities: the fused op (the same function, far less memory). */
		struct sup_tensor *q = sup_linear_forward(c, m, &a->q_proj, x);
		struct sup_tensor *k = sup_linear_forward(c, m, &a->k_proj, kv);
		struct sup_tensor *v = sup_linear_forward(c, m, &a->v_proj, kv);
		struct sup_tensor *mask = q ? build_mask(c, x->dtype, B, Tq, S, causal, key_padding) : NULL;
		struct sup_tensor *ctx = sup_attention(c, q, k, v, mask, H, 1.0 / sqrt((double)dh));
		return sup_linear_forward(c, m, &a->out_proj, ctx);
	}
	struct sup_tensor *q = split_heads(c, sup_linear_forward(c, m, &a->q_proj, x), H);
	struct sup_tensor *k = split_heads(c, sup_linear_forward(c, m, &a->k_proj, kv), H);
	struct sup_tensor *v = split_heads(c, sup_linear_forward(c, m, &a->v_proj, kv), H);
	/* Scaling q (T x dh) is cheaper than scaling the scores (T x S). */
	q = sup_mul_scalar(c, q, 1.0 / sqrt((double)dh));
	struct sup_tensor *scores = sup_matmul(c, q, k, false, true); /* [B, H, T, S] */
	if (!scores)
		return NULL;
	struct sup_tensor *mask = build_mask(c, x->dtype, B, Tq, S, causal, key_padding);
	if (mask)
		scores = sup_add(c, scores, mask);
	struct sup_tensor *p = sup_dropout(c, sup_softmax(c, scores, -1), a->dropout, m->training);
	struct sup_tensor *ctx = sup_matmul(c, p, v, false, false); /* [B, H, T, dh] */
	ctx = sup_permute(c, ctx, (const int[]){ 0, 2, 1, 3 });
	ctx = sup_reshape(c, ctx, 3, (const int64_t[]){ B, Tq, a->dim });
	return sup_linear_forward(c, m, &a->out_proj, ctx);
}
