/* Reference normalisation kernels: the definitions as plain loops, accumulating in double, one
 * body per element type (f32, f64). See kernels/norm.h for the contracts. */
#include "kernels/norm.h"

#include <math.h>

#define LN_FWD(SFX, T)                                                                    \
	SUP_LN_FWD_DECL(ref, SFX, T)                                                      \
	{                                                                                 \
		if (C == 0)                                                               \
			return;                                                           \
		for (int64_t r = 0; r < R; r++) {                                         \
			const T *xr = x + r * C;                                          \
			T *yr = y + r * C;                                                \
			double s = 0, q = 0;                                              \
			for (int64_t j = 0; j < C; j++)                                   \
				s += xr[j];                                               \
			const double mu = s / (double)C;                                  \
			for (int64_t j = 0; j < C; j++)                                   \
				q += ((double)xr[j] - mu) * ((double)xr[j] - mu);         \
			const double rs = 1.0 / sqrt(q / (double)C + eps);                \
			mean[r] = (T)mu;                                                  \
			rstd[r] = (T)rs;                                                  \
			for (int64_t j = 0; j < C; j++) {                                 \
				double v = ((double)xr[j] - mu) * rs;                     \
				if (w)                                                    \
					v *= w[j];                                        \
				if (b)                                                    \
					v += b[j];                                        \
				yr[j] = (T)v;                                             \
			}                                                                 \
		}                                                                         \
	}

#define LN_BWD(SFX, T)                                                                            \
	SUP_LN_BWD_DECL(ref, SFX, T)                                                              \
	{                                                                                         \
		if (C == 0)                                                                       \
			return;                                                                   \
		for (int64_t j = 0; (dw || db) && j < C; j++) {                                   \
			double sw = 0, sb = 0;                                                    \
			for (int64_t r = 0; r < R; r++) {                                         \
				const double g = dy[r * C + j];                                   \
				sw += g * ((double)x[r * C + j] - (double)mean[r]) * (double)rstd[r]; \
				sb += g;                                                          \
			}                                                                         \
			if (dw)                                                                   \
				dw[j] += (T)sw;                                                   \
			if (db)                                                                   \
				db[j] += (T)sb;                                                   \
		}                                                                                 \
		for (int64_t r = 0; dx && r < R; r++) {                                           \
			const T *xr = x + r * C, *gr = dy + r * C;                                \
			const double mu = mean[r], rs = rstd[r];                                  \
			double sg = 0, sgx = 0;                                                   \
			for (int64_t j = 0; j < C; j++) {                                         \
				const double g = (double)gr[j] * (w ? (double)w[j] : 1.0);        \
				sg += g;                                                          \
				sgx += g * ((double)xr[j] - mu) * rs;                             \
			}                                                                         \
			sg /= (double)C;                                                          \
			sgx /= (double)C;                                                         \
			for (int64_t j = 0; j < C; j++) {                                         \
				const double xh = ((double)xr[j] - mu) * rs;                      \
				const double g = (double)gr[j] * (w ? (double)w[j] : 1.0);        \
				dx[r * C + j] += (T)(rs * (g - sg - xh * sgx));                   \
			}                                                                         \
		}                                                                                 \
	}

#define BN_STATS(SFX, T)                                                                  \
	SUP_BN_STATS_DECL(ref, SFX, T)                                                    \
	{                                                                                 \
		const double M = (double)(N * S);                                         \
		for (int64_t ch = 0; ch < C; ch++) {                                      \
			double s = 0, q = 0;                                              \
			for (int64_t n = 0; n < N; n++)                                   \
				for (int64_t i = 0; i < S; i++)                           \
					s += x[(n * C + ch) * S + i];                     \
			const double mu = M > 0 ? s / M : 0.0;                            \
			for (int64_t n = 0; n < N; n++)                                   \
				for (int64_t i = 0; i < S; i++) {                         \
					double d = x[(n * C + ch) * S + i] - mu;          \
					q += d * d;                                       \
				}                                                         \
			mean[ch] = (T)mu;                                                 \
			var[ch] = (T)(M > 0 ? q / M : 0.0);                               \
		}                                                                         \
	}

#define BN_APPLY(SFX, T)                                                                          \
	SUP_BN_APPLY_DECL(ref, SFX, T)                                                            \
	{                                                                                         \
		for (int64_t n = 0; n < N; n++)                                                   \
			for (int64_t ch = 0; ch < C; ch++) {                                      \
				const double k = (double)rstd[ch] * (w ? (double)w[ch] : 1.0);   \
				const double sh = b ? (double)b[ch] : 0.0;                        \
				for (int64_t i = 0; i < S; i++) {                                 \
					const int64_t o = (n * C + ch) * S + i;                   \
					y[o] = (T)(((double)x[o] - (double)mean[ch]) * k + sh);   \
				}                                                                 \
			}                                                                         \
	}

#define BN_BWD(SFX, T)                                                                                \
	SUP_BN_BWD_DECL(ref, SFX, T)                                                                  \
	{                                                                                             \
		const double M = (double)(N * S);                                                     \
		for (int64_t ch = 0; ch < C; ch++) {                                                  \
			const double mu = mean[ch], rs = rstd[ch], wc = w ? (double)w[ch] : 1.0;      \
			double sg = 0, sgx = 0;                                                       \
			for (int64_t n = 0; n < N; n++)                                               \
				for (int64_t i = 0; i < S; i++) {                                     \
					const int64_t o = (n * C + ch) * S + i;                       \
					sg += dy[o];                                                  \
					sgx += (double)dy[o] * ((double)x[o] - mu) * rs;              \
				}                                                                     \
			if (dw)                                                                       \
				dw[ch] += (T)sgx;                                                     \
			if (db)                                                                       \
				db[ch] += (T)sg;                                                      \
			if (!dx || M == 0)                                                            \
				continue;                                                             \
			const double a = training ? sg / M : 0.0, bq = training ? sgx / M : 0.0;      \
			for (int64_t n = 0; n < N; n++)                                               \
				for (int64_t i = 0; i < S; i++) {                                     \
					const int64_t o = (n * C + ch) * S + i;                       \
					const double xh = ((double)x[o] - mu) * rs;                   \
					dx[o] += (T)(wc * rs * ((double)dy[o] - a - xh * bq));        \
				}                                                                     \
		}                                                                                     \
	}

LN_FWD(f32, float)
LN_FWD(f64, double)
LN_BWD(f32, float)
LN_BWD(f64, double)
BN_STATS(f32, float)
BN_STATS(f64, double)
BN_APPLY(f32, float)
BN_APPLY(f64, double)
BN_BWD(f32, float)
BN_BWD(f64, double)
