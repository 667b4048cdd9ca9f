/* Gradcheck cases: matmul (transpose combinations, batched, broadcast batch axes). */
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

const struct gradcase gradcases_linalg[] = {
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
