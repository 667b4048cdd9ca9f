/* Fast f32 attention (kernels/attention.h has the contract): OpenMP over the B * H (batch, head)
 * pairs, each computed by one thread with single-threaded GEMMs on strided views of q, k, v
 * (leading dimension D), so no head is ever copied out. The per-row softmax sums use LANES
 * accumulators in a fixed order; the result does not depend on the thread count.
 *
 * Single-threaded GEMMs: inside an active parallel region the GEMM libraries run on the calling
 * thread by themselves, but a team of one (B * H == 1, or one OpenMP thread) is not an active
 * region, and there oneDNN / OpenBLAS would split a GEMM over omp_get_max_threads() threads,
 * with a thread-count-dependent summation order. So each region first sets its own
 * nthreads-var to 1 (omp_set_num_threads inside a region changes only the ICV of that
 * region's implicit task; the caller's setting is untouched when the region ends). */
#include "kernels/attention.h"
#include "kernels/gemm.h"

#include <math.h>
#include <omp.h>

#define LANES 8

/* Fixed-order sum of n floats (the same tree as kernels/cpu/softmax.c). */
static inline float lane_sum(const float *a, const float *b, int64_t n)
{
	float acc[LANES] = { 0 };
	int64_t i = 0;
	for (; i + LANES <= n; i += LANES)
		for (int l = 0; l < LANES; l++)
			acc[l] += b ? a[i + l] * b[i + l] : a[i + l];
	for (int l = 0; i < n; i++, l++)
		acc[l] += b ? a[i] * b[i] : a[i];
	return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

/* row = softmax(row + mrow) in place (mrow may be NULL). */
static inline void masked_softmax_row(float *row, const float *mrow, int64_t S)
{
	if (mrow)
		for (int64_t s = 0; s < S; s++)
			row[s] += mrow[s];
	float m = row[0];
	for (int64_t s = 1; s < S; s++)
		m = row[s] > m ? row[s] : m;
	if (isinf(m))
		m = 0;
	for (int64_t s = 0; s < S; s++)
		row[s] = expf(row[s] - m);
	const float inv = 1.0f / lane_sum(row, NULL, S);
	for (int64_t s = 0; s < S; s++)
		row[s] *= inv;
}

void sup_cpu_attention_fwd_f32(float *out, float *probs, const float *q, const float *k, const float *v,
			       const float *mask, const struct sup_attn_geom *g)
{
	const int64_t B = g->B, T = g->T, S = g->S, H = g->H, dh = g->dh, D = H * dh;
	if (T == 0 || dh == 0)
		return;
#pragma omp parallel if (B * H > 1)
	{
		omp_set_num_threads(1); /* single-threaded GEMMs even in a team of one (see above) */
#pragma omp for schedule(static)
		for (int64_t bh = 0; bh < B * H; bh++) {
			const int64_t b = bh / H, h = bh % H;
			float *P = probs + bh * T * S;
			const float *qh = q + b * T * D + h * dh, *kh = k + b * S * D + h * dh, *vh = v + b * S * D + h * dh;
			sup_cpu_gemm_f32(false, true, T, S, dh, (float)g->scale, qh, D, kh, D, 0.0f, P, S);
			for (int64_t t = 0; t < T && S > 0; t++)
				masked_softmax_row(P + t * S, mask ? mask + b * g->mask_sb + t * g->mask_st : NULL, S);
			sup_cpu_gemm_f32(false, false, T, dh, S, 1.0f, P, S, vh, D, 0.0f, out + b * T * D + h * dh, D);
		}
	}
}

size_t sup_cpu_attention_bwd_work(const struct sup_attn_geom *g)
{
	return (size_t)omp_get_max_threads() * (size_t)(g->T * g->S);
}

void sup_cpu_attention_bwd_f32(float *dq, float *dk, float *dv, const float *dout, const float *probs,
			       const float *q, const float *k, const float *v, const struct sup_attn_geom *g,
			       const bool acc[3], float *work)
{
	const int64_t B = g->B, T = g->T, S = g->S, H = g->H, dh = g->dh, D = H * dh;
	const float sc = (float)g->scale;
	if (dh == 0)
		return;
#pragma omp parallel if (B * H > 1)
	{
		omp_set_num_threads(1); /* single-threaded GEMMs even in a team of one (see above) */
		float *dS = work + (size_t)omp_get_thread_num() * (size_t)(T * S);
#pragma omp for schedule(static)
		for (int64_t bh = 0; bh < B * H; bh++) {
			const int64_t b = bh / H, h = bh % H, qo = b * T * D + h * dh, ko = b * S * D + h * dh;
			const float *P = probs + bh * T * S;
			/* dP = dout_bh v_bh^T, then dS = P (dP - rowsum(dP P)) in place. */
			sup_cpu_gemm_f32(false, true, T, S, dh, 1.0f, dout + qo, D, v + ko, D, 0.0f, dS, S);
			for (int64_t t = 0; t < T; t++) {
				float *row = dS + t * S;
				const float *p = P + t * S;
				const float r = lane_sum(row, p, S);
				for (int64_t s = 0; s < S; s++)
					row[s] = p[s] * (row[s] - r);
			}
			if (dq)
				sup_cpu_gemm_f32(false, false, T, dh, S, sc, dS, S, k + ko, D, acc[0] ? 1.0f : 0.0f, dq + qo,
						 D);
			if (dk)
				sup_cpu_gemm_f32(true, false, S, dh, T, sc, dS, S, q + qo, D, acc[1] ? 1.0f : 0.0f, dk + ko,
						 D);
			if (dv)
				sup_cpu_gemm_f32(true, false, S, dh, T, 1.0f, P, S, dout + qo, D, acc[2] ? 1.0f : 0.0f,
						 dv + ko, D);
		}
	}
}
