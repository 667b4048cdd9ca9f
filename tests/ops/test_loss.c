/* Behaviour tests of the losses against values worked out by hand (closed forms in the comments),
 * in f64 and f32, plus errors and edge cases (ignored rows, label smoothing, huge logits). */
#include "testutil.h"

#include <math.h>
#include <string.h>

static struct sup_tensor *mk(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
			     const double *vals)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	if (t)
		for (int64_t i = 0; i < sup_tensor_numel(t); i++)
			sup_tensor_set(t, i, vals[i]);
	return t;
}

static double val(const struct sup_tensor *t, int64_t i)
{
	return t ? sup_tensor_get(t, i) : NAN;
}

static void expect_error(struct sup_ctx *c, const struct sup_tensor *t, enum sup_status st, const char *frag1,
			 const char *frag2)
{
	TU_CHECK(t == NULL);
	TU_CHECK_MSG(c->err == st, "status %s, expected %s (%s)", sup_status_str(c->err), sup_status_str(st),
		     sup_ctx_error(c));
	TU_CHECK_MSG(strstr(sup_ctx_error(c), frag1) != NULL, "'%s' not in '%s'", frag1, sup_ctx_error(c));
	if (frag2)
		TU_CHECK_MSG(strstr(sup_ctx_error(c), frag2) != NULL, "'%s' not in '%s'", frag2, sup_ctx_error(c));
	sup_ctx_clear_error(c);
}

/* logits [[1, 2, 3], [1, 0, -1]]. Both rows have lse = m + log(1 + e^-1 + e^-2) with m = 3 and 1:
 *   L = log(1 + e^-1 + e^-2) = 0.40760596444438013
 *   row 0, target 2: lse - 3 = L;   row 1, target 1: lse - 0 = 1 + L. */
#define XL 0.40760596444438013

static void test_cross_entropy(struct sup_ctx *c, enum sup_dtype dt, enum sup_backend be, double tol)
{
	c->backend = be;
	const double logits[] = { 1, 2, 3, 1, 0, -1 };
	struct sup_tensor *x = mk(c, dt, TU_SHAPE(2, 3), logits);
	struct sup_tensor *t = mk(c, SUP_I64, TU_SHAPE(2), (const double[]){ 2, 1 });
	TU_CHECK_NEAR(val(sup_cross_entropy(c, x, t, -100, 0, SUP_REDUCE_MEAN), 0), (XL + 1 + XL) / 2, tol);
	TU_CHECK_NEAR(val(sup_cross_entropy(c, x, t, -100, 0, SUP_REDUCE_SUM), 0), XL + 1 + XL, tol);
	struct sup_tensor *none = sup_cross_entropy(c, x, t, -100, 0, SUP_REDUCE_NONE);
	TU_CHECK(none && none->ndim == 1 && none->shape[0] == 2);
	TU_CHECK_NEAR(val(none, 0), XL, tol);
	TU_CHECK_NEAR(val(none, 1), 1 + XL, tol);

	/* Label smoothing 0.1: (1 - eps) nll + eps mean_c(lse - x_c); mean_c x_c = 2 and 0. */
	struct sup_tensor *ls = sup_cross_entropy(c, x, t, -100, 0.1, SUP_REDUCE_NONE);
	TU_CHECK_NEAR(val(ls, 0), 0.9 * XL + 0.1 * (3 + XL - 2), tol);
	TU_CHECK_NEAR(val(ls, 1), 0.9 * (1 + XL) + 0.1 * (1 + XL), tol);
	TU_CHECK_NEAR(val(sup_cross_entropy(c, x, t, -100, 0.1, SUP_REDUCE_MEAN), 0), (0.9 * XL + 0.1 * (1 + XL) + 1 + XL) / 2,
		      tol);

	/* ignore_index: row 1 dropped; MEAN divides by the one kept row; NONE gives 0 there. */
	struct sup_tensor *ti = mk(c, SUP_I32, TU_SHAPE(2), (const double[]){ 2, -100 });
	TU_CHECK_NEAR(val(sup_cross_entropy(c, x, ti, -100, 0, SUP_REDUCE_MEAN), 0), XL, tol);
	TU_CHECK_NEAR(val(sup_cross_entropy(c, x, ti, -100, 0.1, SUP_REDUCE_SUM), 0), 0.9 * XL + 0.1 * (1 + XL), tol);
	struct sup_tensor *ni = sup_cross_entropy(c, x, ti, -100, 0, SUP_REDUCE_NONE);
	TU_CHECK(val(ni, 1) == 0.0);
	/* Every row ignored: MEAN is 0 / 0 = NaN, as in PyTorch. */
	struct sup_tensor *all = mk(c, SUP_I64, TU_SHAPE(2), (const double[]){ 7, 7 });
	TU_CHECK(isnan(val(sup_cross_entropy(c, x, all, 7, 0, SUP_REDUCE_MEAN), 0)));

	/* Gradient of the mean: (softmax - onehot) / 2 on row 0; row 1 ignored -> 0.
	 * softmax row 0 = (e^-2, e^-1, 1) / (1 + e^-1 + e^-2). */
	x->requires_grad = true;
	struct sup_tensor *loss = sup_cross_entropy(c, x, ti, -100, 0, SUP_REDUCE_MEAN);
	TU_CHECK(sup_backward(c, loss) == SUP_OK);
	const double z = 1 + exp(-1) + exp(-2);
	TU_CHECK_NEAR(sup_tensor_grad_get(x, 0), exp(-2) / z, tol);
	TU_CHECK_NEAR(sup_tensor_grad_get(x, 1), exp(-1) / z, tol);
	TU_CHECK_NEAR(sup_tensor_grad_get(x, 2), 1 / z - 1, tol);
	for (int i = 3; i < 6; i++)
		TU_CHECK(sup_tensor_grad_get(x, i) == 0.0);
	x->requires_grad = false;

	/* Huge logits stay finite (the max shift): row [1000, 0] with target 1 costs 1000. */
	struct sup_tensor *big = mk(c, dt, TU_SHAPE(1, 2), (const double[]){ 1000, 0 });
	struct sup_tensor *t1 = mk(c, SUP_I64, TU_SHAPE(1), (const double[]){ 1 });
	TU_CHECK_NEAR(val(sup_cross_entropy(c, big, t1, -100, 0, SUP_REDUCE_SUM), 0), 1000, tol * 1000);

	/* errors */
	struct sup_tensor *t3 = mk(c, SUP_I64, TU_SHAPE(2), (const double[]){ 0, 3 });
	expect_error(c, sup_cross_entropy(c, x, t3, -100, 0, SUP_REDUCE_MEAN), SUP_ERR_ARG, "cross_entropy", "target 3");
	struct sup_tensor *tn = mk(c, SUP_I64, TU_SHAPE(2), (const double[]){ -1, 0 });
	expect_error(c, sup_cross_entropy(c, x, tn, -100, 0, SUP_REDUCE_MEAN), SUP_ERR_ARG, "cross_entropy", "target -1");
	struct sup_tensor *t_long = mk(c, SUP_I64, TU_SHAPE(3), (const double[]){ 0, 0, 0 });
	expect_error(c, sup_cross_entropy(c, x, t_long, -100, 0, SUP_REDUCE_MEAN), SUP_ERR_SHAPE, "[2, 3]", "[3]");
	expect_error(c, sup_cross_entropy(c, x, x, -100, 0, SUP_REDUCE_MEAN), SUP_ERR_DTYPE, "cross_entropy", NULL);
	expect_error(c, sup_cross_entropy(c, x, t, -100, 1.0, SUP_REDUCE_MEAN), SUP_ERR_ARG, "label_smoothing", NULL);
	expect_error(c, sup_cross_entropy(c, x, t, -100, 0, (enum sup_reduction)7), SUP_ERR_ARG, "reduction", NULL);
	TU_CHECK(sup_cross_entropy(c, NULL, t, -100, 0, SUP_REDUCE_MEAN) == NULL && c->err == SUP_OK);
	sup_ctx_reset(c);
}

static void test_bce(struct sup_ctx *c, enum sup_dtype dt, double tol)
{
	/* max(x, 0) - x t + log1p(e^-|x|):
	 *   x = 0,  t = 1:   log 2
	 *   x = 2,  t = 0:   2 + log1p(e^-2)
	 *   x = -3, t = 0.5: 1.5 + log1p(e^-3) */
	const double e0 = log(2.0), e1 = 2 + log1p(exp(-2.0)), e2 = 1.5 + log1p(exp(-3.0));
	struct sup_tensor *x = mk(c, dt, TU_SHAPE(3), (const double[]){ 0, 2, -3 });
	struct sup_tensor *t = mk(c, dt, TU_SHAPE(3), (const double[]){ 1, 0, 0.5 });
	struct sup_tensor *none = sup_bce_with_logits(c, x, t, SUP_REDUCE_NONE);
	TU_CHECK_NEAR(val(none, 0), e0, tol);
	TU_CHECK_NEAR(val(none, 1), e1, tol);
	TU_CHECK_NEAR(val(none, 2), e2, tol);
	TU_CHECK_NEAR(val(sup_bce_with_logits(c, x, t, SUP_REDUCE_SUM), 0), e0 + e1 + e2, tol);
	TU_CHECK_NEAR(val(sup_bce_with_logits(c, x, t, SUP_REDUCE_MEAN), 0), (e0 + e1 + e2) / 3, tol);

	/* Large |x|: finite values and gradients sigmoid(x) - t. */
	struct sup_tensor *xl = mk(c, dt, TU_SHAPE(4), (const double[]){ 100, -100, 1000, -1000 });
	struct sup_tensor *tl = mk(c, dt, TU_SHAPE(4), (const double[]){ 1, 1, 0, 1 });
	xl->requires_grad = true;
	struct sup_tensor *ll = sup_bce_with_logits(c, xl, tl, SUP_REDUCE_NONE);
	TU_CHECK_NEAR(val(ll, 0), 0, tol);
	TU_CHECK_NEAR(val(ll, 1), 100, tol * 100);
	TU_CHECK_NEAR(val(ll, 2), 1000, tol * 1000);
	TU_CHECK_NEAR(val(ll, 3), 1000, tol * 1000);
	TU_CHECK(sup_backward_grad(c, ll, dt == SUP_F32 ? (const void *)(const float[]){ 1, 1, 1, 1 }
						       : (const void *)(const double[]){ 1, 1, 1, 1 }) == SUP_OK);
	const double want[] = { 0, -1, 1, -1 };
	for (int i = 0; i < 4; i++)
		TU_CHECK_NEAR(sup_tensor_grad_get(xl, i), want[i], tol);

	struct sup_tensor *t2 = mk(c, dt, TU_SHAPE(1, 3), (const double[]){ 1, 0, 0 });
	expect_error(c, sup_bce_with_logits(c, x, t2, SUP_REDUCE_MEAN), SUP_ERR_SHAPE, "[3]", "[1, 3]");
	sup_ctx_reset(c);
}

static void test_mse_kl(struct sup_ctx *c, enum sup_dtype dt, double tol)
{
	/* (a - b)^2 = [1, 4, 0] */
	struct sup_tensor *a = mk(c, dt, TU_SHAPE(3), (const double[]){ 1, 2, 3 });
	struct sup_tensor *b = mk(c, dt, TU_SHAPE(3), (const double[]){ 0, 4, 3 });
	TU_CHECK_NEAR(val(sup_mse(c, a, b, SUP_REDUCE_SUM), 0), 5, tol);
	TU_CHECK_NEAR(val(sup_mse(c, a, b, SUP_REDUCE_MEAN), 0), 5.0 / 3, tol);
	TU_CHECK_NEAR(val(sup_mse(c, a, b, SUP_REDUCE_NONE), 1), 4, tol);
	a->requires_grad = b->requires_grad = true;
	TU_CHECK(sup_backward(c, sup_mse(c, a, b, SUP_REDUCE_MEAN)) == SUP_OK);
	/* d/da = 2 (a - b) / 3 = [2/3, -4/3, 0]; d/db = -d/da */
	TU_CHECK_NEAR(sup_tensor_grad_get(a, 0), 2.0 / 3, tol);
	TU_CHECK_NEAR(sup_tensor_grad_get(a, 1), -4.0 / 3, tol);
	TU_CHECK_NEAR(sup_tensor_grad_get(b, 1), 4.0 / 3, tol);
	struct sup_tensor *b2 = mk(c, dt, TU_SHAPE(2), (const double[]){ 0, 0 });
	expect_error(c, sup_mse(c, a, b2, SUP_REDUCE_MEAN), SUP_ERR_SHAPE, "[3]", "[2]");
	struct sup_tensor *bi = mk(c, SUP_I32, TU_SHAPE(3), (const double[]){ 0, 0, 0 });
	expect_error(c, sup_mse(c, a, bi, SUP_REDUCE_MEAN), SUP_ERR_DTYPE, "mse", NULL);

	/* KL(N(mu, e^lv) || N(0, 1)) = -0.5 (1 + lv - mu^2 - e^lv):
	 *   mu = 0, lv = 0: 0;   mu = 1, lv = log 2: -0.5 (log 2 - 2) = 1 - 0.5 log 2 */
	struct sup_tensor *mu = mk(c, dt, TU_SHAPE(2), (const double[]){ 0, 1 });
	struct sup_tensor *lv = mk(c, dt, TU_SHAPE(2), (const double[]){ 0, log(2.0) });
	TU_CHECK_NEAR(val(sup_gaussian_kl(c, mu, lv, SUP_REDUCE_NONE), 0), 0, tol);
	TU_CHECK_NEAR(val(sup_gaussian_kl(c, mu, lv, SUP_REDUCE_SUM), 0), 1 - 0.5 * log(2.0), tol);
	TU_CHECK_NEAR(val(sup_gaussian_kl(c, mu, lv, SUP_REDUCE_MEAN), 0), (1 - 0.5 * log(2.0)) / 2, tol);
	mu->requires_grad = lv->requires_grad = true;
	TU_CHECK(sup_backward(c, sup_gaussian_kl(c, mu, lv, SUP_REDUCE_SUM)) == SUP_OK);
	/* d/dmu = mu; d/dlv = 0.5 (e^lv - 1) = [0, 0.5] */
	TU_CHECK_NEAR(sup_tensor_grad_get(mu, 1), 1, tol);
	TU_CHECK_NEAR(sup_tensor_grad_get(lv, 0), 0, tol);
	TU_CHECK_NEAR(sup_tensor_grad_get(lv, 1), 0.5, tol);
	sup_ctx_reset(c);
}

int main(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	test_cross_entropy(&c, SUP_F64, SUP_BACKEND_REF, 1e-12);
	test_cross_entropy(&c, SUP_F32, SUP_BACKEND_REF, 2e-6);
	test_cross_entropy(&c, SUP_F32, SUP_BACKEND_CPU, 2e-6);
	c.backend = SUP_BACKEND_CPU;
	test_bce(&c, SUP_F64, 1e-12);
	test_bce(&c, SUP_F32, 2e-6);
	test_mse_kl(&c, SUP_F64, 1e-12);
	test_mse_kl(&c, SUP_F32, 2e-6);
	sup_ctx_deinit(&c);
	return tu_finish("loss");
}
