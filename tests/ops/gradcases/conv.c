/* Gradcheck cases: conv2d, conv_transpose2d (stride, padding, dilation, groups, bias or not,
 * output padding, non-contiguous input), max/avg/adaptive pooling and nearest upsampling. */
#include "gradcase.h"

/* ---- inputs ----------------------------------------------------------------------------------- */

#define SETUP3(fname, XS, WS, BS)                                                      \
	static int fname(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in) \
	{                                                                              \
		in[0] = tu_leaf(c, r, TU_SHAPE XS, -1, 1);                             \
		in[1] = tu_leaf(c, r, TU_SHAPE WS, -1, 1);                             \
		in[2] = tu_leaf(c, r, TU_SHAPE BS, -1, 1);                             \
		return 3;                                                              \
	}
#define SETUP2(fname, XS, WS)                                                          \
	static int fname(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in) \
	{                                                                              \
		in[0] = tu_leaf(c, r, TU_SHAPE XS, -1, 1);                             \
		in[1] = tu_leaf(c, r, TU_SHAPE WS, -1, 1);                             \
		return 2;                                                              \
	}
#define SETUP1(fname, XS)                                                              \
	static int fname(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in) \
	{                                                                              \
		in[0] = tu_leaf(c, r, TU_SHAPE XS, -1, 1);                             \
		return 1;                                                              \
	}

SETUP3(setup_c_bias, (2, 3, 5, 5), (4, 3, 3, 3), (4))
SETUP2(setup_c_s2, (2, 2, 6, 7), (3, 2, 2, 3))
/* 16 input channels: with oneDNN, forward and input gradient run on its primitives too (fewer
 * channels stay on im2col), so the cpu-vs-ref comparison covers both paths. */
SETUP3(setup_c_wide, (2, 16, 4, 5), (3, 16, 3, 3), (3))
SETUP3(setup_t_wide, (1, 5, 3, 3), (5, 16, 3, 3), (16))
SETUP2(setup_c_dil, (1, 2, 7, 7), (2, 2, 3, 3))
SETUP3(setup_c_grp, (2, 4, 5, 5), (6, 2, 3, 3), (6))
SETUP2(setup_c_1x1, (2, 3, 4, 4), (5, 3, 1, 1))
SETUP2(setup_c_view, (2, 3, 5, 6), (2, 3, 3, 3))
SETUP3(setup_t_bias, (2, 4, 3, 3), (4, 3, 3, 3), (3))
SETUP2(setup_t_grp, (1, 4, 4, 4), (4, 2, 3, 3))
SETUP1(setup_p_4x4, (2, 3, 4, 4))
SETUP1(setup_p_7x6, (1, 2, 7, 6))
SETUP1(setup_p_5x7, (2, 2, 5, 7))
SETUP1(setup_p_3x3, (1, 2, 3, 3))
SETUP1(setup_p_3x2, (2, 2, 3, 2))

/* ---- functions -------------------------------------------------------------------------------- */

#define CONV_FN(fname, op, BIAS, ...)                                                             \
	static struct sup_tensor *fname(struct sup_ctx *c, struct sup_tensor *const *in, void *u) \
	{                                                                                         \
		(void)u;                                                                          \
		const struct sup_conv2d_args a = __VA_ARGS__;                                     \
		return op(c, in[0], in[1], BIAS, &a);                                             \
	}

CONV_FN(fn_c_bias, sup_conv2d, in[2], { .padding = { 1, 1 } })
CONV_FN(fn_c_s2, sup_conv2d, NULL, { .stride = { 2, 2 }, .padding = { 1, 1 } })
CONV_FN(fn_c_dil, sup_conv2d, NULL, { .stride = { 1, 2 }, .padding = { 2, 2 }, .dilation = { 2, 2 } })
CONV_FN(fn_c_grp, sup_conv2d, in[2], { .padding = { 1, 1 }, .groups = 2 })
CONV_FN(fn_c_1x1, sup_conv2d, NULL, { .groups = 1 })
CONV_FN(fn_t_bias, sup_conv_transpose2d, in[2], { .stride = { 2, 2 }, .padding = { 1, 1 }, .output_padding = { 1, 1 } })
/* Output padding 1 with stride 1 in h is allowed because the dilation (2) exceeds it. */
CONV_FN(fn_t_grp, sup_conv_transpose2d, NULL,
	{ .stride = { 1, 2 }, .padding = { 1, 0 }, .dilation = { 2, 2 }, .groups = 2, .output_padding = { 1, 1 } })

/* x and w feed two convolutions: the second backward accumulates into both gradients. */
static struct sup_tensor *fn_c_twice(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	const struct sup_conv2d_args a = { .padding = { 1, 1 } }, s2 = { .stride = { 2, 2 }, .padding = { 1, 1 } };
	struct sup_tensor *y1 = sup_conv2d(c, in[0], in[1], in[2], &a);
	struct sup_tensor *y2 = sup_conv2d(c, in[0], in[1], NULL, &s2);
	return sup_add(c, sup_sum(c, y1, NULL, 0, false), sup_sum(c, sup_mul(c, y2, y2), NULL, 0, false));
}

/* A transposed (non-contiguous) view of x: [2, 3, 6, 5]. */
static struct sup_tensor *fn_c_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	const struct sup_conv2d_args a = { .stride = { 2, 1 }, .padding = { 0, 1 } };
	return sup_conv2d(c, sup_transpose(c, in[0], 2, 3), in[1], NULL, &a);
}

#define POOL_FN(fname, op, ...)                                                                   \
	static struct sup_tensor *fname(struct sup_ctx *c, struct sup_tensor *const *in, void *u) \
	{                                                                                         \
		(void)u;                                                                          \
		const struct sup_pool2d_args a = __VA_ARGS__;                                     \
		return op(c, in[0], &a);                                                          \
	}

POOL_FN(fn_max_2, sup_max_pool2d, { .kernel = { 2, 2 } })
POOL_FN(fn_max_3, sup_max_pool2d, { .kernel = { 3, 3 }, .stride = { 2, 2 }, .padding = { 1, 1 } })
POOL_FN(fn_avg_3, sup_avg_pool2d, { .kernel = { 3, 3 }, .stride = { 2, 2 }, .padding = { 1, 1 } })
POOL_FN(fn_avg_23, sup_avg_pool2d, { .kernel = { 2, 3 }, .stride = { 1, 2 }, .padding = { 1, 0 } })

static struct sup_tensor *fn_max_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	const struct sup_pool2d_args a = { .kernel = { 2, 3 }, .stride = { 1, 2 } };
	return sup_max_pool2d(c, sup_transpose(c, in[0], 2, 3), &a);
}

static struct sup_tensor *fn_ad_34(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_adaptive_avg_pool2d(c, in[0], 3, 4);
}
static struct sup_tensor *fn_ad_11(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_adaptive_avg_pool2d(c, in[0], 1, 1);
}
static struct sup_tensor *fn_ad_up(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_adaptive_avg_pool2d(c, in[0], 5, 4);
}
static struct sup_tensor *fn_up_23(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_upsample_nearest2d(c, in[0], 2, 3);
}
static struct sup_tensor *fn_up_view(struct sup_ctx *c, struct sup_tensor *const *in, void *u)
{
	(void)u;
	return sup_upsample_nearest2d(c, sup_transpose(c, in[0], 2, 3), 1, 2);
}

const struct gradcase gradcases_conv[] = {
	{ "conv2d", "3x3 pad 1, bias", setup_c_bias, fn_c_bias, 0, 0 },
	{ "conv2d", "2x3 kernel, stride 2, pad 1, no bias", setup_c_s2, fn_c_s2, 0, 0 },
	{ "conv2d", "16 input channels, bias", setup_c_wide, fn_c_bias, 0, 0 },
	{ "conv2d", "16 input channels, x and w used twice", setup_c_wide, fn_c_twice, 0, 0 },
	{ "conv_transpose2d", "16 output channels, stride 2, bias", setup_t_wide, fn_t_bias, 0, 0 },
	{ "conv2d", "dilation 2, stride (1,2), pad 2", setup_c_dil, fn_c_dil, 0, 0 },
	{ "conv2d", "groups 2, bias", setup_c_grp, fn_c_grp, 0, 0 },
	{ "conv2d", "1x1", setup_c_1x1, fn_c_1x1, 0, 0 },
	{ "conv2d", "transposed (non-contiguous) input", setup_c_view, fn_c_view, 0, 0 },
	{ "conv_transpose2d", "stride 2, pad 1, output_padding 1, bias", setup_t_bias, fn_t_bias, 0, 0 },
	{ "conv_transpose2d", "groups 2, dilation 2, output_padding 1", setup_t_grp, fn_t_grp, 0, 0 },
	{ "max_pool2d", "2x2", setup_p_4x4, fn_max_2, 0, 0 },
	{ "max_pool2d", "3x3 stride 2 pad 1", setup_p_7x6, fn_max_3, 0, 0 },
	{ "max_pool2d", "2x3 stride (1,2), transposed input", setup_p_7x6, fn_max_view, 0, 0 },
	{ "avg_pool2d", "3x3 stride 2 pad 1", setup_p_7x6, fn_avg_3, 0, 0 },
	{ "avg_pool2d", "2x3 stride (1,2) pad (1,0)", setup_p_5x7, fn_avg_23, 0, 0 },
	{ "adaptive_avg_pool2d", "5x7 -> 3x4 (overlapping windows)", setup_p_5x7, fn_ad_34, 0, 0 },
	{ "adaptive_avg_pool2d", "global 4x4 -> 1x1", setup_p_4x4, fn_ad_11, 0, 0 },
	{ "adaptive_avg_pool2d", "3x3 -> 5x4 (output larger)", setup_p_3x3, fn_ad_up, 0, 0 },
	{ "upsample_nearest2d", "scale (2,3)", setup_p_3x2, fn_up_23, 0, 0 },
	{ "upsample_nearest2d", "scale (1,2), transposed input", setup_p_3x2, fn_up_view, 0, 0 },
	{ 0 },
};
