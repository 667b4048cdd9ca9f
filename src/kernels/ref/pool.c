/* Reference pooling / upsampling kernels: plain loops over planes (kernels/pool.h has the
 * definitions). Sums run in row-major window order. */
#include "kernels/pool.h"

#include <math.h>

#define MAX_POOL_FWD(T)                                                                              \
	for (int64_t pl = 0; pl < g->NC; pl++) {                                                     \
		const T *xp = x + pl * g->H * g->W;                                                  \
		for (int64_t oh = 0; oh < g->OH; oh++)                                               \
			for (int64_t ow = 0; ow < g->OW; ow++) {                                     \
				T m = -(T)INFINITY;                                                  \
				int32_t best = -1;                                                   \
				for (int64_t kh = 0; kh < g->KH; kh++) {                             \
					const int64_t ih = oh * g->sh - g->ph + kh;                  \
					if (ih < 0 || ih >= g->H)                                    \
						continue;                                            \
					for (int64_t kw = 0; kw < g->KW; kw++) {                     \
						const int64_t iw = ow * g->sw - g->pw + kw;          \
						if (iw < 0 || iw >= g->W)                            \
							continue;                                    \
						const T v = xp[ih * g->W + iw];                      \
						if (best < 0 || v > m || (isnan(v) && !isnan(m))) {  \
							m = v;                                       \
							best = (int32_t)(ih * g->W + iw);            \
						}                                                    \
					}                                                            \
				}                                                                    \
				const int64_t o = (pl * g->OH + oh) * g->OW + ow;                    \
				y[o] = m;                                                            \
				idx[o] = best;                                                       \
			}                                                                            \
	}

#define MAX_POOL_BWD(T)                                                          \
	for (int64_t pl = 0; pl < g->NC; pl++) {                                 \
		T *dp = dx + pl * g->H * g->W;                                   \
		const int64_t o0 = pl * g->OH * g->OW;                           \
		for (int64_t o = 0; o < g->OH * g->OW; o++)                      \
			if (idx[o0 + o] >= 0)                                    \
				dp[idx[o0 + o]] += dy[o0 + o];                   \
	}

/* Window of (oh, ow) clipped to the input; the divisor stays KH*KW (padding counts). */
#define AVG_POOL_FWD(T)                                                                              \
	const T inv = (T)1 / (T)(g->KH * g->KW);                                                     \
	for (int64_t pl = 0; pl < g->NC; pl++) {                                                     \
		const T *xp = x + pl * g->H * g->W;                                                  \
		for (int64_t oh = 0; oh < g->OH; oh++)                                               \
			for (int64_t ow = 0; ow < g->OW; ow++) {                                     \
				T acc = 0;                                                           \
				for (int64_t kh = 0; kh < g->KH; kh++) {                             \
					const int64_t ih = oh * g->sh - g->ph + kh;                  \
					if (ih < 0 || ih >= g->H)                                    \
						continue;                                            \
					for (int64_t kw = 0; kw < g->KW; kw++) {                     \
						const int64_t iw = ow * g->sw - g->pw + kw;          \
						if (iw >= 0 && iw < g->W)                            \
							acc += xp[ih * g->W + iw];                   \
					}                                                            \
				}                                                                    \
				y[(pl * g->OH + oh) * g->OW + ow] = acc * inv;                       \
			}                                                                            \
	}

#define AVG_POOL_BWD(T)                                                                              \
	const T inv = (T)1 / (T)(g->KH * g->KW);                                                     \
	for (int64_t pl = 0; pl < g->NC; pl++) {                                                     \
		T *dp = dx + pl * g->H * g->W;                                                       \
		for (int64_t oh = 0; oh < g->OH; oh++)                                               \
			for (int64_t ow = 0; ow < g->OW; ow++) {                                     \
				const T gv = dy[(pl * g->OH + oh) * g->OW + ow] * inv;               \
				for (int64_t kh = 0; kh < g->KH; kh++) {                             \
					const int64_t ih = oh * g->sh - g->ph + kh;                  \
					if (ih < 0 || ih >= g->H)                                    \
						continue;                                            \
					for (int64_t kw = 0; kw < g->KW; kw++) {                     \
						const int64_t iw = ow * g->sw - g->pw + kw;          \
						if (iw >= 0 && iw < g->W)                            \
							dp[ih * g->W + iw] += gv;                    \
					}                                                            \
				}                                                                    \
			}                                                                            \
	}

#define ADAPTIVE_FWD(T)                                                                      \
	for (int64_t pl = 0; pl < g->NC; pl++) {                                             \
		const T *xp = x + pl * g->H * g->W;                                          \
		for (int64_t oh = 0; oh < g->OH; oh++) {                                     \
			const int64_t h0 = sup_adaptive_start(oh, g->H, g->OH);              \
			const int64_t h1 = sup_adaptive_end(oh, g->H, g->OH);                \
			for (int64_t ow = 0; ow < g->OW; ow++) {                             \
				const int64_t w0 = sup_adaptive_start(ow, g->W, g->OW);      \
				const int64_t w1 = sup_adaptive_end(ow, g->W, g->OW);        \
				T acc = 0;                                                   \
				for (int64_t ih = h0; ih < h1; ih++)                         \
					for (int64_t iw = w0; iw < w1; iw++)                 \
						acc += xp[ih * g->W + iw];                   \
				y[(pl * g->OH + oh) * g->OW + ow] = acc / (T)((h1 - h0) * (w1 - w0)); \
			}                                                                    \
		}                                                                            \
	}

#define ADAPTIVE_BWD(T)                                                                      \
	for (int64_t pl = 0; pl < g->NC; pl++) {                                             \
		T *dp = dx + pl * g->H * g->W;                                               \
		for (int64_t oh = 0; oh < g->OH; oh++) {                                     \
			const int64_t h0 = sup_adaptive_start(oh, g->H, g->OH);              \
			const int64_t h1 = sup_adaptive_end(oh, g->H, g->OH);                \
			for (int64_t ow = 0; ow < g->OW; ow++) {                             \
				const int64_t w0 = sup_adaptive_start(ow, g->W, g->OW);      \
				const int64_t w1 = sup_adaptive_end(ow, g->W, g->OW);        \
				const T gv = dy[(pl * g->OH + oh) * g->OW + ow] / (T)((h1 - h0) * (w1 - w0)); \
				for (int64_t ih = h0; ih < h1; ih++)                         \
					for (int64_t iw = w0; iw < w1; iw++)                 \
						dp[ih * g->W + iw] += gv;                    \
			}                                                                    \
		}                                                                            \
	}

#define UPSAMPLE_FWD(T)                                                                  \
	for (int64_t pl = 0; pl < g->NC; pl++) {                                         \
		const T *xp = x + pl * g->H * g->W;                                      \
		T *yp = y + pl * g->OH * g->OW;                                          \
		for (int64_t oh = 0; oh < g->OH; oh++)                                   \
			for (int64_t ow = 0; ow < g->OW; ow++)                           \
				yp[oh * g->OW + ow] = xp[(oh / g->sh) * g->W + ow / g->sw]; \
	}

/* Sums each block in row-major order into one value, then adds it once. */
#define UPSAMPLE_BWD(T)                                                                  \
	for (int64_t pl = 0; pl < g->NC; pl++) {                                         \
		T *dp = dx + pl * g->H * g->W;                                           \
		const T *gp = dy + pl * g->OH * g->OW;                                   \
		for (int64_t ih = 0; ih < g->H; ih++)                                    \
			for (int64_t iw = 0; iw < g->W; iw++) {                          \
				T acc = 0;                                               \
				for (int64_t a = 0; a < g->sh; a++)                      \
					for (int64_t b = 0; b < g->sw; b++)              \
						acc += gp[(ih * g->sh + a) * g->OW + iw * g->sw + b]; \
				dp[ih * g->W + iw] += acc;                               \
			}                                                                \
	}

void sup_ref_max_pool2d_fwd_f32(float *y, int32_t *idx, const float *x, const struct sup_pool_geom *g)
{
	MAX_POOL_FWD(float)
}
void sup_ref_max_pool2d_fwd_f64(double *y, int32_t *idx, const double *x, const struct sup_pool_geom *g)
{
	MAX_POOL_FWD(double)
}
void sup_ref_max_pool2d_bwd_f32(float *dx, const float *dy, const int32_t *idx, const struct sup_pool_geom *g)
{
	MAX_POOL_BWD(float)
}
void sup_ref_max_pool2d_bwd_f64(double *dx, const double *dy, const int32_t *idx, const struct sup_pool_geom *g)
{
	MAX_POOL_BWD(double)
}
void sup_ref_avg_pool2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g)
{
	AVG_POOL_FWD(float)
}
void sup_ref_avg_pool2d_fwd_f64(double *y, const double *x, const struct sup_pool_geom *g)
{
	AVG_POOL_FWD(double)
}
void sup_ref_avg_pool2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g)
{
	AVG_POOL_BWD(float)
}
void sup_ref_avg_pool2d_bwd_f64(double *dx, const double *dy, const struct sup_pool_geom *g)
{
	AVG_POOL_BWD(double)
}
void sup_ref_adaptive_avg_pool2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g)
{
	ADAPTIVE_FWD(float)
}
void sup_ref_adaptive_avg_pool2d_fwd_f64(double *y, const double *x, const struct sup_pool_geom *g)
{
	ADAPTIVE_FWD(double)
}
void sup_ref_adaptive_avg_pool2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g)
{
	ADAPTIVE_BWD(float)
}
void sup_ref_adaptive_avg_pool2d_bwd_f64(double *dx, const double *dy, const struct sup_pool_geom *g)
{
	ADAPTIVE_BWD(double)
}
void sup_ref_upsample_nearest2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g)
{
	UPSAMPLE_FWD(float)
}
void sup_ref_upsample_nearest2d_fwd_f64(double *y, const double *x, const struct sup_pool_geom *g)
{
	UPSAMPLE_FWD(double)
}
void sup_ref_upsample_nearest2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g)
{
	UPSAMPLE_BWD(float)
}
void sup_ref_upsample_nearest2d_bwd_f64(double *dx, const double *dy, const struct sup_pool_geom *g)
{
	UPSAMPLE_BWD(double)
}
