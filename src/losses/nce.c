/* NCE over a memory bank (Wu, Xiong, Yu, Lin, CVPR 2018, §3.1-3.4): the bank buffer, its momentum
 * update, uniform noise samples, the NCE loss and its normalising constant. Contracts in
 * include/selfsup/losses.h. */
#include "selfsup/losses.h"

#include <math.h>
#include <string.h>

int sup_memory_bank_declare(struct sup_memory_bank *b, struct sup_model *m, const char *prefix, int64_t n,
			    int64_t dim, double momentum)
{
	memset(b, 0, sizeof *b);
	if (n < 1 || dim < 1 || !(momentum >= 0 && momentum < 1))
		return sup_model_fail(m, SUP_ERR_ARG, "%s: memory bank needs n, dim >= 1 and momentum in [0, 1)",
				      prefix);
	b->n = n;
	b->dim = dim;
	b->momentum = momentum;
	/* Wu et al.'s code: uniform(-stdv, stdv), stdv = 1 / sqrt(dim / 3), so E||v||^2 = 1. */
	b->memory = sup_model_add(m, prefix, "memory", SUP_KIND_BUFFER, 2, (const int64_t[]){n, dim},
				  SUP_INIT_UNIFORM, 1.0 / sqrt((double)dim / 3.0), 0);
	return b->memory < 0 ? -1 : 0;
}

/* Checks index against the bank; returns false with the context's error set. */
static bool check_index(struct sup_ctx *c, const struct sup_memory_bank *b, const struct sup_tensor *index,
			const char *op)
{
	if (index->ndim != 1 || (index->dtype != SUP_I64 && index->dtype != SUP_I32)) {
		sup_ctx_fail(c, SUP_ERR_ARG, "%s: index must be i64/i32 [B]", op);
		return false;
	}
	for (int64_t i = 0; i < index->shape[0]; i++) {
		double v = sup_tensor_get(index, i);
		if (v < 0 || v >= (double)b->n) {
			sup_ctx_fail(c, SUP_ERR_ARG, "%s: index %g outside the bank of %lld rows", op, v,
				     (long long)b->n);
			return false;
		}
	}
	return true;
}

struct sup_tensor *sup_memory_bank_rows(struct sup_ctx *c, struct sup_model *m, const struct sup_memory_bank *b,
					const struct sup_tensor *index)
{
	if (!index || sup_ctx_status(c) != SUP_OK || !check_index(c, b, index, "memory_bank_rows"))
		return NULL;
	int64_t B = index->shape[0];
	struct sup_tensor *out = sup_tensor_new(c, SUP_F32, 2, (const int64_t[]){B, b->dim});
	if (!out)
		return NULL;
	const float *mem = sup_model_tensor(m, b->memory)->data;
	for (int64_t i = 0; i < B; i++)
		memcpy((float *)out->data + i * b->dim, mem + (int64_t)sup_tensor_get(index, i) * b->dim,
		       sizeof(float) * (size_t)b->dim);
	return out;
}

enum sup_status sup_memory_bank_update(struct sup_ctx *c, struct sup_model *m, const struct sup_memory_bank *b,
				       const struct sup_tensor *f, const struct sup_tensor *index)
{
	if (!f || !index || sup_ctx_status(c) != SUP_OK)
		return sup_ctx_status(c) != SUP_OK ? sup_ctx_status(c) : sup_ctx_fail(c, SUP_ERR_ARG, "memory_bank_update: NULL input");
	if (!check_index(c, b, index, "memory_bank_update"))
		return sup_ctx_status(c);
	if (f->ndim != 2 || f->shape[0] != index->shape[0] || f->shape[1] != b->dim || !sup_dtype_is_float(f->dtype))
		return sup_ctx_fail(c, SUP_ERR_SHAPE, "memory_bank_update: f must be float [%lld, %lld]",
				    (long long)index->shape[0], (long long)b->dim);
	float *mem = sup_model_tensor(m, b->memory)->data;
	double mo = b->momentum;
	for (int64_t i = 0; i < index->shape[0]; i++) {
		float *v = mem + (int64_t)sup_tensor_get(index, i) * b->dim;
		double ss = 0;
		for (int64_t d = 0; d < b->dim; d++) {
			double x = mo * v[d] + (1 - mo) * sup_tensor_get(f, i * b->dim + d);
			v[d] = (float)x;
			ss += x * x;
		}
		/* Normalised as F.normalize does (eps 1e-12), so a zero row stays finite. */
		double inv = 1.0 / fmax(sqrt(ss), 1e-12);
		for (int64_t d = 0; d < b->dim; d++)
			v[d] = (float)(v[d] * inv);
	}
	return SUP_OK;
}

enum sup_status sup_memory_bank_update_gathered(struct sup_ctx *c, struct sup_model *m,
						const struct sup_memory_bank *b, const struct sup_tensor *f,
						const struct sup_tensor *index)
{
	const int K = sup_comm_size(c->comm);
	if (K <= 1 || !f || !index || sup_ctx_status(c) != SUP_OK)
		return sup_memory_bank_update(c, m, b, f, index);
	if (index->ndim != 1 || f->ndim != 2 || f->shape[0] != index->shape[0] || f->shape[1] != b->dim)
		return sup_ctx_fail(c, SUP_ERR_SHAPE, "memory_bank_update_gathered: f must be [B, %lld] and index [B]",
				    (long long)b->dim);
	const int64_t n = index->shape[0], D = b->dim;
	int64_t *counts = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)K);
	double *fl = sup_ctx_alloc(c, sizeof(double) * (size_t)(n * D + 1));
	int64_t *il = sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(n + 1));
	struct sup_tensor *fg = sup_tensor_new(c, SUP_F64, 2, (const int64_t[]){K * n, D});
	struct sup_tensor *ig = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){K * n});
	if (!counts || !fl || !il || !fg || !ig)
		return sup_ctx_status(c);
	/* The shard sizes first, so that unequal shards fail on every process instead of a receive
	 * of the wrong length. */
	if (sup_comm_allgather(c->comm, &n, counts, sizeof n) != SUP_OK)
		return sup_ctx_fail(c, SUP_ERR_COMM, "memory_bank_update_gathered: the collective failed");
	for (int k = 0; k < K; k++)
		if (counts[k] != n)
			return sup_ctx_fail(c, SUP_ERR_SHAPE, "memory_bank_update_gathered: process %d has %lld rows, "
					    "process %d has %lld", k, (long long)counts[k], sup_comm_rank(c->comm),
					    (long long)n);
	/* f's values in double (what sup_memory_bank_update reads of any float dtype), index as i64. */
	for (int64_t i = 0; i < n * D; i++)
		fl[i] = sup_tensor_get(f, i);
	for (int64_t i = 0; i < n; i++)
		il[i] = (int64_t)sup_tensor_get(index, i);
	if (sup_comm_allgather(c->comm, fl, fg->data, sizeof(double) * (size_t)(n * D)) != SUP_OK ||
	    sup_comm_allgather(c->comm, il, ig->data, sizeof(int64_t) * (size_t)n) != SUP_OK)
		return sup_ctx_fail(c, SUP_ERR_COMM, "memory_bank_update_gathered: the collective failed");
	return sup_memory_bank_update(c, m, b, fg, ig);
}

struct sup_tensor *sup_memory_bank_sample(struct sup_ctx *c, struct sup_rng *rng, int64_t n, int64_t k)
{
	if (n < 1 || k < 1) {
		sup_ctx_fail(c, SUP_ERR_ARG, "memory_bank_sample: n and k must be >= 1");
		return NULL;
	}
	struct sup_tensor *t = sup_tensor_new(c, SUP_I64, 1, (const int64_t[]){k});
	if (!t)
		return NULL;
	for (int64_t i = 0; i < k; i++)
		((int64_t *)t->data)[i] = (int64_t)sup_rng_below(rng, (uint64_t)n);
	return t;
}

/* Checks the shapes of q [B, D], pos [B, D] and neg [M, D]. */
static bool nce_shapes_ok(struct sup_ctx *c, const struct sup_tensor *q, const struct sup_tensor *pos,
			  const struct sup_tensor *neg, const char *op)
{
	if (q->ndim != 2 || !sup_tensor_same_shape(q, pos) || neg->ndim != 2 || neg->shape[1] != q->shape[1]) {
		sup_ctx_fail(c, SUP_ERR_SHAPE, "%s: q and pos must be [B, D] and neg [M, D]", op);
		return false;
	}
	return true;
}

/* The loss of sup_nce_loss from sn = q neg^T [B, M], the scores the Z estimate also reads. */
static struct sup_tensor *nce_loss_scores(struct sup_ctx *c, struct sup_tensor *q, struct sup_tensor *pos,
					  struct sup_tensor *sn, double tau, double log_z, int64_t n_data)
{
	if (!sn)
		return NULL;
	if (!(tau > 0) || !isfinite(log_z) || n_data < 1) {
		sup_ctx_fail(c, SUP_ERR_ARG, "nce_loss: needs tau > 0, a finite log Z and n_data >= 1");
		return NULL;
	}
	int64_t B = q->shape[0], M = sn->shape[1];
	/* c0 = log(k Z) with k = m P_n = M / n: -log h = softplus(c0 - s), -log(1 - h) = softplus(s - c0). */
	double c0 = log((double)M / (double)n_data) + log_z;
	struct sup_tensor *sp = sup_sum(c, sup_mul(c, q, pos), (const int[]){1}, 1, false);
	struct sup_tensor *lp = sup_softplus(c, sup_add_scalar(c, sup_mul_scalar(c, sp, -1.0 / tau), c0));
	struct sup_tensor *ln = sup_softplus(c, sup_add_scalar(c, sup_mul_scalar(c, sn, 1.0 / tau), -c0));
	struct sup_tensor *tot = sup_add(c, sup_sum(c, lp, NULL, 0, false), sup_sum(c, ln, NULL, 0, false));
	return sup_mul_scalar(c, tot, 1.0 / (double)B);
}

struct sup_tensor *sup_nce_loss(struct sup_ctx *c, struct sup_tensor *q, struct sup_tensor *pos,
				struct sup_tensor *neg, double tau, double log_z, int64_t n_data)
{
	if (!q || !pos || !neg || !nce_shapes_ok(c, q, pos, neg, "nce_loss"))
		return NULL;
	return nce_loss_scores(c, q, pos, sup_matmul(c, q, neg, false, true), tau, log_z, n_data);
}

/* sum of exp(s / tau) over the scores sn [B, M], in double. */
static double nce_exp_sum(const struct sup_tensor *sn, double tau)
{
	int64_t n = sn->shape[0] * sn->shape[1];
	double acc = 0;
	if (sn->dtype == SUP_F32 && sup_tensor_is_contiguous(sn))
		for (int64_t i = 0; i < n; i++)
			acc += exp(((const float *)sn->data)[i] / tau);
	else
		for (int64_t i = 0; i < n; i++)
			acc += exp(sup_tensor_get(sn, i) / tau);
	return acc;
}

int sup_nce_declare(struct sup_nce *l, struct sup_model *m, const char *prefix, double tau, int64_t negatives)
{
	memset(l, 0, sizeof *l);
	if (!(tau > 0) || negatives < 1)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: NCE needs tau > 0 and negatives >= 1", prefix);
	l->tau = tau;
	l->negatives = negatives;
	l->z = sup_model_add(m, prefix, "z", SUP_KIND_BUFFER, 1, (const int64_t[]){1}, SUP_INIT_ZEROS, 0, 0);
	return l->z < 0 ? -1 : 0;
}

double sup_nce_z(struct sup_model *m, const struct sup_nce *l)
{
	return ((const float *)sup_model_tensor(m, l->z)->data)[0];
}

void sup_nce_forget_z(struct sup_model *m, const struct sup_nce *l)
{
	((float *)sup_model_tensor(m, l->z)->data)[0] = 0;
}

struct sup_tensor *sup_nce_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_nce *l,
				   struct sup_tensor *q, struct sup_tensor *pos, struct sup_tensor *neg, int64_t n_data)
{
	if (!q || !pos || !neg || !nce_shapes_ok(c, q, pos, neg, "nce_forward"))
		return NULL;
	/* One GEMM serves the loss and, while Z is unknown, its estimate (Wu et al. eq. 8, losses.h). */
	struct sup_tensor *sn = sup_matmul(c, q, neg, false, true);
	float *z = sup_model_tensor(m, l->z)->data;
	if (sn && !(z[0] > 0)) {
		/* Over the global batch when distributed: its sum and its rows over every process. */
		double sums[2] = {nce_exp_sum(sn, l->tau), (double)q->shape[0]};
		if (sup_comm_size(c->comm) > 1 && sup_comm_allreduce_f64(c->comm, sums, 2) != SUP_OK) {
			sup_ctx_fail(c, SUP_ERR_COMM, "nce_forward: the allreduce of the Z estimate failed");
			return NULL;
		}
		double est = (double)n_data * sums[0] / (sums[1] * (double)neg->shape[0]);
		if (!(est > 0) || !isfinite((float)est)) {
			sup_ctx_fail(c, SUP_ERR_STATE, "nce_forward: the estimate of Z is %g", est);
			return NULL;
		}
		z[0] = (float)est;
	}
	return nce_loss_scores(c, q, pos, sn, l->tau, log((double)z[0]), n_data);
}
