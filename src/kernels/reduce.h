/* Reduction kernels over an [O, I] problem: O independent groups of I elements each. Element
 * (o, i) of the input sits at x[o * so + i * si] (strides in elements, >= 0: a contiguous row
 * reduce is (so, si) = (I, 1), a reduce over axis 0 of a row-major [I, O] matrix is (1, O)).
 * Outputs are contiguous [O]. Declared names: sup_{ref,cpu}_{sum,max,logsumexp,var,reduce_bwd}_f32
 * and sup_ref_*_f64.
 *
 * Reference kernels (ref/) are the plain definition, summed in i order in the element type.
 * Fast kernels (cpu/, f32 only) use OpenMP over output groups (or over fixed-size blocks of one
 * long group, combined in block order) and several accumulator lanes; the summation order
 * depends only on (O, I, so, si), never on the thread count or schedule, so results are bitwise
 * reproducible. Kernels never allocate. */
#ifndef SELFSUP_KERNELS_REDUCE_H
#define SELFSUP_KERNELS_REDUCE_H

#include <stdint.h>

/* What the backward kernel adds to dx[o, i] (g = the output gradient of group o):
 *   SCALE:    g * scale                    (sum: scale 1, mean: scale 1/I)
 *   EXP:      g * exp(x - aux[o])          (logsumexp: aux = the output)
 *   CENTERED: g * scale * (x - aux[o])     (var: aux = the mean, scale = 2 / (I - correction)) */
enum sup_reduce_bwd_kind { SUP_REDUCE_BWD_SCALE, SUP_REDUCE_BWD_EXP, SUP_REDUCE_BWD_CENTERED };

#define SUP_REDUCE_KERNELS(P, S, T)                                                                         \
	/* out[o] = scale * sum_i x[o, i]; I == 0 gives 0. */                                           \
	void sup_##P##_sum_##S(T *out, const T *x, int64_t O, int64_t I, int64_t so, int64_t si, T scale); \
	/* out[o] = max_i x[o, i], idx[o] = the first i attaining it (a NaN counts as the maximum).     \
	 * Requires I >= 1. idx may be NULL. */                                                         \
	void sup_##P##_max_##S(T *out, int64_t *idx, const T *x, int64_t O, int64_t I, int64_t so, int64_t si); \
	/* out[o] = log sum_i exp(x[o, i]), evaluated as m + log sum exp(x - m), m = max (0 when the \
	 * max is infinite, so all -inf gives -inf and any +inf gives +inf). */                        \
	void sup_##P##_logsumexp_##S(T *out, const T *x, int64_t O, int64_t I, int64_t so, int64_t si); \
	/* mean[o] = sum / I; out[o] = sum_i (x - mean)^2 / max(I - correction, 0) (two passes).      \
	 * mean may be NULL. */                                                                         \
	void sup_##P##_var_##S(T *out, T *mean, const T *x, int64_t O, int64_t I, int64_t so, int64_t si, \
			       int64_t correction);                                                     \
	/* dx[o * dso + i * dsi] += (see enum sup_reduce_bwd_kind); x/aux unused for SCALE. */        \
	void sup_##P##_reduce_bwd_##S(T *dx, int64_t dso, int64_t dsi, const T *g, const T *x, int64_t so, \
				      int64_t si, const T *aux, int64_t O, int64_t I,                  \
				      enum sup_reduce_bwd_kind kind, T scale);

SUP_REDUCE_KERNELS(ref, f32, float)
SUP_REDUCE_KERNELS(ref, f64, double)
SUP_REDUCE_KERNELS(cpu, f32, float)

#endif
