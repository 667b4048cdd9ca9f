/* Reference loss kernels: the definitions of kernels/loss.h as plain loops in the element type. */
#include "kernels/loss.h"

#include <math.h>
#include <stddef.h>

/* One row at a time; the max shift keeps exp() from overflowing. */
#define XENT_FWD(T, EXP, LOG)                                                          \
	for (int64_t n = 0; n < N; n++) {                                              \
		const T *x = X + n * C;                                                \
		if (Tg[n] == ignore) {                                                 \
			loss[n] = 0;                                                   \
			lse[n] = 0;                                                    \
			continue;                                                      \
		}                                                                      \
		T m = x[0], s = 0, xs = 0;                                             \
		for (int64_t c = 1; c < C; c++)                                        \
			m = x[c] > m ? x[c] : m;                                       \
		for (int64_t c = 0; c < C; c++) {                                      \
			s += EXP(x[c] - m);                                            \
			xs += x[c];                                                    \
		}                                                                      \
		const T l = m + LOG(s);                                                \
		lse[n] = l;                                                            \
		loss[n] = l - (1 - eps) * x[Tg[n]] - eps / (T)C * xs;                  \
	}

#define XENT_BWD(T, EXP)                                                               \
	for (int64_t n = 0; n < N; n++) {                                              \
		if (Tg[n] == ignore)                                                   \
			continue;                                                      \
		const T w = scale * G[n * gstride], *x = X + n * C;                    \
		T *d = dX + n * C;                                                     \
		for (int64_t c = 0; c < C; c++)                                        \
			d[c] += w * (EXP(x[c] - lse[n]) - (c == Tg[n] ? 1 - eps : 0) - eps / (T)C); \
	}

void sup_ref_xent_fwd_f32(float *loss, float *lse, const float *X, const int64_t *Tg, int64_t N, int64_t C,
			  int64_t ignore, float eps)
{
	XENT_FWD(float, expf, logf)
}

void sup_ref_xent_fwd_f64(double *loss, double *lse, const double *X, const int64_t *Tg, int64_t N, int64_t C,
			  int64_t ignore, double eps)
{
	XENT_FWD(double, exp, log)
}

void sup_ref_xent_bwd_f32(float *dX, const float *X, const float *lse, const int64_t *Tg, const float *G,
			  int64_t gstride, float scale, int64_t N, int64_t C, int64_t ignore, float eps)
{
	XENT_BWD(float, expf)
}

void sup_ref_xent_bwd_f64(double *dX, const double *X, const double *lse, const int64_t *Tg, const double *G,
			  int64_t gstride, double scale, int64_t N, int64_t C, int64_t ignore, double eps)
{
	XENT_BWD(double, exp)
}

/* ---- pointwise losses ---------------------------------------------------------------------- */

#define PLOSS_FWD(T, EXP, LOG1P, FABS)                                                 \
	for (int64_t i = 0; i < n; i++) {                                              \
		const T x = a[i], y = b[i];                                            \
		switch (k) {                                                           \
		case SUP_PLOSS_BCE_LOGITS:                                             \
			loss[i] = (x > 0 ? x : 0) - x * y + LOG1P(EXP(-FABS(x)));     \
			break;                                                         \
		case SUP_PLOSS_MSE:                                                    \
			loss[i] = (x - y) * (x - y);                                   \
			break;                                                         \
		default:                                                               \
			loss[i] = (T)-0.5 * (1 + y - x * x - EXP(y));                  \
			break;                                                         \
		}                                                                      \
	}

/* sigmoid written so that exp() only sees non-positive arguments. */
#define PLOSS_BWD(T, EXP)                                                              \
	for (int64_t i = 0; i < n; i++) {                                              \
		const T x = a[i], y = b[i], w = scale * G[i * gstride];                \
		T ga, gb;                                                              \
		switch (k) {                                                           \
		case SUP_PLOSS_BCE_LOGITS: {                                           \
			const T e = EXP(x > 0 ? -x : x);                               \
			ga = (x > 0 ? 1 / (1 + e) : e / (1 + e)) - y;                  \
			gb = -x;                                                       \
			break;                                                         \
		}                                                                      \
		case SUP_PLOSS_MSE:                                                    \
			ga = 2 * (x - y);                                              \
			gb = -ga;                                                      \
			break;                                                         \
		default:                                                               \
			ga = x;                                                        \
			gb = (T)0.5 * (EXP(y) - 1);                                    \
			break;                                                         \
		}                                                                      \
		if (da)                                                                \
			da[i] += w * ga;                                               \
		if (db)                                                                \
			db[i] += w * gb;                                               \
	}

void sup_ref_ploss_fwd_f32(enum sup_ploss_kind k, float *loss, const float *a, const float *b, int64_t n)
{
	PLOSS_FWD(float, expf, log1pf, fabsf)
}

void sup_ref_ploss_fwd_f64(enum sup_ploss_kind k, double *loss, const double *a, const double *b, int64_t n)
{
	PLOSS_FWD(double, exp, log1p, fabs)
}

void sup_ref_ploss_bwd_f32(enum sup_ploss_kind k, float *da, float *db, const float *a, const float *b,
			   const float *G, int64_t gstride, float scale, int64_t n)
{
	PLOSS_BWD(float, expf)
}

void sup_ref_ploss_bwd_f64(enum sup_ploss_kind k, double *da, double *db, const double *a, const double *b,
			   const double *G, int64_t gstride, double scale, int64_t n)
{
	PLOSS_BWD(double, exp)
}
