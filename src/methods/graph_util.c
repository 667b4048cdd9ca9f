/* Shared pieces of the graph methods; contracts in graph_util.h. */
#include "methods/graph_util.h"

#include <math.h>
#include <string.h>

static struct sup_csr *csr_copy_struct(struct sup_ctx *c, const struct sup_csr *x)
{
	if (!x || c->err)
		return NULL;
	if (x->dtype != SUP_F32) {
		sup_ctx_fail(c, SUP_ERR_DTYPE, "graph features: f32 CSR expected, got %s", sup_dtype_name(x->dtype));
		return NULL;
	}
	struct sup_csr *out = sup_ctx_alloc(c, sizeof *out);
	if (out)
		*out = *x;
	return out;
}

const struct sup_csr *sup_graph_csr_row_normalize(struct sup_ctx *c, const struct sup_csr *x)
{
	struct sup_csr *out = csr_copy_struct(c, x);
	float *v = out ? sup_ctx_alloc(c, sizeof(float) * (size_t)(x->nnz + 1)) : NULL;
	if (!v)
		return NULL;
	const float *xv = x->values;
	for (int64_t i = 0; i < x->rows; i++) {
		double s = 0;
		for (int64_t k = x->indptr[i]; k < x->indptr[i + 1]; k++)
			s += fabs((double)xv[k]);
		/* all-zero rows (real data has them) stay zero instead of becoming NaN */
		const double inv = s > 0 ? 1.0 / s : 0.0;
		for (int64_t k = x->indptr[i]; k < x->indptr[i + 1]; k++)
			v[k] = (float)(xv[k] * inv);
	}
	out->values = v;
	return out;
}

const struct sup_csr *sup_graph_csr_permute_rows(struct sup_ctx *c, const struct sup_csr *x, const int64_t *perm)
{
	struct sup_csr *out = csr_copy_struct(c, x);
	int64_t *ip = out ? sup_ctx_alloc(c, sizeof(int64_t) * (size_t)(x->rows + 1)) : NULL;
	int32_t *ix = ip ? sup_ctx_alloc(c, sizeof(int32_t) * (size_t)(x->nnz + 1)) : NULL;
	float *v = ix ? sup_ctx_alloc(c, sizeof(float) * (size_t)(x->nnz + 1)) : NULL;
	if (!v)
		return NULL;
	const float *xv = x->values;
	ip[0] = 0;
	for (int64_t i = 0; i < x->rows; i++) {
		const int64_t r = perm[i], a = x->indptr[r], n = x->indptr[r + 1] - a;
		memcpy(ix + ip[i], x->indices + a, sizeof(int32_t) * (size_t)n);
		memcpy(v + ip[i], xv + a, sizeof(float) * (size_t)n);
		ip[i + 1] = ip[i] + n;
	}
	out->indptr = ip;
	out->indices = ix;
	out->values = v;
	return out;
}

void sup_gae_edge_weights(const struct sup_csr *adj, double *pos_weight, double *norm)
{
	const double N2 = (double)adj->rows * (double)adj->rows;
	int64_t E = 0;
	for (int64_t i = 0; i < adj->rows; i++)
		for (int64_t k = adj->indptr[i]; k < adj->indptr[i + 1]; k++)
			E += adj->indices[k] != i;
	*pos_weight = E > 0 ? (N2 - (double)E) / (double)E : 1.0;
	*norm = N2 / (2.0 * (N2 - (double)E));
}

enum sup_status sup_gae_positive_pairs(struct sup_ctx *c, const struct sup_csr *adj, struct sup_tensor **rows,
				       struct sup_tensor **cols)
{
	const int64_t N = adj->rows;
	int64_t P = 0;
	for (int64_t i = 0; i < N; i++) {
		bool diag = false;
		for (int64_t k = adj->indptr[i]; k < adj->indptr[i + 1]; k++)
			diag |= adj->indices[k] == i;
		P += adj->indptr[i + 1] - adj->indptr[i] + !diag;
	}
	*rows = sup_tensor_new(c, SUP_I64, 1, &P);
	*cols = sup_tensor_new(c, SUP_I64, 1, &P);
	if (!*rows || !*cols)
		return sup_ctx_status(c);
	int64_t *r = (*rows)->data, *q = (*cols)->data, p = 0;
	for (int64_t i = 0; i < N; i++) {
		/* the label matrix is A + I (the authors' adj_label): every node is its own positive */
		bool diag = false;
		for (int64_t k = adj->indptr[i]; k < adj->indptr[i + 1]; k++) {
			if (!diag && adj->indices[k] > i)
				r[p] = i, q[p++] = i, diag = true;
			diag |= adj->indices[k] == i;
			r[p] = i, q[p++] = adj->indices[k];
		}
		if (!diag)
			r[p] = i, q[p++] = i;
	}
	return SUP_OK;
}

bool sup_graph_batch_ok(struct sup_ctx *c, const struct sup_method_batch *b, int64_t F, const char *who)
{
	if (c->err)
		return false;
	if (b->kind != SUP_BATCH_GRAPH || !b->graph || !b->features) {
		sup_ctx_fail(c, SUP_ERR_ARG, "%s: needs a whole-graph batch with its adjacency and sparse features", who);
		return false;
	}
	const struct sup_csr *x = b->features, *a = b->graph;
	if (x->cols != F || a->rows != x->rows || a->cols != x->rows || a->dtype != SUP_F32) {
		sup_ctx_fail(c, SUP_ERR_SHAPE,
			     "%s: features [%lld, %lld] and adjacency [%lld, %lld] do not fit a model built for %lld features",
			     who, (long long)x->rows, (long long)x->cols, (long long)a->rows, (long long)a->cols,
			     (long long)F);
		return false;
	}
	return true;
}
