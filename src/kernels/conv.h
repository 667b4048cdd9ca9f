/* 2-D convolution kernels, NCHW, contiguous operands.
 *
 * Everything is phrased in terms of one *convolution geometry*: an input x [N, C, H, W], a
 * weight w [K, C/groups, KH, KW] and an output y [N, K, OH, OW] with
 *
 *   y[n, k, oh, ow] = b[k] + sum_{c < C/G, kh, kw} w[k, c, kh, kw] * x[n, g*C/G + c, ih, iw],
 *   g = k / (K/G),  ih = oh*sh - ph + kh*dh,  iw = ow*sw - pw + kw*dw,
 *
 * terms whose (ih, iw) fall outside [0, H) x [0, W) being zero (zero padding). OH and OW are
 * whatever the caller stores in the geometry: the kernels never recompute them and bounds-check
 * every input coordinate, so a transposed convolution with output padding (whose "natural"
 * forward output could be one row larger) uses the same kernels.
 *
 * Three passes cover conv2d and conv_transpose2d, forward and backward:
 *   fwd         y  (=|+=) conv(x, w) (+ b)                    conv2d forward, transpose bwd-data
 *   bwd_data    dx += conv^T(dy, w)  (the adjoint in x)       conv2d bwd-data, transpose forward
 *   bwd_weight  dw += sum_n dy[n] (x) x[n] (the adjoint in w)  both ops' weight gradient
 *
 * Reference kernels (ref/conv.c) are the direct loops above, f32 and f64: the spec. The CPU
 * kernels (cpu/conv.c, f32) use im2col + GEMM over chunks of images, one chunk per OpenMP
 * thread at a time; they need a scratch buffer sized by sup_cpu_conv2d_plan(), which the caller
 * allocates (kernels never allocate). Results are bitwise reproducible for a given thread count:
 * every output element is written by exactly one GEMM, and weight-gradient partials are per
 * thread and summed in thread order.
 *
 * With oneDNN (SELFSUP_HAVE_DNNL) the conv ops run most passes on oneDNN's primitives instead
 * (the sup_dnnl_conv_* functions below; src/ops/conv.c has the dispatch rule); the im2col path
 * stays the fallback and both are tested against the reference kernels. */
#ifndef SELFSUP_KERNELS_CONV_H
#define SELFSUP_KERNELS_CONV_H

#include "selfsup/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sup_conv_geom {
	int64_t N, C, H, W;  /* input */
	int64_t K, OH, OW;   /* output channels and spatial size */
	int64_t KH, KW;      /* kernel */
	int64_t sh, sw;      /* stride (>= 1) */
	int64_t ph, pw;      /* zero padding (>= 0) */
	int64_t dh, dw;      /* dilation (>= 1) */
	int64_t G;           /* groups; divides C and K */
};

/* ---- reference (direct loops) ---------------------------------------------------------------- */

/* b may be NULL. accumulate: y += result instead of y = result. */
void sup_ref_conv2d_fwd_f32(float *y, const float *x, const float *w, const float *b,
			    const struct sup_conv_geom *g, bool accumulate);
void sup_ref_conv2d_fwd_f64(double *y, const double *x, const double *w, const double *b,
			    const struct sup_conv_geom *g, bool accumulate);
void sup_ref_conv2d_bwd_data_f32(float *dx, const float *dy, const float *w, const struct sup_conv_geom *g);
void sup_ref_conv2d_bwd_data_f64(double *dx, const double *dy, const double *w, const struct sup_conv_geom *g);
void sup_ref_conv2d_bwd_weight_f32(float *dw, const float *x, const float *dy, const struct sup_conv_geom *g);
void sup_ref_conv2d_bwd_weight_f64(double *dw, const double *x, const double *dy,
				   const struct sup_conv_geom *g);

/* Per-channel helpers on t [N, C, P]: t[n, c, p] += b[c]; db[c] += sum_{n, p} t[n, c, p]. */
void sup_ref_channel_add_f32(float *t, const float *b, int64_t N, int64_t C, int64_t P);
void sup_ref_channel_add_f64(double *t, const double *b, int64_t N, int64_t C, int64_t P);
void sup_ref_channel_sum_f32(float *db, const float *t, int64_t N, int64_t C, int64_t P);
void sup_ref_channel_sum_f64(double *db, const double *t, int64_t N, int64_t C, int64_t P);

/* ---- CPU (im2col + GEMM, OpenMP) --------------------------------------------------------------- */

enum sup_conv_pass { SUP_CONV_FWD, SUP_CONV_BWD_DATA, SUP_CONV_BWD_WEIGHT };

/* How a pass is split: `chunk` images per im2col/GEMM, `nthreads` threads (1: chunks run in
 * sequence and BLAS may thread inside each GEMM), each owning `per_thread` floats of scratch:
 * an im2col buffer (`col`), a packed output-gradient/output buffer (`pack`) and, for a
 * multi-threaded bwd_weight, a private weight-gradient partial. The whole scratch is `floats`
 * (0 is possible: 1x1 stride-1 convolutions need none for fwd and bwd_data). */
struct sup_conv_plan {
	enum sup_conv_pass pass;
	bool direct; /* 1x1, stride 1, no padding: x itself is the im2col matrix */
	int nthreads;        /* > 1: chunks are split over this many threads */
	bool inner_parallel; /* chunks in sequence, loops around each GEMM split over threads */
	int64_t chunk;
	size_t col, pack, partial; /* floats of each part of a thread's scratch */
	size_t per_thread;
	size_t floats;
};

void sup_cpu_conv2d_plan(struct sup_conv_plan *p, const struct sup_conv_geom *g, enum sup_conv_pass pass);
/* work: p->floats floats (64-byte aligned preferred), made by the plan for the same geometry. */
void sup_cpu_conv2d_fwd_f32(float *y, const float *x, const float *w, const float *b,
			    const struct sup_conv_geom *g, bool accumulate, const struct sup_conv_plan *p,
			    float *work);
void sup_cpu_conv2d_bwd_data_f32(float *dx, const float *dy, const float *w, const struct sup_conv_geom *g,
				 const struct sup_conv_plan *p, float *work);
void sup_cpu_conv2d_bwd_weight_f32(float *dw, const float *x, const float *dy, const struct sup_conv_geom *g,
				   const struct sup_conv_plan *p, float *work);
void sup_cpu_channel_add_f32(float *t, const float *b, int64_t N, int64_t C, int64_t P);
void sup_cpu_channel_sum_f32(float *db, const float *t, int64_t N, int64_t C, int64_t P);

/* ---- CPU through oneDNN primitives (builds with SELFSUP_HAVE_DNNL; cpu/conv_dnnl.c) ---------- */

/* A cache of oneDNN convolution primitives, one per context (they outlive steps). Each entry is
 * one pass of one geometry, with `bias` (fwd only) and `accumulate` (the output is added to
 * instead of overwritten) fixed. The passes, with the same meaning as the kernels above:
 *   SUP_CONV_FWD:        out = y  (=|+=) conv(in0 = x, in1 = w) (+ bias)
 *   SUP_CONV_BWD_DATA:   out = dx (=|+=) conv^T(in0 = dy, in1 = w)
 *   SUP_CONV_BWD_WEIGHT: out = dw (=|+=) sum_n in1 = dy (x) in0 = x
 * All operands are the usual contiguous NCHW / [K, C/G, KH, KW] f32 arrays. */
struct sup_dnnl_conv;
struct sup_dnnl_conv_entry;

/* The most entries a cache keeps (least recently used evicted first): one training step of the
 * benchmark ResNets needs a few dozen (about 3 per convolution geometry and batch size). */
#define SUP_DNNL_CONV_MAX_ENTRIES 256

/* NULL when the build has no oneDNN or it cannot start (then callers use im2col + GEMM). */
struct sup_dnnl_conv *sup_dnnl_conv_new(struct sup_allocator alloc);
void sup_dnnl_conv_free(struct sup_dnnl_conv *dc); /* NULL-safe */
/* The entry for this pass at the current thread count (omp_get_max_threads(): oneDNN fixes a
 * primitive's thread split when it creates it), created on first use (JIT code generation,
 * allocations through `alloc` and oneDNN's own), and the bytes of work memory a run needs
 * (64-byte aligned, the blocked copies of the operands and the primitive's scratchpad). NULL
 * when oneDNN cannot run the geometry; that answer is cached too. A new entry beyond the limit
 * evicts (destroys) the least recently used one. The pointer is valid until the next prepare. */
const struct sup_dnnl_conv_entry *sup_dnnl_conv_prepare(struct sup_dnnl_conv *dc, const struct sup_conv_geom *g,
							enum sup_conv_pass pass, bool bias, bool accumulate,
							size_t *work_bytes);
/* Runs a prepared pass; false when oneDNN reports an error. Makes no calls to `alloc`. */
bool sup_dnnl_conv_run(struct sup_dnnl_conv *dc, const struct sup_dnnl_conv_entry *entry, void *out,
		       const void *in0, const void *in1, const void *bias, void *work);
/* Sets the most entries kept (at least 1; SUP_DNNL_CONV_MAX_ENTRIES by default), evicting the
 * least recently used ones now if there are more. NULL-safe. */
void sup_dnnl_conv_set_limit(struct sup_dnnl_conv *dc, int max_entries);
/* Entries held now, and entries made so far (a prepare that missed the cache); 0 without oneDNN. */
void sup_dnnl_conv_stats(const struct sup_dnnl_conv *dc, int *entries, uint64_t *builds);

#endif
