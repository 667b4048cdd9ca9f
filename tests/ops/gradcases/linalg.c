/* Gradcheck cases: matmul (transpose combinations, batched, broadcast batch axes), linear,
 * attention (no mask, broadcast masks with hidden keys, self-attention on one tensor). */
#include "gradcase.h"

static int setup_mm(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 4), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(4, 5), -1, 1);
	return 2;
}
static struct sup_tensor *fn_mm(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_matmul(c, in[0], in[1], false, false);
}

static int setup_mm_tt(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(4, 3), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(5, 4), -1, 1);
	return 2;
}
static struct sup_tensor *fn_mm_tt(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_matmul(c, in[0], in[1], true, true);
}

static int setup_mm_nt(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 4), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(5, 4), -1, 1);
	return 2;
}
static struct sup_tensor *fn_mm_nt(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_matmul(c, in[0], in[1], false, true);
}

static int setup_mm_tn(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(4, 3), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(4, 5), -1, 1);
	return 2;
}
static struct sup_tensor *fn_mm_tn(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_matmul(c, in[0], in[1], true, false);
}

/* [2, 1, 3, 4] @ [3, 4, 2] -> [2, 3, 3, 2]: both operands broadcast along a batch axis. */
static int setup_bmm(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 1, 3, 4), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(3, 4, 2), -1, 1);
	return 2;
}

/* [2, 3, 4] @ [4, 5]: a shared weight (the folded single-GEMM path). */
static int setup_shared(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 4), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(4, 5), -1, 1);
	return 2;
}

/* A non-contiguous operand (a transposed view) goes through contiguous(). */
static struct sup_tensor *fn_mm_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_matmul(c, sup_transpose(c, in[0], 0, 1), in[1], false, false);
}

/* linear: x [2, 3, 4] (or a transposed view [3, 4] of a [4, 3] leaf), w [5, 4], b [5]. */
static int setup_linear(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 4), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(5, 4), -1, 1);
	in[2] = tu_leaf(c, r, TU_SHAPE(5), -1, 1);
	return 3;
}
static struct sup_tensor *fn_linear(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_linear(c, in[0], in[1], in[2]);
}
static struct sup_tensor *fn_linear_nobias(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_linear(c, in[0], in[1], NULL);
}
static int setup_linear_view(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(4, 3), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(5, 4), -1, 1);
	in[2] = tu_leaf(c, r, TU_SHAPE(5), -1, 1);
	return 3;
}
/* A non-contiguous input, and a bias used twice: the add's backward runs first, so linear's
 * bias gradient takes the accumulate path. */
static struct sup_tensor *fn_linear_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_tensor *y = sup_linear(c, sup_transpose(c, in[0], 0, 1), in[1], in[2]);
	return sup_add(c, y, in[2]);
}

/* attention: q [2, 3, 4], k and v [2, 5, 4], 2 heads of width 2; in[3] a constant mask. */
static int setup_attn(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 4), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(2, 5, 4), -1, 1);
	in[2] = tu_leaf(c, r, TU_SHAPE(2, 5, 4), -1, 1);
	return 3;
}
/* A causal-like [1, 1, 3, 5] mask: query t sees keys s <= t + 1 (row 0 sees two keys). */
static int setup_attn_causal(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	setup_attn(c, r, in);
	in[3] = sup_tensor_new(c, SUP_F64, 4, (const int64_t[]){ 1, 1, 3, 5 });
	if (!in[3])
		return 3;
	for (int t = 0; t < 3; t++)
		for (int s = 0; s < 5; s++)
			sup_tensor_set(in[3], t * 5 + s, s > t + 1 ? -1e9 : 0.0);
	return 4;
}
/* A key-padding [2, 1, 1, 5] mask: batch 0 hides key 4, batch 1 keys 0 and 3; plus small
 * finite offsets, so that the additive values themselves matter. */
static int setup_attn_pad(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	setup_attn(c, r, in);
	in[3] = sup_tensor_new(c, SUP_F64, 4, (const int64_t[]){ 2, 1, 1, 5 });
	if (!in[3])
		return 3;
	for (int i = 0; i < 10; i++)
		sup_tensor_set(in[3], i, i == 4 || i == 5 || i == 8 ? -1e9 : 0.1 * i);
	return 4;
}
static struct sup_tensor *fn_attn(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_attention(c, in[0], in[1], in[2], NULL, 2, 0.7);
}
static struct sup_tensor *fn_attn_mask(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_attention(c, in[0], in[1], in[2], in[3], 2, 0.7);
}
/* Self-attention with q = k = v = x [2, 5, 4]: the three gradients share one buffer. */
static struct sup_tensor *fn_attn_self(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_attention(c, in[1], in[1], in[1], NULL, 2, 0.7);
}
/* One head over the whole width, k given as a transposed view of a [2, 4, 5] leaf (a
 * non-contiguous input). */
static int setup_attn_view(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 4), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(2, 4, 5), -1, 1);
	in[2] = tu_leaf(c, r, TU_SHAPE(2, 5, 4), -1, 1);
	return 3;
}
static struct sup_tensor *fn_attn_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_attention(c, in[0], sup_transpose(c, in[1], 1, 2), in[2], NULL, 1, 0.5);
}

const struct gradcase gradcases_linalg[] = {
	{ "attention", "2 heads, no mask", setup_attn, fn_attn, 0, 0 },
	{ "attention", "causal-like mask broadcast over batches", setup_attn_causal, fn_attn_mask, 0, 0 },
	{ "attention", "per-batch padding mask with offsets", setup_attn_pad, fn_attn_mask, 0, 0 },
	{ "attention", "self-attention, q = k = v", setup_attn, fn_attn_self, 0, 0 },
	{ "attention", "1 head, transposed-view key", setup_attn_view, fn_attn_view, 0, 0 },
	{ "linear", "3-D input with bias", setup_linear, fn_linear, 0, 0 },
	{ "linear", "no bias", setup_linear, fn_linear_nobias, 0, 0 },
	{ "linear", "transposed view input, bias also added after", setup_linear_view, fn_linear_view, 0, 0 },
	{ "matmul", "2-D", setup_mm, fn_mm, 0, 0 },
	{ "matmul", "A^T B^T", setup_mm_tt, fn_mm_tt, 0, 0 },
	{ "matmul", "A B^T", setup_mm_nt, fn_mm_nt, 0, 0 },
	{ "matmul", "A^T B", setup_mm_tn, fn_mm_tn, 0, 0 },
	{ "matmul", "broadcast batch", setup_bmm, fn_mm, 0, 0 },
	{ "matmul", "shared 2-D weight", setup_shared, fn_mm, 0, 0 },
	{ "matmul", "transposed view", setup_mm_tn, fn_mm_view, 0, 0 },
	{ "transpose", "via matmul", setup_mm_tn, fn_mm_view, 0, 0 },
	{ 0 },
};
