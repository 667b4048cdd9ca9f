/* Multinomial logistic regression by preconditioned full-batch L-BFGS: the solver of the linear
 * probe (linear.c). Objective, stopping rules and contracts: include/selfsup/eval.h.
 *
 * Why L-BFGS and not mini-batch Adam through the engine's ops: the problem is convex with D x C
 * parameters, so a quasi-Newton method on the exact objective reaches the optimum in tens of
 * iterations with no learning rate or schedule to tune, and the answer does not depend on batch
 * order. One objective evaluation is two GEMMs over the data (Z = X W, then X^T G), done per block
 * of rows so the block is still in cache for the second one.
 *
 * Preconditioning (Nocedal & Wright 2006, §7.2, Algorithm 7.4 with a non-identity H0): pixels and
 * learned features are strongly correlated, which makes plain L-BFGS crawl (hundreds of
 * iterations). At W = 0 the Hessian of the loss is exactly (X~^T X~ / n) (x) (I - 11^T / C) / C,
 * X~ = [X, 1], so H0 = gamma A^{-1} with A = X~^T X~ / (n C) + l2 I (bias entry: no l2) is the
 * inverse Newton matrix there and a good metric later; A is estimated from a strided sample of at
 * most 8192 rows (it only has to be positive definite to keep the method correct), factored once
 * per fit by Cholesky, and applied by two triangular solves; gamma = s.y / y.A^{-1}y of the newest
 * pair (1 before any pair). On 10000 Fashion-MNIST rows at l2 = 0.1: 35 iterations to gtol, where
 * plain L-BFGS had not converged after 150.
 *
 * Precision: parameters, the L-BFGS state, the softmax and the objective are f64; the GEMMs are f32
 * (the features are f32), which limits how small the gradient can get (~1e-6 of its scale); hence
 * gtol 1e-4 by default, and a line search that cannot decrease f ends the fit as converged. */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LR_BLOCK = 4096, PRE_ROWS = 8192 };

/* ---- the objective -------------------------------------------------------------------------- */

struct lr_problem {
	const float *x; /* [n, d] */
	const int32_t *y;
	int64_t n, d;
	int c;
	double l2;
	float *wf;       /* [d, c] f32 copy of W for the GEMM */
	float *z;        /* [LR_BLOCK, c] logits of a block, then its residual G */
	float *gw;       /* [d, c] X_b^T G_b of a block */
	double *rowloss; /* [n] */
};

/* Loss rows [i0, i0 + b) from the logits in p->z; with grad, overwrites z by G = (P - Y) / n. */
static void lr_softmax_block(struct lr_problem *p, const double *bias, int64_t i0, int b, bool want_grad)
{
	const int c = p->c;
	const double inv_n = 1.0 / (double)p->n;
	/* serial on purpose: an OpenMP team here would alternate with OpenBLAS's own threads every
	 * block, and the two pools' spinning threads then fight for the cores (measured 2-5x slower
	 * on 2 cores); the GEMMs dominate anyway */
	for (int a = 0; a < b; a++) {
		float *zi = p->z + (int64_t)a * c;
		double mx = -INFINITY, s = 0;
		for (int j = 0; j < c; j++)
			mx = fmax(mx, (double)zi[j] + bias[j]);
		for (int j = 0; j < c; j++)
			s += exp((double)zi[j] + bias[j] - mx);
		int yi = p->y[i0 + a];
		p->rowloss[i0 + a] = log(s) + mx - ((double)zi[yi] + bias[yi]);
		if (want_grad)
			for (int j = 0; j < c; j++) {
				double pj = exp((double)zi[j] + bias[j] - mx) / s;
				zi[j] = (float)((pj - (j == yi)) * inv_n);
			}
	}
}

/* f(theta) and, when grad != NULL, its gradient; theta = [W (d x c, row-major); b (c)], i.e. a
 * (d + 1) x c matrix whose last row is the bias. */
static double lr_eval(struct lr_problem *p, const double *theta, double *grad)
{
	const int64_t n = p->n, d = p->d, dc = d * p->c;
	const int c = p->c;
	for (int64_t i = 0; i < dc; i++)
		p->wf[i] = (float)theta[i];
	if (grad)
		memset(grad, 0, (size_t)(dc + c) * sizeof *grad);
	for (int64_t i0 = 0; i0 < n; i0 += LR_BLOCK) {
		const int b = (int)(n - i0 < LR_BLOCK ? n - i0 : LR_BLOCK);
		const float *xb = p->x + i0 * d;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, c, (int)d, 1.0f, xb, (int)d, p->wf, c, 0.0f,
			    p->z, c);
		lr_softmax_block(p, theta + dc, i0, b, grad != NULL);
		if (!grad)
			continue;
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, c, b, 1.0f, xb, (int)d, p->z, c, 0.0f, p->gw,
			    c);
		for (int64_t i = 0; i < dc; i++) /* f64 accumulation over blocks, in block order */
			grad[i] += p->gw[i];
		for (int a = 0; a < b; a++)
			for (int j = 0; j < c; j++)
				grad[dc + j] += p->z[(int64_t)a * c + j];
	}
	double f = 0, w2 = 0;
	for (int64_t i = 0; i < n; i++) /* fixed order: the value does not depend on the thread count */
		f += p->rowloss[i];
	for (int64_t i = 0; i < dc; i++) {
		w2 += theta[i] * theta[i];
		if (grad)
			grad[i] += p->l2 * theta[i];
	}
	return f / (double)n + 0.5 * p->l2 * w2;
}

/* ---- the preconditioner --------------------------------------------------------------------- */

struct precond {
	double *L; /* [m, m] lower Cholesky factor of A, m = d + 1; used when ok */
	bool ok;
	int64_t m;
	int c;
};

/* In-place Cholesky of the lower triangle of a (m x m, row-major); false if not positive definite. */
static bool cholesky(double *a, int64_t m)
{
	for (int64_t j = 0; j < m; j++) {
		double *rj = a + j * m;
		double s = rj[j];
		for (int64_t k = 0; k < j; k++)
			s -= rj[k] * rj[k];
		if (!(s > 0))
			return false;
		rj[j] = sqrt(s);
		const double inv = 1.0 / rj[j];
#pragma omp parallel for schedule(static)
		for (int64_t i = j + 1; i < m; i++) {
			double *ri = a + i * m;
			double t = ri[j];
			for (int64_t k = 0; k < j; k++)
				t -= ri[k] * rj[k];
			ri[j] = t * inv;
		}
	}
	return true;
}

/* Builds A = X~^T X~ / (ns c) + l2 I_d over every stride-th row (ns rows) and factors it; the
 * jitter grows until the Cholesky succeeds (constant features give zero rows when l2 = 0). On
 * failure (no memory, or never positive definite) P->ok is false: H0 = identity, slower but
 * still correct. A curvature-weighted A (X~^T diag(w) X~ with each row's softmax curvature at the
 * warm start, refreshed every 20 iterations) was tried and needed more iterations at small l2. */
static void precond_build(struct precond *P, const float *x, int64_t n, int64_t d, int c, double l2)
{
	const int64_t m = d + 1, stride = (n + PRE_ROWS - 1) / PRE_ROWS, ns = (n + stride - 1) / stride;
	*P = (struct precond){ .m = m, .c = c, .L = malloc((size_t)(m * m) * sizeof(double)) };
	float *s = sup_eval_alloc((size_t)(d * d), sizeof(float));
	double *mean = calloc((size_t)d, sizeof(double));
	if (!P->L || !s || !mean || stride * d > INT32_MAX)
		goto done;
	/* rows 0, stride, 2 stride, ... form an ns x d matrix with leading dimension stride * d */
	cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, (int)d, (int)ns, 1.0f / (float)ns, x, (int)(stride * d),
		    0.0f, s, (int)d);
	for (int64_t i = 0; i < ns; i++)
		for (int64_t j = 0; j < d; j++)
			mean[j] += x[i * stride * d + j];
	double trace = 1 + l2 * (double)d;
	for (int64_t j = 0; j < d; j++)
		trace += s[j * d + j];
	for (double jitter = 1e-10 * trace / (double)m; jitter < trace && !P->ok; jitter *= 1e3) {
		for (int64_t i = 0; i < d; i++) {
			for (int64_t j = 0; j <= i; j++)
				P->L[i * m + j] = s[i * d + j] / c;
			P->L[i * m + i] += l2 + jitter;
		}
		for (int64_t j = 0; j < d; j++)
			P->L[d * m + j] = mean[j] / (double)ns / c;
		P->L[d * m + d] = 1.0 / c + jitter;
		P->ok = cholesky(P->L, m);
	}
done:
	free(s);
	free(mean);
}

/* v [m, c] <- A^{-1} v */
static void precond_apply(const struct precond *P, double *v)
{
	if (!P->ok)
		return;
	cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)P->m, P->c, 1.0, P->L,
		    (int)P->m, v, P->c);
	cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, (int)P->m, P->c, 1.0, P->L,
		    (int)P->m, v, P->c);
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
	double *tmp; /* [np] scratch */
};

/* dir = -H g by the two-loop recursion with H0 = gamma A^{-1}. */
static void lbfgs_direction(const struct lbfgs_mem *L, const struct precond *P, const double *g, double *dir,
			    int64_t np)
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
	precond_apply(P, dir);
	if (L->len > 0) {
		int j = (L->head - 1 + L->m) % L->m;
		memcpy(L->tmp, L->y + (int64_t)j * np, (size_t)np * sizeof(double));
		precond_apply(P, L->tmp);
		double gamma = 1.0 / (L->rho[j] * dot(L->y + (int64_t)j * np, L->tmp, np));
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

/* Armijo backtracking from step0 along dir; t2/g2/f2 receive the accepted point. */
static bool line_search(struct lr_problem *p, const double *theta, double f, const double *dir, double dg,
			double step, int64_t np, double *t2, double *g2, double *f2, int *evals)
{
	for (int ls = 0; ls < 40; ls++, step *= 0.5) {
		for (int64_t i = 0; i < np; i++)
			t2[i] = theta[i] + step * dir[i];
		*f2 = lr_eval(p, t2, g2);
		++*evals;
		if (*f2 <= f + 1e-4 * step * dg)
			return true;
	}
	return false;
}

/* Minimises p from theta (updated in place). work: (5 + 2 m) np + 2 m doubles. */
static void lbfgs_run(struct lr_problem *p, const struct precond *P, double *theta, int64_t np,
		      const struct sup_linear_probe_opts *o, double *work, struct sup_logreg_info *info)
{
	double *g = work, *g2 = g + np, *dir = g2 + np, *t2 = dir + np;
	struct lbfgs_mem L = { .m = o->history, .tmp = t2 + np };
	L.s = L.tmp + np;
	L.y = L.s + (int64_t)o->history * np;
	L.rho = L.y + (int64_t)o->history * np;
	L.alpha = L.rho + o->history;
	memset(info, 0, sizeof *info);
	double f = lr_eval(p, theta, g), f2;
	info->evals = 1;
	while (true) {
		info->grad_inf = norm_inf(g, np);
		if (info->grad_inf <= o->gtol) {
			info->converged = true;
			break;
		}
		if (info->iters >= o->max_iter)
			break;
		lbfgs_direction(&L, P, g, dir, np);
		double dg = dot(dir, g, np);
		if (!(dg < 0)) { /* not a descent direction (rounding): restart from steepest descent */
			L.len = 0;
			for (int64_t i = 0; i < np; i++)
				dir[i] = -g[i];
			dg = -dot(g, g, np);
		}
		/* a fresh memory without preconditioner: unit-length first step, H0 being unscaled */
		double step = L.len == 0 && !P->ok ? fmin(1.0, 1.0 / sqrt(-dg)) : 1.0;
		bool ok = line_search(p, theta, f, dir, dg, step, np, t2, g2, &f2, &info->evals);
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
		return sup_errf(err, err_size, SUP_ERR_ARG,
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
		return sup_errf(err, err_size, SUP_ERR_ARG,
				 "logistic regression: need n >= 1, d >= 1, c >= 2, l2 >= 0 (n = %lld, d = %lld, c = %d, "
				 "l2 = %g)", (long long)n, (long long)d, c, l2);
	if (n > INT32_MAX || d * c > INT32_MAX)
		return sup_errf(err, err_size, SUP_ERR_ARG, "logistic regression: n or d exceeds the BLAS int range");
	for (int64_t i = 0; i < n; i++)
		if (y[i] < 0 || y[i] >= c)
			return sup_errf(err, err_size, SUP_ERR_ARG,
					 "logistic regression: label %d at row %lld is outside [0, %d)", y[i], (long long)i, c);
	const int64_t np = d * c + c, m = o->history;
	struct lr_problem p = { .x = x, .y = y, .n = n, .d = d, .c = c, .l2 = l2 };
	p.wf = sup_eval_alloc((size_t)(d * c), sizeof(float));
	p.gw = sup_eval_alloc((size_t)(d * c), sizeof(float));
	p.z = sup_eval_alloc((size_t)LR_BLOCK * (size_t)c, sizeof(float));
	p.rowloss = sup_eval_alloc((size_t)n, sizeof(double));
	double *theta = sup_eval_alloc((size_t)np, sizeof(double));
	double *work = sup_eval_alloc((size_t)((5 + 2 * m) * np + 2 * m), sizeof(double));
	struct precond P = { 0 };
	if (!p.wf || !p.gw || !p.z || !p.rowloss || !theta || !work) {
		st = sup_errf(err, err_size, SUP_ERR_NOMEM, "logistic regression: out of memory (n = %lld, d = %lld)",
			       (long long)n, (long long)d);
		goto free_all;
	}
	for (int64_t i = 0; i < d * c; i++)
		theta[i] = w[i];
	for (int j = 0; j < c; j++)
		theta[d * c + j] = b[j];
	precond_build(&P, x, n, d, c, l2);
	struct sup_logreg_info local;
	lbfgs_run(&p, &P, theta, np, o, work, info ? info : &local);
	for (int64_t i = 0; i < d * c; i++)
		w[i] = (float)theta[i];
	for (int j = 0; j < c; j++)
		b[j] = (float)theta[d * c + j];
free_all:
	free(P.L);
	free(p.wf), free(p.gw), free(p.z), free(p.rowloss), free(theta), free(work);
	return st;
}
