/* Fast f32 reduction kernels (OpenMP).
 *
 * Reproducibility: every sum is taken in an order fixed by (O, I, so, si) alone. A group is
 * summed into LANES accumulators (element i goes to lane i % LANES, lanes combined pairwise in a
 * fixed tree). One long group (O == 1, I > BLOCK) is cut into fixed-size blocks whose partial
 * sums are computed in parallel and then added in block order. Several groups are split over
 * threads by group, so a group's order never depends on the thread count. Max is exact, so its
 * order does not matter, but the first-index tie rule is kept by combining blocks in order. */
#if defined(__GNUC__) && !defined(__clang__)
/* Lets GCC if-convert the selects of sup_vm_expf into vector blends (values unchanged; only FP
 * exception flags, which nothing reads, may differ). */
#pragma GCC optimize("no-trapping-math")
#endif

#include "kernels/reduce.h"
#include "kernels/cpu/vmath.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#define LANES 8
#define BLOCK 4096       /* elements per partial sum of one long group */
#define MAX_BLOCKS 1024  /* partials on the stack; longer groups get longer blocks */
#define GRAIN 32768      /* below this many elements the work stays on one thread */
#define COLS 64          /* output columns per task in the column (so == 1) sum */

#define BEATS(v, m) ((v) > (m) || ((v) != (v) && (m) == (m)))

enum term { TERM_ID, TERM_EXP, TERM_SQ }; /* sum of x, exp(x - c), (x - c)^2 */

static float combine_lanes(const float *a)
{
	return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

#define LANE_LOOP(EXPR)                                                          \
	do {                                                                     \
		if (s == 1) {                                                    \
			for (; i + LANES <= n; i += LANES)                       \
				for (int l = 0; l < LANES; l++) {                \
					const float v = x[i + l];                \
					acc[l] += (EXPR);                        \
				}                                                \
		} else {                                                         \
			for (; i + LANES <= n; i += LANES)                       \
				for (int l = 0; l < LANES; l++) {                \
					const float v = x[(i + l) * s];          \
					acc[l] += (EXPR);                        \
				}                                                \
		}                                                                \
		for (int l = 0; i < n; i++, l++) {                               \
			const float v = x[i * s];                                \
			acc[l] += (EXPR);                                        \
		}                                                                \
	} while (0)

/* sum_i term(x[i * s]) for one group of n elements, in lanes. */
static float lane_sum(const float *x, int64_t n, int64_t s, enum term t, float c)
{
	float acc[LANES] = { 0 };
	int64_t i = 0;
	if (t == TERM_ID)
		LANE_LOOP(v);
	else if (t == TERM_EXP)
		LANE_LOOP(sup_vm_expf(v - c));
	else
		LANE_LOOP((v - c) * (v - c));
	return combine_lanes(acc);
}

/* lane_sum for one group of any length: fixed blocks in parallel, partials added in order. */
static float group_sum(const float *x, int64_t n, int64_t s, enum term t, float c)
{
	if (n <= BLOCK)
		return lane_sum(x, n, s, t, c);
	int64_t blk = BLOCK, nb = (n + BLOCK - 1) / BLOCK;
	if (nb > MAX_BLOCKS) {
		blk = (n + MAX_BLOCKS - 1) / MAX_BLOCKS;
		nb = (n + blk - 1) / blk;
	}
	float part[MAX_BLOCKS];
#pragma omp parallel for schedule(static) if (n > GRAIN)
	for (int64_t b = 0; b < nb; b++) {
		const int64_t lo = b * blk, len = n - lo < blk ? n - lo : blk;
		part[b] = lane_sum(x + lo * s, len, s, t, c);
	}
	float acc = 0;
	for (int64_t b = 0; b < nb; b++)
		acc += part[b];
	return acc;
}

/* max and first argmax of one group (n >= 1), sequentially. */
static float span_max(const float *x, int64_t n, int64_t s, int64_t *at)
{
	float m = x[0];
	int64_t best = 0;
	for (int64_t i = 1; i < n; i++) {
		const float v = x[i * s];
		if (BEATS(v, m)) {
			m = v;
			best = i;
		}
	}
	*at = best;
	return m;
}

/* span_max for one group of any length: per-block maxima, combined in block order so the
 * first maximal element still wins. */
static float group_max(const float *x, int64_t n, int64_t s, int64_t *at)
{
	if (n <= BLOCK)
		return span_max(x, n, s, at);
	int64_t blk = BLOCK, nb = (n + BLOCK - 1) / BLOCK;
	if (nb > MAX_BLOCKS) {
		blk = (n + MAX_BLOCKS - 1) / MAX_BLOCKS;
		nb = (n + blk - 1) / blk;
	}
	float pm[MAX_BLOCKS];
	int64_t pi[MAX_BLOCKS];
#pragma omp parallel for schedule(static) if (n > GRAIN)
	for (int64_t b = 0; b < nb; b++) {
		const int64_t lo = b * blk, len = n - lo < blk ? n - lo : blk;
		pm[b] = span_max(x + lo * s, len, s, &pi[b]);
		pi[b] += lo;
	}
	float m = pm[0];
	int64_t best = pi[0];
	for (int64_t b = 1; b < nb; b++)
		if (BEATS(pm[b], m)) {
			m = pm[b];
			best = pi[b];
		}
	*at = best;
	return m;
}

/* Column sums (so == 1): each task owns COLS outputs and walks the rows in order, so every
 * output is summed in i order with unit-stride, vectorisable inner loops. */
static void column_sum(float *out, const float *x, int64_t O, int64_t I, int64_t si, float scale)
{
#pragma omp parallel for schedule(static) if (O * I > GRAIN)
	for (int64_t o0 = 0; o0 < O; o0 += COLS) {
		const int64_t w = O - o0 < COLS ? O - o0 : COLS;
		float acc[COLS] = { 0 };
		for (int64_t i = 0; i < I; i++) {
			const float *row = x + i * si + o0;
			for (int64_t k = 0; k < w; k++)
				acc[k] += row[k];
		}
		for (int64_t k = 0; k < w; k++)
			out[o0 + k] = scale * acc[k];
	}
}

void sup_cpu_sum_f32(float *out, const float *x, int64_t O, int64_t I, int64_t so, int64_t si, float scale)
{
	if (O == 1) {
		out[0] = scale * group_sum(x, I, si, TERM_ID, 0);
		return;
	}
	if (so == 1 && si != 1) {
		column_sum(out, x, O, I, si, scale);
		return;
	}
#pragma omp parallel for schedule(static) if (O * I > GRAIN)
	for (int64_t o = 0; o < O; o++)
		out[o] = scale * lane_sum(x + o * so, I, si, TERM_ID, 0);
}

void sup_cpu_max_f32(float *out, int64_t *idx, const float *x, int64_t O, int64_t I, int64_t so, int64_t si)
{
	if (O == 1) {
		int64_t at;
		out[0] = group_max(x, I, si, &at);
		if (idx)
			idx[0] = at;
		return;
	}
#pragma omp parallel for schedule(static) if (O * I > GRAIN)
	for (int64_t o = 0; o < O; o++) {
		int64_t at;
		out[o] = span_max(x + o * so, I, si, &at);
		if (idx)
			idx[o] = at;
	}
}

/* log sum exp of one group; `whole` selects the blocked (parallel) versions. */
static float lse_group(const float *x, int64_t n, int64_t s, int whole)
{
	int64_t at;
	float m = n == 0 ? 0 : whole ? group_max(x, n, s, &at) : span_max(x, n, s, &at);
	if (isinf(m))
		m = 0;
	const float acc = whole ? group_sum(x, n, s, TERM_EXP, m) : lane_sum(x, n, s, TERM_EXP, m);
	return m + logf(acc);
}

void sup_cpu_logsumexp_f32(float *out, const float *x, int64_t O, int64_t I, int64_t so, int64_t si)
{
	if (O == 1) {
		out[0] = lse_group(x, I, si, 1);
		return;
	}
#pragma omp parallel for schedule(static) if (O * I > GRAIN)
	for (int64_t o = 0; o < O; o++)
		out[o] = lse_group(x + o * so, I, si, 0);
}

static float var_group(const float *x, int64_t n, int64_t s, float denom, float *mean, int whole)
{
	const float mu = (whole ? group_sum(x, n, s, TERM_ID, 0) : lane_sum(x, n, s, TERM_ID, 0)) / (float)n;
	const float ss = whole ? group_sum(x, n, s, TERM_SQ, mu) : lane_sum(x, n, s, TERM_SQ, mu);
	*mean = mu;
	return ss / denom;
}

void sup_cpu_var_f32(float *out, float *mean, const float *x, int64_t O, int64_t I, int64_t so, int64_t si,
		     int64_t correction)
{
	const float denom = (float)(I - correction > 0 ? I - correction : 0);
	if (O == 1) {
		float mu;
		out[0] = var_group(x, I, si, denom, &mu, 1);
		if (mean)
			mean[0] = mu;
		return;
	}
#pragma omp parallel for schedule(static) if (O * I > GRAIN)
	for (int64_t o = 0; o < O; o++) {
		float mu;
		out[o] = var_group(x + o * so, I, si, denom, &mu, 0);
		if (mean)
			mean[o] = mu;
	}
}

/* dx[i * dsi] += term (acc) or = term for i in [i0, i1) of one group. */
static void bwd_span(float *dx, int64_t dsi, float g, const float *x, int64_t si, float a, int64_t i0, int64_t i1,
		     enum sup_reduce_bwd_kind kind, float scale, bool acc)
{
	if (kind == SUP_REDUCE_BWD_SCALE) {
		const float v = g * scale;
		for (int64_t i = i0; i < i1; i++)
			dx[i * dsi] = (acc ? dx[i * dsi] : 0.0f) + v;
	} else if (kind == SUP_REDUCE_BWD_EXP) {
		for (int64_t i = i0; i < i1; i++)
			dx[i * dsi] = (acc ? dx[i * dsi] : 0.0f) + g * sup_vm_expf(x[i * si] - a);
	} else {
		const float gs = g * scale;
		for (int64_t i = i0; i < i1; i++)
			dx[i * dsi] = (acc ? dx[i * dsi] : 0.0f) + gs * (x[i * si] - a);
	}
}

/* The sum/mean over a leading axis ([I, O] reduced to [O]: dso == 1, groups interleaved): walk
 * the gradient row by row (contiguous in o) instead of column by column. */
static void bwd_scale_rows(float *dx, int64_t dsi, const float *g, int64_t O, int64_t I, float scale, bool acc)
{
#pragma omp parallel for schedule(static) if (O * I > GRAIN)
	for (int64_t i = 0; i < I; i++) {
		float *restrict row = dx + i * dsi;
		if (acc)
			for (int64_t o = 0; o < O; o++)
				row[o] += g[o] * scale;
		else
			for (int64_t o = 0; o < O; o++)
				row[o] = g[o] * scale;
	}
}

void sup_cpu_reduce_bwd_f32(float *dx, int64_t dso, int64_t dsi, const float *g, const float *x, int64_t so,
			    int64_t si, const float *aux, int64_t O, int64_t I, enum sup_reduce_bwd_kind kind,
			    float scale)
{
	const bool acc = true; /* the kernel contract accumulates; bwd_span can also store */
	if (kind == SUP_REDUCE_BWD_SCALE && dso == 1 && O > 1 && dsi >= O) {
		bwd_scale_rows(dx, dsi, g, O, I, scale, acc);
		return;
	}
	if (O >= 16 || O * I <= GRAIN) {
#pragma omp parallel for schedule(static) if (O * I > GRAIN)
		for (int64_t o = 0; o < O; o++)
			bwd_span(dx + o * dso, dsi, g[o], x ? x + o * so : NULL, si, aux ? aux[o] : 0, 0, I, kind, scale,
				 acc);
		return;
	}
	/* Few long groups: split each group's elements instead (every element written once). */
	for (int64_t o = 0; o < O; o++) {
#pragma omp parallel for schedule(static)
		for (int64_t i0 = 0; i0 < I; i0 += BLOCK)
			bwd_span(dx + o * dso, dsi, g[o], x ? x + o * so : NULL, si, aux ? aux[o] : 0, i0,
				 I - i0 < BLOCK ? I : i0 + BLOCK, kind, scale, acc);
	}
}
