/* selfsup losses layer: the self-supervised objectives shared by several methods, built from the
 * differentiable ops of ops.h (so backward, gradcheck and the f32/f64 kernels come with them).
 *
 * Common contract: inputs may be NULL (an earlier op failed) and the result is then NULL; bad
 * shapes set the context's sticky error naming the loss and return NULL. Losses return a scalar
 * (the mean over anchors) that requires grad when any input does. Stats, when the pointer is
 * non-NULL, are computed from the forward values without being recorded. */
#ifndef SELFSUP_LOSSES_H
#define SELFSUP_LOSSES_H

#include "selfsup/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a contrastive loss saw, for the step's log line. */
struct sup_contrastive_stats {
	double acc;	/* fraction of anchors whose positive has the largest logit (pretext top-1) */
	double pos_sim; /* mean cosine similarity of the positive pairs */
	double neg_sim; /* mean cosine similarity of the negatives */
};

/* ---- InfoNCE / NT-Xent (src/losses/contrastive.c) ------------------------------------------- */

/* NT-Xent (SimCLR: Chen, Kornblith, Norouzi, Hinton, ICML 2020, §2.1 eq. 1). z [2N, D] holds the
 * projections of two views: rows i and i + N are the two views of example i. With u = z / ||z||,
 * s_ij = u_i . u_j, for every anchor i (all 2N rows) and its positive p(i) = (i + N) mod 2N:
 *   l_i = -log( exp(s_{i,p(i)} / tau) / sum_{k != i} exp(s_ik / tau) ),   loss = (1 / 2N) sum_i l_i.
 * N >= 1, tau > 0. */
struct sup_tensor *sup_nt_xent(struct sup_ctx *c, struct sup_tensor *z, double tau, struct sup_contrastive_stats *st);

/* InfoNCE with a queue of negatives (MoCo: He, Fan, Wu, Xie, Girshick, CVPR 2020, §3.1 eq. 1 and
 * Algorithm 1). q [N, D] queries, k [N, D] their positive keys, neg [K, D] negative keys (the
 * queue; NULL or K = 0: none). q and k are L2-normalised here (MoCo normalises both encoders'
 * outputs); the rows of neg are used as given (MoCo enqueues keys that are already normalised).
 *   logits_i = [q_i . k_i, q_i . neg_1, ..., q_i . neg_K] / tau   ([N, 1 + K], positive first)
 *   loss = mean_i cross_entropy(logits_i, 0).
 * Gradients flow into q, k and neg where they require grad (MoCo detaches k and the queue). */
struct sup_tensor *sup_info_nce_queue(struct sup_ctx *c, struct sup_tensor *q, struct sup_tensor *k,
				      struct sup_tensor *neg, double tau, struct sup_contrastive_stats *st);

/* InfoNCE with in-batch negatives (CPC, van den Oord et al. 2018, eq. 4; CMC's in-batch variant):
 * q [N, D], k [N, D], both L2-normalised here; logits = q k^T / tau [N, N] and anchor i's
 * positive is k_i (the diagonal), the other N - 1 keys its negatives. loss = mean_i CE. */
struct sup_tensor *sup_info_nce_pairs(struct sup_ctx *c, struct sup_tensor *q, struct sup_tensor *k, double tau,
				      struct sup_contrastive_stats *st);

/* (end of the InfoNCE / NT-Xent section) */

/* ---- NCE and memory banks (src/losses/nce.c) ------------------------------------------------ */

/* (end of the NCE and memory banks section) */

#ifdef __cplusplus
}
#endif
#endif
