/* Fast f32 cross-entropy: OpenMP over rows, each row in a fixed vectorised order.
 *
 * Rows are independent, so splitting them over threads does not change any result; inside a row
 * the sums use the compiler's simd reduction, whose order is fixed at compile time. exp() is the
 * vectorisable polynomial of vmath.h (glibc's expf is scalar without -ffast-math). */
#if defined(__GNUC__) && !defined(__clang__)
/* Lets GCC if-convert the float compares of sup_vm_expf (with trapping math on it refuses, as a
 * compare may raise an FP exception flag). Values are unchanged: only the flags, which nothing
 * here reads, may differ. Clang vectorises these loops without it. */
#pragma GCC optimize("no-trapping-math")
#endif

#include "kernels/loss.h"
#include "kernels/cpu/vmath.h"

#include <math.h>
#include <string.h>

/* Rows x classes below which threads cost more than they save. */
#define XENT_PAR_MIN 32768

/* Max of a row, 8 independent lanes (vectorisable; max is exact in any order). */
static float row_max(const float *x, int64_t C)
{
	float m[8];
	for (int l = 0; l < 8; l++)
		m[l] = x[0];
	int64_t c = 0;
	for (; c + 8 <= C; c += 8)
		for (int l = 0; l < 8; l++)
			m[l] = x[c + l] > m[l] ? x[c + l] : m[l];
	float r = m[0];
	for (int l = 1; l < 8; l++)
		r = m[l] > r ? m[l] : r;
	for (; c < C; c++)
		r = x[c] > r ? x[c] : r;
	return r;
}

void sup_cpu_xent_fwd_f32(float *loss, float *lse, const float *X, const int64_t *T, int64_t N, int64_t C,
			  int64_t ignore, float eps)
{
#pragma omp parallel for if (N * C >= XENT_PAR_MIN) schedule(static)
	for (int64_t n = 0; n < N; n++) {
		if (T[n] == ignore) {
			loss[n] = 0.0f;
			lse[n] = 0.0f;
			continue;
		}
		const float *x = X + n * C;
		const float m = row_max(x, C);
		float s = 0.0f, xs = 0.0f;
#pragma omp simd reduction(+ : s, xs)
		for (int64_t c = 0; c < C; c++) {
			s += sup_vm_expf(x[c] - m);
			xs += x[c];
		}
		const float l = m + logf(s);
		lse[n] = l;
		loss[n] = l - (1.0f - eps) * x[T[n]] - eps / (float)C * xs;
	}
}

void sup_cpu_xent_bwd_f32(float *dX, const float *X, const float *lse, const int64_t *T, const float *G,
			  int64_t gstride, float scale, int64_t N, int64_t C, int64_t ignore, float eps)
{
	const float smooth = eps / (float)C;
#pragma omp parallel for if (N * C >= XENT_PAR_MIN) schedule(static)
	for (int64_t n = 0; n < N; n++) {
		if (T[n] == ignore)
			continue;
		const float w = scale * G[n * gstride], l = lse[n], *x = X + n * C;
		float *d = dX + n * C;
#pragma omp simd
		for (int64_t c = 0; c < C; c++)
			d[c] += w * (sup_vm_expf(x[c] - l) - smooth);
		d[T[n]] -= w * (1.0f - eps);
	}
}
