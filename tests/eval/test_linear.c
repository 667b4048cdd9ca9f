/* Linear probe: 100% on a linearly separable set (with and without top-5), the fit is a
 * stationary point of the objective (gradient recomputed here in f64), label dtypes agree,
 * unlabelled rows are excluded, a given val split is used, determinism, errors. */
#include "testutil.h"
#include "selfsup/eval.h"

#include <stdlib.h>
#include <string.h>

/* Class c is centred on 4 e_c (D >= C) plus uniform noise in [-1, 1) in every dimension, so
 * argmax of the first C coordinates separates the classes. Every 5th row is unlabelled (-1) with
 * garbage features when `holes`. */
static void separable(float *x, int32_t *y, int64_t n, int d, int c, uint64_t seed, bool holes)
{
	struct sup_rng r = sup_rng_make(seed, 2);
	for (int64_t i = 0; i < n; i++) {
		int k = (int)sup_rng_below(&r, (uint64_t)c);
		bool hole = holes && i % 5 == 4;
		for (int j = 0; j < d; j++)
			x[i * d + j] = hole ? 100 * sup_rng_uniform(&r) : 2 * sup_rng_uniform(&r) - 1 + (j == k ? 4 : 0);
		y[i] = hole ? -1 : k;
	}
}

static void test_separable(int c, bool holes)
{
	enum { NTR = 600, NTE = 300, D = 12 };
	float *xtr = malloc(NTR * D * sizeof(float)), *xte = malloc(NTE * D * sizeof(float));
	int32_t ytr[NTR], yte[NTE];
	separable(xtr, ytr, NTR, D, c, 1, holes);
	separable(xte, yte, NTE, D, c, 2, false);
	struct sup_eval_set tr = { xtr, ytr, SUP_I32, NTR, D }, te = { xte, yte, SUP_I32, NTE, D };
	struct sup_linear_probe_result r, r2;
	char err[200] = "";
	TU_CHECK_MSG(sup_eval_linear_probe(&tr, NULL, &te, NULL, &r, err, sizeof err) == SUP_OK, "%s", err);
	TU_CHECK_NEAR(r.top1, 1.0, 0);
	TU_CHECK(r.has_top5 == (c > 5));
	if (c > 5)
		TU_CHECK_NEAR(r.top5, 1.0, 0);
	TU_CHECK(r.n_classes == c && r.n_l2 == 6);
	int64_t labelled = holes ? NTR - NTR / 5 : NTR;
	TU_CHECK(r.n_train + r.n_val == labelled);
	TU_CHECK(r.n_val == (int64_t)llround(0.1 * (double)labelled));
	TU_CHECK(r.n_test == NTE);
	TU_CHECK_NEAR(r.train_top1, 1.0, 0);
	for (int g = 1; g < r.n_l2; g++)
		TU_CHECK(r.grid_l2[g] < r.grid_l2[g - 1]); /* tried from strong to weak */
	/* determinism */
	TU_CHECK(sup_eval_linear_probe(&tr, NULL, &te, NULL, &r2, NULL, 0) == SUP_OK);
	TU_CHECK(memcmp(&r, &r2, sizeof r) == 0);
	free(xtr), free(xte);
}

/* f64 gradient of the objective of eval.h at (w, b), recomputed independently. */
static double grad_inf(const float *x, const int32_t *y, int n, int d, int c, double l2, const float *w,
		       const float *b)
{
	double *g = calloc((size_t)(d * c + c), sizeof *g), m = 0;
	for (int i = 0; i < n; i++) {
		double z[8], mx = -1e300, s = 0;
		for (int k = 0; k < c; k++) {
			z[k] = b[k];
			for (int j = 0; j < d; j++)
				z[k] += (double)x[i * d + j] * w[j * c + k];
			mx = z[k] > mx ? z[k] : mx;
		}
		for (int k = 0; k < c; k++)
			s += exp(z[k] - mx);
		for (int k = 0; k < c; k++) {
			double r = (exp(z[k] - mx) / s - (k == y[i])) / n;
			for (int j = 0; j < d; j++)
				g[j * c + k] += r * x[i * d + j];
			g[d * c + k] += r;
		}
	}
	for (int i = 0; i < d * c + c; i++) {
		double gi = g[i] + (i < d * c ? l2 * w[i] : 0);
		m = fabs(gi) > m ? fabs(gi) : m;
	}
	free(g);
	return m;
}

static void test_logreg_optimum(void)
{
	/* random labels: not separable, so the optimum is finite and unique */
	enum { N = 400, D = 5, C = 3 };
	float x[N * D], w[D * C] = { 0 }, b[C] = { 0 };
	int32_t y[N];
	struct sup_rng r = sup_rng_make(9, 0);
	for (int i = 0; i < N; i++) {
		y[i] = (int32_t)sup_rng_below(&r, C);
		for (int j = 0; j < D; j++)
			x[i * D + j] = (float)sup_rng_normal(&r) + 0.5f * (j == y[i]) + (j == 3 ? 0.9f * x[i * D] : 0);
	}
	struct sup_linear_probe_opts o;
	sup_linear_probe_opts_default(&o);
	o.gtol = 1e-6;
	struct sup_logreg_info info;
	TU_CHECK(sup_logreg_fit(x, y, N, D, C, 0.01, &o, w, b, &info, NULL, 0) == SUP_OK);
	TU_CHECK(info.converged && info.iters < 100);
	double g = grad_inf(x, y, N, D, C, 0.01, w, b);
	TU_CHECK_MSG(g < 1e-5, "gradient at the fit %g (iterations %d)", g, info.iters);
	TU_CHECK(grad_inf(x, y, N, D, C, 0.01, (float[D * C]){ 0 }, b) > 1e-3); /* the check can fail */
	/* errors */
	char err[200] = "";
	y[3] = 3;
	TU_CHECK(sup_logreg_fit(x, y, N, D, C, 0.01, &o, w, b, &info, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "outside [0, 3)") != NULL);
}

static void test_dtypes_and_val(void)
{
	enum { NTR = 300, NVA = 100, NTE = 100, D = 6, C = 3 };
	float *x = malloc((NTR + NVA + NTE) * D * sizeof(float));
	int32_t y[NTR + NVA + NTE];
	int64_t y64[NTR + NVA + NTE];
	uint8_t y8[NTR + NVA + NTE];
	/* overlapping classes (noise 1.5x the separation) so accuracy is below 1 and sensitive */
	struct sup_rng r = sup_rng_make(4, 0);
	for (int i = 0; i < NTR + NVA + NTE; i++) {
		y[i] = (int32_t)sup_rng_below(&r, C);
		y64[i] = y[i], y8[i] = (uint8_t)y[i];
		for (int j = 0; j < D; j++)
			x[i * D + j] = 1.5f * (float)sup_rng_normal(&r) + (j == y[i]);
	}
	struct sup_eval_set tr = { x, y, SUP_I32, NTR, D }, va = { x + NTR * D, y + NTR, SUP_I32, NVA, D },
			    te = { x + (NTR + NVA) * D, y + NTR + NVA, SUP_I32, NTE, D };
	struct sup_linear_probe_result a, b;
	TU_CHECK(sup_eval_linear_probe(&tr, &va, &te, NULL, &a, NULL, 0) == SUP_OK);
	TU_CHECK(a.n_train == NTR && a.n_val == NVA && a.n_test == NTE);
	TU_CHECK(a.top1 > 0.4 && a.top1 < 1); /* chance is 1/3 */
	tr.labels = y64, va.labels = y64 + NTR, te.labels = y8 + NTR + NVA;
	tr.label_dtype = va.label_dtype = SUP_I64, te.label_dtype = SUP_U8;
	TU_CHECK(sup_eval_linear_probe(&tr, &va, &te, NULL, &b, NULL, 0) == SUP_OK);
	TU_CHECK(memcmp(&a, &b, sizeof a) == 0);
	/* a one-value grid is used as given */
	struct sup_linear_probe_opts o;
	sup_linear_probe_opts_default(&o);
	o.n_l2 = 1;
	o.l2[0] = 0.5;
	TU_CHECK(sup_eval_linear_probe(&tr, &va, &te, &o, &b, NULL, 0) == SUP_OK);
	TU_CHECK(b.n_l2 == 1 && b.l2 == 0.5);
	free(x);
}

static void test_errors(void)
{
	const float x[] = { 0, 1, 1, 0, 2, 2, 3, 1 };
	const int32_t y[] = { 0, 1, 0, 1 }, none[] = { -1, -1, -1, -1 }, neg[] = { 0, -5, 1, 0 }, zero[] = { 0, 0, 0, 0 };
	struct sup_eval_set tr = { x, y, SUP_I32, 4, 2 }, te = { x, y, SUP_I32, 2, 4 };
	struct sup_linear_probe_result r;
	char err[200] = "";
	TU_CHECK(sup_eval_linear_probe(&tr, NULL, &te, NULL, &r, err, sizeof err) == SUP_ERR_SHAPE);
	TU_CHECK(strstr(err, "dimensions differ") != NULL);
	te = tr;
	tr.labels = none;
	TU_CHECK(sup_eval_linear_probe(&tr, NULL, &te, NULL, &r, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "no labelled rows in train") != NULL);
	tr.labels = y;
	te.labels = none;
	TU_CHECK(sup_eval_linear_probe(&tr, NULL, &te, NULL, &r, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "no labelled rows in test") != NULL);
	te.labels = neg;
	TU_CHECK(sup_eval_linear_probe(&tr, NULL, &te, NULL, &r, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "-5") != NULL);
	te.labels = y;
	tr.labels = zero;
	te.labels = zero;
	TU_CHECK(sup_eval_linear_probe(&tr, NULL, &te, NULL, &r, err, sizeof err) == SUP_ERR_ARG);
	TU_CHECK(strstr(err, "at least 2 classes") != NULL);
	tr.labels = y, te.labels = y;
	TU_CHECK(sup_eval_linear_probe(&tr, NULL, NULL, NULL, &r, err, sizeof err) == SUP_ERR_ARG);
	struct sup_linear_probe_opts o;
	sup_linear_probe_opts_default(&o);
	o.l2[2] = -1;
	TU_CHECK(sup_eval_linear_probe(&tr, NULL, &te, &o, &r, err, sizeof err) == SUP_ERR_ARG);
	tr.label_dtype = SUP_F32;
	TU_CHECK(sup_eval_linear_probe(&tr, NULL, &te, NULL, &r, err, sizeof err) == SUP_ERR_DTYPE);
}

int main(void)
{
	test_separable(4, false);
	test_separable(8, true);
	test_logreg_optimum();
	test_dtypes_and_val();
	test_errors();
	return tu_finish("eval/linear");
}
