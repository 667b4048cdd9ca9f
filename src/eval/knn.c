/* Weighted kNN classifier on cosine similarity: Wu, Xiong, Yu, Lin 2018, "Unsupervised Feature
 * Learning via Non-Parametric Instance Discrimination", §3.4 (k = 200, weights exp(s_i / tau),
 * tau = 0.07; the same protocol scores MoCo, PIRL, DINO, ...).
 *
 * Similarities come block by block: a GEMM of QB normalised test rows against TB normalised train
 * rows (one serial cblas_sgemm, threaded inside OpenBLAS), then each test row folds its TB
 * similarities into its own bounded min-heap of the k best (OpenMP over test rows). Memory is
 * O(QB x TB + QB x k), never N_test x N_train. Train blocks are visited in index order and a
 * candidate must beat the heap's worst strictly, so among equal similarities the lower train index
 * is kept, whatever the thread count. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { KNN_QB = 256, KNN_TB = 4096 };

void sup_knn_opts_default(struct sup_knn_opts *o)
{
	memset(o, 0, sizeof *o);
	o->k = 200;
	o->tau = 0.07;
}

/* dst = x / max(||x||, 1e-12), the norm in f64 (torch.nn.functional.normalize's epsilon). */
static void normalise_row(float *dst, const float *x, int64_t d)
{
	double s = 0;
	for (int64_t j = 0; j < d; j++)
		s += (double)x[j] * x[j];
	double inv = 1.0 / fmax(sqrt(s), 1e-12);
	for (int64_t j = 0; j < d; j++)
		dst[j] = (float)(x[j] * inv);
}

/* A min-heap of (similarity, train row) whose root is the worst kept neighbour: lower similarity
 * is worse; at equal similarity the higher row id is worse. */
struct knn_heap {
	float *s;
	int32_t *i;
	int len, cap;
};

static bool worse(float sa, int32_t ia, float sb, int32_t ib)
{
	return sa < sb || (sa == sb && ia > ib);
}

static void heap_offer(struct knn_heap *h, float s, int32_t id)
{
	int pos;
	if (h->len < h->cap) { /* sift up from the end */
		pos = h->len++;
		while (pos > 0) {
			int par = (pos - 1) / 2;
			if (!worse(s, id, h->s[par], h->i[par]))
				break;
			h->s[pos] = h->s[par], h->i[pos] = h->i[par];
			pos = par;
		}
	} else { /* replace the root when better, sift down */
		if (!worse(h->s[0], h->i[0], s, id))
			return;
		pos = 0;
		while (true) {
			int l = 2 * pos + 1, r = l + 1, m = pos;
			float ms = s;
			int32_t mi = id;
			if (l < h->len && worse(h->s[l], h->i[l], ms, mi))
				m = l, ms = h->s[l], mi = h->i[l];
			if (r < h->len && worse(h->s[r], h->i[r], ms, mi))
				m = r;
			if (m == pos)
				break;
			h->s[pos] = h->s[m], h->i[pos] = h->i[m];
			pos = m;
		}
	}
	h->s[pos] = s, h->i[pos] = id;
}

/* Validates and counts; out->n_classes, out->k set. */
static enum sup_status knn_check(const struct sup_eval_set *train, const struct sup_eval_set *test,
				 const struct sup_knn_opts *o, struct sup_knn_result *out, int64_t *n_lab, char *err,
				 size_t err_size)
{
	int64_t ntr, mtr, mte = -1;
	enum sup_status st = sup_eval_set_check(train, "kNN: train", true, &ntr, &mtr, err, err_size);
	if (st == SUP_OK)
		st = sup_eval_set_check(test, "kNN: test", false, NULL, &mte, err, err_size);
	if (st != SUP_OK)
		return st;
	if (test->d != train->d)
		return sup_errf(err, err_size, SUP_ERR_SHAPE, "kNN: feature dimensions differ (train %lld, test %lld)",
				 (long long)train->d, (long long)test->d);
	if (o->k < 1 || !(o->tau > 0) || o->n_classes < 0)
		return sup_errf(err, err_size, SUP_ERR_ARG, "kNN: need k >= 1, tau > 0, n_classes >= 0 (k = %d, tau = %g)",
				 o->k, o->tau);
	if (ntr < 1)
		return sup_errf(err, err_size, SUP_ERR_ARG, "kNN: no labelled train rows (%lld rows, all unlabelled)",
				 (long long)train->n);
	if (ntr > INT32_MAX || test->n > INT32_MAX || train->d > INT32_MAX)
		return sup_errf(err, err_size, SUP_ERR_ARG, "kNN: sizes exceed the BLAS int range");
	int64_t mx = mtr > mte ? mtr : mte;
	int64_t c = o->n_classes ? o->n_classes : mx + 1;
	if (mtr >= c || c > INT32_MAX)
		return sup_errf(err, err_size, SUP_ERR_ARG, "kNN: train label %lld is not below n_classes = %lld",
				 (long long)mtr, (long long)c);
	memset(out, 0, sizeof *out);
	out->n_classes = (int)c;
	out->has_top5 = c > 5;
	out->k = ntr < o->k ? (int)ntr : o->k;
	*n_lab = ntr;
	return SUP_OK;
}

/* Votes of one test row's neighbours; returns its prediction and whether y is in the top 1 / 5. */
static int32_t knn_vote(const struct knn_heap *h, const int32_t *ty, double inv_tau, double *votes, int c,
			int64_t y, int *hit1, int *hit5)
{
	for (int j = 0; j < c; j++)
		votes[j] = 0;
	for (int t = 0; t < h->len; t++)
		votes[ty[h->i[t]]] += exp((double)h->s[t] * inv_tau);
	int32_t best = 0;
	for (int j = 1; j < c; j++)
		if (votes[j] > votes[best])
			best = j;
	*hit1 = *hit5 = 0;
	if (y >= 0 && y < c) {
		int rank = 0;
		for (int j = 0; j < c && rank < 5; j++)
			rank += votes[j] > votes[y] || (votes[j] == votes[y] && j < y);
		*hit1 = best == y;
		*hit5 = rank < 5;
	}
	return best;
}

enum sup_status sup_eval_knn(const struct sup_eval_set *train, const struct sup_eval_set *test,
			     const struct sup_knn_opts *opts, struct sup_knn_result *out, int32_t *pred, char *err,
			     size_t err_size)
{
	struct sup_knn_opts o;
	if (opts)
		o = *opts;
	else
		sup_knn_opts_default(&o);
	int64_t nt = 0;
	enum sup_status st = knn_check(train, test, &o, out, &nt, err, err_size);
	if (st != SUP_OK)
		return st;
	const int64_t d = train->d;
	const int k = out->k, c = out->n_classes;
	float *tx = sup_eval_alloc((size_t)(nt * d), sizeof(float));
	int32_t *ty = malloc((size_t)nt * sizeof *ty);
	float *q = sup_eval_alloc((size_t)KNN_QB * (size_t)d, sizeof(float));
	float *sim = sup_eval_alloc((size_t)KNN_QB * KNN_TB, sizeof(float));
	float *hs = malloc((size_t)KNN_QB * (size_t)k * sizeof *hs);
	int32_t *hi = malloc((size_t)KNN_QB * (size_t)k * sizeof *hi);
	double *votes = malloc((size_t)KNN_QB * (size_t)c * sizeof *votes);
	int *hits = malloc((size_t)KNN_QB * 2 * sizeof *hits);
	struct knn_heap heaps[KNN_QB];
	if (!tx || !ty || !q || !sim || !hs || !hi || !votes || !hits) {
		st = sup_errf(err, err_size, SUP_ERR_NOMEM, "kNN: out of memory for %lld x %lld train features",
			       (long long)nt, (long long)d);
		goto free_all;
	}
	for (int64_t i = 0, r = 0; i < train->n; i++) {
		int64_t y = sup_eval_set_label(train, i);
		if (y < 0)
			continue;
		normalise_row(tx + r * d, train->x + i * d, d);
		ty[r++] = (int32_t)y;
	}
	int64_t hit1 = 0, hit5 = 0, n_eval = 0;
	const double inv_tau = 1.0 / o.tau;
	for (int64_t q0 = 0; q0 < test->n; q0 += KNN_QB) {
		const int qb = (int)(test->n - q0 < KNN_QB ? test->n - q0 : KNN_QB);
		for (int a = 0; a < qb; a++) {
			normalise_row(q + (int64_t)a * d, test->x + (q0 + a) * d, d);
			heaps[a] = (struct knn_heap){ hs + (int64_t)a * k, hi + (int64_t)a * k, 0, k };
		}
		for (int64_t t0 = 0; t0 < nt; t0 += KNN_TB) {
			const int tb = (int)(nt - t0 < KNN_TB ? nt - t0 : KNN_TB);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, qb, tb, (int)d, 1.0f, q, (int)d, tx + t0 * d,
				    (int)d, 0.0f, sim, tb);
#pragma omp parallel for schedule(static)
			for (int a = 0; a < qb; a++)
				for (int t = 0; t < tb; t++)
					heap_offer(&heaps[a], sim[(int64_t)a * tb + t], (int32_t)(t0 + t));
		}
#pragma omp parallel for schedule(static)
		for (int a = 0; a < qb; a++) {
			int32_t p = knn_vote(&heaps[a], ty, inv_tau, votes + (int64_t)a * c, c,
					     sup_eval_set_label(test, q0 + a), &hits[2 * a], &hits[2 * a + 1]);
			if (pred)
				pred[q0 + a] = p;
		}
		for (int a = 0; a < qb; a++) {
			hit1 += hits[2 * a], hit5 += hits[2 * a + 1];
			n_eval += sup_eval_set_label(test, q0 + a) >= 0;
		}
	}
	out->n_eval = n_eval;
	if (n_eval > 0) {
		out->top1 = (double)hit1 / (double)n_eval;
		out->top5 = out->has_top5 ? (double)hit5 / (double)n_eval : 0;
	}
free_all:
	free(tx), free(ty), free(q), free(sim), free(hs), free(hi), free(votes), free(hits);
	return st;
}
