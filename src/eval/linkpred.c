/* Link prediction on node embeddings: the protocol of Kipf & Welling 2016, "Variational Graph
 * Auto-Encoders", §3: held-out edges (positives) and as many sampled non-edges (negatives) are
 * scored with the inner-product decoder sigmoid(z_u . z_v) (eq. 2) and ranked by ROC AUC and
 * average precision. The dot products are f64 (the features are f32); sigmoid saturates to exactly
 * 1 only past z_u . z_v ~ 37, and tied scores are handled by the metrics (AUC: half credit, AP:
 * tied scores share a threshold). */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

static enum sup_status check_pairs(const int64_t *pairs, int64_t m, int64_t n_nodes, const char *what, char *err,
				   size_t err_size)
{
	if (m < 0 || (m > 0 && !pairs))
		return sup_errf(err, err_size, SUP_ERR_ARG, "%s: bad pair array (m = %lld)", what, (long long)m);
	for (int64_t e = 0; e < m; e++)
		for (int s = 0; s < 2; s++)
			if (pairs[2 * e + s] < 0 || pairs[2 * e + s] >= n_nodes)
				return sup_errf(err, err_size, SUP_ERR_ARG, "%s: pair %lld has node %lld outside [0, %lld)",
						 what, (long long)e, (long long)pairs[2 * e + s], (long long)n_nodes);
	return SUP_OK;
}

enum sup_status sup_eval_edge_scores(const float *z, int64_t n_nodes, int64_t d, const int64_t *pairs, int64_t m,
				     double *scores, char *err, size_t err_size)
{
	if (!z || n_nodes < 1 || d < 1 || (m > 0 && !scores))
		return sup_errf(err, err_size, SUP_ERR_ARG, "edge scores: bad embeddings (n_nodes = %lld, d = %lld)",
				 (long long)n_nodes, (long long)d);
	enum sup_status st = check_pairs(pairs, m, n_nodes, "edge scores", err, err_size);
	if (st != SUP_OK)
		return st;
#pragma omp parallel for schedule(static)
	for (int64_t e = 0; e < m; e++) {
		const float *zu = z + pairs[2 * e] * d, *zv = z + pairs[2 * e + 1] * d;
		double s = 0;
		for (int64_t j = 0; j < d; j++)
			s += (double)zu[j] * zv[j];
		scores[e] = 1.0 / (1.0 + exp(-s));
	}
	return SUP_OK;
}

enum sup_status sup_eval_linkpred(const float *z, int64_t n_nodes, int64_t d, const int64_t *pos, int64_t n_pos,
				  const int64_t *neg, int64_t n_neg, struct sup_linkpred_result *out, char *err,
				  size_t err_size)
{
	if (n_pos < 1 || n_neg < 1)
		return sup_errf(err, err_size, SUP_ERR_ARG,
				 "link prediction needs held-out edges and non-edges (%lld and %lld given)", (long long)n_pos,
				 (long long)n_neg);
	const int64_t m = n_pos + n_neg;
	double *s = malloc((size_t)m * sizeof *s);
	uint8_t *is_pos = malloc((size_t)m);
	enum sup_status st = SUP_OK;
	if (!s || !is_pos) {
		st = sup_errf(err, err_size, SUP_ERR_NOMEM, "link prediction: out of memory for %lld pairs", (long long)m);
		goto free_all;
	}
	st = sup_eval_edge_scores(z, n_nodes, d, pos, n_pos, s, err, err_size);
	if (st == SUP_OK)
		st = sup_eval_edge_scores(z, n_nodes, d, neg, n_neg, s + n_pos, err, err_size);
	if (st != SUP_OK)
		goto free_all;
	for (int64_t i = 0; i < m; i++)
		is_pos[i] = i < n_pos;
	out->n_pos = n_pos;
	out->n_neg = n_neg;
	st = sup_eval_auc(s, is_pos, m, &out->auc, err, err_size);
	if (st == SUP_OK)
		st = sup_eval_average_precision(s, is_pos, m, &out->ap, err, err_size);
free_all:
	free(s), free(is_pos);
	return st;
}
