/* Contrastive losses (src/losses/contrastive.c): values and gradients of NT-Xent and InfoNCE
 * against a straightforward computation with explicit loops over pairs (written from the papers'
 * equations, not from the ops), finite-difference gradchecks through the ops in f64, f32 runs,
 * stats and argument errors. */
#include "selfsup/losses.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

/* ---- naive references (double, explicit loops) -------------------------------------------- */

static double cosine(const double *a, const double *b, int64_t d)
{
	double ab = 0, aa = 0, bb = 0;
	for (int64_t j = 0; j < d; j++) {
		ab += a[j] * b[j];
		aa += a[j] * a[j];
		bb += b[j] * b[j];
	}
	return ab / (sqrt(aa) * sqrt(bb));
}

/* SimCLR eq. 1: l(i, j) = -log exp(s_ij / t) / sum_{k != i} exp(s_ik / t), averaged over the 2N
 * ordered positive pairs (i, j) = (k, k + N) and (k + N, k). */
static double naive_nt_xent(const double *z, int64_t n2, int64_t d, double tau)
{
	double total = 0;
	for (int64_t i = 0; i < n2; i++) {
		int64_t j = i < n2 / 2 ? i + n2 / 2 : i - n2 / 2;
		double denom = 0;
		for (int64_t k = 0; k < n2; k++)
			if (k != i)
				denom += exp(cosine(z + i * d, z + k * d, d) / tau);
		total += -log(exp(cosine(z + i * d, z + j * d, d) / tau) / denom);
	}
	return total / (double)n2;
}

/* MoCo eq. 1: L_q = -log exp(q.k+ / t) / (exp(q.k+ / t) + sum_i exp(q.k_i / t)), q and k+
 * normalised, the queue keys as given; mean over queries. */
static double naive_info_nce(const double *q, const double *k, const double *neg, int64_t n, int64_t kk, int64_t d,
			     double tau)
{
	double total = 0;
	for (int64_t i = 0; i < n; i++) {
		double nq = 0;
		for (int64_t j = 0; j < d; j++)
			nq += q[i * d + j] * q[i * d + j];
		nq = sqrt(nq);
		double pos = exp(cosine(q + i * d, k + i * d, d) / tau), denom = pos;
		for (int64_t m = 0; m < kk; m++) {
			double dot = 0;
			for (int64_t j = 0; j < d; j++)
				dot += q[i * d + j] / nq * neg[m * d + j];
			denom += exp(dot / tau);
		}
		total += -log(pos / denom);
	}
	return total / (double)n;
}

/* In-batch InfoNCE: the positive of q_i is k_i, the other keys of the batch its negatives. */
static double naive_pairs(const double *q, const double *k, int64_t n, int64_t d, double tau)
{
	double total = 0;
	for (int64_t i = 0; i < n; i++) {
		double denom = 0;
		for (int64_t m = 0; m < n; m++)
			denom += exp(cosine(q + i * d, k + m * d, d) / tau);
		total += -log(exp(cosine(q + i * d, k + i * d, d) / tau) / denom);
	}
	return total / (double)n;
}

/* ---- helpers -------------------------------------------------------------------------------- */

static double *as_doubles(const struct sup_tensor *t)
{
	int64_t n = sup_tensor_numel(t);
	double *v = malloc(sizeof(double) * (size_t)n);
	for (int64_t i = 0; i < n; i++)
		v[i] = sup_tensor_get(t, i);
	return v;
}

/* Central differences of a naive loss with respect to every element of x (in place). */
typedef double (*naive_fn)(double *x, void *u);
static void naive_grad(naive_fn f, void *u, double *x, int64_t n, double *g)
{
	const double h = 1e-6;
	for (int64_t i = 0; i < n; i++) {
		double x0 = x[i];
		x[i] = x0 + h;
		double fp = f(x, u);
		x[i] = x0 - h;
		double fm = f(x, u);
		x[i] = x0;
		g[i] = (fp - fm) / (2 * h);
	}
}

struct nt_args {
	int64_t n2, d;
	double tau;
};
static double nt_fn(double *x, void *u)
{
	struct nt_args *a = u;
	return naive_nt_xent(x, a->n2, a->d, a->tau);
}

struct nce_args {
	double *q, *k, *neg;
	int64_t n, kk, d;
	double tau;
	int wrt; /* 0 q, 1 k, 2 neg */
};
static double nce_fn(double *x, void *u)
{
	struct nce_args *a = u;
	return naive_info_nce(a->wrt == 0 ? x : a->q, a->wrt == 1 ? x : a->k, a->wrt == 2 ? x : a->neg, a->n, a->kk,
			      a->d, a->tau);
}

/* ---- NT-Xent ---------------------------------------------------------------------------------- */

static void test_nt_xent_values_and_grads(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 1);
	struct sup_rng r = sup_rng_make(11, 0);
	const int64_t n2 = 6, d = 4;
	const double tau = 0.5;
	struct sup_tensor *z = tu_leaf(&c, &r, 2, (const int64_t[]){n2, d}, -1, 1);
	struct sup_contrastive_stats st;
	struct sup_tensor *loss = sup_nt_xent(&c, z, tau, &st);
	TU_CHECK(loss && loss->ndim == 0);
	double *zv = as_doubles(z);
	struct nt_args a = {n2, d, tau};
	TU_CHECK_NEAR(sup_tensor_get(loss, 0), naive_nt_xent(zv, n2, d, tau), 1e-12);
	TU_CHECK(sup_backward(&c, loss) == SUP_OK);
	double g[24];
	naive_grad(nt_fn, &a, zv, n2 * d, g);
	double worst = 0;
	for (int64_t i = 0; i < n2 * d; i++)
		worst = fmax(worst, fabs(sup_tensor_grad_get(z, i) - g[i]));
	TU_CHECK_MSG(worst < 1e-7, "NT-Xent gradient differs from the naive loop's by %g", worst);
	/* Stats: the positives' mean cosine, by hand. */
	double ps = 0;
	for (int64_t i = 0; i < n2; i++)
		ps += cosine(zv + i * d, zv + ((i + n2 / 2) % n2) * d, d);
	TU_CHECK_NEAR(st.pos_sim, ps / (double)n2, 1e-12);
	TU_CHECK(st.acc >= 0 && st.acc <= 1);
	free(zv);
	sup_ctx_deinit(&c);
}

/* Perfectly separated views: every row's positive is its own copy, so acc = 1 and the loss is
 * -log(e^{1/t} / (e^{1/t} + (2N - 2) e^{s/t})) with the (equal) negative cosine s. */
static void test_nt_xent_known_value(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 2);
	const int64_t n = 3, d = 3;
	struct sup_tensor *z = sup_tensor_zeros(&c, SUP_F64, 2, (const int64_t[]){2 * n, d});
	for (int64_t i = 0; i < n; i++) {
		sup_tensor_set(z, i * d + i, 2.0);	 /* view 1: e_i (scaled) */
		sup_tensor_set(z, (i + n) * d + i, 0.5); /* view 2: e_i */
	}
	struct sup_contrastive_stats st;
	struct sup_tensor *loss = sup_nt_xent(&c, z, 0.5, &st);
	double want = -log(exp(2.0) / (exp(2.0) + 4 * exp(0.0)));
	TU_CHECK_NEAR(sup_tensor_get(loss, 0), want, 1e-12);
	TU_CHECK_NEAR(st.acc, 1.0, 0);
	TU_CHECK_NEAR(st.pos_sim, 1.0, 1e-12);
	TU_CHECK_NEAR(st.neg_sim, 0.0, 1e-12);
	sup_ctx_deinit(&c);
}

static struct sup_tensor *gc_nt_xent(struct sup_ctx *c, struct sup_tensor *const *in, void *user)
{
	(void)user;
	return sup_nt_xent(c, in[0], 0.3, NULL);
}

static struct sup_tensor *gc_queue(struct sup_ctx *c, struct sup_tensor *const *in, void *user)
{
	(void)user;
	return sup_info_nce_queue(c, in[0], in[1], in[2], 0.2, NULL);
}

static struct sup_tensor *gc_pairs(struct sup_ctx *c, struct sup_tensor *const *in, void *user)
{
	(void)user;
	return sup_info_nce_pairs(c, in[0], in[1], 0.7, NULL);
}

static void test_gradchecks(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 3);
	struct sup_rng r = sup_rng_make(12, 0);
	struct sup_gradcheck_opts o = {0};
	struct sup_gradcheck_report rep;
	struct sup_tensor *z = tu_leaf(&c, &r, 2, (const int64_t[]){8, 5}, -1, 1);
	TU_CHECK(sup_gradcheck(&c, gc_nt_xent, NULL, &z, 1, &o, &rep) == SUP_OK && rep.ok && rep.checked == 40);
	struct sup_tensor *in[3] = {tu_leaf(&c, &r, 2, (const int64_t[]){3, 4}, -1, 1),
				    tu_leaf(&c, &r, 2, (const int64_t[]){3, 4}, -1, 1),
				    tu_leaf(&c, &r, 2, (const int64_t[]){5, 4}, -1, 1)};
	TU_CHECK(sup_gradcheck(&c, gc_queue, NULL, in, 3, &o, &rep) == SUP_OK);
	TU_CHECK_MSG(rep.ok && rep.checked == 44, "checked %lld max_err %g input %d", (long long)rep.checked, rep.max_err, rep.worst_input);
	TU_CHECK(sup_gradcheck(&c, gc_pairs, NULL, in, 2, &o, &rep) == SUP_OK && rep.ok && rep.checked == 24);
	sup_ctx_deinit(&c);
}

/* ---- InfoNCE ---------------------------------------------------------------------------------- */

static void test_info_nce_queue(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 4);
	struct sup_rng r = sup_rng_make(13, 0);
	const int64_t n = 4, kk = 6, d = 3;
	const double tau = 0.07;
	struct sup_tensor *q = tu_leaf(&c, &r, 2, (const int64_t[]){n, d}, -1, 1);
	struct sup_tensor *k = tu_leaf(&c, &r, 2, (const int64_t[]){n, d}, -1, 1);
	struct sup_tensor *neg = tu_leaf(&c, &r, 2, (const int64_t[]){kk, d}, -1, 1);
	struct sup_contrastive_stats st;
	struct sup_tensor *loss = sup_info_nce_queue(&c, q, k, neg, tau, &st);
	struct nce_args a = {as_doubles(q), as_doubles(k), as_doubles(neg), n, kk, d, tau, 0};
	TU_CHECK_NEAR(sup_tensor_get(loss, 0), naive_info_nce(a.q, a.k, a.neg, n, kk, d, tau), 1e-10);
	TU_CHECK(sup_backward(&c, loss) == SUP_OK);
	struct sup_tensor *ts[3] = {q, k, neg};
	double *xs[3] = {a.q, a.k, a.neg};
	for (int w = 0; w < 3; w++) {
		int64_t m = sup_tensor_numel(ts[w]);
		double g[24], worst = 0;
		a.wrt = w;
		naive_grad(nce_fn, &a, xs[w], m, g);
		for (int64_t i = 0; i < m; i++)
			worst = fmax(worst, fabs(sup_tensor_grad_get(ts[w], i) - g[i]) / fmax(1, fabs(g[i])));
		TU_CHECK_MSG(worst < 1e-6, "InfoNCE gradient of input %d differs from the naive loop's by %g", w, worst);
	}
	/* No negatives: one logit per row, the loss is exactly 0 and every query is "right". */
	struct sup_tensor *l0 = sup_info_nce_queue(&c, q, k, NULL, tau, &st);
	TU_CHECK_NEAR(sup_tensor_get(l0, 0), 0.0, 1e-15);
	TU_CHECK_NEAR(st.acc, 1.0, 0);
	free(a.q);
	free(a.k);
	free(a.neg);
	sup_ctx_deinit(&c);
}

static void test_info_nce_pairs(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 5);
	struct sup_rng r = sup_rng_make(14, 0);
	struct sup_tensor *q = tu_leaf(&c, &r, 2, (const int64_t[]){5, 3}, -1, 1);
	struct sup_tensor *k = tu_leaf(&c, &r, 2, (const int64_t[]){5, 3}, -1, 1);
	struct sup_tensor *loss = sup_info_nce_pairs(&c, q, k, 0.5, NULL);
	double *qv = as_doubles(q), *kv = as_doubles(k);
	TU_CHECK_NEAR(sup_tensor_get(loss, 0), naive_pairs(qv, kv, 5, 3, 0.5), 1e-12);
	free(qv);
	free(kv);
	sup_ctx_deinit(&c);
}

/* f32 runs through the fast kernels and agrees with the f64 reference. */
static void test_f32(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 6);
	struct sup_rng r = sup_rng_make(15, 0);
	struct sup_tensor *z64 = tu_rand(&c, &r, SUP_F64, 2, (const int64_t[]){64, 16}, -1, 1);
	struct sup_tensor *z32 = sup_tensor_to(&c, z64, SUP_F32);
	struct sup_tensor *a = sup_nt_xent(&c, z64, 0.5, NULL), *b = sup_nt_xent(&c, z32, 0.5, NULL);
	TU_CHECK(a && b && b->dtype == SUP_F32);
	TU_CHECK_NEAR(sup_tensor_get(a, 0), sup_tensor_get(b, 0), 1e-5);
	sup_ctx_deinit(&c);
}

static void test_errors(void)
{
	struct sup_ctx c;
	tu_ctx(&c, 7);
	struct sup_rng r = sup_rng_make(16, 0);
	struct sup_tensor *odd = tu_rand(&c, &r, SUP_F64, 2, (const int64_t[]){3, 2}, -1, 1);
	TU_CHECK(!sup_nt_xent(&c, odd, 0.5, NULL) && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	TU_CHECK(strstr(sup_ctx_error(&c), "nt_xent") != NULL);
	sup_ctx_clear_error(&c);
	struct sup_tensor *z = tu_rand(&c, &r, SUP_F64, 2, (const int64_t[]){4, 2}, -1, 1);
	TU_CHECK(!sup_nt_xent(&c, z, 0, NULL) && sup_ctx_status(&c) == SUP_ERR_ARG);
	sup_ctx_clear_error(&c);
	struct sup_tensor *q = tu_rand(&c, &r, SUP_F64, 2, (const int64_t[]){4, 2}, -1, 1);
	struct sup_tensor *neg = tu_rand(&c, &r, SUP_F64, 2, (const int64_t[]){4, 3}, -1, 1);
	TU_CHECK(!sup_info_nce_queue(&c, q, z, neg, 0.1, NULL) && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	sup_ctx_clear_error(&c);
	TU_CHECK(!sup_info_nce_pairs(&c, q, odd, 0.1, NULL) && sup_ctx_status(&c) == SUP_ERR_SHAPE);
	sup_ctx_clear_error(&c);
	TU_CHECK(!sup_nt_xent(&c, NULL, 0.5, NULL) && sup_ctx_status(&c) == SUP_OK); /* NULL passes through */
	sup_ctx_deinit(&c);
}

int main(void)
{
	test_nt_xent_values_and_grads();
	test_nt_xent_known_value();
	test_gradchecks();
	test_info_nce_queue();
	test_info_nce_pairs();
	test_f32();
	test_errors();
	return tu_finish("losses/contrastive");
}
