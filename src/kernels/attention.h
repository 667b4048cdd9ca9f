/* Fused multi-head attention kernels (Vaswani et al. 2017, §3.2.1-3.2.2):
 *
 *   for each batch b and head h (head h owns columns h*dh .. h*dh + dh - 1 of q, k, v, out):
 *     S = scale * q_bh k_bh^T + M_b          [T, S']   (S' = keys, written S below)
 *     P = softmax over each row of S          (m = row max, 0 if infinite, as kernels/softmax.h)
 *     out_bh = P v_bh                         [T, dh]
 *
 * with q [B, T, D], k and v [B, S, D], out [B, T, D], D = H * dh, all contiguous, and an
 * optional additive mask M (element (b, t, s) at mask[b * mask_sb + t * mask_st + s]; a zero
 * stride broadcasts). P [B, H, T, S] is the forward's only saved state: backward needs no
 * scores, masks or per-head copies of q, k, v.
 *
 * Backward, given dout (and P from forward), per (b, h):
 *     dP = dout_bh v_bh^T,   r_t = sum_s dP[t, s] P[t, s],   dS = P * (dP - r)   (the softmax)
 *     dq_bh (=|+=) scale * dS k_bh,   dk_bh (=|+=) scale * dS^T q_bh,   dv_bh (=|+=) P^T dout_bh
 * acc[0..2] say whether dq, dk, dv accumulate or are stored (a fresh buffer); a NULL gradient
 * is skipped. dq, dk, dv may alias each other (q == k == v): every pass then accumulates, and
 * one (b, h) is handled by one thread from start to end, so the aliasing blocks never race.
 *
 * Reference kernels (ref/attention.c) are the plain loops in the element type (the spec); the
 * CPU kernel (cpu/attention.c, f32) runs (b, h) pairs in parallel, each on single-threaded
 * GEMMs (also when B * H == 1 or one thread runs: then the whole call is on one thread), so
 * results are bitwise the same at every thread count. Kernels never allocate: backward takes
 * `work` floats from the caller (T * S for ref, sup_cpu_attention_bwd_work() for cpu). */
#ifndef SELFSUP_KERNELS_ATTENTION_H
#define SELFSUP_KERNELS_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sup_attn_geom {
	int64_t B, T, S, H, dh;   /* D = H * dh */
	int64_t mask_sb, mask_st; /* mask strides over b and t (elements; 0 = broadcast) */
	double scale;
};

#define SUP_ATTENTION_KERNELS(P, SFX, F)                                                                  \
	void sup_##P##_attention_fwd_##SFX(F *out, F *probs, const F *q, const F *k, const F *v, const F *mask, \
					   const struct sup_attn_geom *g);                                    \
	void sup_##P##_attention_bwd_##SFX(F *dq, F *dk, F *dv, const F *dout, const F *probs, const F *q,      \
					   const F *k, const F *v, const struct sup_attn_geom *g,             \
					   const bool acc[3], F *work);

SUP_ATTENTION_KERNELS(ref, f32, float)
SUP_ATTENTION_KERNELS(ref, f64, double)
SUP_ATTENTION_KERNELS(cpu, f32, float)

/* Floats of work the CPU backward needs: T * S per thread of the current team size. */
size_t sup_cpu_attention_bwd_work(const struct sup_attn_geom *g);

#endif
