/* Vector-quantisation codebook of VQ-VAE: van den Oord, Vinyals, Kavukcuoglu, "Neural Discrete
 * Representation Learning", NeurIPS 2017: eq. 1-2 (nearest code), eq. 3 (loss: reconstruction
 * + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2, beta = 0.25), the straight-through estimator
 * of §3.2, and appendix A.1 (EMA codebook updates, decay 0.99). The Laplace smoothing of the
 * EMA counts follows the authors' Sonnet implementation.
 *
 * The nearest code is found from ||z||^2 - 2 z.e + ||e||^2 with one GEMM (z E^T); ||z||^2 is the
 * same for every code and is left out. Ties go to the lowest code index. */
#include "selfsup/nn.h"

#include <math.h>

#define T(m, i) sup_model_tensor((m), (i))

int sup_vq_declare(struct sup_vq *l, struct sup_model *m, const char *prefix, int64_t k, int64_t dim, bool ema)
{
	if (k < 1 || dim < 1)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: a codebook needs K >= 1 and D >= 1 (got %lld, %lld)", prefix,
				      (long long)k, (long long)dim);
	*l = (struct sup_vq){ .ema_cluster_size = -1, .ema_w = -1, .k = k, .dim = dim, .beta = 0.25, .decay = 0.99,
			      .eps = 1e-5, .ema = ema };
	/* With EMA the codebook moves only through sup_vq_ema_update: a buffer, so optimizers skip it. */
	l->embedding = sup_model_add(m, prefix, "embedding.weight", ema ? SUP_KIND_BUFFER : SUP_KIND_PARAM, 2,
				     (const int64_t[]){ k, dim }, SUP_INIT_UNIFORM, 1.0 / (double)k, 0);
	if (ema) {
		l->ema_cluster_size = sup_model_add(m, prefix, "ema_cluster_size", SUP_KIND_BUFFER, 1,
						    (const int64_t[]){ k }, SUP_INIT_CONST, NAN, 0);
		l->ema_w = sup_model_add(m, prefix, "ema_w", SUP_KIND_BUFFER, 2, (const int64_t[]){ k, dim },
					 SUP_INIT_CONST, NAN, 0);
	}
	return m->err ? -1 : 0;
}

void sup_vq_ema_init(const struct sup_vq *l, struct sup_model *m)
{
	if (!l->ema)
		return;
	struct sup_tensor *e = T(m, l->embedding), *n = T(m, l->ema_cluster_size), *w = T(m, l->ema_w);
	for (int64_t i = 0; i < l->k; i++)
		sup_tensor_set(n, i, 1.0);
	for (int64_t i = 0; i < l->k * l->dim; i++)
		sup_tensor_set(w, i, sup_tensor_get(e, i));
}

/* exp(-sum p log p) of the code usage; p from the indices of one batch. */
static double usage_perplexity(struct sup_ctx *c, const struct sup_tensor *idx, int64_t k)
{
	double *cnt = sup_ctx_calloc(c, sizeof(double) * (size_t)k);
	const int64_t n = sup_tensor_numel(idx);
	if (!cnt || n == 0)
		return NAN;
	for (int64_t i = 0; i < n; i++)
		cnt[((const int64_t *)idx->data)[i]] += 1.0;
	double h = 0;
	for (int64_t i = 0; i < k; i++)
		if (cnt[i] > 0)
			h -= cnt[i] / (double)n * log(cnt[i] / (double)n);
	return exp(h);
}

enum sup_status sup_vq_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_vq *l, struct sup_tensor *z,
			       struct sup_vq_out *out)
{
	*out = (struct sup_vq_out){ .perplexity = NAN };
	if (!z || c->err)
		return c->err ? c->err : sup_ctx_fail(c, SUP_ERR_ARG, "vq: z is NULL");
	const int64_t D = l->dim;
	if (z->ndim < 1 || z->shape[z->ndim - 1] != D) {
		char zs[64];
		return sup_ctx_fail(c, SUP_ERR_SHAPE, "vq: z %s must end with the code dimension %lld",
				    sup_shape_str(zs, sizeof zs, z->ndim, z->shape), (long long)D);
	}
	struct sup_tensor *E = T(m, l->embedding);
	struct sup_tensor *zf = sup_reshape(c, z, 2, (const int64_t[]){ -1, D });

	/* argmin_k ||z - e_k||^2 = argmax_k (2 z.e_k - ||e_k||^2); not differentiable. */
	sup_no_grad_begin(c);
	struct sup_tensor *e2 = sup_sum(c, sup_mul(c, E, E), (const int[]){ 1 }, 1, false);
	struct sup_tensor *score = sup_sub(c, sup_mul_scalar(c, sup_matmul(c, zf, E, false, true), 2.0), e2);
	struct sup_tensor *idx = sup_argmax(c, score, 1, false);
	sup_no_grad_end(c);

	struct sup_tensor *e = sup_embedding(c, E, idx); /* [M, D]; gradient to the chosen codes */
	/* Straight-through: forward value e, gradient identity to z (e - z carries none). */
	sup_no_grad_begin(c);
	struct sup_tensor *diff = sup_sub(c, e, zf);
	sup_no_grad_end(c);
	struct sup_tensor *q = sup_add(c, zf, diff);

	out->codebook_loss = sup_mse(c, sup_detach(c, zf), e, SUP_REDUCE_MEAN);
	out->commitment_loss = sup_mse(c, zf, sup_detach(c, e), SUP_REDUCE_MEAN);
	struct sup_tensor *commit = sup_mul_scalar(c, out->commitment_loss, l->beta);
	out->loss = l->ema ? commit : sup_add(c, out->codebook_loss, commit);
	out->quantized = sup_reshape(c, q, z->ndim, z->shape);
	out->indices = sup_reshape(c, idx, z->ndim - 1, z->shape);
	if (c->err)
		return c->err;
	out->perplexity = usage_perplexity(c, idx, l->k);
	return c->err;
}

/* z as contiguous doubles or floats: value j of row i. */
static double zval(const struct sup_tensor *z, int64_t i)
{
	return z->dtype == SUP_F64 ? ((const double *)z->data)[i] : (double)((const float *)z->data)[i];
}

enum sup_status sup_vq_ema_update(struct sup_ctx *c, struct sup_model *m, const struct sup_vq *l,
				  struct sup_tensor *z, struct sup_tensor *indices)
{
	if (c->err)
		return c->err;
	if (!l->ema)
		return sup_ctx_fail(c, SUP_ERR_STATE, "vq: the codebook was declared without ema");
	if (!z || !indices || indices->dtype != SUP_I64 || !sup_dtype_is_float(z->dtype) || z->ndim < 1 ||
	    z->shape[z->ndim - 1] != l->dim || sup_tensor_numel(indices) * l->dim != sup_tensor_numel(z))
		return sup_ctx_fail(c, SUP_ERR_ARG, "vq ema update: need z [..., %lld] (float) and its i64 code indices",
				    (long long)l->dim);
	struct sup_tensor *N = T(m, l->ema_cluster_size), *W = T(m, l->ema_w), *E = T(m, l->embedding);
	if (isnan(sup_tensor_get(N, 0)) || isnan(sup_tensor_get(W, 0)))
		return sup_ctx_fail(c, SUP_ERR_STATE, "vq: the EMA buffers are not set: call sup_vq_ema_init after build");
	const int64_t K = l->k, D = l->dim, M = sup_tensor_numel(indices);
	z = sup_contiguous(c, z);
	indices = sup_contiguous(c, indices);
	double *cnt = sup_ctx_calloc(c, sizeof(double) * (size_t)K);
	double *sum = sup_ctx_calloc(c, sizeof(double) * (size_t)(K * D));
	if (!z || !indices || !cnt || !sum)
		return c->err;
	for (int64_t i = 0; i < M; i++) {
		int64_t k = ((const int64_t *)indices->data)[i];
		if (k < 0 || k >= K)
			return sup_ctx_fail(c, SUP_ERR_ARG, "vq ema update: index %lld out of range [0, %lld)", (long long)k,
					    (long long)K);
		cnt[k] += 1.0;
		for (int64_t j = 0; j < D; j++)
			sum[k * D + j] += zval(z, i * D + j);
	}
	const double g = l->decay;
	double total = 0;
	for (int64_t k = 0; k < K; k++) {
		double n = g * sup_tensor_get(N, k) + (1.0 - g) * cnt[k];
		sup_tensor_set(N, k, n);
		total += sup_tensor_get(N, k); /* the stored (rounded) value, as the next step sees it */
	}
	for (int64_t k = 0; k < K; k++) {
		double smoothed = (sup_tensor_get(N, k) + l->eps) / (total + (double)K * l->eps) * total;
		for (int64_t j = 0; j < D; j++) {
			double w = g * sup_tensor_get(W, k * D + j) + (1.0 - g) * sum[k * D + j];
			sup_tensor_set(W, k * D + j, w);
			sup_tensor_set(E, k * D + j, sup_tensor_get(W, k * D + j) / smoothed);
		}
	}
	return SUP_OK;
}
