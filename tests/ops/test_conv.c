/* conv2d / conv_transpose2d / pooling / upsampling: forward values against hand-computed
 * numbers, conv_transpose2d as the adjoint of conv2d, pooling gradients, scratch memory, and
 * error cases. Hand-computed cases run on both backends (f64 reference, f32 CPU). */
#include "testutil.h"

#include <string.h>

/* A tensor of dtype dt with the given values (row-major). */
static struct sup_tensor *mk(struct sup_ctx *c, enum sup_dtype dt, const double *v, int ndim, const int64_t *shape)
{
	struct sup_tensor *t = sup_tensor_new(c, dt, ndim, shape);
	if (t && v)
		for (int64_t i = 0; i < sup_tensor_numel(t); i++)
			sup_tensor_set(t, i, v[i]);
	return t;
}

static void check_values(const struct sup_tensor *t, const double *want, int64_t n, const char *what)
{
	TU_CHECK_MSG(t && sup_tensor_numel(t) == n, "%s: no output or wrong size", what);
	if (!t || sup_tensor_numel(t) != n)
		return;
	for (int64_t i = 0; i < n; i++)
		TU_CHECK_MSG(fabs(sup_tensor_get(t, i) - want[i]) <= 1e-5 * (1 + fabs(want[i])), "%s[%lld] = %g, want %g",
			     what, (long long)i, sup_tensor_get(t, i), want[i]);
}

static const double ONE_TO_9[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };

static void test_conv_hand(enum sup_backend be, enum sup_dtype dt)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	c.backend = be;
	struct sup_tensor *x = mk(&c, dt, ONE_TO_9, TU_SHAPE(1, 1, 3, 3));
	struct sup_tensor *w = mk(&c, dt, (const double[]){ 1, 2, 3, 4 }, TU_SHAPE(1, 1, 2, 2));
	struct sup_tensor *b = mk(&c, dt, (const double[]){ 0.5 }, TU_SHAPE(1));
	/* Valid 2x2 correlation: y[i][j] = x[i][j] + 2 x[i][j+1] + 3 x[i+1][j] + 4 x[i+1][j+1] + 0.5. */
	check_values(sup_conv2d(&c, x, w, b, NULL), (const double[]){ 37.5, 47.5, 67.5, 77.5 }, 4, "conv valid");
	/* Padding 1, stride 2: windows start at -1 and 1 in each axis. */
	struct sup_conv2d_args a = { .stride = { 2, 2 }, .padding = { 1, 1 } };
	check_values(sup_conv2d(&c, x, w, NULL, &a), (const double[]){ 4, 18, 36, 77 }, 4, "conv s2 p1");
	/* Dilation 2 with a 2x2 kernel of ones samples the four corners. */
	struct sup_tensor *ones = mk(&c, dt, (const double[]){ 1, 1, 1, 1 }, TU_SHAPE(1, 1, 2, 2));
	struct sup_conv2d_args d = { .dilation = { 2, 2 } };
	check_values(sup_conv2d(&c, x, ones, NULL, &d), (const double[]){ 20 }, 1, "conv dilation 2");
	/* Groups 2: each output channel sees only its own input channel. */
	struct sup_tensor *x2 = mk(&c, dt, (const double[]){ 1, 2, 3, 4, 5, 6, 7, 8 }, TU_SHAPE(1, 2, 2, 2));
	struct sup_tensor *w2 = mk(&c, dt, (const double[]){ 2, -1 }, TU_SHAPE(2, 1, 1, 1));
	struct sup_conv2d_args gr = { .groups = 2 };
	check_values(sup_conv2d(&c, x2, w2, NULL, &gr), (const double[]){ 2, 4, 6, 8, -5, -6, -7, -8 }, 8,
		     "conv groups 2");
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s", sup_ctx_error(&c));
	sup_ctx_deinit(&c);
}

static void test_conv_transpose_hand(enum sup_backend be, enum sup_dtype dt)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	c.backend = be;
	struct sup_tensor *x = mk(&c, dt, (const double[]){ 1, 2, 3, 4 }, TU_SHAPE(1, 1, 2, 2));
	struct sup_tensor *w = mk(&c, dt, (const double[]){ 1, 2, 3, 4 }, TU_SHAPE(1, 1, 2, 2));
	/* Stride 1: the full convolution, out[a][b] = sum_ij x[i][j] w[a-i][b-j]. */
	check_values(sup_conv_transpose2d(&c, x, w, NULL, NULL), (const double[]){ 1, 4, 4, 6, 20, 16, 9, 24, 16 }, 9,
		     "transpose s1");
	/* Stride 2 with a kernel of ones copies each input into a 2x2 block; output_padding adds a
	 * last row and column that only the bias reaches. */
	struct sup_tensor *ones = mk(&c, dt, (const double[]){ 1, 1, 1, 1 }, TU_SHAPE(1, 1, 2, 2));
	struct sup_tensor *b = mk(&c, dt, (const double[]){ 10 }, TU_SHAPE(1));
	struct sup_conv2d_args a = { .stride = { 2, 2 }, .output_padding = { 1, 1 } };
	struct sup_tensor *y = sup_conv_transpose2d(&c, x, ones, b, &a);
	TU_CHECK(y && y->shape[2] == 5 && y->shape[3] == 5);
	double want[25];
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 5; j++)
			want[i * 5 + j] = 10 + (i < 4 && j < 4 ? (double)(1 + (i / 2) * 2 + j / 2) : 0);
	check_values(y, want, 25, "transpose s2 op1 bias");
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s", sup_ctx_error(&c));
	sup_ctx_deinit(&c);
}

static double dot(const struct sup_tensor *a, const struct sup_tensor *b)
{
	double s = 0;
	for (int64_t i = 0; i < sup_tensor_numel(a); i++)
		s += sup_tensor_get(a, i) * sup_tensor_get(b, i);
	return s;
}

/* <conv(x), y> == <x, conv_transpose(y)> for the same weight: an independent check of both. */
static void test_adjoint(enum sup_backend be, enum sup_dtype dt, double tol)
{
	static const struct {
		int64_t n, cin, h, w, cout, kh, kw;
		struct sup_conv2d_args a;
	} cfg[] = {
		{ 2, 3, 7, 8, 4, 3, 3, { .stride = { 2, 2 }, .padding = { 1, 1 } } },
		{ 1, 4, 9, 6, 6, 3, 2, { .dilation = { 2, 1 }, .padding = { 2, 0 }, .groups = 2 } },
		{ 2, 2, 11, 9, 3, 5, 3, { .stride = { 3, 2 }, .padding = { 2, 1 }, .dilation = { 1, 2 } } },
		{ 3, 6, 5, 5, 3, 1, 1, { .groups = 3 } },
		{ 1, 8, 10, 7, 4, 3, 3, { .stride = { 2, 3 }, .padding = { 1, 1 }, .dilation = { 2, 1 }, .groups = 4 } },
	};
	struct sup_ctx c;
	tu_ctx(&c, 3);
	c.backend = be;
	struct sup_rng r = sup_rng_make(5, 1);
	for (size_t i = 0; i < sizeof cfg / sizeof cfg[0]; i++) {
		struct sup_conv2d_args a = cfg[i].a;
		int64_t G = a.groups ? a.groups : 1;
		struct sup_tensor *x = tu_rand(&c, &r, dt, TU_SHAPE(cfg[i].n, cfg[i].cin, cfg[i].h, cfg[i].w), -1, 1);
		struct sup_tensor *w = tu_rand(&c, &r, dt, TU_SHAPE(cfg[i].cout, cfg[i].cin / G, cfg[i].kh, cfg[i].kw), -1, 1);
		struct sup_tensor *y = sup_conv2d(&c, x, w, NULL, &a);
		TU_CHECK_MSG(y != NULL, "adjoint cfg %zu: %s", i, sup_ctx_error(&c));
		if (!y)
			break;
		struct sup_tensor *v = tu_rand(&c, &r, dt, 4, y->shape, -1, 1);
		/* The transposed output must come back to x's size: output_padding takes up the rows the
		 * floor in conv2d's size formula dropped. */
		for (int ax = 0; ax < 2; ax++) {
			int64_t st = a.stride[ax] ? a.stride[ax] : 1, dl = a.dilation[ax] ? a.dilation[ax] : 1;
			int64_t k = ax ? cfg[i].kw : cfg[i].kh, in = ax ? cfg[i].w : cfg[i].h;
			int64_t natural = (y->shape[2 + ax] - 1) * st - 2 * a.padding[ax] + dl * (k - 1) + 1;
			a.output_padding[ax] = (int)(in - natural);
		}
		struct sup_tensor *xt = sup_conv_transpose2d(&c, v, w, NULL, &a);
		TU_CHECK_MSG(xt && sup_tensor_same_shape(xt, x), "adjoint cfg %zu: transpose shape: %s", i, sup_ctx_error(&c));
		if (!xt || !sup_tensor_same_shape(xt, x))
			break;
		double lhs = dot(y, v), rhs = dot(x, xt);
		TU_CHECK_MSG(fabs(lhs - rhs) <= tol * (1 + fabs(lhs)), "adjoint cfg %zu: <conv x, v> = %.12g, <x, convT v> = %.12g",
			     i, lhs, rhs);
	}
	sup_ctx_deinit(&c);
}

static void test_pool_hand(enum sup_backend be, enum sup_dtype dt)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	c.backend = be;
	double v16[16];
	for (int i = 0; i < 16; i++)
		v16[i] = i;
	struct sup_tensor *x = mk(&c, dt, v16, TU_SHAPE(1, 1, 4, 4));
	struct sup_pool2d_args k2 = { .kernel = { 2, 2 } };
	check_values(sup_max_pool2d(&c, x, &k2), (const double[]){ 5, 7, 13, 15 }, 4, "max 2x2");
	check_values(sup_avg_pool2d(&c, x, &k2), (const double[]){ 2.5, 4.5, 10.5, 12.5 }, 4, "avg 2x2");

	/* Padding is -inf for max (all inputs negative: a zero pad would win) and counts toward the
	 * divisor for avg. */
	struct sup_tensor *neg = mk(&c, dt, (const double[]){ -1, -2, -3, -4 }, TU_SHAPE(1, 1, 2, 2));
	struct sup_pool2d_args p1 = { .kernel = { 2, 2 }, .stride = { 1, 1 }, .padding = { 1, 1 } };
	check_values(sup_max_pool2d(&c, neg, &p1), (const double[]){ -1, -1, -2, -1, -1, -2, -3, -3, -4 }, 9,
		     "max padded");
	struct sup_tensor *one = mk(&c, dt, (const double[]){ 1, 1, 1, 1 }, TU_SHAPE(1, 1, 2, 2));
	check_values(sup_avg_pool2d(&c, one, &p1), (const double[]){ .25, .5, .25, .5, 1, .5, .25, .5, .25 }, 9,
		     "avg count_include_pad");

	/* Adaptive 5 -> 3: windows [0,2), [1,4), [3,5). */
	struct sup_tensor *row = mk(&c, dt, (const double[]){ 1, 2, 3, 4, 5 }, TU_SHAPE(1, 1, 1, 5));
	row->requires_grad = true;
	struct sup_tensor *ad = sup_adaptive_avg_pool2d(&c, row, 1, 3);
	check_values(ad, (const double[]){ 1.5, 3, 4.5 }, 3, "adaptive 5->3");
	const double g3[3] = { 1, 1, 1 };
	const float g3f[3] = { 1, 1, 1 };
	if (ad && sup_backward_grad(&c, ad, dt == SUP_F64 ? (const void *)g3 : (const void *)g3f) == SUP_OK)
		for (int i = 0; i < 5; i++) {
			const double want[5] = { .5, .5 + 1.0 / 3, 1.0 / 3, 1.0 / 3 + .5, .5 };
			TU_CHECK_NEAR(sup_tensor_grad_get(row, i), want[i], 1e-6);
		}

	struct sup_tensor *two = mk(&c, dt, (const double[]){ 1, 2 }, TU_SHAPE(1, 1, 1, 2));
	check_values(sup_upsample_nearest2d(&c, two, 2, 2), (const double[]){ 1, 1, 2, 2, 1, 1, 2, 2 }, 8, "upsample");
	TU_CHECK_MSG(sup_ctx_status(&c) == SUP_OK, "%s", sup_ctx_error(&c));
	sup_ctx_deinit(&c);
}

/* With ties the gradient goes to the first (row-major) element of each window; upsample's
 * gradient sums blocks. Uses sup_backward_grad so that no other op group is needed. */
static void test_pool_grads(enum sup_backend be, enum sup_dtype dt)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	c.backend = be;
	struct sup_tensor *x = sup_tensor_full(&c, dt, TU_SHAPE(1, 1, 4, 4), 1.0);
	x->requires_grad = true;
	struct sup_pool2d_args k2s1 = { .kernel = { 2, 2 }, .stride = { 1, 1 } };
	struct sup_tensor *y = sup_max_pool2d(&c, x, &k2s1);
	const double g9[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	const float g9f[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	TU_CHECK(y && sup_backward_grad(&c, y, dt == SUP_F64 ? (const void *)g9 : (const void *)g9f) == SUP_OK);
	for (int i = 0; i < 16; i++)
		TU_CHECK_NEAR(sup_tensor_grad_get(x, i), (i / 4 < 3 && i % 4 < 3) ? 1.0 : 0.0, 0);

	struct sup_tensor *u = mk(&c, dt, (const double[]){ 1, 2 }, TU_SHAPE(1, 1, 1, 2));
	u->requires_grad = true;
	struct sup_tensor *up = sup_upsample_nearest2d(&c, u, 2, 3);
	double gd[12];
	float gf[12];
	for (int i = 0; i < 12; i++)
		gd[i] = gf[i] = (float)i;
	TU_CHECK(up && sup_backward_grad(&c, up, dt == SUP_F64 ? (const void *)gd : (const void *)gf) == SUP_OK);
	/* Rows [0..5] and [6..11]: block of column 0 = 0+1+2+6+7+8, column 1 = 3+4+5+9+10+11. */
	TU_CHECK_NEAR(sup_tensor_grad_get(u, 0), 24, 0);
	TU_CHECK_NEAR(sup_tensor_grad_get(u, 1), 42, 0);
	sup_ctx_deinit(&c);
}

/* Scratch for the fast kernels is released after each call: the arena grows by the output and
 * the node only. */
static void test_scratch_released(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(1, 2);
	struct sup_tensor *x = tu_rand(&c, &r, SUP_F32, TU_SHAPE(8, 16, 14, 14), -1, 1);
	struct sup_tensor *w = tu_rand(&c, &r, SUP_F32, TU_SHAPE(32, 16, 3, 3), -1, 1);
	w->requires_grad = true;
	size_t before = c.arena.used;
	struct sup_conv2d_args a = { .padding = { 1, 1 } };
	struct sup_tensor *y = sup_conv2d(&c, x, w, NULL, &a);
	size_t grew = c.arena.used - before;
	TU_CHECK_MSG(y && grew < sup_tensor_nbytes(y) + 4096, "forward kept %zu bytes for a %zu-byte output", grew,
		     y ? sup_tensor_nbytes(y) : 0);
	sup_ctx_deinit(&c);
}

static void expect_error(struct sup_ctx *c, struct sup_tensor *got, enum sup_status st, const char *s1, const char *s2,
			 const char *what)
{
	TU_CHECK_MSG(got == NULL, "%s: returned a tensor", what);
	TU_CHECK_MSG(sup_ctx_status(c) == st, "%s: status %s, want %s (%s)", what, sup_status_str(sup_ctx_status(c)),
		     sup_status_str(st), sup_ctx_error(c));
	TU_CHECK_MSG(!s1 || strstr(sup_ctx_error(c), s1), "%s: message '%s' lacks '%s'", what, sup_ctx_error(c), s1);
	TU_CHECK_MSG(!s2 || strstr(sup_ctx_error(c), s2), "%s: message '%s' lacks '%s'", what, sup_ctx_error(c), s2);
	sup_ctx_clear_error(c);
}

static void test_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_tensor *x = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(1, 3, 5, 5));
	struct sup_tensor *x2 = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(1, 1, 2, 2));
	struct sup_tensor *x3 = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(3, 5, 5));
	struct sup_tensor *w = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(4, 3, 3, 3));
	struct sup_tensor *w1 = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(4, 1, 3, 3));
	struct sup_tensor *w2 = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(4, 2, 3, 3));
	struct sup_tensor *w11 = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(1, 1, 3, 3));
	struct sup_tensor *wd = sup_tensor_zeros(&c, SUP_F64, TU_SHAPE(4, 3, 3, 3));
	struct sup_tensor *b3 = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(3));
	struct sup_conv2d_args g2 = { .groups = 2 };
	expect_error(&c, sup_conv2d(&c, x, w1, NULL, &g2), SUP_ERR_SHAPE, "[1, 3, 5, 5]", "[4, 1, 3, 3]",
		     "channels not divisible by groups");
	expect_error(&c, sup_conv2d(&c, x, w2, NULL, NULL), SUP_ERR_SHAPE, "[1, 3, 5, 5]", "[4, 2, 3, 3]",
		     "weight channels mismatch");
	expect_error(&c, sup_conv2d(&c, x2, w11, NULL, NULL), SUP_ERR_SHAPE, "larger", "[1, 1, 3, 3]",
		     "kernel larger than input");
	struct sup_conv2d_args p1 = { .padding = { 1, 1 } };
	TU_CHECK(sup_conv2d(&c, x2, w11, NULL, &p1) != NULL); /* fits once padded */
	expect_error(&c, sup_conv2d(&c, x, w, b3, NULL), SUP_ERR_SHAPE, "[3]", "bias", "bias size");
	expect_error(&c, sup_conv2d(&c, x3, w, NULL, NULL), SUP_ERR_SHAPE, "[3, 5, 5]", NULL, "rank 3 input");
	expect_error(&c, sup_conv2d(&c, x, wd, NULL, NULL), SUP_ERR_DTYPE, "f64", NULL, "mixed dtypes");
	struct sup_conv2d_args neg = { .stride = { -1, 1 } };
	expect_error(&c, sup_conv2d(&c, x, w, NULL, &neg), SUP_ERR_ARG, "conv2d", NULL, "negative stride");
	struct sup_conv2d_args op = { .output_padding = { 1, 0 } };
	expect_error(&c, sup_conv2d(&c, x, w, NULL, &op), SUP_ERR_ARG, "output_padding", NULL, "conv2d output_padding");
	/* conv_transpose2d: weight [Cin, Cout/groups, KH, KW] must match the input's channels. */
	expect_error(&c, sup_conv_transpose2d(&c, x, w, NULL, NULL), SUP_ERR_SHAPE, "[1, 3, 5, 5]", "[4, 3, 3, 3]",
		     "transpose Cin mismatch");
	struct sup_conv2d_args big_op = { .stride = { 2, 2 }, .output_padding = { 2, 0 } };
	struct sup_tensor *wt = sup_tensor_zeros(&c, SUP_F32, TU_SHAPE(3, 2, 3, 3));
	expect_error(&c, sup_conv_transpose2d(&c, x, wt, NULL, &big_op), SUP_ERR_ARG, "output_padding", NULL,
		     "transpose output_padding >= stride");
	struct sup_conv2d_args tg = { .groups = 2 };
	expect_error(&c, sup_conv_transpose2d(&c, x, wt, NULL, &tg), SUP_ERR_SHAPE, "groups", "[3, 2, 3, 3]",
		     "transpose channels not divisible");
	/* Pooling. */
	struct sup_pool2d_args k3 = { .kernel = { 3, 3 } };
	expect_error(&c, sup_max_pool2d(&c, x2, &k3), SUP_ERR_SHAPE, "[1, 1, 2, 2]", "larger", "pool kernel too big");
	struct sup_pool2d_args padbig = { .kernel = { 2, 2 }, .padding = { 2, 0 } };
	expect_error(&c, sup_avg_pool2d(&c, x, &padbig), SUP_ERR_ARG, "padding", NULL, "pool padding > kernel/2");
	expect_error(&c, sup_max_pool2d(&c, x, NULL), SUP_ERR_ARG, "max_pool2d", NULL, "pool without args");
	expect_error(&c, sup_max_pool2d(&c, x3, &k3), SUP_ERR_SHAPE, "[3, 5, 5]", NULL, "pool rank 3");
	expect_error(&c, sup_adaptive_avg_pool2d(&c, x, 0, 2), SUP_ERR_ARG, "adaptive_avg_pool2d", NULL, "adaptive 0");
	expect_error(&c, sup_upsample_nearest2d(&c, x, 1, 0), SUP_ERR_ARG, "upsample_nearest2d", NULL, "upsample 0");
	/* A NULL input (an earlier failure) gives NULL without a new error. */
	TU_CHECK(sup_conv2d(&c, NULL, w, NULL, NULL) == NULL && sup_ctx_status(&c) == SUP_OK);
	TU_CHECK(sup_max_pool2d(&c, NULL, &k3) == NULL && sup_ctx_status(&c) == SUP_OK);
	sup_ctx_deinit(&c);
}

int main(void)
{
	const enum sup_backend be[2] = { SUP_BACKEND_REF, SUP_BACKEND_CPU };
	const enum sup_dtype dt[2] = { SUP_F64, SUP_F32 };
	for (int i = 0; i < 2; i++) {
		test_conv_hand(be[i], dt[i]);
		test_conv_transpose_hand(be[i], dt[i]);
		test_pool_hand(be[i], dt[i]);
		test_pool_grads(be[i], dt[i]);
	}
	test_adjoint(SUP_BACKEND_REF, SUP_F64, 1e-12);
	test_adjoint(SUP_BACKEND_CPU, SUP_F32, 1e-4);
	test_scratch_released();
	test_errors();
	return tu_finish("conv ops");
}
