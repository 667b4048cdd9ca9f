/* Loss kernels: fused log-softmax + cross-entropy over rows, and pointwise losses.
 *
 * Shapes: X [N, C] row-major contiguous logits, T [N] class ids (int64; the op has checked that
 * every id is in [0, C) or equal to `ignore`), element arrays of n entries. Kernels never
 * allocate and never reduce across rows: the op sums the per-row / per-element losses in a fixed
 * order, so results are bitwise reproducible for a given thread count.
 *
 * Gradient weights: backward kernels accumulate (+=) w_i * dloss_i/dinput with
 * w_i = scale * G[i * gstride]; gstride 0 broadcasts one output gradient (MEAN/SUM reductions,
 * where scale is 1/count or 1), gstride 1 reads one per row / element (NONE). */
#ifndef SELFSUP_KERNELS_LOSS_H
#define SELFSUP_KERNELS_LOSS_H

#include <stdint.h>

/* Forward, kept rows (T[n] != ignore), with lse_n = log sum_c exp X[n,c] and eps the label
 * smoothing:  loss[n] = lse_n - (1 - eps) X[n,T[n]] - (eps / C) sum_c X[n,c];  lse[n] = lse_n.
 * Ignored rows: loss[n] = 0, lse[n] = 0.
 * Backward, kept rows: dX[n,c] += w_n (exp(X[n,c] - lse_n) - (1 - eps) [c == T[n]] - eps / C);
 * ignored rows are left untouched. */
void sup_ref_xent_fwd_f32(float *loss, float *lse, const float *X, const int64_t *T, int64_t N, int64_t C,
			  int64_t ignore, float eps);
void sup_ref_xent_fwd_f64(double *loss, double *lse, const double *X, const int64_t *T, int64_t N, int64_t C,
			  int64_t ignore, double eps);
void sup_ref_xent_bwd_f32(float *dX, const float *X, const float *lse, const int64_t *T, const float *G,
			  int64_t gstride, float scale, int64_t N, int64_t C, int64_t ignore, float eps);
void sup_ref_xent_bwd_f64(double *dX, const double *X, const double *lse, const int64_t *T, const double *G,
			  int64_t gstride, double scale, int64_t N, int64_t C, int64_t ignore, double eps);

/* Fast f32 versions: rows split over OpenMP threads, each row in a fixed (vectorised) order with
 * a polynomial exp (about 1 ulp). Same contract as the reference kernels. */
void sup_cpu_xent_fwd_f32(float *loss, float *lse, const float *X, const int64_t *T, int64_t N, int64_t C,
			  int64_t ignore, float eps);
void sup_cpu_xent_bwd_f32(float *dX, const float *X, const float *lse, const int64_t *T, const float *G,
			  int64_t gstride, float scale, int64_t N, int64_t C, int64_t ignore, float eps);

/* Pointwise losses of two same-shaped operands a, b:
 *   BCE_LOGITS  a = logit x, b = target t:  max(x, 0) - x t + log1p(exp(-|x|))
 *               d/dx = sigmoid(x) - t,  d/dt = -x
 *   MSE         (a - b)^2;  d/da = 2 (a - b), d/db = -2 (a - b)
 *   GAUSS_KL    a = mu, b = logvar:  -0.5 (1 + lv - mu^2 - exp(lv));  d/dmu = mu,
 *               d/dlv = 0.5 (exp(lv) - 1) */
enum sup_ploss_kind { SUP_PLOSS_BCE_LOGITS, SUP_PLOSS_MSE, SUP_PLOSS_GAUSS_KL, SUP_PLOSS_KIND_COUNT };

/* loss[i] = f(a[i], b[i]). */
void sup_ref_ploss_fwd_f32(enum sup_ploss_kind k, float *loss, const float *a, const float *b, int64_t n);
void sup_ref_ploss_fwd_f64(enum sup_ploss_kind k, double *loss, const double *a, const double *b, int64_t n);
/* da[i] += w_i df/da, db[i] += w_i df/db; da or db may be NULL (no gradient wanted). */
void sup_ref_ploss_bwd_f32(enum sup_ploss_kind k, float *da, float *db, const float *a, const float *b,
			   const float *G, int64_t gstride, float scale, int64_t n);
void sup_ref_ploss_bwd_f64(enum sup_ploss_kind k, double *da, double *db, const double *a, const double *b,
			   const double *G, int64_t gstride, double scale, int64_t n);

#endif
