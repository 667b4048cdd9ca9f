/* Fast f32 softmax-family kernels: OpenMP over rows (o, n); inside a row the sums use LANES
 * accumulators in a fixed order, so results do not depend on the thread count. With N == 1 every
 * row is unit-stride and the elementwise loops vectorise. */
#if defined(__GNUC__) && !defined(__clang__)
/* Lets GCC if-convert the selects of sup_vm_expf into vector blends (values unchanged; only FP
 * exception flags, which nothing reads, may differ). */
#pragma GCC optimize("no-trapping-math")
#endif

#include "kernels/softmax.h"
#include "kernels/cpu/vmath.h"

#include <math.h>
#include <stddef.h>

#define LANES 8
#define GRAIN 16384 /* elements below which a call stays on one thread */

/* Row helpers are force-inlined so that the N == 1 call sites, which pass a literal stride 1,
 * compile to unit-stride (vectorisable) loops. */
#define ROW_INLINE static inline __attribute__((always_inline))

/* sum_c a[c*s] * (b ? b[c*s] : 1), lanes combined in a fixed tree. */
ROW_INLINE float lane_dot(const float *a, const float *b, int64_t n, int64_t s)
{
	float acc[LANES] = { 0 };
	int64_t i = 0;
	if (b) {
		for (; i + LANES <= n; i += LANES)
			for (int l = 0; l < LANES; l++)
				acc[l] += a[(i + l) * s] * b[(i + l) * s];
		for (int l = 0; i < n; i++, l++)
			acc[l] += a[i * s] * b[i * s];
	} else {
		for (; i + LANES <= n; i += LANES)
			for (int l = 0; l < LANES; l++)
				acc[l] += a[(i + l) * s];
		for (int l = 0; i < n; i++, l++)
			acc[l] += a[i * s];
	}
	return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

ROW_INLINE void softmax_row(float *y, const float *x, int64_t C, int64_t s, bool take_log)
{
	float m = x[0];
	for (int64_t c = 1; c < C; c++)
		m = x[c * s] > m ? x[c * s] : m;
	if (isinf(m))
		m = 0;
	/* y holds exp(x - m) first; the row sum is then taken over y. */
	for (int64_t c = 0; c < C; c++)
		y[c * s] = sup_vm_expf(x[c * s] - m);
	const float sum = lane_dot(y, NULL, C, s);
	if (take_log) {
		const float lse = m + logf(sum);
		for (int64_t c = 0; c < C; c++)
			y[c * s] = x[c * s] - lse;
	} else {
		const float inv = 1.0f / sum;
		for (int64_t c = 0; c < C; c++)
			y[c * s] *= inv;
	}
}

void sup_cpu_softmax_f32(float *y, const float *x, int64_t O, int64_t C, int64_t N, bool take_log)
{
	if (C == 0)
		return;
	const int64_t rows = O * N;
#pragma omp parallel for schedule(static) if (rows * C > GRAIN)
	for (int64_t r = 0; r < rows; r++) {
		if (N == 1) {
			softmax_row(y + r * C, x + r * C, C, 1, take_log);
		} else {
			const int64_t b = (r / N) * C * N + r % N;
			softmax_row(y + b, x + b, C, N, take_log);
		}
	}
}

ROW_INLINE void softmax_bwd_row(float *d, const float *yr, const float *gr, int64_t C, int64_t s, bool take_log)
{
	if (take_log) {
		const float gs = lane_dot(gr, NULL, C, s);
		for (int64_t c = 0; c < C; c++)
			d[c * s] += gr[c * s] - sup_vm_expf(yr[c * s]) * gs;
	} else {
		const float dot = lane_dot(gr, yr, C, s);
		for (int64_t c = 0; c < C; c++)
			d[c * s] += yr[c * s] * (gr[c * s] - dot);
	}
}

void sup_cpu_softmax_bwd_f32(float *dx, const float *y, const float *g, int64_t O, int64_t C, int64_t N,
			     bool take_log)
{
	const int64_t rows = O * N;
#pragma omp parallel for schedule(static) if (rows * C > GRAIN)
	for (int64_t r = 0; r < rows; r++) {
		if (N == 1) {
			softmax_bwd_row(dx + r * C, y + r * C, g + r * C, C, 1, take_log);
		} else {
			const int64_t b = (r / N) * C * N + r % N;
			softmax_bwd_row(dx + b, y + b, g + b, C, N, take_log);
		}
	}
}

void sup_cpu_l2norm_f32(float *y, float *norm, const float *x, int64_t O, int64_t C, int64_t N, float eps)
{
	const int64_t rows = O * N;
#pragma omp parallel for schedule(static) if (rows * C > GRAIN)
	for (int64_t r = 0; r < rows; r++) {
		const int64_t b = (r / N) * C * N + r % N;
		const float nr = sqrtf(lane_dot(x + b, x + b, C, N));
		const float inv = 1.0f / (nr > eps ? nr : eps);
		for (int64_t c = 0; c < C; c++)
			y[b + c * N] = x[b + c * N] * inv;
		norm[r] = nr;
	}
}

void sup_cpu_l2norm_bwd_f32(float *dx, const float *y, const float *norm, const float *g, int64_t O, int64_t C,
			    int64_t N, float eps)
{
	const int64_t rows = O * N;
#pragma omp parallel for schedule(static) if (rows * C > GRAIN)
	for (int64_t r = 0; r < rows; r++) {
		const int64_t b = (r / N) * C * N + r % N;
		const float nr = norm[r];
		const float dot = nr > eps ? lane_dot(g + b, y + b, C, N) : 0.0f;
		const float inv = 1.0f / (nr > eps ? nr : eps);
		for (int64_t c = 0; c < C; c++)
			dx[b + c * N] += (g[b + c * N] - y[b + c * N] * dot) * inv;
	}
}
