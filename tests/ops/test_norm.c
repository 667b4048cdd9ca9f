/* layer_norm and batch_norm behaviour: hand-computed values, normalised statistics checked by
 * independent loops, the running-statistics update formula, eval mode, gradient identities and
 * error cases. Runs on both backends (f32 through the fast kernels, f64 through the reference). */
#include "testutil.h"

#include <string.h>

static struct sup_tensor *from(struct sup_ctx *c, enum sup_dtype dt, int ndim, const int64_t *shape,
			       const double *v)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	for (int64_t i = 0; t && i < sup_tensor_numel(t); i++)
		sup_tensor_set(t, i, v[i]);
	return t;
}

/* ---- layer norm ---------------------------------------------------------------------------------- */

static void test_ln_hand(enum sup_dtype dt)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	/* Row [1, 2, 3, 4]: mean 2.5, biased var 1.25; with eps 0, y = (x - 2.5) / sqrt(1.25). */
	struct sup_tensor *x = from(&c, dt, TU_SHAPE(2, 4), (const double[]){ 1, 2, 3, 4, 5, 5, 5, 7 });
	struct sup_tensor *w = from(&c, dt, TU_SHAPE(4), (const double[]){ 1, 2, 1, 1 });
	struct sup_tensor *b = from(&c, dt, TU_SHAPE(4), (const double[]){ 0, 0, 10, 0 });
	struct sup_tensor *y = sup_layer_norm(&c, x, w, b, 0.0);
	TU_CHECK(y && y->ndim == 2 && y->shape[0] == 2 && y->shape[1] == 4 && y->dtype == dt);
	const double tol = dt == SUP_F32 ? 1e-6 : 1e-12;
	const double e[4] = { -1.3416407864998738, -2 * 0.4472135954999579, 10 + 0.4472135954999579,
			      1.3416407864998738 };
	for (int j = 0; y && j < 4; j++)
		TU_CHECK_NEAR(sup_tensor_get(y, j), e[j], tol);
	/* Row [5, 5, 5, 7]: mean 5.5, var 0.75. */
	const double s = 1.0 / sqrt(0.75);
	const double e2[4] = { -0.5 * s, -2 * 0.5 * s, 10 - 0.5 * s, 1.5 * s };
	for (int j = 0; y && j < 4; j++)
		TU_CHECK_NEAR(sup_tensor_get(y, 4 + j), e2[j], tol);
	TU_CHECK(c.err == SUP_OK);
	sup_ctx_deinit(&c);
}

/* Random rows: after normalisation each row has mean 0 and variance v / (v + eps) (v the row's
 * variance, computed here independently); the affine version equals xhat * w + b. */
static void test_ln_stats(enum sup_backend be, enum sup_dtype dt, int64_t R, int64_t C)
{
	struct sup_ctx c;
	tu_ctx(&c, 2);
	c.backend = be;
	struct sup_rng r = sup_rng_make(5, (uint64_t)(R * 1000 + C));
	struct sup_tensor *x = tu_rand(&c, &r, dt, TU_SHAPE(R, C), -3, 5);
	struct sup_tensor *w = tu_rand(&c, &r, dt, TU_SHAPE(C), 0.5, 2);
	struct sup_tensor *b = tu_rand(&c, &r, dt, TU_SHAPE(C), -1, 1);
	const double eps = 1e-3;
	struct sup_tensor *y = sup_layer_norm(&c, x, NULL, NULL, eps);
	struct sup_tensor *ya = sup_layer_norm(&c, x, w, b, eps);
	TU_CHECK(y && ya);
	const double tol = dt == SUP_F32 ? 2e-5 : 1e-11;
	for (int64_t i = 0; y && ya && i < R; i++) {
		double mx = 0, vx = 0, my = 0, vy = 0, err = 0;
		for (int64_t j = 0; j < C; j++)
			mx += sup_tensor_get(x, i * C + j) / (double)C;
		for (int64_t j = 0; j < C; j++) {
			double d = sup_tensor_get(x, i * C + j) - mx;
			vx += d * d / (double)C;
			my += sup_tensor_get(y, i * C + j) / (double)C;
		}
		for (int64_t j = 0; j < C; j++) {
			double yv = sup_tensor_get(y, i * C + j);
			vy += (yv - my) * (yv - my) / (double)C;
			double want = (sup_tensor_get(x, i * C + j) - mx) / sqrt(vx + eps) * sup_tensor_get(w, j) +
				      sup_tensor_get(b, j);
			double e = fabs(sup_tensor_get(ya, i * C + j) - want);
			err = e > err ? e : err;
		}
		TU_CHECK_NEAR(my, 0.0, tol);
		TU_CHECK_NEAR(vy, vx / (vx + eps), 10 * tol);
		TU_CHECK_MSG(err <= 10 * tol, "row %lld: affine error %g", (long long)i, err);
	}
	sup_ctx_deinit(&c);
}

/* Layer norm is invariant to shifting a row, so every row of dx sums to 0 whatever dy is; with
 * eps = 0 it is invariant to scaling too, so sum_j x_j dx_j = 0. */
static void test_ln_grad_identities(enum sup_dtype dt)
{
	struct sup_ctx c;
	tu_ctx(&c, 3);
	struct sup_rng r = sup_rng_make(6, 1);
	const int64_t R = 9, C = 70;
	struct sup_tensor *x = tu_rand(&c, &r, dt, TU_SHAPE(R, C), -2, 2);
	struct sup_tensor *w = tu_rand(&c, &r, dt, TU_SHAPE(C), 0.5, 2);
	struct sup_tensor *g = tu_rand(&c, &r, dt, TU_SHAPE(R, C), -1, 1);
	x->requires_grad = w->requires_grad = true;
	struct sup_tensor *y = sup_layer_norm(&c, x, w, NULL, 0.0);
	TU_CHECK(sup_backward_grad(&c, y, g->data) == SUP_OK);
	const double tol = dt == SUP_F32 ? 1e-4 : 1e-11;
	for (int64_t i = 0; x->grad && i < R; i++) {
		double s = 0, sx = 0, mag = 0;
		for (int64_t j = 0; j < C; j++) {
			double d = sup_tensor_grad_get(x, i * C + j);
			s += d;
			sx += d * sup_tensor_get(x, i * C + j);
			mag += fabs(d);
		}
		TU_CHECK_MSG(mag > 0.1, "row %lld: dx is (near) zero", (long long)i);
		TU_CHECK_NEAR(s, 0.0, tol);
		TU_CHECK_NEAR(sx, 0.0, tol);
	}
	/* dw[j] = sum_i g[i][j] xhat[i][j], with xhat from independent statistics. */
	for (int64_t j = 0; w->grad && j < C; j += 13) {
		double want = 0;
		for (int64_t i = 0; i < R; i++) {
			double m = 0, v = 0;
			for (int64_t k = 0; k < C; k++)
				m += sup_tensor_get(x, i * C + k) / (double)C;
			for (int64_t k = 0; k < C; k++)
				v += pow(sup_tensor_get(x, i * C + k) - m, 2) / (double)C;
			want += sup_tensor_get(g, i * C + j) * (sup_tensor_get(x, i * C + j) - m) / sqrt(v);
		}
		TU_CHECK_NEAR(sup_tensor_grad_get(w, j), want, tol * 10);
	}
	sup_ctx_deinit(&c);
}

static bool msg_has(const struct sup_ctx *c, const char *a, const char *b)
{
	const char *m = sup_ctx_error(c);
	return strstr(m, a) && (!b || strstr(m, b));
}

static void test_ln_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 4);
	struct sup_rng r = sup_rng_make(7, 1);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, TU_SHAPE(3, 5), -1, 1);
	struct sup_tensor *w4 = tu_rand(&c, &r, SUP_F32, TU_SHAPE(4), -1, 1);
	struct sup_tensor *w5d = tu_rand(&c, &r, SUP_F64, TU_SHAPE(5), -1, 1);
	struct sup_tensor *w2d = tu_rand(&c, &r, SUP_F32, TU_SHAPE(1, 5), -1, 1);
	TU_CHECK(sup_layer_norm(&c, x, w4, NULL, 1e-5) == NULL && c.err == SUP_ERR_SHAPE);
	TU_CHECK_MSG(msg_has(&c, "layer_norm", "[3, 5]") && msg_has(&c, "[4]", NULL), "%s", sup_ctx_error(&c));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_layer_norm(&c, x, NULL, w2d, 1e-5) == NULL && c.err == SUP_ERR_SHAPE);
	TU_CHECK_MSG(msg_has(&c, "bias", "[1, 5]"), "%s", sup_ctx_error(&c));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_layer_norm(&c, x, w5d, NULL, 1e-5) == NULL && c.err == SUP_ERR_DTYPE);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_layer_norm(&c, x, NULL, NULL, -1.0) == NULL && c.err == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	struct sup_tensor *xi = sup_tensor_zeros(&c, SUP_I32, TU_SHAPE(3, 5));
	TU_CHECK(sup_layer_norm(&c, xi, NULL, NULL, 1e-5) == NULL && c.err == SUP_ERR_DTYPE);
	sup_ctx_clear_error(&c);
	/* A NULL input (an earlier failure) returns NULL silently; a sticky error blocks the op. */
	TU_CHECK(sup_layer_norm(&c, NULL, NULL, NULL, 1e-5) == NULL && c.err == SUP_OK);
	sup_ctx_fail(&c, SUP_ERR_IO, "earlier");
	TU_CHECK(sup_layer_norm(&c, x, NULL, NULL, 1e-5) == NULL && c.err == SUP_ERR_IO);
	sup_ctx_deinit(&c);
}

/* ---- batch norm ---------------------------------------------------------------------------------- */

static void test_bn_hand(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 5);
	/* One channel, x = [1, 3]: mean 2, biased var 1, unbiased 2. momentum 0.1 from (0, 1):
	 * running_mean 0.2, running_var 0.9 + 0.2 = 1.1; y = [-1, 1] / sqrt(1 + eps). */
	struct sup_tensor *x = from(&c, SUP_F64, TU_SHAPE(2, 1), (const double[]){ 1, 3 });
	struct sup_tensor *rm = from(&c, SUP_F32, TU_SHAPE(1), (const double[]){ 0 });
	struct sup_tensor *rv = from(&c, SUP_F32, TU_SHAPE(1), (const double[]){ 1 });
	struct sup_tensor *y = sup_batch_norm(&c, x, NULL, NULL, rm, rv, NULL); /* defaults: training */
	TU_CHECK(y != NULL);
	if (y) {
		TU_CHECK_NEAR(sup_tensor_get(y, 0), -1 / sqrt(1 + 1e-5), 1e-12);
		TU_CHECK_NEAR(sup_tensor_get(y, 1), 1 / sqrt(1 + 1e-5), 1e-12);
	}
	TU_CHECK_NEAR(sup_tensor_get(rm, 0), 0.2, 1e-7);
	TU_CHECK_NEAR(sup_tensor_get(rv, 0), 1.1, 1e-6);
	/* Eval with those running stats, weight 2, bias 1: y = (x - 0.2) / sqrt(1.1 + 0.5) * 2 + 1. */
	struct sup_tensor *w = from(&c, SUP_F64, TU_SHAPE(1), (const double[]){ 2 });
	struct sup_tensor *b = from(&c, SUP_F64, TU_SHAPE(1), (const double[]){ 1 });
	struct sup_batch_norm_args ev = { .training = false, .momentum = 0.1, .eps = 0.5 };
	y = sup_batch_norm(&c, x, w, b, rm, rv, &ev);
	const double k = 2 / sqrt((double)1.1f + 0.5);
	if (y) {
		TU_CHECK_NEAR(sup_tensor_get(y, 0), (1 - (double)0.2f) * k + 1, 1e-12);
		TU_CHECK_NEAR(sup_tensor_get(y, 1), (3 - (double)0.2f) * k + 1, 1e-12);
	}
	TU_CHECK_NEAR(sup_tensor_get(rm, 0), 0.2, 1e-7); /* eval leaves them alone */
	TU_CHECK(c.err == SUP_OK);
	sup_ctx_deinit(&c);
}

/* Per-channel statistics of the output (independent loops): mean 0, var v / (v + eps); the
 * running stats after one step equal the formula, written through non-contiguous views. */
static void test_bn_train(enum sup_backend be, enum sup_dtype dt, int64_t N, int64_t C, int64_t H, int64_t W)
{
	struct sup_ctx c;
	tu_ctx(&c, 6);
	c.backend = be;
	struct sup_rng r = sup_rng_make(8, (uint64_t)(N * 100 + C));
	const int64_t S = H * W, M = N * S;
	struct sup_tensor *x = H ? tu_rand(&c, &r, dt, TU_SHAPE(N, C, H, W), -1, 3)
				 : tu_rand(&c, &r, dt, TU_SHAPE(N, C), -1, 3);
	const int64_t SS = H ? S : 1, MM = H ? M : N;
	/* running stats: every other element of a [2C] buffer (strided views). */
	struct sup_tensor *bm = tu_rand(&c, &r, SUP_F64, TU_SHAPE(2 * C), -1, 1);
	struct sup_tensor *bv = tu_rand(&c, &r, SUP_F32, TU_SHAPE(2 * C), 0.5, 2);
	struct sup_tensor *bm0 = sup_tensor_clone(&c, bm), *bv0 = sup_tensor_clone(&c, bv);
	struct sup_tensor *rm = sup_slice(&c, bm, 0, 0, 2 * C, 2), *rv = sup_slice(&c, bv, 0, 1, 2 * C, 2);
	const double eps = 1e-3, mom = 0.25;
	struct sup_batch_norm_args o = { .training = true, .momentum = mom, .eps = eps };
	struct sup_tensor *y = sup_batch_norm(&c, x, NULL, NULL, rm, rv, &o);
	TU_CHECK(y != NULL);
	const double tol = dt == SUP_F32 ? 3e-5 : 1e-11;
	for (int64_t ch = 0; y && ch < C; ch++) {
		double mx = 0, vx = 0, my = 0, vy = 0;
		for (int64_t n = 0; n < N; n++)
			for (int64_t i = 0; i < SS; i++) {
				mx += sup_tensor_get(x, (n * C + ch) * SS + i) / (double)MM;
				my += sup_tensor_get(y, (n * C + ch) * SS + i) / (double)MM;
			}
		for (int64_t n = 0; n < N; n++)
			for (int64_t i = 0; i < SS; i++) {
				vx += pow(sup_tensor_get(x, (n * C + ch) * SS + i) - mx, 2) / (double)MM;
				vy += pow(sup_tensor_get(y, (n * C + ch) * SS + i) - my, 2) / (double)MM;
			}
		TU_CHECK_NEAR(my, 0.0, tol);
		TU_CHECK_NEAR(vy, vx / (vx + eps), 10 * tol);
		TU_CHECK_NEAR(sup_tensor_get(bm, 2 * ch), (1 - mom) * sup_tensor_get(bm0, 2 * ch) + mom * mx, 1e-5);
		TU_CHECK_NEAR(sup_tensor_get(bv, 2 * ch + 1),
			      (1 - mom) * sup_tensor_get(bv0, 2 * ch + 1) + mom * vx * (double)MM / (double)(MM - 1),
			      1e-5);
		/* the elements between the views are untouched */
		TU_CHECK(sup_tensor_get(bm, 2 * ch + 1) == sup_tensor_get(bm0, 2 * ch + 1));
		TU_CHECK(sup_tensor_get(bv, 2 * ch) == sup_tensor_get(bv0, 2 * ch));
	}
	sup_ctx_deinit(&c);
}

/* Eval mode against the formula; the gradient is the affine map: dx = dy w / sqrt(rv + eps),
 * dw = sum dy xhat, db = sum dy. Training mode: per-channel dx sums to 0. */
static void test_bn_eval_grad(enum sup_dtype dt)
{
	struct sup_ctx c;
	tu_ctx(&c, 7);
	struct sup_rng r = sup_rng_make(9, 2);
	const int64_t N = 3, C = 4, H = 2, W = 3, S = H * W;
	struct sup_tensor *x = tu_rand(&c, &r, dt, TU_SHAPE(N, C, H, W), -1, 1);
	struct sup_tensor *w = tu_rand(&c, &r, dt, TU_SHAPE(C), 0.5, 2);
	struct sup_tensor *b = tu_rand(&c, &r, dt, TU_SHAPE(C), -1, 1);
	struct sup_tensor *rm = tu_rand(&c, &r, dt, TU_SHAPE(C), -1, 1);
	struct sup_tensor *rv = tu_rand(&c, &r, dt, TU_SHAPE(C), 0.5, 2);
	struct sup_tensor *g = tu_rand(&c, &r, dt, TU_SHAPE(N, C, H, W), -1, 1);
	x->requires_grad = w->requires_grad = b->requires_grad = true;
	struct sup_batch_norm_args o = { .training = false, .momentum = 0.1, .eps = 1e-2 };
	struct sup_tensor *y = sup_batch_norm(&c, x, w, b, rm, rv, &o);
	TU_CHECK(sup_backward_grad(&c, y, g->data) == SUP_OK);
	const double tol = dt == SUP_F32 ? 2e-5 : 1e-12;
	for (int64_t ch = 0; y && ch < C; ch++) {
		const double rs = 1 / sqrt(sup_tensor_get(rv, ch) + 1e-2), wc = sup_tensor_get(w, ch);
		double dw = 0, db = 0;
		for (int64_t n = 0; n < N; n++)
			for (int64_t i = 0; i < S; i++) {
				const int64_t o2 = (n * C + ch) * S + i;
				const double xh = (sup_tensor_get(x, o2) - sup_tensor_get(rm, ch)) * rs;
				TU_CHECK_NEAR(sup_tensor_get(y, o2), xh * wc + sup_tensor_get(b, ch), tol);
				TU_CHECK_NEAR(sup_tensor_grad_get(x, o2), sup_tensor_get(g, o2) * wc * rs, tol);
				dw += sup_tensor_get(g, o2) * xh;
				db += sup_tensor_get(g, o2);
			}
		TU_CHECK_NEAR(sup_tensor_grad_get(w, ch), dw, 10 * tol);
		TU_CHECK_NEAR(sup_tensor_grad_get(b, ch), db, 10 * tol);
	}
	/* Training: the output is invariant to shifting a channel, so dx sums to 0 per channel. */
	sup_grad_release(&c, x);
	o.training = true;
	y = sup_batch_norm(&c, x, w, b, NULL, NULL, &o);
	TU_CHECK(sup_backward_grad(&c, y, g->data) == SUP_OK);
	for (int64_t ch = 0; x->grad && ch < C; ch++) {
		double s = 0, mag = 0;
		for (int64_t n = 0; n < N; n++)
			for (int64_t i = 0; i < S; i++) {
				s += sup_tensor_grad_get(x, (n * C + ch) * S + i);
				mag += fabs(sup_tensor_grad_get(x, (n * C + ch) * S + i));
			}
		TU_CHECK(mag > 0.1);
		TU_CHECK_NEAR(s, 0.0, 10 * tol);
	}
	sup_ctx_deinit(&c);
}

static void test_bn_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 8);
	struct sup_rng r = sup_rng_make(10, 1);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, TU_SHAPE(4, 3), -1, 1);
	struct sup_tensor *x3 = tu_rand(&c, &r, SUP_F32, TU_SHAPE(4, 3, 2), -1, 1);
	struct sup_tensor *x1 = tu_rand(&c, &r, SUP_F32, TU_SHAPE(1, 3), -1, 1);
	struct sup_tensor *v3 = tu_rand(&c, &r, SUP_F32, TU_SHAPE(3), 0.5, 1);
	struct sup_tensor *v2 = tu_rand(&c, &r, SUP_F32, TU_SHAPE(2), 0.5, 1);
	struct sup_tensor *vi = sup_tensor_zeros(&c, SUP_I32, TU_SHAPE(3));
	struct sup_batch_norm_args tr = { true, 0.1, 1e-5, NULL }, ev = { false, 0.1, 1e-5, NULL }, bad = { true, 1.5, 1e-5, NULL };
	TU_CHECK(sup_batch_norm(&c, x3, NULL, NULL, NULL, NULL, &tr) == NULL && c.err == SUP_ERR_SHAPE);
	TU_CHECK_MSG(msg_has(&c, "batch_norm", "[4, 3, 2]"), "%s", sup_ctx_error(&c));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_batch_norm(&c, x, v2, NULL, NULL, NULL, &tr) == NULL && c.err == SUP_ERR_SHAPE);
	TU_CHECK_MSG(msg_has(&c, "[4, 3]", "[2]"), "%s", sup_ctx_error(&c));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_batch_norm(&c, x, NULL, NULL, v2, v3, &tr) == NULL && c.err == SUP_ERR_SHAPE);
	TU_CHECK_MSG(msg_has(&c, "running_mean", NULL), "%s", sup_ctx_error(&c));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_batch_norm(&c, x, NULL, NULL, v3, vi, &tr) == NULL && c.err == SUP_ERR_DTYPE);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_batch_norm(&c, x, NULL, NULL, v3, NULL, &ev) == NULL && c.err == SUP_ERR_ARG);
	TU_CHECK_MSG(msg_has(&c, "eval", NULL), "%s", sup_ctx_error(&c));
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_batch_norm(&c, x1, NULL, NULL, NULL, NULL, &tr) == NULL && c.err == SUP_ERR_SHAPE);
	sup_ctx_clear_error(&c);
	TU_CHECK(sup_batch_norm(&c, x, NULL, NULL, NULL, NULL, &bad) == NULL && c.err == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	/* [1, 3] is fine in eval mode (no batch statistics needed). */
	TU_CHECK(sup_batch_norm(&c, x1, NULL, NULL, v3, v3, &ev) != NULL && c.err == SUP_OK);
	TU_CHECK(sup_batch_norm(&c, NULL, v3, NULL, NULL, NULL, &tr) == NULL && c.err == SUP_OK);
	sup_ctx_deinit(&c);
}

int main(void)
{
	test_ln_hand(SUP_F32);
	test_ln_hand(SUP_F64);
	const int64_t sizes[] = { 1, 7, 33, 257 };
	for (int i = 0; i < 4; i++) {
		test_ln_stats(SUP_BACKEND_CPU, SUP_F32, 5, sizes[i]);
		test_ln_stats(SUP_BACKEND_REF, SUP_F32, sizes[i], 6);
		test_ln_stats(SUP_BACKEND_CPU, SUP_F64, sizes[i], 9);
	}
	test_ln_grad_identities(SUP_F32);
	test_ln_grad_identities(SUP_F64);
	test_ln_errors();
	test_bn_hand();
	for (int be = 0; be < SUP_BACKEND_COUNT; be++) {
		test_bn_train((enum sup_backend)be, SUP_F32, 16, 5, 0, 0);
		test_bn_train((enum sup_backend)be, SUP_F32, 3, 70, 4, 5);
		test_bn_train((enum sup_backend)be, SUP_F32, 2, 1, 1, 1);
	}
	test_bn_train(SUP_BACKEND_CPU, SUP_F64, 2, 3, 3, 3);
	test_bn_train(SUP_BACKEND_CPU, SUP_F64, 9, 66, 0, 0);
	test_bn_eval_grad(SUP_F32);
	test_bn_eval_grad(SUP_F64);
	test_bn_errors();
	return tu_finish("norm");
}
