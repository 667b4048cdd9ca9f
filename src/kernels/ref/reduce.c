/* Reference reduction kernels: the definitions, one group at a time, summed in i order in the
 * element type. Written once over the element type T (f32 and f64). */
#include "kernels/reduce.h"

#include <math.h>

/* NaN counts as the maximum; among equals the first one wins (strict >). */
#define REF_BEATS(v, m) ((v) > (m) || ((v) != (v) && (m) == (m)))

#define REF_SUM(S, T)                                                                                 \
	void sup_ref_sum_##S(T *out, const T *x, int64_t O, int64_t I, int64_t so, int64_t si, T scale)   \
	{                                                                                             \
		for (int64_t o = 0; o < O; o++) {                                                     \
			T acc = 0;                                                                    \
			for (int64_t i = 0; i < I; i++)                                               \
				acc += x[o * so + i * si];                                            \
			out[o] = scale * acc;                                                         \
		}                                                                                     \
	}

#define REF_MAX(S, T)                                                                                 \
	void sup_ref_max_##S(T *out, int64_t *idx, const T *x, int64_t O, int64_t I, int64_t so, int64_t si) \
	{                                                                                             \
		for (int64_t o = 0; o < O; o++) {                                                     \
			T m = x[o * so];                                                              \
			int64_t best = 0;                                                             \
			for (int64_t i = 1; i < I; i++) {                                             \
				T v = x[o * so + i * si];                                             \
				if (REF_BEATS(v, m)) {                                                \
					m = v;                                                        \
					best = i;                                                     \
				}                                                                     \
			}                                                                             \
			out[o] = m;                                                                   \
			if (idx)                                                                      \
				idx[o] = best;                                                        \
		}                                                                                     \
	}

#define REF_LSE(S, T, EXP, LOG)                                                                       \
	void sup_ref_logsumexp_##S(T *out, const T *x, int64_t O, int64_t I, int64_t so, int64_t si)      \
	{                                                                                             \
		for (int64_t o = 0; o < O; o++) {                                                     \
			T m = I ? x[o * so] : 0;                                                      \
			for (int64_t i = 1; i < I; i++)                                               \
				if (REF_BEATS(x[o * so + i * si], m))                                 \
					m = x[o * so + i * si];                                       \
			if (isinf(m))                                                                 \
				m = 0;                                                                \
			T acc = 0;                                                                    \
			for (int64_t i = 0; i < I; i++)                                               \
				acc += EXP(x[o * so + i * si] - m);                                   \
			out[o] = m + LOG(acc);                                                        \
		}                                                                                     \
	}

#define REF_VAR(S, T)                                                                                 \
	void sup_ref_var_##S(T *out, T *mean, const T *x, int64_t O, int64_t I, int64_t so, int64_t si,   \
			     int64_t correction)                                                      \
	{                                                                                             \
		const T denom = (T)(I - correction > 0 ? I - correction : 0);                         \
		for (int64_t o = 0; o < O; o++) {                                                     \
			T acc = 0;                                                                    \
			for (int64_t i = 0; i < I; i++)                                               \
				acc += x[o * so + i * si];                                            \
			const T mu = acc / (T)I;                                                      \
			T ss = 0;                                                                     \
			for (int64_t i = 0; i < I; i++) {                                             \
				T d = x[o * so + i * si] - mu;                                        \
				ss += d * d;                                                          \
			}                                                                             \
			out[o] = ss / denom;                                                          \
			if (mean)                                                                     \
				mean[o] = mu;                                                         \
		}                                                                                     \
	}

#define REF_BWD(S, T, EXP)                                                                            \
	void sup_ref_reduce_bwd_##S(T *dx, int64_t dso, int64_t dsi, const T *g, const T *x, int64_t so,  \
				    int64_t si, const T *aux, int64_t O, int64_t I,                   \
				    enum sup_reduce_bwd_kind kind, T scale)                           \
	{                                                                                             \
		for (int64_t o = 0; o < O; o++)                                                       \
			for (int64_t i = 0; i < I; i++) {                                             \
				T v;                                                                  \
				if (kind == SUP_REDUCE_BWD_SCALE)                                     \
					v = g[o] * scale;                                             \
				else if (kind == SUP_REDUCE_BWD_EXP)                                  \
					v = g[o] * EXP(x[o * so + i * si] - aux[o]);                  \
				else                                                                  \
					v = g[o] * scale * (x[o * so + i * si] - aux[o]);             \
				dx[o * dso + i * dsi] += v;                                           \
			}                                                                             \
	}

REF_SUM(f32, float)
REF_SUM(f64, double)
REF_MAX(f32, float)
REF_MAX(f64, double)
REF_LSE(f32, float, expf, logf)
REF_LSE(f64, double, exp, log)
REF_VAR(f32, float)
REF_VAR(f64, double)
REF_BWD(f32, float, expf)
REF_BWD(f64, double, exp)
