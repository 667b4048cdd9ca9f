/* Linear probe: multinomial logistic regression on frozen, standardised features, the protocol of
 * e.g. Chen et al. 2020 (SimCLR) Appendix B.5 / Kolesnikov et al. 2019 (L2 strength chosen on a
 * validation split, then refit on train + val and scored on test).
 *
 * Optimiser: full-batch L-BFGS (Nocedal & Wright 2006, Algorithm 7.4 two-loop recursion, Armijo
 * backtracking). Why not mini-batch Adam through the engine's ops: the problem is convex and small
 * (D x C parameters), so a quasi-Newton method on the exact objective converges to the optimum in
 * tens of iterations without a learning-rate schedule to tune, the result does not depend on batch
 * order, and each iteration is two GEMMs over the data (X W, then X^T G), which OpenBLAS runs near
 * memory bandwidth. Parameters, the L-BFGS state, the objective and the softmax are f64; the two
 * GEMMs are f32 (the features are f32), which bounds how small the gradient can get (~1e-6 of its
 * scale) and is why gtol defaults to 1e-4 and a line search that cannot decrease f ends the fit. */
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
	o->max_iter = 150;
	o->history = 10;
	o->gtol = 1e-4;
	o->ftol = 1e-9;
}

/* ---- the objective -------------------------------------------------------------------------- */

struct lr_problem {
	const float *x; /* [n, d] */
	const int32_t *y;
	int64_t n, d;
	int c;
	double l2;
	float *wf;       /* [d, c] f32 copy of W for the GEMM */
	float *z;        /* [n, c] logits, then the residual G */
	float *gw;       /* [d, c] X^T G */
	double *rowloss; /* [n] */
};

/* f(theta) and, when grad != NULL, its gradient; theta = [W (d x c, row-major), b (c)]. */
static double lr_eval(struct lr_problem *p, const double *theta, double *grad)
{
	const int64_t n = p->n, d = p->d, dc = d * p->c;
	const int c = p->c;
	const double *b = theta + dc;
	for (int64_t i = 0; i < dc; i++)
		p->wf[i] = (float)theta[i];
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, c, (int)d, 1.0f, p->x, (int)d, p->wf, c, 0.0f,
		    p->z, c);
	const double inv_n = 1.0 / (double)n;
	const bool want_grad = grad != NULL;
#pragma omp parallel for schedule(static)
	for (int64_t i = 0; i < n; i++) {
		float *zi = p->z + i * c;
		double zz[64], mx = -INFINITY, s = 0; /* c <= 64 goes through the stack copy */
		double *zd = c <= 64 ? zz : NULL;
		for (int j = 0; j < c; j++) {
			double v = (double)zi[j] + b[j];
			if (zd)
				zd[j] = v;
			mx = v > mx ? v : mx;
		}
		for (int j = 0; j < c; j++)
			s += exp((zd ? zd[j] : (double)zi[j] + b[j]) - mx);
		int yi = p->y[i];
		double zy = zd ? zd[yi] : (double)zi[yi] + b[yi];
		p->rowloss[i] = log(s) + mx - zy;
		if (want_grad)
			for (int j = 0; j < c; j++) {
				double pj = exp((zd ? zd[j] : (double)zi[j] + b[j]) - mx) / s;
				zi[j] = (float)((pj - (j == yi)) * inv_n);
			}
	}
	double f = 0, w2 = 0;
	for (int64_t i = 0; i < n; i++) /* fixed order: the value does not depend on the thread count */
		f += p->rowloss[i];
	for (int64_t i = 0; i < dc; i++)
		w2 += theta[i] * theta[i];
	f = f * inv_n + 0.5 * p->l2 * w2;
	if (!want_grad)
		return f;
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, c, (int)n, 1.0f, p->x, (int)d, p->z, c, 0.0f,
		    p->gw, c);
	for (int64_t i = 0; i < dc; i++)
		grad[i] = (double)p->gw[i] + p->l2 * theta[i];
	for (int j = 0; j < c; j++)
		grad[dc + j] = 0;
	for (int64_t i = 0; i < n; i++)
		for (int j = 0; j < c; j++)
			grad[dc + j] += (double)p->z[i * c + j];
	return f;
}

/* ---- L-BFGS --------------------------------------------------------------------------------- */

static double dot(const double *a, const double *b, int64_t n)
{
	double s = 0;
	for (int64_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double norm_inf(const double *a, int64_t n)
{
	double m = 0;
	for (int64_t i = 0; i < n; i++)
		m = fabs(a[i]) > m ? fabs(a[i]) : m;
	return m;
}

struct lbfgs_mem {
	int m, len, head; /* ring buffer of the last len (s, y) pairs; head = next slot */
	double *s, *y, *rho, *alpha;
};

/* dir = -H g by the two-loop recursion with H0 = (s.y / y.y) I of the newest pair. */
static void lbfgs_direction(const struct lbfgs_mem *L, const double *g, double *dir, int64_t np)
{
	for (int64_t i = 0; i < np; i++)
		dir[i] = -g[i];
	for (int k = 0; k < L->len; k++) {
		int j = (L->head - 1 - k + L->m) % L->m;
		double a = L->rho[j] * dot(L->s + (int64_t)j * np, dir, np);
		L->alpha[j] = a;
		const double *yj = L->y + (int64_t)j * np;
		for (int64_t i = 0; i < np; i++)
			dir[i] -= a * yj[i];
	}
	if (L->len > 0) {
		int j = (L->head - 1 + L->m) % L->m;
		const double *yj = L->y + (int64_t)j * np;
		double gamma = 1.0 / (L->rho[j] * dot(yj, yj, np));
		for (int64_t i = 0; i < np; i++)
			dir[i] *= gamma;
	}
	for (int k = L->len - 1; k >= 0; k--) {
		int j = (L->head - 1 - k + L->m) % L->m;
		double bcoef = L->rho[j] * dot(L->y + (int64_t)j * np, dir, np);
		const double *sj = L->s + (int64_t)j * np;
		for (int64_t i = 0; i < np; i++)
			dir[i] += (L->alpha[j] - bcoef) * sj[i];
	}
}

/* Minimises p from theta (updated in place). work: 5 np + 2 m np + 2 m doubles. */
static void lbfgs_run(struct lr_problem *p, double *theta, int64_t np, const struct sup_linear_probe_opts *o,
		      double *work, struct sup_logreg_info *info)
{
	double *g = work, *g2 = g + np, *dir = g2 + np, *t2 = dir + np, *tmp = t2 + np;
	struct lbfgs_mem L = { .m = o->history, .s = tmp + np };
	L.y = L.s + (int64_t)o->history * np;
	L.rho = L.y + (int64_t)o->history * np;
	L.alpha = L.rho + o->history;
	double f = lr_eval(p, theta, g);
	memset(info, 0, sizeof *info);
	info->evals = 1;
	while (true) {
		info->grad_inf = norm_inf(g, np);
		if (info->grad_inf <= o->gtol) {
			info->converged = true;
			break;
		}
		if (info->iters >= o->max_iter)
			break;
		lbfgs_direction(&L, g, dir, np);
		double dg = dot(dir, g, np);
		if (!(dg < 0)) { /* not a descent direction (rounding): restart from steepest descent */
			L.len = 0;
			for (int64_t i = 0; i < np; i++)
				dir[i] = -g[i];
			dg = -dot(g, g, np);
		}
		/* first step of a fresh memory: unit length, as H0 is then unscaled */
		double step = L.len == 0 ? fmin(1.0, 1.0 / sqrt(-dg)) : 1.0, f2 = f;
		bool ok = false;
		for (int ls = 0; ls < 40 && !ok; ls++, step *= 0.5) {
			for (int64_t i = 0; i < np; i++)
				t2[i] = theta[i] + step * dir[i];
			f2 = lr_eval(p, t2, g2);
			info->evals++;
			ok = f2 <= f + 1e-4 * step * dg;
		}
		info->iters++;
		if (!ok) { /* f is flat to rounding along a descent direction: as good as it gets */
			info->converged = true;
			break;
		}
		double *sj = L.s + (int64_t)L.head * np, *yj = L.y + (int64_t)L.head * np;
		for (int64_t i = 0; i < np; i++) {
			sj[i] = t2[i] - theta[i];
			yj[i] = g2[i] - g[i];
		}
		double sy = dot(sj, yj, np);
		if (sy > 1e-12 * dot(yj, yj, np)) { /* keep H positive definite */
			L.rho[L.head] = 1.0 / sy;
			L.head = (L.head + 1) % L.m;
			L.len += L.len < L.m;
		}
		double decrease = f - f2;
		memcpy(theta, t2, (size_t)np * sizeof *theta);
		memcpy(g, g2, (size_t)np * sizeof *g);
		f = f2;
		if (decrease <= o->ftol * fmax(fabs(f), 1.0)) {
			info->grad_inf = norm_inf(g, np);
			info->converged = true;
			break;
		}
	}
	info->loss = f;
}

static enum sup_status check_fit_opts(const struct sup_linear_probe_opts *o, char *err, size_t err_size)
{
	if (o->max_iter < 1 || o->history < 1 || o->history > 100 || !(o->gtol >= 0) || !(o->ftol >= 0))
		return eval_fail(err, err_size, SUP_ERR_ARG,
				 "logistic regression options: need max_iter >= 1, history in [1, 100], gtol, ftol >= 0");
	return SUP_OK;
}

enum sup_status sup_logreg_fit(const float *x, const int32_t *y, int64_t n, int64_t d, int c, double l2,
			       const struct sup_linear_probe_opts *o, float *w, float *b,
			       struct sup_logreg_info *info, char *err, size_t err_size)
{
	struct sup_linear_probe_opts def;
	if (!o) {
		sup_linear_probe_opts_default(&def);
		o = &def;
	}
	enum sup_status st = check_fit_opts(o, err, err_size);
	if (st != SUP_OK)
		return st;
	if (n < 1 || d < 1 || c < 2 || !(l2 >= 0) || !x || !y || !w || !b)
		return eval_fail(err, err_size, SUP_ERR_ARG,
				 "logistic regression: need n >= 1, d >= 1, c >= 2, l2 >= 0 (n = %lld, d = %lld, c = %d, "
				 "l2 = %g)", (long long)n, (long long)d, c, l2);
	if (n > INT32_MAX || d > INT32_MAX)
		return eval_fail(err, err_size, SUP_ERR_ARG, "logistic regression: n or d exceeds the BLAS int range");
	for (int64_t i = 0; i < n; i++)
		if (y[i] < 0 || y[i] >= c)
			return eval_fail(err, err_size, SUP_ERR_ARG,
					 "logistic regression: label %d at row %lld is outside [0, %d)", y[i], (long long)i, c);
	const int64_t np = d * c + c, m = o->history;
	struct lr_problem p = { .x = x, .y = y, .n = n, .d = d, .c = c, .l2 = l2 };
	p.wf = sup_eval_alloc((size_t)(d * c), sizeof(float));
	p.gw = sup_eval_alloc((size_t)(d * c), sizeof(float));
	p.z = sup_eval_alloc((size_t)(n * c), sizeof(float));
	p.rowloss = sup_eval_alloc((size_t)n, sizeof(double));
	double *theta = sup_eval_alloc((size_t)np, sizeof(double));
	double *work = sup_eval_alloc((size_t)((5 + 2 * m) * np + 2 * m), sizeof(double));
	if (!p.wf || !p.gw || !p.z || !p.rowloss || !theta || !work) {
		st = eval_fail(err, err_size, SUP_ERR_NOMEM, "logistic regression: out of memory (n = %lld, d = %lld)",
			       (long long)n, (long long)d);
		goto free_all;
	}
	for (int64_t i = 0; i < d * c; i++)
		theta[i] = w[i];
	for (int j = 0; j < c; j++)
		theta[d * c + j] = b[j];
	struct sup_logreg_info local;
	lbfgs_run(&p, theta, np, o, work, info ? info : &local);
	for (int64_t i = 0; i < d * c; i++)
		w[i] = (float)theta[i];
	for (int j = 0; j < c; j++)
		b[j] = (float)theta[d * c + j];
free_all:
	free(p.wf), free(p.gw), free(p.z), free(p.rowloss), free(theta), free(work);
	return st;
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
		return eval_fail(err, err_size, SUP_ERR_SHAPE,
				 "linear probe: feature dimensions differ (train %lld, val %lld, test %lld)",
				 (long long)train->d, (long long)(val ? val->d : train->d), (long long)test->d);
	if (o->n_l2 < 0 || o->n_l2 > SUP_EVAL_MAX_GRID || o->n_classes < 0 ||
	    !(o->val_fraction > 0 && o->val_fraction < 1))
		return eval_fail(err, err_size, SUP_ERR_ARG,
				 "linear probe: need 0 <= n_l2 <= %d, n_classes >= 0, 0 < val_fraction < 1",
				 SUP_EVAL_MAX_GRID);
	for (int i = 0; i < o->n_l2; i++)
		if (!(o->l2[i] >= 0))
			return eval_fail(err, err_size, SUP_ERR_ARG, "linear probe: l2[%d] = %g is not >= 0", i, o->l2[i]);
	if (ntr < 1 || nte < 1 || (val && nva < 1))
		return eval_fail(err, err_size, SUP_ERR_ARG,
				 "linear probe: no labelled rows in %s (train %lld, val %lld, test %lld labelled)",
				 ntr < 1 ? "train" : nte < 1 ? "test" : "val", (long long)ntr, (long long)nva, (long long)nte);
	int64_t mx = mtr > mva ? mtr : mva;
	mx = mte > mx ? mte : mx;
	int c = o->n_classes ? o->n_classes : (int)(mx + 1);
	if (mx >= c || mx >= INT32_MAX)
		return eval_fail(err, err_size, SUP_ERR_ARG, "linear probe: label %lld is not below n_classes = %d",
				 (long long)mx, c);
	if (c < 2)
		return eval_fail(err, err_size, SUP_ERR_ARG, "linear probe: needs at least 2 classes (labels are all 0)");
	*n_hold = 0;
	if (!val) {
		if (ntr < 2)
			return eval_fail(err, err_size, SUP_ERR_ARG,
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
		st = eval_fail(err, err_size, SUP_ERR_NOMEM, "linear probe: out of memory");
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
	enum sup_status st = check_fit_opts(&o, err, err_size);
	if (st == SUP_OK)
		st = probe_check(train, val, test, &o, out, &n_hold, err, err_size);
	if (st != SUP_OK)
		return st;
	if (train->n > INT32_MAX || test->n > INT32_MAX || (val && val->n > INT32_MAX))
		return eval_fail(err, err_size, SUP_ERR_ARG, "linear probe: more rows than the BLAS int range");
	const int64_t d = train->d, n_all = out->n_train + out->n_val;
	double *mean = malloc((size_t)d * sizeof *mean), *inv_std = malloc((size_t)d * sizeof *inv_std);
	uint8_t *keep = calloc((size_t)(train->n > 0 ? train->n : 1), 1);
	int64_t *perm = malloc((size_t)(out->n_train + n_hold) * sizeof *perm);
	int64_t *idx = malloc((size_t)(out->n_train + n_hold) * sizeof *idx);
	struct rows all = { sup_eval_alloc((size_t)(n_all * d), sizeof(float)), malloc((size_t)n_all * sizeof(int32_t)), 0 };
	struct rows te = { sup_eval_alloc((size_t)(out->n_test * d), sizeof(float)),
			   malloc((size_t)out->n_test * sizeof(int32_t)), 0 };
	if (!mean || !inv_std || !keep || !perm || !idx || !all.x || !all.y || !te.x || !te.y) {
		st = eval_fail(err, err_size, SUP_ERR_NOMEM, "linear probe: out of memory for %lld x %lld features",
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
