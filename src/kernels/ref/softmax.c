/* Reference softmax-family kernels: one row at a time, plain loops, element type T. */
#include "kernels/softmax.h"

#include <math.h>

#define REF_SOFTMAX(S, T, EXP, LOG)                                                                   \
	static void softmax_row_##S(T *y, const T *x, int64_t C, int64_t N, bool take_log)                   \
	{                                                                                             \
		T m = x[0];                                                                           \
		for (int64_t c = 1; c < C; c++)                                                       \
			if (x[c * N] > m)                                                             \
				m = x[c * N];                                                         \
		if (isinf(m))                                                                         \
			m = 0;                                                                        \
		T sum = 0;                                                                            \
		for (int64_t c = 0; c < C; c++)                                                       \
			sum += EXP(x[c * N] - m);                                                     \
		const T lse = m + LOG(sum);                                                           \
		for (int64_t c = 0; c < C; c++)                                                       \
			y[c * N] = take_log ? x[c * N] - lse : EXP(x[c * N] - m) / sum;                    \
	}                                                                                             \
	void sup_ref_softmax_##S(T *y, const T *x, int64_t O, int64_t C, int64_t N, bool take_log)            \
	{                                                                                             \
		if (C == 0)                                                                           \
			return;                                                                       \
		for (int64_t o = 0; o < O; o++)                                                       \
			for (int64_t n = 0; n < N; n++)                                               \
				softmax_row_##S(y + o * C * N + n, x + o * C * N + n, C, N, take_log);     \
	}                                                                                             \
	void sup_ref_softmax_bwd_##S(T *dx, const T *y, const T *g, int64_t O, int64_t C, int64_t N,     \
				     bool take_log)                                                        \
	{                                                                                             \
		for (int64_t o = 0; o < O; o++)                                                       \
			for (int64_t n = 0; n < N; n++) {                                             \
				const int64_t b = o * C * N + n;                                      \
				T dot = 0;                                                            \
				for (int64_t c = 0; c < C; c++)                                       \
					dot += take_log ? g[b + c * N] : g[b + c * N] * y[b + c * N];      \
				for (int64_t c = 0; c < C; c++) {                                     \
					const int64_t k = b + c * N;                                  \
					dx[k] += take_log ? g[k] - EXP(y[k]) * dot : y[k] * (g[k] - dot);  \
				}                                                                     \
			}                                                                             \
	}

#define REF_L2NORM(S, T, SQRT)                                                                        \
	void sup_ref_l2norm_##S(T *y, T *norm, const T *x, int64_t O, int64_t C, int64_t N, T eps)       \
	{                                                                                             \
		for (int64_t o = 0; o < O; o++)                                                       \
			for (int64_t n = 0; n < N; n++) {                                             \
				const int64_t b = o * C * N + n;                                      \
				T ss = 0;                                                             \
				for (int64_t c = 0; c < C; c++)                                       \
					ss += x[b + c * N] * x[b + c * N];                            \
				const T nr = SQRT(ss), d = nr > eps ? nr : eps;                       \
				for (int64_t c = 0; c < C; c++)                                       \
					y[b + c * N] = x[b + c * N] / d;                              \
				norm[o * N + n] = nr;                                                 \
			}                                                                             \
	}                                                                                             \
	void sup_ref_l2norm_bwd_##S(T *dx, const T *y, const T *norm, const T *g, int64_t O, int64_t C,  \
				    int64_t N, T eps)                                                 \
	{                                                                                             \
		for (int64_t o = 0; o < O; o++)                                                       \
			for (int64_t n = 0; n < N; n++) {                                             \
				const int64_t b = o * C * N + n;                                      \
				const T nr = norm[o * N + n];                                         \
				T dot = 0;                                                            \
				if (nr > eps)                                                         \
					for (int64_t c = 0; c < C; c++)                               \
						dot += g[b + c * N] * y[b + c * N];                   \
				const T d = nr > eps ? nr : eps;                                      \
				for (int64_t c = 0; c < C; c++)                                       \
					dx[b + c * N] += (g[b + c * N] - y[b + c * N] * dot) / d;     \
			}                                                                             \
	}

REF_SOFTMAX(f32, float, expf, logf)
REF_SOFTMAX(f64, double, exp, log)
REF_L2NORM(f32, float, sqrtf)
REF_L2NORM(f64, double, sqrt)
