/* Gradcheck cases: reductions (sum, mean, max, logsumexp, var) over several axis sets, keepdim,
 * negative axes and strided views, and the softmax family (softmax, log_softmax, l2_normalize)
 * along first, middle and last axes. Inputs are random in ranges away from kinks (max: distinct
 * values with probability 1; l2_normalize: norms either all above or all below eps). */
#include "gradcase.h"

#define AX(...) ((const int[]){ __VA_ARGS__ }), (int)(sizeof((int[]){ __VA_ARGS__ }) / sizeof(int))

#define SETUP(name, lo, hi, ...)                                                        \
	static int name(struct sup_ctx *c, struct sup_rng *r, struct sup_tensor **in)   \
	{                                                                               \
		in[0] = tu_leaf(c, r, TU_SHAPE(__VA_ARGS__), lo, hi);                   \
		return 1;                                                               \
	}

#define FN(name, expr)                                                                            \
	static struct sup_tensor *name(struct sup_ctx *c, struct sup_tensor *const *in, void *u)  \
	{                                                                                         \
		(void)u;                                                                          \
		sup_t *x = in[0];                                                                 \
		return (expr);                                                                    \
	}

SETUP(s_34, -1, 1, 3, 4)
SETUP(s_345, -1, 1, 3, 4, 5)
SETUP(s_43, -1, 1, 4, 3)
SETUP(s_234, -1, 1, 2, 3, 4)
SETUP(s_big, 800, 801, 3, 5)       /* logsumexp / softmax: exp would overflow unshifted */
SETUP(s_pos, 0.5, 2, 3, 4)         /* l2_normalize: norms > 1 > eps */
SETUP(s_small, -0.5, 0.5, 3, 4)    /* l2_normalize with eps = 10: every norm is clamped */

/* [4, 3] leaf seen through a transpose: a [3, 4] view with strides (1, 3). */
#define T(x) sup_transpose(c, x, 0, 1)

FN(sum_all, sup_sum(c, x, NULL, 0, false))
FN(sum_ax1, sup_sum(c, x, AX(1), false))
FN(sum_ax02k, sup_sum(c, x, AX(0, 2), true))
FN(sum_neg, sup_sum(c, x, AX(-1, -3), false))
FN(sum_view0, sup_sum(c, T(x), AX(0), false))
/* Fan-out: x feeds two reductions, so its gradient must accumulate. */
FN(sum_fanout, sup_matmul(c, sup_sum(c, x, AX(1), true), sup_max(c, x, AX(1), true), false, true))

FN(mean_all, sup_mean(c, x, NULL, 0, false))
FN(mean_last, sup_mean(c, x, AX(-1), false))
FN(mean_ax02k, sup_mean(c, x, AX(0, 2), true))
FN(mean_view1, sup_mean(c, T(x), AX(1), true))

FN(max_ax1, sup_max(c, x, AX(1), false))
FN(max_all, sup_max(c, x, NULL, 0, false))
FN(max_ax02k, sup_max(c, x, AX(2, 0), true))
FN(max_view0, sup_max(c, T(x), AX(0), false))

FN(lse_ax1, sup_logsumexp(c, x, AX(1), false))
FN(lse_all, sup_logsumexp(c, x, NULL, 0, true))
FN(lse_ax02k, sup_logsumexp(c, x, AX(0, 2), true))
FN(lse_view0, sup_logsumexp(c, T(x), AX(0), false))

FN(var_ax1, sup_var(c, x, AX(1), 1, false))
FN(var_all0, sup_var(c, x, NULL, 0, 0, false))
FN(var_ax02k, sup_var(c, x, AX(0, -1), 1, true))
FN(var_view0, sup_var(c, T(x), AX(0), 1, false))

FN(sm_last, sup_softmax(c, x, -1))
FN(sm_mid, sup_softmax(c, x, 1))
FN(sm_first, sup_softmax(c, x, 0))
FN(sm_view, sup_softmax(c, T(x), 1))

FN(lsm_last, sup_log_softmax(c, x, -1))
FN(lsm_mid, sup_log_softmax(c, x, 1))
FN(lsm_first, sup_log_softmax(c, x, 0))
FN(lsm_view, sup_log_softmax(c, T(x), 1))

FN(l2_last, sup_l2_normalize(c, x, -1, 1e-12))
FN(l2_mid, sup_l2_normalize(c, x, 1, 1e-12))
FN(l2_first, sup_l2_normalize(c, x, 0, 1e-12))
FN(l2_view, sup_l2_normalize(c, T(x), 1, 1e-12))
FN(l2_clamped, sup_l2_normalize(c, x, 1, 10.0))

const struct gradcase gradcases_reduce[] = {
	{ "sum", "all axes", s_34, sum_all, 0, 0 },
	{ "sum", "axis 1 of [3,4,5]", s_345, sum_ax1, 0, 0 },
	{ "sum", "axes {0,2} keepdim (copied layout)", s_345, sum_ax02k, 0, 0 },
	{ "sum", "negative axes {-1,-3}", s_345, sum_neg, 0, 0 },
	{ "sum", "axis 0 of a transposed view", s_43, sum_view0, 0, 0 },
	{ "sum", "fan-out with max through matmul", s_34, sum_fanout, 0, 0 },
	{ "mean", "all axes", s_34, mean_all, 0, 0 },
	{ "mean", "axis -1", s_345, mean_last, 0, 0 },
	{ "mean", "axes {0,2} keepdim", s_345, mean_ax02k, 0, 0 },
	{ "mean", "axis 1 of a transposed view, keepdim", s_43, mean_view1, 0, 0 },
	{ "max", "axis 1", s_34, max_ax1, 0, 0 },
	{ "max", "all axes", s_345, max_all, 0, 0 },
	{ "max", "axes {2,0} keepdim", s_345, max_ax02k, 0, 0 },
	{ "max", "axis 0 of a transposed view", s_43, max_view0, 0, 0 },
	{ "logsumexp", "axis 1", s_34, lse_ax1, 0, 0 },
	{ "logsumexp", "all axes keepdim", s_345, lse_all, 0, 0 },
	{ "logsumexp", "axes {0,2} keepdim", s_345, lse_ax02k, 0, 0 },
	{ "logsumexp", "large inputs (stability)", s_big, lse_ax1, 0, 0 },
	{ "logsumexp", "axis 0 of a transposed view", s_43, lse_view0, 0, 0 },
	{ "var", "axis 1, correction 1", s_34, var_ax1, 0, 0 },
	{ "var", "all axes, correction 0", s_345, var_all0, 0, 0 },
	{ "var", "axes {0,-1} keepdim", s_345, var_ax02k, 0, 0 },
	{ "var", "axis 0 of a transposed view", s_43, var_view0, 0, 0 },
	{ "softmax", "last axis", s_34, sm_last, 0, 0 },
	{ "softmax", "middle axis of [2,3,4]", s_234, sm_mid, 0, 0 },
	{ "softmax", "first axis", s_43, sm_first, 0, 0 },
	{ "softmax", "transposed view", s_43, sm_view, 0, 0 },
	{ "softmax", "large inputs (stability)", s_big, sm_last, 0, 0 },
	{ "log_softmax", "last axis", s_34, lsm_last, 0, 0 },
	{ "log_softmax", "middle axis of [2,3,4]", s_234, lsm_mid, 0, 0 },
	{ "log_softmax", "first axis", s_43, lsm_first, 0, 0 },
	{ "log_softmax", "transposed view", s_43, lsm_view, 0, 0 },
	{ "log_softmax", "large inputs (stability)", s_big, lsm_last, 0, 0 },
	{ "l2_normalize", "last axis", s_pos, l2_last, 0, 0 },
	{ "l2_normalize", "middle axis of [2,3,4]", s_234, l2_mid, 0, 0 },
	{ "l2_normalize", "first axis", s_43, l2_first, 0, 0 },
	{ "l2_normalize", "transposed view", s_43, l2_view, 0, 0 },
	{ "l2_normalize", "norm below eps (clamped)", s_small, l2_clamped, 0, 0 },
	{ 0 },
};
