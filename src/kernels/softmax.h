/* Softmax-family kernels along the middle axis of a contiguous [O, C, N] array: row (o, n) is
 * the C elements x[o*C*N + c*N + n]. N == 1 is the hot case (softmax over the last axis of
 * [rows, C]: attention, NT-Xent), which the fast kernel runs row-parallel with unit stride.
 *
 * Forward:  softmax      y = exp(x - m) / sum exp(x - m)            (m = row max, 0 if infinite)
 *           log_softmax  y = x - m - log sum exp(x - m)
 *           l2norm       norm = ||x||_2, y = x / max(norm, eps)
 * Backward accumulates into dx (+=), given the forward output y and the output gradient g:
 *           softmax      dx += y (g - sum_c g y)
 *           log_softmax  dx += g - exp(y) sum_c g
 *           l2norm       dx += (g - y sum_c g y) / norm   when norm > eps
 *                        dx += g / eps                     otherwise (the clamp is constant)
 * Reference kernels are the plain loops (f32 and f64); the fast ones are f32 with OpenMP over
 * rows, each row summed in a fixed order (bitwise reproducible). Kernels never allocate.
 * Declared names: sup_{ref,cpu}_{softmax,softmax_bwd,l2norm,l2norm_bwd}_f32, sup_ref_*_f64. */
#ifndef SELFSUP_KERNELS_SOFTMAX_H
#define SELFSUP_KERNELS_SOFTMAX_H

#include <stdbool.h>
#include <stdint.h>

#define SUP_SOFTMAX_KERNELS(P, S, T)                                                                    \
	void sup_##P##_softmax_##S(T *y, const T *x, int64_t O, int64_t C, int64_t N, bool take_log);         \
	void sup_##P##_softmax_bwd_##S(T *dx, const T *y, const T *g, int64_t O, int64_t C, int64_t N, bool take_log); \
	/* norm: [O, N] (row norms, kept for backward). */                                             \
	void sup_##P##_l2norm_##S(T *y, T *norm, const T *x, int64_t O, int64_t C, int64_t N, T eps);    \
	void sup_##P##_l2norm_bwd_##S(T *dx, const T *y, const T *norm, const T *g, int64_t O, int64_t C, \
				      int64_t N, T eps);

SUP_SOFTMAX_KERNELS(ref, f32, float)
SUP_SOFTMAX_KERNELS(ref, f64, double)
SUP_SOFTMAX_KERNELS(cpu, f32, float)

#endif
