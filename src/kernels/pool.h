/* Pooling and nearest upsampling kernels, NCHW, contiguous operands. Every kernel works plane by
 * plane (one (n, c) pair), so the CPU versions split planes over OpenMP threads and no two
 * threads ever touch the same element: results are bitwise identical to the reference loops'
 * order within a plane, for any thread count.
 *
 * Geometry: x [N, C, H, W] -> y [N, C, OH, OW]; NC = N * C planes.
 *   max / avg pool: window of output (oh, ow) = rows oh*sh - ph + [0, KH), cols likewise;
 *     max: padding is -inf (never chosen), y = the first maximal element in row-major window
 *          order (a NaN counts as maximal), idx = its flat position ih*W + iw in the plane;
 *     avg: padding counts as zeros and the divisor is always KH*KW (count_include_pad).
 *   adaptive avg: rows [floor(oh*H/OH), ceil((oh+1)*H/OH)), cols likewise (PyTorch's windows).
 *   upsample nearest, integer scales: OH = H*sh, y[oh, ow] = x[oh/sh, ow/sw]. */
#ifndef SELFSUP_KERNELS_POOL_H
#define SELFSUP_KERNELS_POOL_H

#include <stdint.h>

struct sup_pool_geom {
	int64_t NC, H, W; /* planes and input size */
	int64_t OH, OW;   /* output size */
	int64_t KH, KW;   /* window (max/avg) */
	int64_t sh, sw;   /* stride (max/avg) or scale (upsample) */
	int64_t ph, pw;   /* padding (max/avg) */
};

/* The window rows [start, end) of adaptive output index o (input size I, output size O). */
static inline int64_t sup_adaptive_start(int64_t o, int64_t I, int64_t O)
{
	return (o * I) / O;
}
static inline int64_t sup_adaptive_end(int64_t o, int64_t I, int64_t O)
{
	return ((o + 1) * I + O - 1) / O;
}

/* idx: one int32 per output element (the flat in-plane position of the chosen input). */
void sup_ref_max_pool2d_fwd_f32(float *y, int32_t *idx, const float *x, const struct sup_pool_geom *g);
void sup_ref_max_pool2d_fwd_f64(double *y, int32_t *idx, const double *x, const struct sup_pool_geom *g);
void sup_cpu_max_pool2d_fwd_f32(float *y, int32_t *idx, const float *x, const struct sup_pool_geom *g);
/* dx += dy scattered to idx. */
void sup_ref_max_pool2d_bwd_f32(float *dx, const float *dy, const int32_t *idx, const struct sup_pool_geom *g);
void sup_ref_max_pool2d_bwd_f64(double *dx, const double *dy, const int32_t *idx, const struct sup_pool_geom *g);
void sup_cpu_max_pool2d_bwd_f32(float *dx, const float *dy, const int32_t *idx, const struct sup_pool_geom *g);

void sup_ref_avg_pool2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g);
void sup_ref_avg_pool2d_fwd_f64(double *y, const double *x, const struct sup_pool_geom *g);
void sup_cpu_avg_pool2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g);
/* dx += each dy / (KH*KW) spread over its window. */
void sup_ref_avg_pool2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g);
void sup_ref_avg_pool2d_bwd_f64(double *dx, const double *dy, const struct sup_pool_geom *g);
void sup_cpu_avg_pool2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g);

void sup_ref_adaptive_avg_pool2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g);
void sup_ref_adaptive_avg_pool2d_fwd_f64(double *y, const double *x, const struct sup_pool_geom *g);
void sup_cpu_adaptive_avg_pool2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g);
void sup_ref_adaptive_avg_pool2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g);
void sup_ref_adaptive_avg_pool2d_bwd_f64(double *dx, const double *dy, const struct sup_pool_geom *g);
void sup_cpu_adaptive_avg_pool2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g);

void sup_ref_upsample_nearest2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g);
void sup_ref_upsample_nearest2d_fwd_f64(double *y, const double *x, const struct sup_pool_geom *g);
void sup_cpu_upsample_nearest2d_fwd_f32(float *y, const float *x, const struct sup_pool_geom *g);
/* dx[h, w] += sum of dy over its sh x sw block. */
void sup_ref_upsample_nearest2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g);
void sup_ref_upsample_nearest2d_bwd_f64(double *dx, const double *dy, const struct sup_pool_geom *g);
void sup_cpu_upsample_nearest2d_bwd_f32(float *dx, const float *dy, const struct sup_pool_geom *g);

#endif
