/* Linear probe: multinomial logistic regression on frozen, standardised features, L2 strength
 * chosen on a validation split, refit on train + val, scored on test: the transfer linear
 * evaluation of Kornblith, Shlens, Le 2019 ("Do Better ImageNet Models Transfer Better?", §3: an
 * L2-regularised multinomial logistic regression fitted with L-BFGS, strength chosen on a
 * validation split) as used by Chen et al. 2020 (SimCLR, transfer appendix). The solver
 * (preconditioned L-BFGS) is in logreg.c; contracts in eval.h. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void sup_linear_probe_opts_default(struct sup_linear_probe_opts *o)
{
	memset(o, 0, sizeof *o);
	o->n_l2 = 6;
	for (int i = 0; i < 6; i++)
		o->l2[i] = pow(10.0, -6 + i);
	o->val_fraction = 0.1;
	o->refit = true;
	o->max_iter = 100;
	o->history = 10;
	o->gtol = 1e-4;
	o->ftol = 1e-9;
}

/* ---- the probe protocol --------------------------------------------------------------------- */

/* Standardised, labelled rows of one or two sets laid out contiguously, with int32 labels. */
struct rows {
	float *x;
	int32_t *y;
	int64_t n;
};

/* Per-dimension mean and std (population) of all rows of s, in f64 summed in row order. */
static void column_stats(const struct sup_eval_set *s, double *mean, double *inv_std)
{
	const int64_t d = s->d;
	for (int64_t j = 0; j < d; j++)
		mean[j] = inv_std[j] = 0;
	for (int64_t i = 0; i < s->n; i++)
		for (int64_t j = 0; j < d; j++)
			mean[j] += s->x[i * d + j];
	for (int64_t j = 0; j < d; j++)
		mean[j] /= (double)(s->n > 0 ? s->n : 1);
	for (int64_t i = 0; i < s->n; i++)
		for (int64_t j = 0; j < d; j++) {
			double v = s->x[i * d + j] - mean[j];
			inv_std[j] += v * v;
		}
	for (int64_t j = 0; j < d; j++) {
		double sd = sqrt(inv_std[j] / (double)(s->n > 0 ? s->n : 1));
		inv_std[j] = sd > 1e-12 * (1 + fabs(mean[j])) ? 1.0 / sd : 1.0; /* constant column: centred only */
	}
}

/* Appends the rows of s with keep[i] (or, keep NULL, every labelled row) to r, standardised. */
static void rows_append(struct rows *r, const struct sup_eval_set *s, const uint8_t *keep, const double *mean,
			const double *inv_std)
{
	const int64_t d = s->d;
	for (int64_t i = 0; i < s->n; i++) {
		int64_t y = sup_eval_set_label(s, i);
		if (keep ? !keep[i] : y < 0)
			continue;
		float *dst = r->x + r->n * d;
		for (int64_t j = 0; j < d; j++)
			dst[j] = (float)((s->x[i * d + j] - mean[j]) * inv_std[j]);
		r->y[r->n++] = (int32_t)y;
	}
}

/* Top-1 and top-5 accuracy of (W, b) on n rows; z: scratch [n, c]. */
static void score_rows(const float *x, const int32_t *y, int64_t n, int64_t d, int c, const float *w,
		       const float *b, float *z, double *top1, double *top5)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, c, (int)d, 1.0f, x, (int)d, w, c, 0.0f, z, c);
	for (int64_t i = 0; i < n; i++)
		for (int j = 0; j < c; j++)
			z[i * c + j] += b[j];
	sup_eval_topk_accuracy(z, n, c, y, SUP_I32, 1, top1, NULL, NULL, 0);
	if (top5)
		sup_eval_topk_accuracy(z, n, c, y, SUP_I32, 5, top5, NULL, NULL, 0);
}

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x < y) - (x > y);
}

/* Validates the splits; sets the class count, labelled-row counts and the hold-out size. */
static enum sup_status probe_check(const struct sup_eval_set *train, const struct sup_eval_set *val,
				   const struct sup_eval_set *test, const struct sup_linear_probe_opts *o,
				   struct sup_linear_probe_result *out, int64_t *n_hold, char *err, size_t err_size)
{
	int64_t ntr, nva = 0, nte, mtr, mva = -1, mte;
	enum sup_status st = sup_eval_set_check(train, "linear probe: train", true, &ntr, &mtr, err, err_size);
	if (st == SUP_OK && val)
		st = sup_eval_set_check(val, "linear probe: val", true, &nva, &mva, err, err_size);
	if (st == SUP_OK)
		st = sup_eval_set_check(test, "linear probe: test", true, &nte, &mte, err, err_size);
	if (st != SUP_OK)
		return st;
	if ((val && val->d != train->d) || test->d != train->d)
		return sup_errf(err, err_size, SUP_ERR_SHAPE,
				 "linear probe: feature dimensions differ (train %lld, val %lld, test %lld)",
				 (long long)train->d, (long long)(val ? val->d : train->d), (long long)test->d);
	if (o->n_l2 < 0 || o->n_l2 > SUP_EVAL_MAX_GRID || o->n_classes < 0 ||
	    !(o->val_fraction > 0 && o->val_fraction < 1))
		return sup_errf(err, err_size, SUP_ERR_ARG,
				 "linear probe: need 0 <= n_l2 <= %d, n_classes >= 0, 0 < val_fraction < 1",
				 SUP_EVAL_MAX_GRID);
	for (int i = 0; i < o->n_l2; i++)
		if (!(o->l2[i] >= 0))
			return sup_errf(err, err_size, SUP_ERR_ARG, "linear probe: l2[%d] = %g is not >= 0", i, o->l2[i]);
	if (ntr < 1 || nte < 1 || (val && nva < 1))
		return sup_errf(err, err_size, SUP_ERR_ARG,
				 "linear probe: no labelled rows in %s (train %lld, val %lld, test %lld labelled)",
				 ntr < 1 ? "train" : nte < 1 ? "test" : "val", (long long)ntr, (long long)nva, (long long)nte);
	int64_t mx = mtr > mva ? mtr : mva;
	mx = mte > mx ? mte : mx;
	int c = o->n_classes ? o->n_classes : (int)(mx + 1);
	if (mx >= c || mx >= INT32_MAX)
		return sup_errf(err, err_size, SUP_ERR_ARG, "linear probe: label %lld is not below n_classes = %d",
				 (long long)mx, c);
	if (c < 2)
		return sup_errf(err, err_size, SUP_ERR_ARG, "linear probe: needs at least 2 classes (labels are all 0)");
	*n_hold = 0;
	if (!val) {
		if (ntr < 2)
			return sup_errf(err, err_size, SUP_ERR_ARG,
					 "linear probe: a hold-out needs >= 2 labelled train rows (%lld given)", (long long)ntr);
		*n_hold = (int64_t)llround(o->val_fraction * (double)ntr);
		*n_hold = *n_hold < 1 ? 1 : *n_hold >= ntr ? ntr - 1 : *n_hold;
	}
	memset(out, 0, sizeof *out);
	out->n_classes = c;
	out->has_top5 = c > 5;
	out->n_test = nte;
	out->n_val = val ? nva : *n_hold;
	out->n_train = ntr - *n_hold;
	return SUP_OK;
}

/* The grid search and refit on prepared rows: fit = rows [0, n_fit), val = [n_fit, n_all). */
static enum sup_status probe_fit(const struct rows *all, int64_t n_fit, const struct rows *te, int64_t d,
				 const struct sup_linear_probe_opts *o, struct sup_linear_probe_result *out, char *err,
				 size_t err_size)
{
	const int c = out->n_classes;
	const int64_t n_all = all->n, n_val = n_all - n_fit, dc = d * c;
	float *w = calloc((size_t)(dc + c), sizeof *w), *best = malloc((size_t)(dc + c) * sizeof *best);
	int64_t zrows = n_all > te->n ? n_all : te->n;
	float *z = sup_eval_alloc((size_t)(zrows * c), sizeof(float));
	enum sup_status st = SUP_OK;
	if (!w || !best || !z) {
		st = sup_errf(err, err_size, SUP_ERR_NOMEM, "linear probe: out of memory");
		goto free_all;
	}
	out->n_l2 = o->n_l2 ? o->n_l2 : 6;
	struct sup_linear_probe_opts def;
	sup_linear_probe_opts_default(&def);
	memcpy(out->grid_l2, o->n_l2 ? o->l2 : def.l2, (size_t)out->n_l2 * sizeof(double));
	qsort(out->grid_l2, (size_t)out->n_l2, sizeof(double), cmp_desc);
	struct sup_logreg_info info;
	out->val_top1 = -1;
	for (int g = 0; g < out->n_l2; g++) { /* warm start along the path: strong to weak */
		st = sup_logreg_fit(all->x, all->y, n_fit, d, c, out->grid_l2[g], o, w, w + dc, &info, err, err_size);
		if (st != SUP_OK)
			goto free_all;
		out->iters += info.iters;
		score_rows(all->x + n_fit * d, all->y + n_fit, n_val, d, c, w, w + dc, z, &out->grid_val_top1[g], NULL);
		if (out->grid_val_top1[g] > out->val_top1) {
			out->val_top1 = out->grid_val_top1[g];
			out->l2 = out->grid_l2[g];
			out->converged = info.converged;
			memcpy(best, w, (size_t)(dc + c) * sizeof *w);
		}
	}
	int64_t n_final = n_fit;
	if (o->refit) {
		n_final = n_all;
		st = sup_logreg_fit(all->x, all->y, n_all, d, c, out->l2, o, best, best + dc, &info, err, err_size);
		if (st != SUP_OK)
			goto free_all;
		out->iters += info.iters;
		out->converged = info.converged;
	}
	score_rows(all->x, all->y, n_final, d, c, best, best + dc, z, &out->train_top1, NULL);
	score_rows(te->x, te->y, te->n, d, c, best, best + dc, z, &out->top1, out->has_top5 ? &out->top5 : NULL);
free_all:
	free(w), free(best), free(z);
	return st;
}

enum sup_status sup_eval_linear_probe(const struct sup_eval_set *train, const struct sup_eval_set *val,
				      const struct sup_eval_set *test, const struct sup_linear_probe_opts *opts,
				      struct sup_linear_probe_result *out, char *err, size_t err_size)
{
	struct sup_linear_probe_opts o;
	if (opts)
		o = *opts;
	else
		sup_linear_probe_opts_default(&o);
	int64_t n_hold;
	enum sup_status st = probe_check(train, val, test, &o, out, &n_hold, err, err_size);
	if (st != SUP_OK)
		return st;
	if (train->n > INT32_MAX || test->n > INT32_MAX || (val && val->n > INT32_MAX))
		return sup_errf(err, err_size, SUP_ERR_ARG, "linear probe: more rows than the BLAS int range");
	const int64_t d = train->d, n_all = out->n_train + out->n_val;
	double *mean = malloc((size_t)d * sizeof *mean), *inv_std = malloc((size_t)d * sizeof *inv_std);
	uint8_t *keep = calloc((size_t)(train->n > 0 ? train->n : 1), 1);
	int64_t *perm = malloc((size_t)(out->n_train + n_hold) * sizeof *perm);
	int64_t *idx = malloc((size_t)(out->n_train + n_hold) * sizeof *idx);
	struct rows all = { sup_eval_alloc((size_t)(n_all * d), sizeof(float)), malloc((size_t)n_all * sizeof(int32_t)), 0 };
	struct rows te = { sup_eval_alloc((size_t)(out->n_test * d), sizeof(float)),
			   malloc((size_t)out->n_test * sizeof(int32_t)), 0 };
	if (!mean || !inv_std || !keep || !perm || !idx || !all.x || !all.y || !te.x || !te.y) {
		st = sup_errf(err, err_size, SUP_ERR_NOMEM, "linear probe: out of memory for %lld x %lld features",
			       (long long)n_all, (long long)d);
		goto free_all;
	}
	column_stats(train, mean, inv_std);
	/* The hold-out is the labelled rows at the first n_hold positions of a seeded permutation of
	 * the labelled rows; keep[i] = 1 marks a fit row. idx: labelled row ids, perm: positions. */
	int64_t nl = 0;
	for (int64_t i = 0; i < train->n; i++)
		if (sup_eval_set_label(train, i) >= 0)
			idx[nl++] = i;
	struct sup_rng rng = sup_rng_make(o.seed, 0x11ea7);
	sup_rng_permutation(&rng, perm, nl);
	for (int64_t k = 0; k < nl; k++)
		keep[idx[perm[k]]] = k >= n_hold;
	rows_append(&all, train, keep, mean, inv_std);
	if (val) {
		rows_append(&all, val, NULL, mean, inv_std);
	} else {
		for (int64_t i = 0; i < train->n; i++)
			keep[i] = !keep[i] && sup_eval_set_label(train, i) >= 0;
		rows_append(&all, train, keep, mean, inv_std);
	}
	rows_append(&te, test, NULL, mean, inv_std);
	SUP_ASSERT(all.n == n_all && te.n == out->n_test);
	st = probe_fit(&all, out->n_train, &te, d, &o, out, err, err_size);
free_all:
	free(mean), free(inv_std), free(keep), free(perm), free(idx), free(all.x), free(all.y), free(te.x), free(te.y);
	return st;
}
