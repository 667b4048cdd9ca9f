/* selfsup losses layer: the self-supervised objectives shared by several methods, built from the
 * differentiable ops of ops.h (so backward, gradcheck and the f32/f64 kernels come with them).
 *
 * Common contract: inputs may be NULL (an earlier op failed) and the result is then NULL; bad
 * shapes set the context's sticky error naming the loss and return NULL. Losses return a scalar
 * (the mean over anchors) that requires grad when any input does. Stats, when the pointer is
 * non-NULL, are computed from the forward values without being recorded. */
#ifndef SELFSUP_LOSSES_H
#define SELFSUP_LOSSES_H

#include "selfsup/nn.h"
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

/* NT-Xent over the global batch of a data-parallel group (c->comm; docs/dist.md). z [2n, D] holds
 * this process's rows: rows i and i + n are the two views of its example i. The normalised rows
 * of every process are gathered (sup_all_gather: rank order) and serve as the candidates of this
 * process's 2n anchors; the loss is the mean of l_i over the local anchors, with l_i as in
 * sup_nt_xent over all 2Kn candidates. With equal shards, the mean over the processes of this
 * loss is sup_nt_xent of the global batch, and the backward of the gather makes the average of
 * the processes' parameter gradients equal the one-process gradient. One process: exactly
 * sup_nt_xent (same ops, nothing gathered). st covers the local anchors. */
struct sup_tensor *sup_nt_xent_gathered(struct sup_ctx *c, struct sup_tensor *z, double tau,
					struct sup_contrastive_stats *st);

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

/* ---- NCE and memory banks (nce.c) --------------------------------------------------------------
 * Noise-contrastive estimation of the non-parametric softmax of instance discrimination (Wu, Xiong,
 * Yu, Lin, CVPR 2018, "Unsupervised Feature Learning via Non-Parametric Instance Discrimination",
 * §3.1-3.4), used by InstDisc, CMC (Tian et al. 2019) and PIRL (Misra & van der Maaten 2020).
 *
 * The memory bank holds one L2-normalised feature per training example. It is a model BUFFER
 * [N, D], so checkpoints save it and a resume restores it; its rows are read without gradient. */

struct sup_memory_bank {
	int memory;	 /* buffer index: prefix.memory [n, dim] */
	int64_t n, dim;
	double momentum; /* v_i <- normalise(momentum v_i + (1 - momentum) f_i); 0.5 in Wu et al.'s code */
};
/* Declares the buffer, initialised U(-a, a) with a = 1 / sqrt(dim / 3) (the initialisation of Wu et
 * al.'s released code: random, unit expected norm). 0, or -1 with the model's sticky error. */
int sup_memory_bank_declare(struct sup_memory_bank *b, struct sup_model *m, const char *prefix, int64_t n,
			    int64_t dim, double momentum);
/* The rows of index (i64/i32 [B], values in [0, n)) as a new arena tensor [B, dim], no gradient. */
struct sup_tensor *sup_memory_bank_rows(struct sup_ctx *c, struct sup_model *m, const struct sup_memory_bank *b,
					const struct sup_tensor *index);
/* v_i <- (momentum v_i + (1 - momentum) f_i) / ||.||_2 for every row i of index, f [B, dim] (its
 * values only; not recorded). A repeated index applies its updates in batch order. Returns the
 * context's status (SUP_ERR_SHAPE / SUP_ERR_ARG recorded there for bad input). */
enum sup_status sup_memory_bank_update(struct sup_ctx *c, struct sup_model *m, const struct sup_memory_bank *b,
				       const struct sup_tensor *f, const struct sup_tensor *index);
/* sup_memory_bank_update for the global batch of a data-parallel group (c->comm; docs/dist.md):
 * f [n, dim] and index [n] are this process's rows of the global batch (equal shards, rank r
 * holding rows [r n, (r + 1) n)). Every process's rows are gathered in rank order, i.e. in the
 * global batch's order, and every process applies all K n updates, so every process's bank is
 * the bank one process holds after updating with the whole batch. One process: exactly
 * sup_memory_bank_update. SUP_ERR_COMM when a collective fails, SUP_ERR_SHAPE when the shards
 * differ in size. */
enum sup_status sup_memory_bank_update_gathered(struct sup_ctx *c, struct sup_model *m,
						const struct sup_memory_bank *b, const struct sup_tensor *f,
						const struct sup_tensor *index);
/* k indices uniform in [0, n) (the noise distribution P_n = 1/n of Wu et al. §3.2) drawn from rng,
 * as a new arena tensor i64 [k]. */
struct sup_tensor *sup_memory_bank_sample(struct sup_ctx *c, struct sup_rng *rng, int64_t n, int64_t k);

/* The NCE loss of Wu et al. eq. 5-7, with P(i|v) = exp(v_i^T f / tau) / Z and noise P_n = 1/n:
 *   h(i, v) = P(i|v) / (P(i|v) + k),  k = m P_n = m / n,
 *   loss = (1/B) sum_b [ -log h(b, pos_b) - sum_j log(1 - h(j, neg_j)) ]
 * q [B, D] the features of the batch (gradients flow to q, and to pos/neg if they require grad),
 * pos [B, D] the positive of each row (its bank entry), neg [M, D] the m = M noise samples, shared
 * by every row of the batch (each row still sees M draws of P_n; sharing turns B M dot products
 * into one GEMM). log_z = log Z. Computed as softplus(log k + log Z - s_pos / tau) +
 * sum_j softplus(s_neg / tau - log k - log Z), which equals the above exactly and never overflows.
 * Returns a scalar, or NULL with the context's error set. */
struct sup_tensor *sup_nce_loss(struct sup_ctx *c, struct sup_tensor *q, struct sup_tensor *pos,
				struct sup_tensor *neg, double tau, double log_z, int64_t n_data);
/* An NCE head with its state: the temperature, the number of noise samples, and Z, a buffer
 * prefix.z [1] (0 until estimated) that is estimated once from the first batch and then held
 * constant, as Wu et al. do (§3.2: "we treat Z as a constant ... estimated at the beginning").
 * Being a buffer, Z survives checkpoints and resumes. */
struct sup_nce {
	int z;
	double tau;
	int64_t negatives;
};
int sup_nce_declare(struct sup_nce *l, struct sup_model *m, const char *prefix, double tau, int64_t negatives);
/* Estimates Z when still 0 (from q and neg, Wu et al. eq. 8, Monte Carlo: Z ~ n E_j[exp(v_j^T f / tau)]
 * = (n / (B M)) sum_b sum_j exp(neg_j^T q_b / tau), from the scores the loss computes anyway), then
 * returns sup_nce_loss with it. With a group in
 * c->comm (data-parallel; q is this process's shard of the batch, neg the same on every
 * process), the estimate's sum and row count are added over the processes first, so Z is the
 * one-process estimate from the whole batch and equal on every process. */
struct sup_tensor *sup_nce_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_nce *l,
				   struct sup_tensor *q, struct sup_tensor *pos, struct sup_tensor *neg, int64_t n_data);
/* The current Z (0 before the first forward). */
double sup_nce_z(struct sup_model *m, const struct sup_nce *l);
/* Forgets Z, so that the next sup_nce_forward estimates it again. The memory-bank methods call it
 * before every step of their first nce.z_epochs epochs: Z is then estimated from a bank whose
 * random initial rows have been replaced by embeddings, and held constant from there on. */
void sup_nce_forget_z(struct sup_model *m, const struct sup_nce *l);

/* (end of the NCE and memory banks section) */

#ifdef __cplusplus
}
#endif
#endif
