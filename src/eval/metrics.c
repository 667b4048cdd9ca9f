/* Evaluation metrics: label access and set checks, top-k accuracy, NMI, ARI (Hubert & Arabie
 * 1985, "Comparing partitions", via pair counts as scikit-learn's adjusted_rand_score), ROC AUC
 * (Mann-Whitney with average ranks), average precision (scikit-learn's average_precision_score)
 * and nats -> bits conversions. Definitions and edge cases: include/selfsup/eval.h, docs/eval.md. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void *sup_eval_alloc(size_t count, size_t elem)
{
	if (elem && count > SIZE_MAX / elem - 64)
		return NULL;
	size_t bytes = (count * elem + 63) / 64 * 64;
	return aligned_alloc(64, bytes ? bytes : 64);
}

int64_t sup_eval_set_label(const struct sup_eval_set *s, int64_t i)
{
	if (!s->labels)
		return -1;
	switch (s->label_dtype) {
	case SUP_I32: return ((const int32_t *)s->labels)[i];
	case SUP_I64: return ((const int64_t *)s->labels)[i];
	case SUP_U8: return ((const uint8_t *)s->labels)[i];
	default: SUP_ASSERT(!"label dtype must be i32, i64 or u8");
	}
	return -1;
}

enum sup_status sup_eval_set_check(const struct sup_eval_set *s, const char *name, bool need_labels,
				   int64_t *n_labelled, int64_t *max_label, char *err, size_t err_size)
{
	if (!s)
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s split is missing", name);
	if (s->n < 0 || s->d < 1)
		return sup_errf(err, err_size, SUP_ERR_SHAPE, "%s features have shape [%lld, %lld]; need n >= 0, d >= 1",
				 name, (long long)s->n, (long long)s->d);
	if (!s->x && s->n > 0)
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s features are NULL", name);
	if (!s->labels && need_labels)
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s split has no labels", name);
	if (s->labels && s->label_dtype != SUP_I32 && s->label_dtype != SUP_I64 && s->label_dtype != SUP_U8)
		return sup_errf(err, err_size, SUP_ERR_DTYPE, "%s labels are %s; need i32, i64 or u8", name,
				 sup_dtype_name(s->label_dtype));
	int64_t cnt = 0, mx = -1;
	for (int64_t i = 0; s->labels && i < s->n; i++) {
		int64_t y = sup_eval_set_label(s, i);
		if (y < -1)
			return sup_errf(err, err_size, SUP_ERR_ARG,
					 "%s label %lld at row %lld is negative (only -1, unlabelled, is allowed)", name,
					 (long long)y, (long long)i);
		if (y >= 0) {
			cnt++;
			mx = y > mx ? y : mx;
		}
	}
	if (n_labelled)
		*n_labelled = cnt;
	if (max_label)
		*max_label = mx;
	return SUP_OK;
}

/* ---- top-k accuracy ------------------------------------------------------------------------- */

enum sup_status sup_eval_topk_accuracy(const float *scores, int64_t n, int64_t c, const void *labels,
				       enum sup_dtype label_dtype, int k, double *acc, int64_t *n_counted,
				       char *err, size_t err_size)
{
	if (k < 1 || c < 1 || n < 0 || (n > 0 && (!scores || !labels)))
		return sup_errf(err, err_size, SUP_ERR_ARG, "top-k accuracy: bad arguments (k = %d, c = %lld, n = %lld)",
				 k, (long long)c, (long long)n);
	struct sup_eval_set s = { .x = scores, .labels = labels, .label_dtype = label_dtype, .n = n, .d = c };
	int64_t nl = 0;
	enum sup_status st = sup_eval_set_check(&s, "top-k accuracy", true, &nl, NULL, err, err_size);
	if (st != SUP_OK)
		return st;
	if (nl == 0)
		return sup_errf(err, err_size, SUP_ERR_ARG, "top-k accuracy: no labelled rows");
	int64_t hits = 0;
	for (int64_t i = 0; i < n; i++) {
		int64_t y = sup_eval_set_label(&s, i);
		if (y < 0 || y >= c)
			continue;
		/* rank of y in the order (score desc, class id asc) */
		const float *row = scores + i * c;
		float sy = row[y];
		int64_t rank = 0;
		for (int64_t j = 0; j < c && rank < k; j++)
			rank += row[j] > sy || (row[j] == sy && j < y);
		hits += rank < k;
	}
	*acc = (double)hits / (double)nl;
	if (n_counted)
		*n_counted = nl;
	return SUP_OK;
}

/* ---- contingency of two labellings ---------------------------------------------------------- */

struct pair {
	int64_t a, b;
};

static int cmp_i64(const void *x, const void *y)
{
	int64_t p = *(const int64_t *)x, q = *(const int64_t *)y;
	return (p > q) - (p < q);
}

static int cmp_pair(const void *x, const void *y)
{
	const struct pair *p = x, *q = y;
	if (p->a != q->a)
		return (p->a > q->a) - (p->a < q->a);
	return (p->b > q->b) - (p->b < q->b);
}

/* Sorted copies give the marginal counts (runs of equal values) and the non-zero cells of the
 * contingency table (runs of equal pairs) in O(n log n) without an R x C table. */
struct contingency {
	int64_t *ca, *cb, *cell; /* run lengths: rows' marginals, columns' marginals, non-zero cells */
	int64_t na, nb, ncell;
};

static int64_t runs(int64_t *v, int64_t n, int64_t *len)
{
	int64_t m = 0;
	for (int64_t i = 0; i < n;) {
		int64_t j = i;
		while (j < n && v[j] == v[i])
			j++;
		len[m++] = j - i;
		i = j;
	}
	return m;
}

static enum sup_status contingency_build(struct contingency *t, const int64_t *a, const int64_t *b, int64_t n,
					 char *err, size_t err_size)
{
	memset(t, 0, sizeof *t);
	size_t nn = (size_t)(n > 0 ? n : 1);
	int64_t *va = malloc(nn * sizeof *va), *vb = malloc(nn * sizeof *vb);
	struct pair *p = malloc(nn * sizeof *p);
	t->ca = malloc(nn * sizeof *t->ca);
	t->cb = malloc(nn * sizeof *t->cb);
	t->cell = malloc(nn * sizeof *t->cell);
	if (!va || !vb || !p || !t->ca || !t->cb || !t->cell) {
		free(va), free(vb), free(p), free(t->ca), free(t->cb), free(t->cell);
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "out of memory for a contingency table of %lld rows",
				 (long long)n);
	}
	for (int64_t i = 0; i < n; i++) {
		va[i] = a[i], vb[i] = b[i];
		p[i] = (struct pair){ a[i], b[i] };
	}
	qsort(va, (size_t)n, sizeof *va, cmp_i64);
	qsort(vb, (size_t)n, sizeof *vb, cmp_i64);
	qsort(p, (size_t)n, sizeof *p, cmp_pair);
	t->na = runs(va, n, t->ca);
	t->nb = runs(vb, n, t->cb);
	t->ncell = 0;
	for (int64_t i = 0; i < n;) {
		int64_t j = i;
		while (j < n && p[j].a == p[i].a && p[j].b == p[i].b)
			j++;
		t->cell[t->ncell++] = j - i;
		i = j;
	}
	free(va), free(vb), free(p);
	return SUP_OK;
}

static void contingency_free(struct contingency *t)
{
	free(t->ca), free(t->cb), free(t->cell);
}

/* Entropy (nats) of counts summing to n. */
static double entropy(const int64_t *cnt, int64_t m, double n)
{
	double h = 0;
	for (int64_t i = 0; i < m; i++) {
		double p = (double)cnt[i] / n;
		h -= p * log(p);
	}
	return h;
}

enum sup_status sup_eval_nmi(const int64_t *a, const int64_t *b, int64_t n, double *out, char *err,
			     size_t err_size)
{
	if (n < 0 || (n > 0 && (!a || !b)))
		return sup_errf(err, err_size, SUP_ERR_ARG, "NMI: bad arguments (n = %lld)", (long long)n);
	if (n == 0) {
		*out = 1.0;
		return SUP_OK;
	}
	struct contingency t;
	enum sup_status st = contingency_build(&t, a, b, n, err, err_size);
	if (st != SUP_OK)
		return st;
	if (t.na == 1 && t.nb == 1) { /* no split on either side: a perfect match */
		contingency_free(&t);
		*out = 1.0;
		return SUP_OK;
	}
	/* I = sum_ij (n_ij / n) log(n n_ij / (a_i b_j)) = H(A) + H(B) - H(A, B) */
	double dn = (double)n;
	double ha = entropy(t.ca, t.na, dn), hb = entropy(t.cb, t.nb, dn), hab = entropy(t.cell, t.ncell, dn);
	double mi = ha + hb - hab;
	contingency_free(&t);
	if (mi < 0)
		mi = 0; /* rounding */
	/* The special case above leaves mi = 0 only for independent labellings; report 0 exactly. */
	*out = mi <= 1e-15 * (ha + hb) ? 0.0 : mi / (0.5 * (ha + hb));
	return SUP_OK;
}

enum sup_status sup_eval_ari(const int64_t *a, const int64_t *b, int64_t n, double *out, char *err,
			     size_t err_size)
{
	if (n < 0 || (n > 0 && (!a || !b)))
		return sup_errf(err, err_size, SUP_ERR_ARG, "ARI: bad arguments (n = %lld)", (long long)n);
	struct contingency t;
	enum sup_status st = contingency_build(&t, a, b, n, err, err_size);
	if (st != SUP_OK)
		return st;
	/* Ordered pair counts (sklearn's pair_confusion_matrix): tp = sum n_ij^2 - n,
	 * fp = sum_j b_j^2 - sum n_ij^2, fn = sum_i a_i^2 - sum n_ij^2, tn = n^2 - tp - fp - fn - n.
	 * Exact in int64 for n < 3e9; the final products go through long double. */
	int64_t sq = 0, sa = 0, sb = 0;
	for (int64_t i = 0; i < t.ncell; i++)
		sq += t.cell[i] * t.cell[i];
	for (int64_t i = 0; i < t.na; i++)
		sa += t.ca[i] * t.ca[i];
	for (int64_t i = 0; i < t.nb; i++)
		sb += t.cb[i] * t.cb[i];
	contingency_free(&t);
	int64_t tp = sq - n, fp = sb - sq, fn = sa - sq, tn = n * n - fp - fn - sq;
	if (fn == 0 && fp == 0) {
		*out = 1.0;
		return SUP_OK;
	}
	long double num = 2.0L * ((long double)tp * tn - (long double)fn * fp);
	long double den = (long double)(tp + fn) * (fn + tn) + (long double)(tp + fp) * (fp + tn);
	*out = (double)(num / den);
	return SUP_OK;
}

/* ---- ranking metrics ------------------------------------------------------------------------ */

struct scored {
	double s;
	int64_t i;
};

/* Descending score; equal scores by index so the sort is deterministic (ties are grouped anyway). */
static int cmp_scored_desc(const void *x, const void *y)
{
	const struct scored *p = x, *q = y;
	if (p->s != q->s)
		return (p->s < q->s) - (p->s > q->s);
	return (p->i > q->i) - (p->i < q->i);
}

/* Sorts (score, index) descending; counts positives and negatives. */
static enum sup_status rank_prepare(const double *scores, const uint8_t *is_pos, int64_t n, const char *what,
				    struct scored **out, int64_t *n_pos, char *err, size_t err_size)
{
	if (n < 0 || (n > 0 && (!scores || !is_pos)))
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s: bad arguments (n = %lld)", what, (long long)n);
	int64_t np = 0;
	for (int64_t i = 0; i < n; i++) {
		if (isnan(scores[i]))
			return sup_errf(err, err_size, SUP_ERR_ARG, "%s: score %lld is NaN", what, (long long)i);
		np += is_pos[i] != 0;
	}
	struct scored *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	if (!v)
		return sup_errf(err, err_size, SUP_ERR_NOMEM, "%s: out of memory for %lld scores", what, (long long)n);
	for (int64_t i = 0; i < n; i++)
		v[i] = (struct scored){ scores[i], i };
	qsort(v, (size_t)n, sizeof *v, cmp_scored_desc);
	*out = v;
	*n_pos = np;
	return SUP_OK;
}

enum sup_status sup_eval_auc(const double *scores, const uint8_t *is_pos, int64_t n, double *out, char *err,
			     size_t err_size)
{
	struct scored *v;
	int64_t np;
	enum sup_status st = rank_prepare(scores, is_pos, n, "AUC", &v, &np, err, err_size);
	if (st != SUP_OK)
		return st;
	int64_t nneg = n - np;
	if (np == 0 || nneg == 0) {
		free(v);
		return sup_errf(err, err_size, SUP_ERR_ARG, "AUC needs positives and negatives (%lld and %lld given)",
				 (long long)np, (long long)nneg);
	}
	/* Walk groups of tied scores from the top: each positive in a group beats every negative
	 * below the group and ties with the group's negatives (half credit). */
	double wins = 0;
	int64_t neg_below = nneg;
	for (int64_t i = 0; i < n;) {
		int64_t j = i, p = 0, q = 0;
		while (j < n && v[j].s == v[i].s) {
			if (is_pos[v[j].i])
				p++;
			else
				q++;
			j++;
		}
		neg_below -= q;
		wins += (double)p * ((double)neg_below + 0.5 * (double)q);
		i = j;
	}
	free(v);
	*out = wins / ((double)np * (double)nneg);
	return SUP_OK;
}

enum sup_status sup_eval_average_precision(const double *scores, const uint8_t *is_pos, int64_t n, double *out,
					   char *err, size_t err_size)
{
	struct scored *v;
	int64_t np;
	enum sup_status st = rank_prepare(scores, is_pos, n, "average precision", &v, &np, err, err_size);
	if (st != SUP_OK)
		return st;
	if (np == 0) {
		free(v);
		return sup_errf(err, err_size, SUP_ERR_ARG, "average precision needs at least one positive");
	}
	/* Thresholds at each distinct score, high to low: P_n = tp / (tp + fp), R_n = tp / np. */
	double ap = 0, r_prev = 0;
	int64_t tp = 0, fp = 0;
	for (int64_t i = 0; i < n;) {
		int64_t j = i;
		while (j < n && v[j].s == v[i].s) {
			if (is_pos[v[j].i])
				tp++;
			else
				fp++;
			j++;
		}
		double r = (double)tp / (double)np, p = (double)tp / (double)(tp + fp);
		ap += (r - r_prev) * p;
		r_prev = r;
		i = j;
	}
	free(v);
	*out = ap;
	return SUP_OK;
}

/* ---- likelihood units ----------------------------------------------------------------------- */

double sup_eval_nats_to_bits(double nats)
{
	return nats / log(2.0);
}

double sup_eval_bits_per_byte(double total_nats, double n_bytes)
{
	return total_nats / (n_bytes * log(2.0));
}

double sup_eval_perplexity(double total_nats, double n_tokens)
{
	return exp(total_nats / n_tokens);
}

double sup_eval_bits_per_dim(double total_nats, double n_dims)
{
	return total_nats / (n_dims * log(2.0));
}

double sup_eval_bits_per_dim_density(double total_nats, double n_dims, double bin_width)
{
	return (total_nats - n_dims * log(bin_width)) / (n_dims * log(2.0));
}
