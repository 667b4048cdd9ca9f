/* Normalisation kernels: layer norm over the last axis, batch norm over axis 1.
 *
 * Layouts (all contiguous, row-major):
 *   layer norm: x, y, dy, dx [R, C]  (R rows of C features); mean, rstd [R]; w, b, dw, db [C]
 *   batch norm: x, y, dy, dx [N, C, S] (S = H * W, 1 for [N, C]); mean, rstd, var [C]; w, b [C]
 * w and b may be NULL (scale 1, shift 0). In backward kernels dx, dw, db may each be NULL (not
 * wanted) and are ACCUMULATED into (+=), as backward passes accumulate into gradients.
 *
 * The reference kernels (ref/norm.c) are the plain loops of the definition, accumulating in
 * double, for f32 and f64. The fast kernels (cpu/norm.c) are f32 only, OpenMP-parallel over rows
 * or channels; every output element is reduced by one thread in a fixed order, so the results do
 * not depend on the thread count. Kernels never allocate. docs/autograd/norm.md derives the
 * backward formulas. */
#ifndef SELFSUP_KERNELS_NORM_H
#define SELFSUP_KERNELS_NORM_H

#include <stdbool.h>
#include <stdint.h>

/* y = (x - mean) * rstd * w + b per row; writes the row statistics mean and
 * rstd = 1 / sqrt(var + eps) (biased variance). */
#define SUP_LN_FWD_DECL(P, SFX, T)                                                                  \
	void sup_##P##_layer_norm_fwd_##SFX(T *y, T *mean, T *rstd, const T *x, const T *w, const T *b, \
					  int64_t R, int64_t C, double eps)
/* With xhat = (x - mean) rstd, g = dy * w:
 *   dx += rstd (g - mean_row(g) - xhat mean_row(g xhat)),  dw += sum_rows dy xhat,  db += sum_rows dy. */
#define SUP_LN_BWD_DECL(P, SFX, T)                                                                  \
	void sup_##P##_layer_norm_bwd_##SFX(T *dx, T *dw, T *db, const T *dy, const T *x, const T *mean, \
					  const T *rstd, const T *w, int64_t R, int64_t C)

/* Per-channel batch mean and biased variance over the N * S elements of each channel. */
#define SUP_BN_STATS_DECL(P, SFX, T) \
	void sup_##P##_batch_norm_stats_##SFX(T *mean, T *var, const T *x, int64_t N, int64_t C, int64_t S)
/* y = (x - mean[c]) * (rstd[c] * w[c]) + b[c]. */
#define SUP_BN_APPLY_DECL(P, SFX, T)                                                                  \
	void sup_##P##_batch_norm_apply_##SFX(T *y, const T *x, const T *mean, const T *rstd, const T *w, \
					    const T *b, int64_t N, int64_t C, int64_t S)
/* training: the statistics depended on x (M = N * S elements per channel):
 *   dx += w rstd (dy - sum(dy) / M - xhat sum(dy xhat) / M)
 * !training (running statistics, constants): dx += w rstd dy.
 * Both: dw += sum(dy xhat), db += sum(dy) per channel. */
#define SUP_BN_BWD_DECL(P, SFX, T)                                                                         \
	void sup_##P##_batch_norm_bwd_##SFX(T *dx, T *dw, T *db, const T *dy, const T *x, const T *mean,   \
					  const T *rstd, const T *w, int64_t N, int64_t C, int64_t S, \
					  bool training)

SUP_LN_FWD_DECL(ref, f32, float);
SUP_LN_FWD_DECL(ref, f64, double);
SUP_LN_BWD_DECL(ref, f32, float);
SUP_LN_BWD_DECL(ref, f64, double);
SUP_BN_STATS_DECL(ref, f32, float);
SUP_BN_STATS_DECL(ref, f64, double);
SUP_BN_APPLY_DECL(ref, f32, float);
SUP_BN_APPLY_DECL(ref, f64, double);
SUP_BN_BWD_DECL(ref, f32, float);
SUP_BN_BWD_DECL(ref, f64, double);

SUP_LN_FWD_DECL(cpu, f32, float);
SUP_LN_BWD_DECL(cpu, f32, float);
SUP_BN_STATS_DECL(cpu, f32, float);
SUP_BN_APPLY_DECL(cpu, f32, float);
SUP_BN_BWD_DECL(cpu, f32, float);

#endif
