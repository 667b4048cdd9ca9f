/* Graph layers: the GCN layer and encoder, and DGI's bilinear discriminator.
 *
 * GCN: Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks",
 * ICLR 2017, eq. 2 (H' = Â H W with Â = D~^-1/2 (A + I) D~^-1/2) and §3.1 / the authors' code
 * (Glorot-uniform weights [in, out], zero bias, dropout on the input of every layer, sparse
 * dropout on sparse features).
 * DGI: Velickovic et al., "Deep Graph Infomax", ICLR 2019, §3.4 (one GCN layer with PReLU,
 * bilinear discriminator D(h, s) = sigma(h^T W s)); initialisation as the authors' code.
 *
 * Why the multiplication order matters: Â has few nonzeros per row, so Â (H W) costs
 * nnz(Â) * out and (Â H) W costs nnz(Â) * in plus the same dense GEMM; propagating the narrower
 * side is cheaper. Sparse features are multiplied first (X W as a sparse x dense product, so the
 * N x in dense matrix never exists). The derivations of the backward passes are in
 * docs/nn/graph_masked_vq.md. */
#include "selfsup/nn.h"

#include <stdio.h>

#define T(m, i) sup_model_tensor((m), (i))

int sup_gcn_declare(struct sup_gcn *l, struct sup_model *m, const char *prefix, int64_t in, int64_t out, bool bias)
{
	l->in = in;
	l->out = out;
	l->weight = sup_model_add(m, prefix, "weight", SUP_KIND_PARAM, 2, (const int64_t[]){ in, out },
				  SUP_INIT_XAVIER_UNIFORM, 1.0, 0);
	if (l->weight >= 0) /* [in, out]: not PyTorch's [out, in], so say which fan is which */
		sup_model_set_fans(m, l->weight, in, out);
	l->bias = -1;
	if (bias)
		l->bias = sup_model_add(m, prefix, "bias", SUP_KIND_PARAM, 1, (const int64_t[]){ out }, SUP_INIT_ZEROS, 0,
					SUP_PARAM_NO_DECAY);
	return m->err ? -1 : 0;
}

/* Exactly one of x and xs; false (error recorded unless an earlier op failed) otherwise. */
static bool one_input(struct sup_ctx *c, const char *who, const struct sup_tensor *x, const struct sup_csr *xs)
{
	if (c->err)
		return false;
	if ((x == NULL) == (xs == NULL)) {
		sup_ctx_fail(c, SUP_ERR_ARG, "%s: give exactly one of dense features and sparse features (%s)", who,
			     x ? "got both" : "got neither");
		return false;
	}
	return true;
}

struct sup_tensor *sup_gcn_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_gcn *l,
				   const struct sup_csr *adj, struct sup_tensor *x, const struct sup_csr *xs)
{
	if (!one_input(c, "gcn", x, xs))
		return NULL;
	struct sup_tensor *w = T(m, l->weight), *h;
	if (xs && xs->cols != l->in) {
		sup_ctx_fail(c, SUP_ERR_SHAPE, "gcn: sparse features have %lld columns, the layer takes %lld",
			     (long long)xs->cols, (long long)l->in);
		return NULL;
	}
	if (xs)
		h = sup_spmm(c, adj, sup_spmm(c, xs, w));
	else if (l->out < l->in)
		h = sup_spmm(c, adj, sup_matmul(c, x, w, false, false));
	else
		h = sup_matmul(c, sup_spmm(c, adj, x), w, false, false);
	return l->bias >= 0 ? sup_add(c, h, T(m, l->bias)) : h;
}

/* Inverted dropout on the stored values of a CSR (Kipf & Welling's sparse_dropout): a copy of
 * the struct and of the values in the step arena; indptr and indices are shared. */
static const struct sup_csr *csr_dropout(struct sup_ctx *c, const struct sup_csr *a, double p)
{
	if (c->err)
		return NULL;
	struct sup_csr *d = sup_ctx_alloc(c, sizeof *d);
	size_t es = sup_dtype_size(a->dtype);
	void *v = sup_ctx_alloc(c, es * (size_t)(a->nnz ? a->nnz : 1));
	if (!d || !v)
		return NULL;
	if (a->dtype != SUP_F32 && a->dtype != SUP_F64) {
		sup_ctx_fail(c, SUP_ERR_DTYPE, "gcn: sparse features must be f32 or f64, not %s", sup_dtype_name(a->dtype));
		return NULL;
	}
	*d = *a;
	const double scale = 1.0 / (1.0 - p);
	for (int64_t k = 0; k < a->nnz; k++) {
		bool keep = sup_rng_uniform(&c->rng) >= p;
		if (a->dtype == SUP_F32)
			((float *)v)[k] = keep ? (float)(((const float *)a->values)[k] * scale) : 0.0f;
		else
			((double *)v)[k] = keep ? ((const double *)a->values)[k] * scale : 0.0;
	}
	d->values = v;
	return d;
}

int sup_gcn_encoder_declare(struct sup_gcn_encoder *e, struct sup_model *m, const char *prefix, int n_layers,
			    const int64_t *dims, enum sup_gcn_act act, bool act_last, double dropout)
{
	if (n_layers < 1 || n_layers > SUP_GCN_MAX_LAYERS)
		return sup_model_fail(m, SUP_ERR_ARG, "%s: a GCN encoder has 1 to %d layers, not %d", prefix,
				      SUP_GCN_MAX_LAYERS, n_layers);
	if ((unsigned)act >= SUP_GCN_ACT_COUNT || !(dropout >= 0 && dropout < 1))
		return sup_model_fail(m, SUP_ERR_ARG, "%s: bad activation %d or dropout %g (want [0, 1))", prefix,
				      (int)act, dropout);
	*e = (struct sup_gcn_encoder){ .n_layers = n_layers, .act = act, .act_last = act_last, .dropout = dropout };
	char name[SUP_NAME_MAX];
	for (int i = 0; i < n_layers; i++) {
		e->slope[i] = -1;
		snprintf(name, sizeof name, "%s%slayers.%d", prefix, *prefix ? "." : "", i);
		sup_gcn_declare(&e->layer[i], m, name, dims[i], dims[i + 1], true);
		if (act == SUP_GCN_ACT_PRELU && (i < n_layers - 1 || act_last)) {
			snprintf(name, sizeof name, "%s%sacts.%d", prefix, *prefix ? "." : "", i);
			e->slope[i] = sup_model_add(m, name, "weight", SUP_KIND_PARAM, 1, (const int64_t[]){ 1 },
						    SUP_INIT_CONST, 0.25, SUP_PARAM_NO_DECAY);
		}
	}
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_gcn_encoder_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_gcn_encoder *e,
					   const struct sup_csr *adj, struct sup_tensor *x, const struct sup_csr *xs)
{
	if (!one_input(c, "gcn encoder", x, xs))
		return NULL;
	const bool drop = m->training && e->dropout > 0;
	for (int i = 0; i < e->n_layers; i++) {
		if (drop && xs)
			xs = csr_dropout(c, xs, e->dropout);
		else if (drop)
			x = sup_dropout(c, x, e->dropout, true);
		if (c->err)
			return NULL;
		struct sup_tensor *h = sup_gcn_forward(c, m, &e->layer[i], adj, x, xs);
		xs = NULL;
		if (i < e->n_layers - 1 || e->act_last) {
			if (e->act == SUP_GCN_ACT_RELU)
				h = sup_relu(c, h);
			else if (e->act == SUP_GCN_ACT_PRELU)
				h = sup_prelu(c, h, T(m, e->slope[i]));
		}
		x = h;
	}
	return x;
}

int sup_bilinear_declare(struct sup_bilinear *l, struct sup_model *m, const char *prefix, int64_t dim, bool bias)
{
	l->dim = dim;
	l->weight = sup_model_add(m, prefix, "weight", SUP_KIND_PARAM, 3, (const int64_t[]){ 1, dim, dim },
				  SUP_INIT_XAVIER_UNIFORM, 1.0, 0);
	/* torch.nn.init.xavier_uniform_ on [1, D, D]: fan_in = D * D, fan_out = 1 * D. */
	if (l->weight >= 0)
		sup_model_set_fans(m, l->weight, dim * dim, dim);
	l->bias = -1;
	if (bias)
		l->bias = sup_model_add(m, prefix, "bias", SUP_KIND_PARAM, 1, (const int64_t[]){ 1 }, SUP_INIT_ZEROS, 0,
					SUP_PARAM_NO_DECAY);
	return m->err ? -1 : 0;
}

struct sup_tensor *sup_bilinear_forward(struct sup_ctx *c, struct sup_model *m, const struct sup_bilinear *l,
					struct sup_tensor *h, struct sup_tensor *s)
{
	if (!h || !s || c->err)
		return NULL;
	const int64_t D = l->dim;
	if (h->ndim != 2 || h->shape[1] != D || !((s->ndim == 1 && s->shape[0] == D) ||
						 (s->ndim == 2 && s->shape[0] == h->shape[0] && s->shape[1] == D))) {
		char hs[64], ss[64];
		sup_ctx_fail(c, SUP_ERR_SHAPE, "bilinear: h %s and s %s do not fit a [%lld x %lld] form (h [N, D], s [D] or [N, D])",
			     sup_shape_str(hs, sizeof hs, h->ndim, h->shape), sup_shape_str(ss, sizeof ss, s->ndim, s->shape),
			     (long long)D, (long long)D);
		return NULL;
	}
	struct sup_tensor *w = sup_reshape(c, T(m, l->weight), 2, (const int64_t[]){ D, D }), *y;
	if (s->ndim == 1) {
		/* One summary: W s once ([D, 1]), then one GEMV over the rows. */
		struct sup_tensor *ws = sup_matmul(c, w, sup_reshape(c, s, 2, (const int64_t[]){ D, 1 }), false, false);
		y = sup_reshape(c, sup_matmul(c, h, ws, false, false), 1, (const int64_t[]){ h->shape[0] });
	} else {
		/* Row i needs W s_i: all of them at once as s W^T ([N, D]), then a row-wise dot. */
		struct sup_tensor *ws = sup_matmul(c, s, w, false, true);
		y = sup_sum(c, sup_mul(c, h, ws), (const int[]){ 1 }, 1, false);
	}
	return l->bias >= 0 ? sup_add(c, y, T(m, l->bias)) : y;
}
