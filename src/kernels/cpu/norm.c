/* Fast f32 normalisation kernels (contracts in kernels/norm.h).
 *
 * Parallel structure, chosen so that every reduced value is summed by one thread in a fixed order
 * (results independent of the thread count):
 *  - layer norm: rows in parallel for y and dx; column blocks in parallel for dw and db (each
 *    block sums its rows in row order, vectorised across the block's columns).
 *  - batch norm [N, C, S] with S > 1: channels in parallel, each channel's sum formed from
 *    per-(n) float partials (vectorised over S) added in n order into a double.
 *  - batch norm with S == 1 ([N, C]): channel blocks in parallel, rows in order, vectorised across
 *    the block's channels with double accumulators.
 * Small problems run on the calling thread (the `if` clauses), so tiny tensors pay no fork. */
#include "kernels/norm.h"

#include <math.h>

#define GRAIN 32768 /* elements below which a kernel stays single-threaded */
#define CB 64       /* channel / column block of the column-vectorised loops */

/* ---- layer norm -------------------------------------------------------------------------------- */

static void ln_fwd_row(float *yr, float *mean, float *rstd, const float *xr, const float *w, const float *b,
		       int64_t C, double eps)
{
	float s = 0.0f, q = 0.0f;
#pragma omp simd reduction(+ : s)
	for (int64_t j = 0; j < C; j++)
		s += xr[j];
	const float mu = s / (float)C;
#pragma omp simd reduction(+ : q)
	for (int64_t j = 0; j < C; j++)
		q += (xr[j] - mu) * (xr[j] - mu);
	const float rs = (float)(1.0 / sqrt((double)q / (double)C + eps));
	*mean = mu;
	*rstd = rs;
	/* one loop per affine variant: no loads through a NULL pointer, each loop vectorises */
	if (w && b) {
#pragma omp simd
		for (int64_t j = 0; j < C; j++)
			yr[j] = (xr[j] - mu) * rs * w[j] + b[j];
	} else if (w) {
#pragma omp simd
		for (int64_t j = 0; j < C; j++)
			yr[j] = (xr[j] - mu) * rs * w[j];
	} else if (b) {
#pragma omp simd
		for (int64_t j = 0; j < C; j++)
			yr[j] = (xr[j] - mu) * rs + b[j];
	} else {
#pragma omp simd
		for (int64_t j = 0; j < C; j++)
			yr[j] = (xr[j] - mu) * rs;
	}
}

SUP_LN_FWD_DECL(cpu, f32, float)
{
	if (C == 0)
		return;
#pragma omp parallel for schedule(static) if (R * C >= GRAIN)
	for (int64_t r = 0; r < R; r++)
		ln_fwd_row(y + r * C, mean + r, rstd + r, x + r * C, w, b, C, eps);
}

/* dx for one row: rs (g - mean(g) - xh mean(g xh)) with g = dy w. Separate loops with and
 * without w, so that no load goes through a NULL w and each loop vectorises. */
static void ln_bwd_row(float *dxr, const float *gr, const float *xr, float mu, float rs, const float *w,
		       int64_t C)
{
	float sg = 0.0f, sgx = 0.0f;
	if (w) {
#pragma omp simd reduction(+ : sg, sgx)
		for (int64_t j = 0; j < C; j++) {
			sg += gr[j] * w[j];
			sgx += gr[j] * w[j] * ((xr[j] - mu) * rs);
		}
	} else {
#pragma omp simd reduction(+ : sg, sgx)
		for (int64_t j = 0; j < C; j++) {
			sg += gr[j];
			sgx += gr[j] * ((xr[j] - mu) * rs);
		}
	}
	sg /= (float)C;
	sgx /= (float)C;
	if (w) {
#pragma omp simd
		for (int64_t j = 0; j < C; j++)
			dxr[j] += rs * (gr[j] * w[j] - sg - ((xr[j] - mu) * rs) * sgx);
	} else {
#pragma omp simd
		for (int64_t j = 0; j < C; j++)
			dxr[j] += rs * (gr[j] - sg - ((xr[j] - mu) * rs) * sgx);
	}
}

/* dw, db for the columns [j0, j1), j1 - j0 <= CB: rows summed in order. */
static void ln_bwd_cols(float *dw, float *db, const float *dy, const float *x, const float *mean,
			const float *rstd, int64_t R, int64_t C, int64_t j0, int64_t j1)
{
	float aw[CB] = { 0 }, ab[CB] = { 0 };
	const int64_t nb = j1 - j0;
	for (int64_t r = 0; r < R; r++) {
		const float *gr = dy + r * C + j0, *xr = x + r * C + j0;
		const float mu = mean[r], rs = rstd[r];
#pragma omp simd
		for (int64_t j = 0; j < nb; j++) {
			aw[j] += gr[j] * ((xr[j] - mu) * rs);
			ab[j] += gr[j];
		}
	}
	for (int64_t j = 0; j < nb; j++) {
		if (dw)
			dw[j0 + j] += aw[j];
		if (db)
			db[j0 + j] += ab[j];
	}
}

SUP_LN_BWD_DECL(cpu, f32, float)
{
	if (C == 0)
		return;
	if (dx) {
#pragma omp parallel for schedule(static) if (R * C >= GRAIN)
		for (int64_t r = 0; r < R; r++)
			ln_bwd_row(dx + r * C, dy + r * C, x + r * C, mean[r], rstd[r], w, C);
	}
	if (dw || db) {
		const int64_t nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (R * C >= GRAIN)
		for (int64_t k = 0; k < nblk; k++)
			ln_bwd_cols(dw, db, dy, x, mean, rstd, R, C, k * CB, k * CB + CB < C ? k * CB + CB : C);
	}
}

/* ---- batch norm, S > 1: one channel per task ------------------------------------------------ */

/* sum over the channel's N planes of S elements of f(x) where f is x (sq false) or (x - mu)^2. */
static double bn_plane_sum(const float *x, int64_t N, int64_t C, int64_t S, int64_t ch, float mu, bool sq)
{
	double acc = 0.0;
	for (int64_t n = 0; n < N; n++) {
		const float *p = x + (n * C + ch) * S;
		float part = 0.0f;
		if (sq) {
#pragma omp simd reduction(+ : part)
			for (int64_t i = 0; i < S; i++)
				part += (p[i] - mu) * (p[i] - mu);
		} else {
#pragma omp simd reduction(+ : part)
			for (int64_t i = 0; i < S; i++)
				part += p[i];
		}
		acc += part;
	}
	return acc;
}

/* ---- batch norm, S == 1: blocks of CB channels, rows in order ------------------------------- */

static void bn_stats_cols(float *mean, float *var, const float *x, int64_t N, int64_t C, int64_t j0, int64_t j1)
{
	double s[CB] = { 0 }, q[CB] = { 0 };
	float mu[CB];
	const int64_t nb = j1 - j0;
	for (int64_t n = 0; n < N; n++) {
		const float *xr = x + n * C + j0;
#pragma omp simd
		for (int64_t j = 0; j < nb; j++)
			s[j] += xr[j];
	}
	for (int64_t j = 0; j < nb; j++)
		mu[j] = (float)(s[j] / (double)N);
	for (int64_t n = 0; n < N; n++) {
		const float *xr = x + n * C + j0;
#pragma omp simd
		for (int64_t j = 0; j < nb; j++) {
			const float d = xr[j] - mu[j];
			q[j] += d * d;
		}
	}
	for (int64_t j = 0; j < nb; j++) {
		mean[j0 + j] = mu[j];
		var[j0 + j] = (float)(q[j] / (double)N);
	}
}

SUP_BN_STATS_DECL(cpu, f32, float)
{
	const int64_t M = N * S;
	if (M == 0) {
		for (int64_t ch = 0; ch < C; ch++)
			mean[ch] = var[ch] = 0.0f;
		return;
	}
	if (S == 1) {
		const int64_t nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (N * C >= GRAIN)
		for (int64_t k = 0; k < nblk; k++)
			bn_stats_cols(mean, var, x, N, C, k * CB, k * CB + CB < C ? k * CB + CB : C);
		return;
	}
#pragma omp parallel for schedule(static) if (M * C >= GRAIN)
	for (int64_t ch = 0; ch < C; ch++) {
		const float mu = (float)(bn_plane_sum(x, N, C, S, ch, 0.0f, false) / (double)M);
		mean[ch] = mu;
		var[ch] = (float)(bn_plane_sum(x, N, C, S, ch, mu, true) / (double)M);
	}
}

SUP_BN_APPLY_DECL(cpu, f32, float)
{
	if (S == 1) {
		const int64_t nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (N * C >= GRAIN)
		for (int64_t k = 0; k < nblk; k++) {
			const int64_t j0 = k * CB, nb = (j0 + CB < C ? j0 + CB : C) - j0;
			float kk[CB], sh[CB], mu[CB];
			for (int64_t j = 0; j < nb; j++) {
				kk[j] = rstd[j0 + j] * (w ? w[j0 + j] : 1.0f);
				sh[j] = b ? b[j0 + j] : 0.0f;
				mu[j] = mean[j0 + j];
			}
			for (int64_t n = 0; n < N; n++) {
				const float *xr = x + n * C + j0;
				float *yr = y + n * C + j0;
#pragma omp simd
				for (int64_t j = 0; j < nb; j++)
					yr[j] = (xr[j] - mu[j]) * kk[j] + sh[j];
			}
		}
		return;
	}
#pragma omp parallel for collapse(2) schedule(static) if (N * C * S >= GRAIN)
	for (int64_t n = 0; n < N; n++)
		for (int64_t ch = 0; ch < C; ch++) {
			const float kk = rstd[ch] * (w ? w[ch] : 1.0f), sh = b ? b[ch] : 0.0f, mu = mean[ch];
			const float *p = x + (n * C + ch) * S;
			float *q = y + (n * C + ch) * S;
#pragma omp simd
			for (int64_t i = 0; i < S; i++)
				q[i] = (p[i] - mu) * kk + sh;
		}
}

/* Backward for the channel block [j0, j1) of an [N, C] input. */
static void bn_bwd_cols(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
			const float *rstd, const float *w, int64_t N, int64_t C, bool training, int64_t j0,
			int64_t j1)
{
	double sg[CB] = { 0 }, sgx[CB] = { 0 };
	float mu[CB], rs[CB], a[CB], bq[CB], k[CB];
	const int64_t nb = j1 - j0;
	for (int64_t j = 0; j < nb; j++) {
		mu[j] = mean[j0 + j];
		rs[j] = rstd[j0 + j];
	}
	for (int64_t n = 0; n < N; n++) {
		const float *gr = dy + n * C + j0, *xr = x + n * C + j0;
#pragma omp simd
		for (int64_t j = 0; j < nb; j++) {
			sg[j] += gr[j];
			sgx[j] += gr[j] * ((xr[j] - mu[j]) * rs[j]);
		}
	}
	for (int64_t j = 0; j < nb; j++) {
		if (dw)
			dw[j0 + j] += (float)sgx[j];
		if (db)
			db[j0 + j] += (float)sg[j];
		a[j] = training ? (float)(sg[j] / (double)N) : 0.0f;
		bq[j] = training ? (float)(sgx[j] / (double)N) : 0.0f;
		k[j] = rs[j] * (w ? w[j0 + j] : 1.0f);
	}
	if (!dx)
		return;
	for (int64_t n = 0; n < N; n++) {
		const float *gr = dy + n * C + j0, *xr = x + n * C + j0;
		float *dr = dx + n * C + j0;
#pragma omp simd
		for (int64_t j = 0; j < nb; j++)
			dr[j] += k[j] * (gr[j] - a[j] - ((xr[j] - mu[j]) * rs[j]) * bq[j]);
	}
}

/* Backward for one channel of an [N, C, S] input, S > 1. */
static void bn_bwd_channel(float *dx, float *dw, float *db, const float *dy, const float *x, float mu, float rs,
			   float wc, int64_t N, int64_t C, int64_t S, bool training, int64_t ch)
{
	double sg = 0.0, sgx = 0.0;
	for (int64_t n = 0; n < N; n++) {
		const float *gp = dy + (n * C + ch) * S, *xp = x + (n * C + ch) * S;
		float pg = 0.0f, pgx = 0.0f;
#pragma omp simd reduction(+ : pg, pgx)
		for (int64_t i = 0; i < S; i++) {
			pg += gp[i];
			pgx += gp[i] * ((xp[i] - mu) * rs);
		}
		sg += pg;
		sgx += pgx;
	}
	if (dw)
		dw[ch] += (float)sgx;
	if (db)
		db[ch] += (float)sg;
	if (!dx)
		return;
	const double M = (double)(N * S);
	const float a = training ? (float)(sg / M) : 0.0f, bq = training ? (float)(sgx / M) : 0.0f, k = wc * rs;
	for (int64_t n = 0; n < N; n++) {
		const float *gp = dy + (n * C + ch) * S, *xp = x + (n * C + ch) * S;
		float *dp = dx + (n * C + ch) * S;
#pragma omp simd
		for (int64_t i = 0; i < S; i++)
			dp[i] += k * (gp[i] - a - ((xp[i] - mu) * rs) * bq);
	}
}

SUP_BN_BWD_DECL(cpu, f32, float)
{
	if (N * S == 0)
		return;
	if (S == 1) {
		const int64_t nblk = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (N * C >= GRAIN)
		for (int64_t k = 0; k < nblk; k++)
			bn_bwd_cols(dx, dw, db, dy, x, mean, rstd, w, N, C, training, k * CB,
				    k * CB + CB < C ? k * CB + CB : C);
		return;
	}
#pragma omp parallel for schedule(static) if (N * C * S >= GRAIN)
	for (int64_t ch = 0; ch < C; ch++)
		bn_bwd_channel(dx, dw, db, dy, x, mean[ch], rstd[ch], w ? w[ch] : 1.0f, N, C, S, training, ch);
}
