/* Gradcheck cases: matmul (transpose combinations, batched, broadcast batch axes), linear. */
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

const struct gradcase gradcases_linalg[] = {
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
