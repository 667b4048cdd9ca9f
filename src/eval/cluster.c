/* k-means clustering of features, scored with NMI and ARI against labels (the clustering protocol
 * of e.g. DeepCluster, Caron et al. 2018 §4.1, and of graph embeddings).
 *
 * Seeding: k-means++ (Arthur & Vassilvitskii 2007, "k-means++: the advantages of careful
 * seeding", §2.2: each new centre is a data point drawn with probability proportional to its
 * squared distance to the nearest centre so far). Iterations: Lloyd's. Assignment uses
 * ||x||^2 - 2 x.c + ||c||^2 with x.c from a blocked cblas_sgemm; centre sums are f64 in row order
 * (serial: O(N D), small next to the GEMM's O(N K D)), so a seed gives the same clustering for a
 * given thread count. Convergence: sklearn's rule, the total squared centre shift at most
 * tol * mean per-dimension variance. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { KM_BLOCK = 4096 };

void sup_kmeans_opts_default(struct sup_kmeans_opts *o)
{
	memset(o, 0, sizeof *o);
	o->n_init = 10;
	o->max_iter = 300;
	o->tol = 1e-4;
}

struct km {
	const float *x;
	int64_t n, d;
	int k;
	float *c;       /* [k, d] centres */
	double *sum;    /* [k, d] centre sums */
	int64_t *cnt;   /* [k] */
	float *cnorm;   /* [k] */
	float *xnorm;   /* [n] */
	float *dist;    /* [KM_BLOCK, k] */
	double *mind;   /* [n] squared distance to the assigned / nearest centre */
	int32_t *assign;
};

static double sqdist(const float *a, const float *b, int64_t d)
{
	double s = 0;
	for (int64_t j = 0; j < d; j++) {
		double t = (double)a[j] - b[j];
		s += t * t;
	}
	return s;
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform53(struct sup_rng *r)
{
	uint64_t hi = sup_rng_u32(r) >> 5, lo = sup_rng_u32(r) >> 6; /* 27 + 26 bits */
	return (double)(hi * 67108864u + lo) / 9007199254740992.0;
}

/* k-means++ seeding into km->c. */
static void kmeanspp(struct km *m, struct sup_rng *r)
{
	const int64_t n = m->n, d = m->d;
	int64_t first = (int64_t)sup_rng_below(r, (uint64_t)n);
	memcpy(m->c, m->x + first * d, (size_t)d * sizeof(float));
	for (int64_t i = 0; i < n; i++)
		m->mind[i] = INFINITY;
	for (int j = 1; j < m->k; j++) {
		const float *prev = m->c + (int64_t)(j - 1) * d;
#pragma omp parallel for schedule(static)
		for (int64_t i = 0; i < n; i++) {
			double s = sqdist(m->x + i * d, prev, d);
			if (s < m->mind[i])
				m->mind[i] = s;
		}
		double total = 0;
		for (int64_t i = 0; i < n; i++)
			total += m->mind[i];
		int64_t pick = n - 1;
		if (total > 0) {
			double u = uniform53(r) * total, acc = 0;
			for (int64_t i = 0; i < n; i++) {
				acc += m->mind[i];
				if (u < acc && m->mind[i] > 0) {
					pick = i;
					break;
				}
			}
		} else { /* every point sits on a centre already (duplicates): any point will do */
			pick = (int64_t)sup_rng_below(r, (uint64_t)n);
		}
		memcpy(m->c + (int64_t)j * d, m->x + pick * d, (size_t)d * sizeof(float));
	}
}

/* Assigns every point to its nearest centre (ties: the lower id); fills mind. */
static void km_assign(struct km *m)
{
	const int64_t n = m->n, d = m->d;
	const int k = m->k;
	for (int j = 0; j < k; j++)
		m->cnorm[j] = cblas_sdot((int)d, m->c + (int64_t)j * d, 1, m->c + (int64_t)j * d, 1);
	for (int64_t i0 = 0; i0 < n; i0 += KM_BLOCK) {
		const int b = (int)(n - i0 < KM_BLOCK ? n - i0 : KM_BLOCK);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, k, (int)d, -2.0f, m->x + i0 * d, (int)d, m->c,
			    (int)d, 0.0f, m->dist, k);
#pragma omp parallel for schedule(static)
		for (int a = 0; a < b; a++) {
			const float *row = m->dist + (int64_t)a * k;
			int best = 0;
			float bv = row[0] + m->cnorm[0];
			for (int j = 1; j < k; j++) {
				float v = row[j] + m->cnorm[j];
				if (v < bv)
					bv = v, best = j;
			}
			m->assign[i0 + a] = best;
			double dd = (double)bv + m->xnorm[i0 + a];
			m->mind[i0 + a] = dd > 0 ? dd : 0;
		}
	}
}

/* New centres from the assignment; returns the total squared shift. An empty cluster takes the
 * point farthest from its centre (then that point is not offered again). */
static double km_update(struct km *m)
{
	const int64_t n = m->n, d = m->d;
	const int k = m->k;
	memset(m->sum, 0, (size_t)(k * d) * sizeof(double));
	memset(m->cnt, 0, (size_t)k * sizeof(int64_t));
	for (int64_t i = 0; i < n; i++) {
		double *s = m->sum + (int64_t)m->assign[i] * d;
		const float *xi = m->x + i * d;
		for (int64_t j = 0; j < d; j++)
			s[j] += xi[j];
		m->cnt[m->assign[i]]++;
	}
	double shift = 0;
	for (int j = 0; j < k; j++) {
		float *cj = m->c + (int64_t)j * d;
		double *s = m->sum + (int64_t)j * d;
		if (m->cnt[j] == 0) {
			int64_t far = 0;
			for (int64_t i = 1; i < n; i++)
				if (m->mind[i] > m->mind[far])
					far = i;
			m->mind[far] = -1;
			for (int64_t t = 0; t < d; t++)
				s[t] = m->x[far * d + t];
		} else {
			for (int64_t t = 0; t < d; t++)
				s[t] /= (double)m->cnt[j];
		}
		for (int64_t t = 0; t < d; t++) {
			double diff = s[t] - cj[t];
			shift += diff * diff;
			cj[t] = (float)s[t];
		}
	}
	return shift;
}

/* One restart: seed, iterate, final assignment; returns the exact inertia. */
static double km_run(struct km *m, struct sup_rng *r, int max_iter, double tol_abs, int *iters, bool *converged)
{
	kmeanspp(m, r);
	*converged = false;
	*iters = 0;
	while (*iters < max_iter) {
		km_assign(m);
		double shift = km_update(m);
		++*iters;
		if (shift <= tol_abs) {
			*converged = true;
			break;
		}
	}
	km_assign(m);
	double inertia = 0;
	for (int64_t i = 0; i < m->n; i++)
		inertia += sqdist(m->x + i * m->d, m->c + (int64_t)m->assign[i] * m->d, m->d);
	return inertia;
}

/* tol * mean over dimensions of the variance of x (f64, row order). */
static double abs_tol(const float *x, int64_t n, int64_t d, double tol, double *mean)
{
	memset(mean, 0, (size_t)d * sizeof *mean);
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < d; j++)
			mean[j] += x[i * d + j];
	double var = 0;
	for (int64_t j = 0; j < d; j++)
		mean[j] /= (double)n;
	for (int64_t i = 0; i < n; i++)
		for (int64_t j = 0; j < d; j++) {
			double t = x[i * d + j] - mean[j];
			var += t * t;
		}
	return tol * var / ((double)n * (double)d);
}

enum sup_status sup_kmeans(const float *x, int64_t n, int64_t d, const struct sup_kmeans_opts *opts,
			   int32_t *assign, float *centroids, struct sup_kmeans_result *out, char *err,
			   size_t err_size)
{
	struct sup_kmeans_opts o;
	if (opts)
		o = *opts;
	else
		sup_kmeans_opts_default(&o);
	if (!x || !assign || n < 1 || d < 1 || o.k < 1 || o.k > n || o.n_init < 1 || o.max_iter < 1 || !(o.tol >= 0))
		return sup_errf(err, err_size, SUP_ERR_ARG,
				 "k-means: need 1 <= k <= n, d >= 1, n_init >= 1, max_iter >= 1, tol >= 0 (k = %d, n = %lld, "
				 "d = %lld)", o.k, (long long)n, (long long)d);
	if (n > INT32_MAX || d > INT32_MAX)
		return sup_errf(err, err_size, SUP_ERR_ARG, "k-means: sizes exceed the BLAS int range");
	const int k = o.k;
	struct km m = { .x = x, .n = n, .d = d, .k = k, .assign = malloc((size_t)n * sizeof(int32_t)) };
	m.c = sup_eval_alloc((size_t)(k * d), sizeof(float));
	m.sum = malloc((size_t)(k * d) * sizeof(double));
	m.cnt = malloc((size_t)k * sizeof(int64_t));
	m.cnorm = malloc((size_t)k * sizeof(float));
	m.xnorm = malloc((size_t)n * sizeof(float));
	m.dist = sup_eval_alloc((size_t)KM_BLOCK * (size_t)k, sizeof(float));
	m.mind = malloc((size_t)n * sizeof(double));
	double *mean = malloc((size_t)d * sizeof(double));
	float *best_c = malloc((size_t)(k * d) * sizeof(float));
	enum sup_status st = SUP_OK;
	if (!m.assign || !m.c || !m.sum || !m.cnt || !m.cnorm || !m.xnorm || !m.dist || !m.mind || !mean || !best_c) {
		st = sup_errf(err, err_size, SUP_ERR_NOMEM, "k-means: out of memory (n = %lld, k = %d)", (long long)n, k);
		goto free_all;
	}
	for (int64_t i = 0; i < n; i++)
		m.xnorm[i] = cblas_sdot((int)d, x + i * d, 1, x + i * d, 1);
	const double tol_abs = abs_tol(x, n, d, o.tol, mean);
	double best = INFINITY;
	memset(out, 0, sizeof *out);
	for (int r = 0; r < o.n_init; r++) {
		struct sup_rng rng = sup_rng_make(o.seed, 0x6b6d0000u + (uint64_t)r);
		int iters;
		bool conv;
		double inertia = km_run(&m, &rng, o.max_iter, tol_abs, &iters, &conv);
		if (inertia < best) { /* ties: the earlier restart */
			best = inertia;
			*out = (struct sup_kmeans_result){ inertia, iters, r, conv };
			memcpy(assign, m.assign, (size_t)n * sizeof(int32_t));
			memcpy(best_c, m.c, (size_t)(k * d) * sizeof(float));
		}
	}
	if (centroids)
		memcpy(centroids, best_c, (size_t)(k * d) * sizeof(float));
free_all:
	free(m.assign), free(m.c), free(m.sum), free(m.cnt), free(m.cnorm), free(m.xnorm), free(m.dist), free(m.mind);
	free(mean), free(best_c);
	return st;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

enum sup_status sup_eval_cluster(const struct sup_eval_set *set, const struct sup_kmeans_opts *opts,
				 struct sup_cluster_result *out, int32_t *assign, char *err, size_t err_size)
{
	int64_t nl;
	enum sup_status st = sup_eval_set_check(set, "clustering", true, &nl, NULL, err, err_size);
	if (st != SUP_OK)
		return st;
	if (nl < 1)
		return sup_errf(err, err_size, SUP_ERR_ARG, "clustering: no labelled rows");
	struct sup_kmeans_opts o;
	if (opts)
		o = *opts;
	else
		sup_kmeans_opts_default(&o);
	int32_t *a = assign ? assign : malloc((size_t)set->n * sizeof(int32_t));
	int64_t *ly = malloc((size_t)nl * sizeof(int64_t)), *la = malloc((size_t)nl * sizeof(int64_t));
	if (!a || !ly || !la) {
		st = sup_errf(err, err_size, SUP_ERR_NOMEM, "clustering: out of memory");
		goto free_all;
	}
	for (int64_t i = 0, r = 0; i < set->n; i++)
		if (sup_eval_set_label(set, i) >= 0)
			ly[r++] = sup_eval_set_label(set, i);
	if (o.k == 0) { /* as many clusters as distinct labels */
		memcpy(la, ly, (size_t)nl * sizeof(int64_t));
		qsort(la, (size_t)nl, sizeof(int64_t), cmp_i64);
		for (int64_t i = 0; i < nl; i++)
			o.k += i == 0 || la[i] != la[i - 1];
	}
	struct sup_kmeans_result km;
	st = sup_kmeans(set->x, set->n, set->d, &o, a, NULL, &km, err, err_size);
	if (st != SUP_OK)
		goto free_all;
	for (int64_t i = 0, r = 0; i < set->n; i++)
		if (sup_eval_set_label(set, i) >= 0)
			la[r++] = a[i];
	memset(out, 0, sizeof *out);
	out->k = o.k;
	out->inertia = km.inertia;
	out->n_eval = nl;
	st = sup_eval_nmi(ly, la, nl, &out->nmi, err, err_size);
	if (st == SUP_OK)
		st = sup_eval_ari(ly, la, nl, &out->ari, err, err_size);
free_all:
	if (a != assign)
		free(a);
	free(ly), free(la);
	return st;
}
