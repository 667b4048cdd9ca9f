/* Reference convolution kernels: the direct loops of the definition in kernels/conv.h, in the
 * element type, single-threaded. Each output (or weight-gradient) element is summed in a fixed
 * order: channel, then kernel row, then kernel column (bwd_weight: image, row, column). */
#include "kernels/conv.h"

/* Input coordinate of output position o at kernel tap k; the caller bounds-checks it. */
#define CONV_IN(o, k, s, p, d) ((o) * (s) - (p) + (k) * (d))

#define CONV_FWD(T)                                                                                   \
	const int64_t Cg = g->C / g->G, Kg = g->K / g->G;                                             \
	for (int64_t n = 0; n < g->N; n++)                                                            \
		for (int64_t k = 0; k < g->K; k++) {                                                  \
			const T *xg = x + (n * g->C + (k / Kg) * Cg) * g->H * g->W;                   \
			const T *wk = w + k * Cg * g->KH * g->KW;                                     \
			T *yk = y + (n * g->K + k) * g->OH * g->OW;                                   \
			for (int64_t oh = 0; oh < g->OH; oh++)                                        \
				for (int64_t ow = 0; ow < g->OW; ow++) {                              \
					T acc = b ? b[k] : (T)0;                                      \
					for (int64_t c = 0; c < Cg; c++)                              \
						for (int64_t kh = 0; kh < g->KH; kh++) {              \
							int64_t ih = CONV_IN(oh, kh, g->sh, g->ph, g->dh); \
							if (ih < 0 || ih >= g->H)                     \
								continue;                             \
							for (int64_t kw = 0; kw < g->KW; kw++) {      \
								int64_t iw = CONV_IN(ow, kw, g->sw, g->pw, g->dw); \
								if (iw < 0 || iw >= g->W)             \
									continue;                     \
								acc += wk[(c * g->KH + kh) * g->KW + kw] * \
								       xg[(c * g->H + ih) * g->W + iw]; \
							}                                             \
						}                                                     \
					T *o = &yk[oh * g->OW + ow];                                  \
					*o = accumulate ? *o + acc : acc;                             \
				}                                                                     \
		}

#define CONV_BWD_DATA(T)                                                                              \
	const int64_t Cg = g->C / g->G, Kg = g->K / g->G;                                             \
	for (int64_t n = 0; n < g->N; n++)                                                            \
		for (int64_t k = 0; k < g->K; k++) {                                                  \
			T *xg = dx + (n * g->C + (k / Kg) * Cg) * g->H * g->W;                        \
			const T *wk = w + k * Cg * g->KH * g->KW;                                     \
			const T *yk = dy + (n * g->K + k) * g->OH * g->OW;                            \
			for (int64_t oh = 0; oh < g->OH; oh++)                                        \
				for (int64_t ow = 0; ow < g->OW; ow++) {                              \
					const T gy = yk[oh * g->OW + ow];                             \
					for (int64_t c = 0; c < Cg; c++)                              \
						for (int64_t kh = 0; kh < g->KH; kh++) {              \
							int64_t ih = CONV_IN(oh, kh, g->sh, g->ph, g->dh); \
							if (ih < 0 || ih >= g->H)                     \
								continue;                             \
							for (int64_t kw = 0; kw < g->KW; kw++) {      \
								int64_t iw = CONV_IN(ow, kw, g->sw, g->pw, g->dw); \
								if (iw < 0 || iw >= g->W)             \
									continue;                     \
								xg[(c * g->H + ih) * g->W + iw] +=    \
									gy * wk[(c * g->KH + kh) * g->KW + kw]; \
							}                                             \
						}                                                     \
				}                                                                     \
		}

#define CONV_BWD_WEIGHT(T)                                                                            \
	const int64_t Cg = g->C / g->G, Kg = g->K / g->G;                                             \
	for (int64_t k = 0; k < g->K; k++)                                                            \
		for (int64_t c = 0; c < Cg; c++)                                                      \
			for (int64_t kh = 0; kh < g->KH; kh++)                                        \
				for (int64_t kw = 0; kw < g->KW; kw++) {                              \
					T acc = 0;                                                    \
					for (int64_t n = 0; n < g->N; n++) {                          \
						const T *xc = x + (n * g->C + (k / Kg) * Cg + c) * g->H * g->W; \
						const T *yk = dy + (n * g->K + k) * g->OH * g->OW;    \
						for (int64_t oh = 0; oh < g->OH; oh++) {              \
							int64_t ih = CONV_IN(oh, kh, g->sh, g->ph, g->dh); \
							if (ih < 0 || ih >= g->H)                     \
								continue;                             \
							for (int64_t ow = 0; ow < g->OW; ow++) {      \
								int64_t iw = CONV_IN(ow, kw, g->sw, g->pw, g->dw); \
								if (iw < 0 || iw >= g->W)             \
									continue;                     \
								acc += yk[oh * g->OW + ow] * xc[ih * g->W + iw]; \
							}                                             \
						}                                                     \
					}                                                             \
					dw[((k * Cg + c) * g->KH + kh) * g->KW + kw] += acc;          \
				}

#define CHANNEL_ADD(T)                                  \
	for (int64_t n = 0; n < N; n++)                 \
		for (int64_t c = 0; c < C; c++)         \
			for (int64_t p = 0; p < P; p++) \
				t[(n * C + c) * P + p] += b[c];

#define CHANNEL_SUM(T)                                          \
	for (int64_t c = 0; c < C; c++) {                       \
		T acc = 0;                                      \
		for (int64_t n = 0; n < N; n++)                 \
			for (int64_t p = 0; p < P; p++)         \
				acc += t[(n * C + c) * P + p];  \
		db[c] += acc;                                   \
	}

void sup_ref_conv2d_fwd_f32(float *y, const float *x, const float *w, const float *b,
			    const struct sup_conv_geom *g, bool accumulate)
{
	CONV_FWD(float)
}

void sup_ref_conv2d_fwd_f64(double *y, const double *x, const double *w, const double *b,
			    const struct sup_conv_geom *g, bool accumulate)
{
	CONV_FWD(double)
}

void sup_ref_conv2d_bwd_data_f32(float *dx, const float *dy, const float *w, const struct sup_conv_geom *g)
{
	CONV_BWD_DATA(float)
}

void sup_ref_conv2d_bwd_data_f64(double *dx, const double *dy, const double *w, const struct sup_conv_geom *g)
{
	CONV_BWD_DATA(double)
}

void sup_ref_conv2d_bwd_weight_f32(float *dw, const float *x, const float *dy, const struct sup_conv_geom *g)
{
	CONV_BWD_WEIGHT(float)
}

void sup_ref_conv2d_bwd_weight_f64(double *dw, const double *x, const double *dy,
				   const struct sup_conv_geom *g)
{
	CONV_BWD_WEIGHT(double)
}

void sup_ref_channel_add_f32(float *t, const float *b, int64_t N, int64_t C, int64_t P)
{
	CHANNEL_ADD(float)
}

void sup_ref_channel_add_f64(double *t, const double *b, int64_t N, int64_t C, int64_t P)
{
	CHANNEL_ADD(double)
}

void sup_ref_channel_sum_f32(float *db, const float *t, int64_t N, int64_t C, int64_t P)
{
	CHANNEL_SUM(float)
}

void sup_ref_channel_sum_f64(double *db, const double *t, int64_t N, int64_t C, int64_t P)
{
	CHANNEL_SUM(double)
}
