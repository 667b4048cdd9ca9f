/* Reference attention kernels: the definition in kernels/attention.h, as plain loops summed in
 * index order in the element type. */
#include "kernels/attention.h"

#include <math.h>

#define ATTN_FWD(F, EXP)                                                                                   \
	const int64_t T = g->T, S = g->S, H = g->H, dh = g->dh, D = H * dh;                                  \
	for (int64_t b = 0; b < g->B; b++)                                                                    \
		for (int64_t h = 0; h < H; h++) {                                                            \
			F *Pbh = probs + (b * H + h) * T * S;                                                \
			for (int64_t t = 0; t < T; t++) {                                                    \
				F *row = Pbh + t * S;                                                        \
				const F *qt = q + (b * T + t) * D + h * dh;                                  \
				for (int64_t s = 0; s < S; s++) {                                            \
					const F *ks = k + (b * S + s) * D + h * dh;                          \
					F acc = 0;                                                           \
					for (int64_t d = 0; d < dh; d++)                                     \
						acc += qt[d] * ks[d];                                        \
					row[s] = (F)g->scale * acc +                                         \
						 (mask ? mask[b * g->mask_sb + t * g->mask_st + s] : (F)0);  \
				}                                                                            \
				F m = row[0];                                                                \
				for (int64_t s = 1; s < S; s++)                                              \
					m = row[s] > m ? row[s] : m;                                         \
				if (isinf(m))                                                                \
					m = 0;                                                               \
				F sum = 0;                                                                   \
				for (int64_t s = 0; s < S; s++) {                                            \
					row[s] = EXP(row[s] - m);                                            \
					sum += row[s];                                                       \
				}                                                                            \
				for (int64_t s = 0; s < S; s++)                                              \
					row[s] /= sum;                                                       \
				F *ot = out + (b * T + t) * D + h * dh;                                      \
				for (int64_t d = 0; d < dh; d++) {                                           \
					F acc = 0;                                                           \
					for (int64_t s = 0; s < S; s++)                                      \
						acc += row[s] * v[(b * S + s) * D + h * dh + d];             \
					ot[d] = acc;                                                         \
				}                                                                            \
			}                                                                                    \
		}

void sup_ref_attention_fwd_f32(float *out, float *probs, const float *q, const float *k, const float *v,
			       const float *mask, const struct sup_attn_geom *g)
{
	ATTN_FWD(float, expf)
}

void sup_ref_attention_fwd_f64(double *out, double *probs, const double *q, const double *k, const double *v,
			       const double *mask, const struct sup_attn_geom *g)
{
	ATTN_FWD(double, exp)
}

/* dS (in work) for one (b, h), then the three gradients. */
#define ATTN_BWD(F)                                                                                         \
	const int64_t T = g->T, S = g->S, H = g->H, dh = g->dh, D = H * dh;                                   \
	const F sc = (F)g->scale;                                                                              \
	for (int64_t b = 0; b < g->B; b++)                                                                     \
		for (int64_t h = 0; h < H; h++) {                                                             \
			const F *Pbh = probs + (b * H + h) * T * S;                                           \
			const int64_t qo = b * T * D + h * dh, ko = b * S * D + h * dh;                       \
			for (int64_t t = 0; t < T; t++) {                                                     \
				F r = 0;                                                                      \
				for (int64_t s = 0; s < S; s++) {                                             \
					F acc = 0;                                                            \
					for (int64_t d = 0; d < dh; d++)                                      \
						acc += dout[qo + t * D + d] * v[ko + s * D + d];              \
					work[t * S + s] = acc;                                                \
					r += acc * Pbh[t * S + s];                                            \
				}                                                                             \
				for (int64_t s = 0; s < S; s++)                                               \
					work[t * S + s] = Pbh[t * S + s] * (work[t * S + s] - r);             \
			}                                                                                     \
			if (dq)                                                                               \
				for (int64_t t = 0; t < T; t++)                                               \
					for (int64_t d = 0; d < dh; d++) {                                    \
						F acc = 0;                                                    \
						for (int64_t s = 0; s < S; s++)                               \
							acc += work[t * S + s] * k[ko + s * D + d];           \
						F *o = &dq[qo + t * D + d];                                   \
						*o = sc * acc + (acc_q ? *o : (F)0);                          \
					}                                                                     \
			if (dk)                                                                               \
				for (int64_t s = 0; s < S; s++)                                               \
					for (int64_t d = 0; d < dh; d++) {                                    \
						F acc = 0;                                                    \
						for (int64_t t = 0; t < T; t++)                               \
							acc += work[t * S + s] * q[qo + t * D + d];           \
						F *o = &dk[ko + s * D + d];                                   \
						*o = sc * acc + (acc_k ? *o : (F)0);                          \
					}                                                                     \
			if (dv)                                                                               \
				for (int64_t s = 0; s < S; s++)                                               \
					for (int64_t d = 0; d < dh; d++) {                                    \
						F acc = 0;                                                    \
						for (int64_t t = 0; t < T; t++)                               \
							acc += Pbh[t * S + s] * dout[qo + t * D + d];         \
						F *o = &dv[ko + s * D + d];                                   \
						*o = acc + (acc_v ? *o : (F)0);                               \
					}                                                                     \
		}

void sup_ref_attention_bwd_f32(float *dq, float *dk, float *dv, const float *dout, const float *probs,
			       const float *q, const float *k, const float *v, const struct sup_attn_geom *g,
			       const bool acc[3], float *work)
{
	const bool acc_q = acc[0], acc_k = acc[1], acc_v = acc[2];
	ATTN_BWD(float)
}

void sup_ref_attention_bwd_f64(double *dq, double *dk, double *dv, const double *dout, const double *probs,
			       const double *q, const double *k, const double *v, const struct sup_attn_geom *g,
			       const bool acc[3], double *work)
{
	const bool acc_q = acc[0], acc_k = acc[1], acc_v = acc[2];
	ATTN_BWD(double)
}
