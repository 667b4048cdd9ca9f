/* Gradcheck cases: copying shape ops (concat, stack, pad), indexing ops (gather, index_select,
 * scatter_add, embedding) and the view ops (reshape, permute, slice, contiguous). Index tensors
 * are fixed and contain repeats, so gradient accumulation over repeated indices is checked. */
#include "gradcase.h"

#include <string.h>

/* A fixed index tensor (i64, or i32 when dt says so). */
static struct sup_tensor *idx(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
			      const int64_t *vals)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	if (t)
		for (int64_t i = 0; i < sup_tensor_numel(t); i++)
			sup_tensor_set(t, i, (double)vals[i]);
	return t;
}

/* ---- concat / stack ---------------------------------------------------------------------------- */

static int setup_three_rows(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(1, 3), -1, 1);
	in[2] = tu_leaf(c, r, TU_SHAPE(3, 3), -1, 1);
	return 3;
}
static struct sup_tensor *fn_concat0(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_concat(c, in, 3, 0);
}

/* in[0] [3, 2] is transposed to [2, 3] (a strided view) and joined with [2, 4] on the last axis. */
static int setup_concat_view(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 2), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(2, 4), -1, 1);
	return 2;
}
static struct sup_tensor *fn_concat_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_tensor *xs[2] = { sup_transpose(c, in[0], 0, 1), in[1] };
	return sup_concat(c, xs, 2, -1);
}

static int setup_concat3d(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 1, 3), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(2, 2, 3), -1, 1);
	return 2;
}
static struct sup_tensor *fn_concat3d(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_concat(c, in, 2, 1);
}

static int setup_three_same(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	for (int i = 0; i < 3; i++)
		in[i] = tu_leaf(c, r, TU_SHAPE(2, 3), -1, 1);
	return 3;
}
static struct sup_tensor *fn_stack0(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_stack(c, in, 3, 0);
}
static struct sup_tensor *fn_stack_last(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_stack(c, in, 3, -1);
}

/* stack along the middle axis, one input a transposed view. */
static struct sup_tensor *fn_stack_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_tensor *xs[2] = { sup_transpose(c, in[0], 0, 1), sup_slice(c, in[1], 1, -3, 4, 1) };
	return sup_stack(c, xs, 2, 1);
}

/* ---- pad --------------------------------------------------------------------------------------- */

static int setup_2x3(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3), -1, 1);
	return 1;
}
static struct sup_tensor *fn_pad2d(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	const int64_t pads[] = { 1, 0, 2, 1 };
	return sup_pad(c, in[0], pads, 0.5);
}

static int setup_pad3d(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 2, 3), -1, 1);
	return 1;
}
static struct sup_tensor *fn_pad3d_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	const int64_t pads[] = { 0, 0, 1, 1, 0, 2 };
	return sup_pad(c, sup_permute(c, in[0], (const int[]){ 0, 2, 1 }), pads, -1.0);
}

/* ---- gather ------------------------------------------------------------------------------------ */

static int setup_gather0(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 4), -1, 1);
	in[1] = idx(c, SUP_I64, TU_SHAPE(2, 4), (const int64_t[]){ 0, 2, 2, 1, 0, 0, 1, 2 });
	return 2;
}
static struct sup_tensor *fn_gather0(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_gather(c, in[0], 0, in[1]);
}

/* dim 1, an index narrower than a on axis 1 and shorter on axis 0, i32 index. */
static int setup_gather1(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 4), -1, 1);
	in[1] = idx(c, SUP_I32, TU_SHAPE(2, 5), (const int64_t[]){ 3, 3, 0, 1, 3, 2, 0, 0, 1, 2 });
	return 2;
}
static struct sup_tensor *fn_gather1(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_gather(c, in[0], -1, in[1]);
}

/* a is a transposed view: a^T [4, 3] gathered along dim 0. */
static int setup_gather_view(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 4), -1, 1);
	in[1] = idx(c, SUP_I64, TU_SHAPE(2, 3), (const int64_t[]){ 3, 0, 3, 1, 3, 2 });
	return 2;
}
static struct sup_tensor *fn_gather_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_gather(c, sup_transpose(c, in[0], 0, 1), 0, in[1]);
}

/* ---- index_select ------------------------------------------------------------------------------ */

static int setup_isel0(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(4, 3), -1, 1);
	in[1] = idx(c, SUP_I64, TU_SHAPE(5), (const int64_t[]){ 2, 0, 2, 3, 2 });
	return 2;
}
static struct sup_tensor *fn_isel0(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_index_select(c, in[0], 0, in[1]);
}

static int setup_isel_mid(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 4, 3), -1, 1);
	in[1] = idx(c, SUP_I32, TU_SHAPE(3), (const int64_t[]){ 3, 1, 3 });
	return 2;
}
static struct sup_tensor *fn_isel_mid(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_index_select(c, in[0], 1, in[1]);
}
/* The same on a permuted view (copied by contiguous() inside the op). */
static struct sup_tensor *fn_isel_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_index_select(c, sup_permute(c, in[0], (const int[]){ 2, 1, 0 }), -2, in[1]);
}

/* ---- scatter_add ------------------------------------------------------------------------------- */

/* src [3, 4] is larger than index [2, 4]: its last row gets no gradient. */
static int setup_scatter0(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 4), -1, 1);
	in[1] = idx(c, SUP_I64, TU_SHAPE(2, 4), (const int64_t[]){ 0, 2, 2, 1, 0, 2, 1, 1 });
	in[2] = tu_leaf(c, r, TU_SHAPE(3, 4), -1, 1);
	return 3;
}
static struct sup_tensor *fn_scatter0(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_scatter_add(c, in[0], 0, in[1], in[2]);
}

static int setup_scatter1(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3), -1, 1);
	in[1] = idx(c, SUP_I32, TU_SHAPE(2, 4), (const int64_t[]){ 2, 2, 0, 2, 1, 0, 0, 1 });
	in[2] = tu_leaf(c, r, TU_SHAPE(2, 5), -1, 1);
	return 3;
}
static struct sup_tensor *fn_scatter1(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_scatter_add(c, in[0], 1, in[1], in[2]);
}
/* src is a transposed view [2, 5] of a [5, 2] leaf. */
static int setup_scatter_view(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	setup_scatter1(c, r, in);
	in[2] = tu_leaf(c, r, TU_SHAPE(5, 2), -1, 1);
	return 3;
}
static struct sup_tensor *fn_scatter_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_scatter_add(c, in[0], 1, in[1], sup_transpose(c, in[2], 0, 1));
}

/* ---- embedding --------------------------------------------------------------------------------- */

static int setup_emb(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(5, 3), -1, 1);
	in[1] = idx(c, SUP_I64, TU_SHAPE(2, 3), (const int64_t[]){ 4, 1, 4, 0, 4, 1 });
	return 2;
}
static int setup_emb_i32(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(4, 2), -1, 1);
	in[1] = idx(c, SUP_I32, TU_SHAPE(5), (const int64_t[]){ 3, 3, 2, 0, 3 });
	return 2;
}
static struct sup_tensor *fn_emb(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_embedding(c, in[0], in[1]);
}
/* A transposed weight (tied embedding stored as [D, V]). */
static int setup_emb_view(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 5), -1, 1);
	in[1] = idx(c, SUP_I64, TU_SHAPE(4), (const int64_t[]){ 1, 4, 1, 1 });
	return 2;
}
static struct sup_tensor *fn_emb_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_embedding(c, sup_transpose(c, in[0], 0, 1), in[1]);
}

/* ---- view ops ---------------------------------------------------------------------------------- */

static int setup_234(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 4), -1, 1);
	return 1;
}
static struct sup_tensor *fn_reshape_infer(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_reshape(c, in[0], TU_SHAPE(-1, 4));
}
/* A permuted (non-contiguous) input: reshape copies through contiguous(). */
static struct sup_tensor *fn_reshape_copy(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_reshape(c, sup_permute(c, in[0], (const int[]){ 2, 0, 1 }), TU_SHAPE(4, -1));
}
/* The result is a further (non-contiguous) view of a reshaped view. */
static struct sup_tensor *fn_reshape_then_slice(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_slice(c, sup_reshape(c, in[0], TU_SHAPE(6, 4)), 1, 1, 4, 2);
}

static struct sup_tensor *fn_permute(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_permute(c, in[0], (const int[]){ 2, 0, 1 });
}
static struct sup_tensor *fn_permute_twice(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_permute(c, sup_permute(c, in[0], (const int[]){ 1, 2, 0 }), (const int[]){ -1, 0, 1 });
}

static int setup_5x4(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(5, 4), -1, 1);
	return 1;
}
/* rows -4, -2 (i.e. 1, 3) of 5. */
static struct sup_tensor *fn_slice_neg(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_slice(c, in[0], 0, -4, 5, 2);
}
/* columns 0 and 3 (step 3), end past the size (clamped). */
static struct sup_tensor *fn_slice_step3(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_slice(c, in[0], -1, 0, 100, 3);
}
/* A slice of a slice of a transposed view. */
static struct sup_tensor *fn_slice_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_tensor *t = sup_transpose(c, in[0], 0, 1); /* [4, 5] */
	return sup_slice(c, sup_slice(c, t, 1, -5, -1, 2), 0, 1, 4, 1);
}

static struct sup_tensor *fn_contig_t(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_contiguous(c, sup_transpose(c, in[0], 0, 1));
}
/* One process (the gradcheck context has no communicator): a copy. The multi-process gradient
 * (allreduce, then this rank's rows) is checked by tests/dist/test_comm.c with threads. */
static struct sup_tensor *fn_all_gather_t(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_all_gather(c, sup_transpose(c, in[0], 0, 1));
}
static struct sup_tensor *fn_contig_slice(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_contiguous(c, sup_slice(c, in[0], 1, 1, 4, 2));
}

const struct gradcase gradcases_shape[] = {
	{ "concat", "3 inputs, dim 0", setup_three_rows, fn_concat0, 0, 0 },
	{ "concat", "transposed view, dim -1", setup_concat_view, fn_concat_view, 0, 0 },
	{ "concat", "3-D, dim 1", setup_concat3d, fn_concat3d, 0, 0 },
	{ "stack", "dim 0", setup_three_same, fn_stack0, 0, 0 },
	{ "stack", "dim -1 (new last axis)", setup_three_same, fn_stack_last, 0, 0 },
	{ "stack", "strided views, dim 1", setup_concat_view, fn_stack_view, 0, 0 },
	{ "pad", "2-D, value 0.5", setup_2x3, fn_pad2d, 0, 0 },
	{ "pad", "3-D permuted view, some axes unpadded", setup_pad3d, fn_pad3d_view, 0, 0 },
	{ "gather", "dim 0, repeated indices", setup_gather0, fn_gather0, 0, 0 },
	{ "gather", "dim -1, smaller index, i32", setup_gather1, fn_gather1, 0, 0 },
	{ "gather", "transposed input", setup_gather_view, fn_gather_view, 0, 0 },
	{ "index_select", "dim 0, repeated indices", setup_isel0, fn_isel0, 0, 0 },
	{ "index_select", "middle axis of 3-D, i32", setup_isel_mid, fn_isel_mid, 0, 0 },
	{ "index_select", "permuted view", setup_isel_mid, fn_isel_view, 0, 0 },
	{ "scatter_add", "dim 0, src larger than index", setup_scatter0, fn_scatter0, 0, 0 },
	{ "scatter_add", "dim 1, i32", setup_scatter1, fn_scatter1, 0, 0 },
	{ "scatter_add", "transposed src", setup_scatter_view, fn_scatter_view, 0, 0 },
	{ "embedding", "2-D ids, repeated ids", setup_emb, fn_emb, 0, 0 },
	{ "embedding", "1-D i32 ids", setup_emb_i32, fn_emb, 0, 0 },
	{ "embedding", "transposed weight", setup_emb_view, fn_emb_view, 0, 0 },
	{ "reshape", "-1 inferred", setup_234, fn_reshape_infer, 0, 0 },
	{ "reshape", "non-contiguous input (copies)", setup_234, fn_reshape_copy, 0, 0 },
	{ "reshape", "then slice", setup_234, fn_reshape_then_slice, 0, 0 },
	{ "permute", "3-D", setup_234, fn_permute, 0, 0 },
	{ "permute", "twice, negative axis", setup_234, fn_permute_twice, 0, 0 },
	{ "slice", "negative start, step 2", setup_5x4, fn_slice_neg, 0, 0 },
	{ "slice", "step 3, end clamped", setup_5x4, fn_slice_step3, 0, 0 },
	{ "slice", "slice of slice of transpose", setup_5x4, fn_slice_view, 0, 0 },
	{ "contiguous", "transposed view", setup_5x4, fn_contig_t, 0, 0 },
	{ "contiguous", "strided slice", setup_5x4, fn_contig_slice, 0, 0 },
	{ "all_gather", "one process, transposed view", setup_5x4, fn_all_gather_t, 0, 0 },
	{ 0 },
};
