/* Gradcheck cases: cross-entropy (every reduction, ignore_index, label smoothing, i32 targets,
 * strided logits), BCE on logits (gradient to logits and target), MSE, Gaussian KL. */
#include "gradcase.h"

static struct sup_tensor *targets(struct sup_ctx *c, enum sup_dtype dt, int64_t n, const int64_t *vals)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, 1, &n);
	if (t)
		for (int64_t i = 0; i < n; i++)
			sup_tensor_set(t, i, (double)vals[i]);
	return t;
}

/* ---- cross-entropy ----------------------------------------------------------------------------- */

/* logits [4, 5] in [-2, 2]; row 2 has target -100 (the default ignore_index). */
static int setup_xent(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(4, 5), -2, 2);
	in[1] = targets(c, SUP_I64, 4, (const int64_t[]){ 3, 0, -100, 4 });
	return 2;
}
static int setup_xent_i32(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 1), -2, 2); /* C = 1: loss 0, gradient 0 */
	in[1] = targets(c, SUP_I32, 3, (const int64_t[]){ 0, 0, 0 });
	in[2] = tu_leaf(c, r, TU_SHAPE(3, 4), -2, 2);
	in[3] = targets(c, SUP_I32, 3, (const int64_t[]){ 1, 3, 1 });
	return 4;
}
static struct sup_tensor *fn_xent_mean(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_cross_entropy(c, in[0], in[1], -100, 0.0, SUP_REDUCE_MEAN);
}
static struct sup_tensor *fn_xent_sum(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_cross_entropy(c, in[0], in[1], -100, 0.0, SUP_REDUCE_SUM);
}
static struct sup_tensor *fn_xent_none(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_cross_entropy(c, in[0], in[1], -100, 0.0, SUP_REDUCE_NONE);
}
static struct sup_tensor *fn_xent_smooth_mean(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_cross_entropy(c, in[0], in[1], -100, 0.2, SUP_REDUCE_MEAN);
}
static struct sup_tensor *fn_xent_smooth_none(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_cross_entropy(c, in[0], in[1], -100, 0.1, SUP_REDUCE_NONE);
}
/* ignore_index equal to a real class (3): rows 0 and 2 are dropped. */
static int setup_xent_ignore_class(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(4, 5), -2, 2);
	in[1] = targets(c, SUP_I64, 4, (const int64_t[]){ 3, 0, 3, 4 });
	return 2;
}
static struct sup_tensor *fn_xent_ignore_class(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_cross_entropy(c, in[0], in[1], 3, 0.0, SUP_REDUCE_MEAN);
}
/* Two losses summed: a single-class problem (constant 0) and i32 targets on 4 classes. */
static struct sup_tensor *fn_xent_i32(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_tensor *a = sup_cross_entropy(c, in[0], in[1], -1, 0.0, SUP_REDUCE_NONE);
	struct sup_tensor *b = sup_cross_entropy(c, in[2], in[3], -1, 0.3, SUP_REDUCE_NONE);
	struct sup_tensor *xs[2] = { a, b };
	return sup_concat(c, xs, 2, 0);
}

/* Transposed logits: a [5, 4] leaf viewed as [4, 5]. */
static int setup_xent_view(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(5, 4), -2, 2);
	in[1] = targets(c, SUP_I64, 4, (const int64_t[]){ 1, 1, 4, 2 });
	return 2;
}
static struct sup_tensor *fn_xent_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_cross_entropy(c, sup_transpose(c, in[0], 0, 1), in[1], -100, 0.1, SUP_REDUCE_SUM);
}

/* ---- pointwise losses -------------------------------------------------------------------------- */

/* Logits in [-3, 3], targets in [0, 1] (soft labels), both requiring grad. */
static int setup_bce(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 4), -3, 3);
	in[1] = tu_leaf(c, r, TU_SHAPE(3, 4), 0, 1);
	return 2;
}
static struct sup_tensor *fn_bce_mean(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_bce_with_logits(c, in[0], in[1], SUP_REDUCE_MEAN);
}
static struct sup_tensor *fn_bce_sum(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_bce_with_logits(c, in[0], in[1], SUP_REDUCE_SUM);
}
static struct sup_tensor *fn_bce_none(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_bce_with_logits(c, in[0], in[1], SUP_REDUCE_NONE);
}
/* Large logits (|x| in [20, 40]): the stable form keeps the gradient exact. */
static int setup_bce_large(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(6), 20, 40);
	for (int64_t i = 0; i < 6; i += 2)
		((double *)in[0]->data)[i] *= -1;
	in[1] = tu_leaf(c, r, TU_SHAPE(6), 0, 1);
	return 2;
}

static int setup_pair(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 2), -2, 2);
	in[1] = tu_leaf(c, r, TU_SHAPE(2, 3, 2), -2, 2);
	return 2;
}
static struct sup_tensor *fn_mse_mean(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_mse(c, in[0], in[1], SUP_REDUCE_MEAN);
}
static struct sup_tensor *fn_mse_sum(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_mse(c, in[0], in[1], SUP_REDUCE_SUM);
}
static struct sup_tensor *fn_mse_none_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_mse(c, sup_permute(c, in[0], (const int[]){ 2, 1, 0 }), sup_permute(c, in[1], (const int[]){ 2, 1, 0 }),
		       SUP_REDUCE_NONE);
}
static struct sup_tensor *fn_kl_mean(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_gaussian_kl(c, in[0], in[1], SUP_REDUCE_MEAN);
}
static struct sup_tensor *fn_kl_sum(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_gaussian_kl(c, in[0], in[1], SUP_REDUCE_SUM);
}
static struct sup_tensor *fn_kl_none(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_gaussian_kl(c, in[0], in[1], SUP_REDUCE_NONE);
}

const struct gradcase gradcases_loss[] = {
	{ "cross_entropy", "mean, one ignored row", setup_xent, fn_xent_mean, 0, 0 },
	{ "cross_entropy", "sum", setup_xent, fn_xent_sum, 0, 0 },
	{ "cross_entropy", "none", setup_xent, fn_xent_none, 0, 0 },
	{ "cross_entropy", "label smoothing 0.2, mean", setup_xent, fn_xent_smooth_mean, 0, 0 },
	{ "cross_entropy", "label smoothing 0.1, none", setup_xent, fn_xent_smooth_none, 0, 0 },
	{ "cross_entropy", "ignore_index is a class id", setup_xent_ignore_class, fn_xent_ignore_class, 0, 0 },
	{ "cross_entropy", "i32 targets, C = 1", setup_xent_i32, fn_xent_i32, 0, 0 },
	{ "cross_entropy", "transposed logits, smoothing, sum", setup_xent_view, fn_xent_view, 0, 0 },
	{ "bce_with_logits", "mean", setup_bce, fn_bce_mean, 0, 0 },
	{ "bce_with_logits", "sum", setup_bce, fn_bce_sum, 0, 0 },
	{ "bce_with_logits", "none", setup_bce, fn_bce_none, 0, 0 },
	{ "bce_with_logits", "|x| in [20, 40]", setup_bce_large, fn_bce_none, 0, 0 },
	{ "mse", "mean", setup_pair, fn_mse_mean, 0, 0 },
	{ "mse", "sum", setup_pair, fn_mse_sum, 0, 0 },
	{ "mse", "none, permuted views", setup_pair, fn_mse_none_view, 0, 0 },
	{ "gaussian_kl", "mean", setup_pair, fn_kl_mean, 0, 0 },
	{ "gaussian_kl", "sum", setup_pair, fn_kl_sum, 0, 0 },
	{ "gaussian_kl", "none", setup_pair, fn_kl_none, 0, 0 },
	{ 0 },
};
