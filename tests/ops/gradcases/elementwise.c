/* Gradcheck cases: elementwise binary ops (same shape, broadcasting, views), where, scalar ops,
 * unary maps, PReLU and dropout. Input ranges keep away from kinks and from the domain edges
 * (log, sqrt, pow of a non-integer need positive inputs). */
#include "gradcase.h"

#include <math.h>

/* ---- setups ------------------------------------------------------------------------------------- */

/* A setup of one leaf of the given shape, uniform in [lo, hi). */
#define SETUP1(name, lo, hi, ...)                                                          \
	static int name(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)      \
	{                                                                                  \
		in[0] = tu_leaf(c, r, TU_SHAPE(__VA_ARGS__), lo, hi);                      \
		return 1;                                                                  \
	}

SETUP1(s_sym, -2, 2, 3, 4)      /* symmetric range */
SETUP1(s_pos, 0.5, 2, 3, 4)     /* log, sqrt, rsqrt, pow of non-integers */
SETUP1(s_wide, -6, 6, 2, 3, 4)  /* sigmoid, tanh, softplus, gelu tails */
SETUP1(s_huge, -40, 40, 2, 5)   /* softplus far out: exp overflow must not leak */
SETUP1(s_nchw, -1, 1, 2, 3, 2, 2)

/* Two leaves of shapes A and B with values in [lo, hi). */
#define SETUP2(name, lo, hi, A, B)                                                         \
	static int name(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)      \
	{                                                                                  \
		in[0] = tu_leaf(c, r, TU_SHAPE A, lo, hi);                                 \
		in[1] = tu_leaf(c, r, TU_SHAPE B, lo, hi);                                 \
		return 2;                                                                  \
	}

SETUP2(s_same, -1, 1, (3, 4), (3, 4))
SETUP2(s_bc, -1, 1, (2, 3, 1), (4))       /* [2,3,1] with [4] -> [2,3,4] */
SETUP2(s_bc2, -1, 1, (3, 1), (1, 4))      /* both operands broadcast */
SETUP2(s_bias, -1, 1, (5, 3), (3))        /* [N, C] + [C] */
SETUP2(s_chan, -1, 1, (2, 3, 2, 2), (1, 3, 1, 1))
SETUP2(s_vec_first, -1, 1, (3), (4, 3))   /* the vector on the left */
SETUP2(s_view, -1, 1, (4, 3), (1, 4))     /* a is transposed to [3, 4] in the function */
SETUP2(s_pos2, 0.5, 2, (2, 3), (3))       /* div, pow: b away from 0, a > 0 */

/* A 0-d tensor broadcast against [3, 4]. */
static int s_scalar_t(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	const int64_t none[1] = { 0 };
	in[0] = tu_leaf(c, r, 0, none, -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(3, 4), -1, 1);
	return 2;
}

/* pow: a > 0, exponents of both signs. */
static int s_pow(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3), 0.5, 2);
	in[1] = tu_leaf(c, r, TU_SHAPE(3), -1.5, 1.5);
	return 2;
}

/* where: cond [3, 1] (u8, constant), a [3, 4], b [4]. */
static int s_where(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = sup_tensor_new(c, SUP_U8, TU_SHAPE(3, 1));
	if (in[0]) {
		((uint8_t *)in[0]->data)[0] = 1;
		((uint8_t *)in[0]->data)[1] = 0;
		((uint8_t *)in[0]->data)[2] = 7;
	}
	in[1] = tu_leaf(c, r, TU_SHAPE(3, 4), -1, 1);
	in[2] = tu_leaf(c, r, TU_SHAPE(4), -1, 1);
	return 3;
}

/* where on views: a [4, 3] is transposed, b [8] is sliced with step 2. */
static int s_where_view(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	s_where(c, r, in);
	in[1] = tu_leaf(c, r, TU_SHAPE(4, 3), -1, 1);
	in[2] = tu_leaf(c, r, TU_SHAPE(8), -1, 1);
	return 3;
}

/* PReLU: x and a slope with one element per channel, or one shared element. */
static int s_prelu_c(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 4), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(3), 0.05, 0.5);
	return 2;
}

static int s_prelu_2d(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(5, 3), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(3), 0.05, 0.5);
	return 2;
}

static int s_prelu_1(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)
{
	in[0] = tu_leaf(c, r, TU_SHAPE(2, 3, 4), -1, 1);
	in[1] = tu_leaf(c, r, TU_SHAPE(1), 0.05, 0.5);
	return 2;
}

/* ---- functions ---------------------------------------------------------------------------------- */

#define FN(name, expr)                                                                          \
	static struct sup_tensor *name(struct sup_ctx *c, struct sup_tensor *const *in, void *u) \
	{                                                                                       \
		(void)u;                                                                        \
		return expr;                                                                    \
	}

FN(f_add, sup_add(c, in[0], in[1]))
FN(f_add_view, sup_add(c, sup_transpose(c, in[0], 0, 1), in[1]))
FN(f_sub, sup_sub(c, in[0], in[1]))
FN(f_sub_view, sup_sub(c, in[1], sup_transpose(c, in[0], 0, 1)))
FN(f_mul, sup_mul(c, in[0], in[1]))
FN(f_mul_self, sup_mul(c, in[0], in[0]))
FN(f_mul_view, sup_mul(c, sup_transpose(c, in[0], 0, 1), sup_transpose(c, in[0], 0, 1)))
FN(f_div, sup_div(c, in[0], in[1]))
FN(f_div_rev, sup_div(c, in[1], in[0]))
FN(f_pow, sup_pow(c, in[0], in[1]))
FN(f_minimum, sup_minimum(c, in[0], in[1]))
FN(f_maximum, sup_maximum(c, in[0], in[1]))
FN(f_maximum_view, sup_maximum(c, sup_transpose(c, in[0], 0, 1), in[1]))
FN(f_where, sup_where(c, in[0], in[1], in[2]))
FN(f_where_view, sup_where(c, in[0], sup_transpose(c, in[1], 0, 1), sup_slice(c, in[2], 0, 1, 8, 2)))

FN(f_add_scalar, sup_add_scalar(c, in[0], 0.75))
FN(f_mul_scalar, sup_mul_scalar(c, in[0], -1.5))
FN(f_pow_scalar, sup_pow_scalar(c, in[0], 2.5))
FN(f_pow_scalar_int, sup_pow_scalar(c, in[0], 3))
FN(f_pow_scalar_neg, sup_pow_scalar(c, in[0], -0.5))
FN(f_clamp, sup_clamp(c, in[0], -0.7, 1.1))
FN(f_clamp_open, sup_clamp(c, in[0], -INFINITY, 0.5))

FN(f_neg, sup_neg(c, in[0]))
FN(f_exp, sup_exp(c, in[0]))
FN(f_log, sup_log(c, in[0]))
FN(f_sqrt, sup_sqrt(c, in[0]))
FN(f_rsqrt, sup_rsqrt(c, in[0]))
FN(f_abs, sup_abs(c, in[0]))
FN(f_relu, sup_relu(c, in[0]))
FN(f_relu_view, sup_relu(c, sup_transpose(c, in[0], 0, 2)))
FN(f_leaky, sup_leaky_relu(c, in[0], 0.1))
FN(f_elu, sup_elu(c, in[0], 1.3))
FN(f_gelu, sup_gelu(c, in[0], false))
FN(f_gelu_tanh, sup_gelu(c, in[0], true))
FN(f_gelu_view, sup_gelu(c, sup_slice(c, in[0], 2, 1, 4, 2), false))
FN(f_sigmoid, sup_sigmoid(c, in[0]))
FN(f_tanh, sup_tanh(c, in[0]))
FN(f_softplus, sup_softplus(c, in[0]))
FN(f_prelu, sup_prelu(c, in[0], in[1]))
FN(f_prelu_view, sup_prelu(c, sup_transpose(c, in[0], 0, 2), in[1]))
FN(f_dropout, sup_dropout(c, in[0], 0.4, true))
FN(f_dropout_view, sup_dropout(c, sup_transpose(c, in[0], 0, 1), 0.25, true))
/* Two dropouts in a row draw different masks (the counter advances between them). */
FN(f_dropout_twice, sup_dropout(c, sup_dropout(c, in[0], 0.3, true), 0.3, true))

const struct gradcase gradcases_elementwise[] = {
	{ "add", "same shape", s_same, f_add, 0, 0 },
	{ "add", "[2,3,1] + [4]", s_bc, f_add, 0, 0 },
	{ "add", "[N,C] + [C]", s_bias, f_add, 0, 0 },
	{ "add", "[N,C,H,W] + [1,C,1,1]", s_chan, f_add, 0, 0 },
	{ "add", "transposed view + [1,4]", s_view, f_add_view, 0, 0 },
	{ "add", "0-d + [3,4]", s_scalar_t, f_add, 0, 0 },
	{ "sub", "[3,1] - [1,4]", s_bc2, f_sub, 0, 0 },
	{ "sub", "[C] - [N,C]", s_vec_first, f_sub, 0, 0 },
	{ "sub", "[1,4] - transposed view", s_view, f_sub_view, 0, 0 },
	{ "mul", "same shape", s_same, f_mul, 0, 0 },
	{ "mul", "[2,3,1] * [4]", s_bc, f_mul, 0, 0 },
	{ "mul", "[N,C,H,W] * [1,C,1,1]", s_chan, f_mul, 0, 0 },
	{ "mul", "x * x", s_sym, f_mul_self, 0, 0 },
	{ "mul", "x^T * x^T (views)", s_sym, f_mul_view, 0, 0 },
	{ "mul", "0-d * [3,4]", s_scalar_t, f_mul, 0, 0 },
	{ "div", "[2,3] / [3]", s_pos2, f_div, 0, 0 },
	{ "div", "[3] / [2,3]", s_pos2, f_div_rev, 0, 0 },
	{ "pow", "[2,3] ^ [3]", s_pow, f_pow, 0, 0 },
	{ "minimum", "[2,3,1] vs [4]", s_bc, f_minimum, 0, 0 },
	{ "maximum", "[2,3,1] vs [4]", s_bc, f_maximum, 0, 0 },
	{ "maximum", "transposed view vs [1,4]", s_view, f_maximum_view, 0, 0 },
	{ "where", "cond [3,1], a [3,4], b [4]", s_where, f_where, 0, 0 },
	{ "where", "transposed and sliced views", s_where_view, f_where_view, 0, 0 },
	{ "add_scalar", "+0.75", s_sym, f_add_scalar, 0, 0 },
	{ "mul_scalar", "*-1.5", s_sym, f_mul_scalar, 0, 0 },
	{ "pow_scalar", "x^2.5", s_pos, f_pow_scalar, 0, 0 },
	{ "pow_scalar", "x^3, negative x", s_sym, f_pow_scalar_int, 0, 0 },
	{ "pow_scalar", "x^-0.5", s_pos, f_pow_scalar_neg, 0, 0 },
	{ "clamp", "[-0.7, 1.1]", s_sym, f_clamp, 0, 0 },
	{ "clamp", "(-inf, 0.5]", s_sym, f_clamp_open, 0, 0 },
	{ "neg", "", s_sym, f_neg, 0, 0 },
	{ "exp", "", s_sym, f_exp, 0, 0 },
	{ "log", "", s_pos, f_log, 0, 0 },
	{ "sqrt", "", s_pos, f_sqrt, 0, 0 },
	{ "rsqrt", "", s_pos, f_rsqrt, 0, 0 },
	{ "abs", "", s_sym, f_abs, 0, 0 },
	{ "relu", "", s_sym, f_relu, 0, 0 },
	{ "relu", "transposed view", s_wide, f_relu_view, 0, 0 },
	{ "leaky_relu", "slope 0.1", s_sym, f_leaky, 0, 0 },
	{ "elu", "alpha 1.3", s_sym, f_elu, 0, 0 },
	{ "gelu", "exact (erf)", s_wide, f_gelu, 0, 0 },
	{ "gelu", "tanh approximation", s_wide, f_gelu_tanh, 0, 0 },
	{ "gelu", "strided slice", s_wide, f_gelu_view, 0, 0 },
	{ "sigmoid", "", s_wide, f_sigmoid, 0, 0 },
	{ "tanh", "", s_wide, f_tanh, 0, 0 },
	{ "softplus", "", s_wide, f_softplus, 0, 0 },
	{ "softplus", "|x| up to 40", s_huge, f_softplus, 0, 0 },
	{ "prelu", "per channel [2,3,4]", s_prelu_c, f_prelu, 0, 0 },
	{ "prelu", "per channel [N,C]", s_prelu_2d, f_prelu, 0, 0 },
	{ "prelu", "shared slope", s_prelu_1, f_prelu, 0, 0 },
	{ "prelu", "transposed view [4,3,2]", s_prelu_c, f_prelu_view, 0, 0 },
	{ "dropout", "p = 0.4", s_nchw, f_dropout, 0, 0 },
	{ "dropout", "transposed view", s_sym, f_dropout_view, 0, 0 },
	{ "dropout", "twice", s_wide, f_dropout_twice, 0, 0 },
	{ 0 },
};
