/* Instance-contrastive losses: NT-Xent (SimCLR) and InfoNCE with a queue (MoCo) or in-batch
 * negatives (CPC/CMC). Definitions and citations: include/selfsup/losses.h.
 *
 * Each loss is a composition of recorded ops (l2_normalize, matmul, where, concat,
 * cross_entropy), so its backward is the ops' backward and gradcheck covers it. A fused kernel
 * does not pay here: the 2N x 2N similarity GEMM of SimCLR with N = 256, D = 64 is about 17
 * MFLOP forward, under 1% of one step of even the small W1 ConvNet (about 2.4 GFLOP forward for
 * 512 images), and the composed version keeps every op's tested f32/f64 kernels. */
#include "selfsup/losses.h"

#include <math.h>
#include <string.h>

/* Logit given to masked entries (an anchor with itself): finite, so that exp underflows to an
 * exact 0 and its gradient is exactly 0, with no inf - inf anywhere. */
#define MASKED_LOGIT (-1e9)

static bool check_2d(struct sup_ctx *c, const char *loss, const char *name, const struct sup_tensor *t)
{
	if (t->ndim == 2 && sup_dtype_is_float(t->dtype))
		return true;
	char buf[96];
	sup_ctx_fail(c, SUP_ERR_SHAPE, "%s: %s must be a float matrix [rows, D], got %s %s", loss, name,
		     sup_dtype_name(t->dtype), sup_shape_str(buf, sizeof buf, t->ndim, t->shape));
	return false;
}

static bool check_tau(struct sup_ctx *c, const char *loss, double tau)
{
	if (tau > 0 && isfinite(tau))
		return true;
	sup_ctx_fail(c, SUP_ERR_ARG, "%s: temperature must be > 0, got %g", loss, tau);
	return false;
}

/* Accuracy and mean similarities of a row-major [rows, cols] similarity matrix (cosines, before
 * the temperature) where row i's positive is column pos[i] and columns with skip[i * cols + j]
 * are neither positive nor negative. Reads forward values only. */
static void fill_stats(struct sup_contrastive_stats *st, const struct sup_tensor *sim, const int64_t *pos,
		       const uint8_t *skip)
{
	const int64_t rows = sim->shape[0], cols = sim->shape[1];
	double pos_sum = 0, neg_sum = 0;
	int64_t n_neg = 0, hits = 0;
	for (int64_t i = 0; i < rows; i++) {
		double sp = sup_tensor_get(sim, i * cols + pos[i]);
		bool best = true;
		pos_sum += sp;
		for (int64_t j = 0; j < cols; j++) {
			if (j == pos[i] || (skip && skip[i * cols + j]))
				continue;
			double s = sup_tensor_get(sim, i * cols + j);
			neg_sum += s;
			n_neg++;
			if (s >= sp)
				best = false;
		}
		hits += best;
	}
	st->acc = rows ? (double)hits / (double)rows : 0;
	st->pos_sim = rows ? pos_sum / (double)rows : 0;
	st->neg_sim = n_neg ? neg_sum / (double)n_neg : 0;
}

/* The NT-Xent of anchors u [2n, D] (normalised) against candidates cand [M, D] (normalised; M >=
 * 2n) where anchor i is candidate off + i and its positive is candidate off + (i + n) mod 2n. */
static struct sup_tensor *nt_xent_core(struct sup_ctx *c, struct sup_tensor *u, struct sup_tensor *cand, int64_t off,
				       double tau, struct sup_contrastive_stats *st)
{
	if (!u || !cand)
		return NULL;
	const int64_t n2 = u->shape[0], n = n2 / 2, M = cand->shape[0];
	struct sup_tensor *pos = sup_tensor_new(c, SUP_I64, 1, &n2);
	struct sup_tensor *diag = sup_tensor_zeros(c, SUP_U8, 2, (const int64_t[]){n2, M});
	struct sup_tensor *big = sup_tensor_scalar(c, u->dtype, MASKED_LOGIT);
	if (!pos || !diag || !big)
		return NULL;
	int64_t *p = pos->data;
	uint8_t *d = diag->data;
	for (int64_t i = 0; i < n2; i++) {
		p[i] = off + (i < n ? i + n : i - n);
		d[i * M + off + i] = 1;
	}
	struct sup_tensor *sim = sup_matmul(c, u, cand, false, true);
	struct sup_tensor *logits = sup_where(c, diag, big, sup_mul_scalar(c, sim, 1.0 / tau));
	struct sup_tensor *loss = sup_cross_entropy(c, logits, pos, -100, 0.0, SUP_REDUCE_MEAN);
	if (loss && st)
		fill_stats(st, sim, p, d);
	return loss;
}

static bool nt_xent_check(struct sup_ctx *c, const char *name, const struct sup_tensor *z, double tau)
{
	if (!z || !check_2d(c, name, "z", z) || !check_tau(c, name, tau))
		return false;
	const int64_t n2 = z->shape[0];
	if (n2 < 2 || n2 % 2) {
		sup_ctx_fail(c, SUP_ERR_SHAPE, "%s: z needs 2N rows (two views of N >= 1 examples), got %lld", name,
			     (long long)n2);
		return false;
	}
	return true;
}

struct sup_tensor *sup_nt_xent(struct sup_ctx *c, struct sup_tensor *z, double tau, struct sup_contrastive_stats *st)
{
	if (!nt_xent_check(c, "nt_xent", z, tau))
		return NULL;
	struct sup_tensor *u = sup_l2_normalize(c, z, 1, 1e-12);
	return nt_xent_core(c, u, u, 0, tau, st);
}

struct sup_tensor *sup_nt_xent_gathered(struct sup_ctx *c, struct sup_tensor *z, double tau,
					struct sup_contrastive_stats *st)
{
	if (!nt_xent_check(c, "nt_xent_gathered", z, tau))
		return NULL;
	struct sup_tensor *u = sup_l2_normalize(c, z, 1, 1e-12);
	if (sup_comm_size(c->comm) <= 1)
		return nt_xent_core(c, u, u, 0, tau, st);
	/* Candidates in rank order: this process's rows start at rank * 2n. */
	return nt_xent_core(c, u, sup_all_gather(c, u), (int64_t)sup_comm_rank(c->comm) * z->shape[0], tau, st);
}

/* q and k: float [N, D] of one dtype; returns their L2-normalised rows or NULL. */
static bool check_pair(struct sup_ctx *c, const char *loss, const struct sup_tensor *q, const struct sup_tensor *k)
{
	if (!check_2d(c, loss, "q", q) || !check_2d(c, loss, "k", k))
		return false;
	if (sup_tensor_same_shape(q, k) && q->dtype == k->dtype && q->shape[0] >= 1)
		return true;
	char a[96], b[96];
	sup_ctx_fail(c, SUP_ERR_SHAPE, "%s: q %s %s and k %s %s must have one shape [N >= 1, D] and dtype", loss,
		     sup_dtype_name(q->dtype), sup_shape_str(a, sizeof a, q->ndim, q->shape), sup_dtype_name(k->dtype),
		     sup_shape_str(b, sizeof b, k->ndim, k->shape));
	return false;
}

struct sup_tensor *sup_info_nce_queue(struct sup_ctx *c, struct sup_tensor *q, struct sup_tensor *k,
				      struct sup_tensor *neg, double tau, struct sup_contrastive_stats *st)
{
	if (!q || !k || !check_pair(c, "info_nce_queue", q, k) || !check_tau(c, "info_nce_queue", tau))
		return NULL;
	const int64_t n = q->shape[0];
	if (neg && neg->shape[0] > 0 &&
	    (!check_2d(c, "info_nce_queue", "neg", neg) || neg->shape[1] != q->shape[1] || neg->dtype != q->dtype)) {
		if (sup_ctx_status(c) == SUP_OK) {
			char a[96], b[96];
			sup_ctx_fail(c, SUP_ERR_SHAPE, "info_nce_queue: neg %s %s must be [K, D] of q's %s %s",
				     sup_dtype_name(neg->dtype), sup_shape_str(a, sizeof a, neg->ndim, neg->shape),
				     sup_dtype_name(q->dtype), sup_shape_str(b, sizeof b, q->ndim, q->shape));
		}
		return NULL;
	}
	struct sup_tensor *target = sup_tensor_zeros(c, SUP_I64, 1, &n);
	struct sup_tensor *qn = sup_l2_normalize(c, q, 1, 1e-12), *kn = sup_l2_normalize(c, k, 1, 1e-12);
	/* l_pos [N, 1] = sum_d q_d k_d (Algorithm 1: bmm(q.view(N,1,C), k.view(N,C,1))). */
	struct sup_tensor *l_pos = sup_sum(c, sup_mul(c, qn, kn), (const int[]){1}, 1, true);
	struct sup_tensor *sim = l_pos;
	if (neg && neg->shape[0] > 0) {
		struct sup_tensor *parts[2] = {l_pos, sup_matmul(c, qn, neg, false, true)}; /* l_neg [N, K] */
		sim = sup_concat(c, parts, 2, 1);
	}
	struct sup_tensor *loss =
	    sup_cross_entropy(c, sup_mul_scalar(c, sim, 1.0 / tau), target, -100, 0.0, SUP_REDUCE_MEAN);
	if (loss && st) {
		int64_t *pos = sup_ctx_calloc(c, sizeof(int64_t) * (size_t)n); /* the positive is column 0 */
		if (pos)
			fill_stats(st, sim, pos, NULL);
	}
	return loss;
}

struct sup_tensor *sup_info_nce_pairs(struct sup_ctx *c, struct sup_tensor *q, struct sup_tensor *k, double tau,
				      struct sup_contrastive_stats *st)
{
	if (!q || !k || !check_pair(c, "info_nce_pairs", q, k) || !check_tau(c, "info_nce_pairs", tau))
		return NULL;
	const int64_t n = q->shape[0];
	struct sup_tensor *target = sup_tensor_new(c, SUP_I64, 1, &n);
	if (!target)
		return NULL;
	int64_t *t = target->data;
	for (int64_t i = 0; i < n; i++)
		t[i] = i;
	struct sup_tensor *sim =
	    sup_matmul(c, sup_l2_normalize(c, q, 1, 1e-12), sup_l2_normalize(c, k, 1, 1e-12), false, true);
	struct sup_tensor *loss =
	    sup_cross_entropy(c, sup_mul_scalar(c, sim, 1.0 / tau), target, -100, 0.0, SUP_REDUCE_MEAN);
	if (loss && st)
		fill_stats(st, sim, t, NULL);
	return loss;
}
