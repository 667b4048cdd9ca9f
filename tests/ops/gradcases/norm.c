/* Gradcheck cases: layer_norm (with/without weight and bias, 3-D, non-contiguous input) and
 * batch_norm (training and eval, [N, C] and [N, C, H, W], with/without affine, running stats). */
#include "gradcase.h"

/* ---- layer norm ---- */

static int setup_ln(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(3, 5), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(5), 0.5, 1.5);
	in[2] = tu_leaf(c, r, TU_SHAPE(5), -1, 1);
	return 3;
}
static struct sup_tensor *fn_ln(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_layer_norm(c, in[0], in[1], in[2], 1e-5);
}
static struct sup_tensor *fn_ln_w(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_layer_norm(c, in[0], in[1], NULL, 1e-5);
}
static struct sup_tensor *fn_ln_b(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_layer_norm(c, in[0], NULL, in[2], 1e-5);
}
/* A large eps makes eps visible in the gradient. */
static struct sup_tensor *fn_ln_bigeps(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_layer_norm(c, in[0], in[1], in[2], 0.3);
}

static int setup_ln3(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 4), -2, 2);
	return 1;
}
static struct sup_tensor *fn_ln_plain(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_layer_norm(c, in[0], NULL, NULL, 1e-5);
}

/* [5, 3] leaf, normalised over the rows of its transpose (a strided view). */
static int setup_ln_t(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(5, 3), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(5), 0.5, 1.5);
	in[2] = tu_leaf(c, r, TU_SHAPE(5), -1, 1);
	return 3;
}
static struct sup_tensor *fn_ln_t(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_layer_norm(c, sup_transpose(c, in[0], 0, 1), in[1], in[2], 1e-5);
}

/* ---- batch norm ---- */

/* x, weight, bias, running_mean, running_var (the last two constants). */
static int setup_bn2(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(4, 3), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(3), 0.5, 1.5);
	in[2] = tu_leaf(c, r, TU_SHAPE(3), -1, 1);
	in[3] = tu_rand(c, r, SUP_F64, TU_SHAPE(3), -0.5, 0.5);
	in[4] = tu_rand(c, r, SUP_F64, TU_SHAPE(3), 0.5, 1.5);
	return 5;
}
static int setup_bn4(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 2, 2), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(3), 0.5, 1.5);
	in[2] = tu_leaf(c, r, TU_SHAPE(3), -1, 1);
	in[3] = tu_rand(c, r, SUP_F64, TU_SHAPE(3), -0.5, 0.5);
	in[4] = tu_rand(c, r, SUP_F64, TU_SHAPE(3), 0.5, 1.5);
	return 5;
}
static struct sup_tensor *fn_bn_train(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_batch_norm_args o = { .training = true, .momentum = 0.1, .eps = 1e-5 };
	return sup_batch_norm(c, in[0], in[1], in[2], in[3], in[4], &o);
}
static struct sup_tensor *fn_bn_train_plain(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_batch_norm_args o = { .training = true, .momentum = 0.1, .eps = 1e-5 };
	return sup_batch_norm(c, in[0], NULL, NULL, NULL, NULL, &o);
}
static struct sup_tensor *fn_bn_eval(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_batch_norm_args o = { .training = false, .momentum = 0.1, .eps = 1e-5 };
	return sup_batch_norm(c, in[0], in[1], in[2], in[3], in[4], &o);
}
static struct sup_tensor *fn_bn_eval_nob(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	struct sup_batch_norm_args o = { .training = false, .momentum = 0.1, .eps = 1e-5 };
	return sup_batch_norm(c, in[0], in[1], NULL, in[3], in[4], &o);
}
/* [N, H, W, C] leaf permuted to [N, C, H, W]: a strided view; default args (NULL). */
static int setup_bn_perm(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 2, 3, 3), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(3), 0.5, 1.5);
	in[2] = tu_leaf(c, r, TU_SHAPE(3), -1, 1);
	return 3;
}
static struct sup_tensor *fn_bn_perm(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_batch_norm(c, sup_permute(c, in[0], (const int[]){ 0, 3, 1, 2 }), in[1], in[2], NULL, NULL, NULL);
}

const struct gradcase gradcases_norm[] = {
	{ "layer_norm", "weight and bias", setup_ln, fn_ln, 0, 0 },
	{ "layer_norm", "weight only", setup_ln, fn_ln_w, 0, 0 },
	{ "layer_norm", "bias only", setup_ln, fn_ln_b, 0, 0 },
	{ "layer_norm", "large eps", setup_ln, fn_ln_bigeps, 0, 0 },
	{ "layer_norm", "3-D, no affine", setup_ln3, fn_ln_plain, 0, 0 },
	{ "layer_norm", "transposed view", setup_ln_t, fn_ln_t, 0, 0 },
	{ "batch_norm", "training [N, C], running stats", setup_bn2, fn_bn_train, 0, 0 },
	{ "batch_norm", "training [N, C, H, W], running stats", setup_bn4, fn_bn_train, 0, 0 },
	{ "batch_norm", "training [N, C, H, W], no affine", setup_bn4, fn_bn_train_plain, 0, 0 },
	{ "batch_norm", "eval [N, C]", setup_bn2, fn_bn_eval, 0, 0 },
	{ "batch_norm", "eval [N, C, H, W], no bias", setup_bn4, fn_bn_eval_nob, 0, 0 },
	{ "batch_norm", "training, permuted view, default args", setup_bn_perm, fn_bn_perm, 0, 0 },
	{ "permute", "via batch_norm", setup_bn_perm, fn_bn_perm, 0, 0 },
	{ 0 },
};
